#include "kafka_offsets.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "chorus/pipeline/clock.h"
#include "kafka_conf.h"

namespace chorus {
namespace {

constexpr int kTimeoutMs = 10'000;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

// One partition's watermarks and, while being resolved, a bound's offset.
struct Marks {
  TopicPartition tp;
  int64_t low = 0;
  int64_t high = 0;
};

std::string Where(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

// A binary search in [lo, hi) for the first offset whose record timestamp
// is at or after the time; `mid` is the offset being probed.
struct Search {
  size_t index = 0;  // into the Marks
  int64_t lo = 0, hi = 0, mid = 0;
  bool pending = false;
};

// One round: every unfinished search fetches the first record at or after
// its midpoint, all partitions at once, and halves its interval.
Status ProbeRound(rd_kafka_t* probe, const std::vector<Marks>& marks, std::vector<Search>& searches,
                  int64_t time_ms, const char* flag) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(searches.size())));
  std::map<std::pair<std::string, int32_t>, Search*> by_tp;
  size_t pending = 0;
  for (Search& s : searches) {
    s.pending = s.lo < s.hi;
    if (!s.pending) continue;
    s.mid = s.lo + (s.hi - s.lo) / 2;
    const TopicPartition& tp = marks[s.index].tp;
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = s.mid;
    by_tp[{tp.topic, tp.partition}] = &s;
    ++pending;
  }
  if (pending == 0) return Status::Ok();
  if (rd_kafka_resp_err_t e = rd_kafka_assign(probe, list.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Error(std::string("kafka assign (time lookup): ") + rd_kafka_err2str(e));
  }
  Clock& clock = SystemClock();
  const ops::ProcessingTime deadline = clock.Now() + ops::Millis(kTimeoutMs);
  std::string last_error = "none";
  while (pending > 0) {
    if (clock.Now() > deadline) {
      return Status::Error(std::string(flag) + ": looking up the time in " +
                           std::to_string(pending) +
                           " partition(s): no record fetched in time; last error: " + last_error);
    }
    std::unique_ptr<rd_kafka_message_t, MessageDeleter> m(rd_kafka_consumer_poll(probe, 100));
    if (!m || m->rkt == nullptr) continue;
    auto it = by_tp.find({rd_kafka_topic_name(m->rkt), m->partition});
    if (it == by_tp.end() || !it->second->pending) continue;
    Search& s = *it->second;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->offset < s.mid) continue;
      s.hi = s.mid;  // nothing at or after the midpoint
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = rd_kafka_message_errstr(m.get());
      continue;
    } else {
      if (m->offset < s.mid) continue;
      rd_kafka_timestamp_type_t type;
      int64_t ts = rd_kafka_message_timestamp(m.get(), &type);
      if (ts >= time_ms) {
        s.hi = s.mid;
      } else {
        s.lo = m->offset + 1;
      }
    }
    s.pending = false;
    --pending;
  }
  return Status::Ok();
}

// Finds, for each partition in `which`, the first offset in [low, high)
// whose record timestamp is at or after `time_ms` (high if none), assuming
// timestamps rise along a partition, as producers' CreateTime does.
Status SearchByTime(const KafkaProperties& properties, const std::vector<Marks>& marks,
                    const std::vector<size_t>& which, int64_t time_ms, const char* flag,
                    std::vector<int64_t>& out) {
  // Small fetches: each step wants one record per partition.
  auto opened = OpenProbeConsumer({{"group.id", "chorus-replay-lookup"},
                                   {"fetch.wait.max.ms", "10"},
                                   {"max.partition.fetch.bytes", "16384"},
                                   {"queued.min.messages", "1"}},
                                  properties, "kafka consumer (time lookup)");
  if (!opened.ok()) return opened.status();
  KafkaHandlePtr probe = std::move(opened.value());
  std::vector<Search> searches;
  for (size_t i : which) searches.push_back({i, marks[i].low, marks[i].high, 0, false});
  Status s;
  while (s.ok() && std::any_of(searches.begin(), searches.end(),
                               [](const Search& x) { return x.lo < x.hi; })) {
    s = ProbeRound(probe.get(), marks, searches, time_ms, flag);
  }
  rd_kafka_assign(probe.get(), nullptr);
  rd_kafka_consumer_close(probe.get());
  if (!s.ok()) return s;
  for (const Search& x : searches) out[x.index] = x.lo;
  return Status::Ok();
}

// The offset of each partition for a bound given as a time.
Status LookUpTime(rd_kafka_t* rk, const KafkaProperties& properties,
                  const std::vector<Marks>& marks, int64_t time_ms, const char* flag,
                  std::vector<int64_t>& out) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(marks.size())));
  for (const Marks& m : marks) {
    rd_kafka_topic_partition_list_add(list.get(), m.tp.topic.c_str(), m.tp.partition)->offset =
        time_ms;
  }
  // A failed lookup as a whole leaves every partition to the search.
  bool answered =
      rd_kafka_offsets_for_times(rk, list.get(), kTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR;
  std::vector<size_t> search;
  for (size_t i = 0; i < marks.size(); ++i) {
    out[i] = marks[i].high;
    if (marks[i].low >= marks[i].high) continue;
    const rd_kafka_topic_partition_t* el = rd_kafka_topic_partition_list_find(
        list.get(), marks[i].tp.topic.c_str(), marks[i].tp.partition);
    if (answered && el != nullptr && el->err == RD_KAFKA_RESP_ERR_NO_ERROR && el->offset >= 0) {
      out[i] = el->offset;
    } else {
      // -1: nothing at or after the time, or a broker (the mock) that
      // cannot look up times; records below the high watermark decide.
      search.push_back(i);
    }
  }
  if (search.empty()) return Status::Ok();
  return SearchByTime(properties, marks, search, time_ms, flag, out);
}

Status Resolve(rd_kafka_t* rk, const KafkaProperties& properties, const std::vector<Marks>& marks,
               const ReplayBound& bound, const char* flag, bool is_end, std::vector<int64_t>& out) {
  out.assign(marks.size(), 0);
  for (size_t i = 0; i < marks.size(); ++i) out[i] = is_end ? marks[i].high : marks[i].low;
  switch (bound.kind) {
    case ReplayBound::Kind::kDefault:
      return Status::Ok();
    case ReplayBound::Kind::kTime:
      return LookUpTime(rk, properties, marks, bound.time_ms, flag, out);
    case ReplayBound::Kind::kOffsets:
      break;
  }
  for (const auto& [partition, offset] : bound.partitions) {
    bool known = std::any_of(marks.begin(), marks.end(),
                             [p = partition](const Marks& m) { return m.tp.partition == p; });
    if (!known) {
      return Status::Error(std::string(flag) + ": partition " + std::to_string(partition) +
                           ": no such partition in the topics");
    }
  }
  for (size_t i = 0; i < marks.size(); ++i) {
    auto it = bound.partitions.find(marks[i].tp.partition);
    int64_t offset = it != bound.partitions.end() ? it->second : bound.offset;
    if (offset >= 0) out[i] = offset;
  }
  return Status::Ok();
}

}  // namespace

Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Error("no metadata for topic " + topic + ": " + rd_kafka_err2str(e));
  }
  int count = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    count = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return count;
}

Result<std::vector<PartitionRange>> ResolveReplayRanges(rd_kafka_t* rk,
                                                        const KafkaReplayOptions& options) {
  std::vector<Marks> marks;
  for (const std::string& topic : options.topics) {
    auto count = PartitionCount(rk, topic, kTimeoutMs);
    if (!count.ok()) return Status::Error("kafka: " + count.status().message());
    if (count.value() == 0)
      return Status::Error("--topic " + topic + ": no such topic on the brokers");
    for (int32_t p = 0; p < count.value(); ++p) {
      Marks m{{topic, p}, 0, 0};
      rd_kafka_resp_err_t e =
          rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &m.low, &m.high, kTimeoutMs);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::Error("kafka: watermarks of " + Where(m.tp) + ": " + rd_kafka_err2str(e));
      }
      marks.push_back(std::move(m));
    }
  }
  std::vector<int64_t> starts, ends;
  if (Status s = Resolve(rk, options.properties, marks, options.from, "--from", false, starts);
      !s.ok()) {
    return s;
  }
  if (Status s = Resolve(rk, options.properties, marks, options.to, "--to", true, ends); !s.ok()) {
    return s;
  }
  std::vector<PartitionRange> ranges;
  for (size_t i = 0; i < marks.size(); ++i) {
    const Marks& m = marks[i];
    int64_t start = std::clamp(starts[i], m.low, m.high);
    int64_t end = std::clamp(ends[i], start, m.high);
    ranges.push_back({m.tp, start, end});
  }
  return ranges;
}

}  // namespace chorus
