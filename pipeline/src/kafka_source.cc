// The Kafka consumer behind EventSource.
//
// Records are read in batches straight from the consumer queue
// (rd_kafka_consume_batch_queue), which also serves rebalance callbacks on
// the polling thread, so the listener always runs on the processing thread.
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "chorus/pipeline/kafka.h"
#include "kafka_conf.h"
#include "kafka_offsets.h"

namespace chorus {
namespace {

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

class KafkaSource final : public EventSource {
 public:
  ~KafkaSource() override {
    ReleaseBatch();
    if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
    if (rk_ != nullptr) {
      rd_kafka_consumer_close(rk_.get());
    }
  }

  Status Open(const KafkaSourceOptions& options) {
    if (Status s = Create(options); !s.ok()) return s;
    if (Status s = CheckTopicsExist(options.topics); !s.ok()) return s;
    PartitionListPtr topics(
        rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size())));
    for (const auto& t : options.topics) {
      rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), topics.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Error(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
    }
    return Status::Ok();
  }

  // Replay: no subscription; the ranges are assigned by hand at the first
  // Poll(), after the listener has said where its state stands.
  Status OpenReplay(const KafkaReplayOptions& options) {
    // The group id is never joined (assign only) and nothing is committed
    // under it; librdkafka's consumer wants one all the same.
    if (Status s = Create({options.topics, "chorus-replay", options.properties}); !s.ok()) {
      return s;
    }
    auto ranges = ResolveReplayRanges(rk_.get(), options);
    if (!ranges.ok()) return ranges.status();
    bounded_ = true;
    for (const PartitionRange& r : ranges.value()) ranges_.push_back({r, r.start >= r.end});
    return Status::Ok();
  }

  std::vector<PartitionRange> ranges() const {
    std::vector<PartitionRange> out;
    for (const Bounded& b : ranges_) out.push_back(b.range);
    return out;
  }

  // How many fetched records librdkafka keeps ready in the consumer's
  // queue, and their bytes (both apply to the whole queue, not to each
  // partition). At either limit the fetcher stops, and it starts again only
  // when librdkafka's broker thread next wakes: up to a second later when
  // nothing else wakes it (2.0.2's rd_kafka_max_block_ms). The queue must
  // hold more than that second of processing, or every thread idles
  // whenever it empties: with 500,000 records and 64 MB, a replay (~600,000
  // records/s) left both cores idle for 100-150 ms at a time, ~10 % of the
  // replay, and `chorus run` (~500,000 records/s) waited for input a
  // quarter of its time and ran 22 % slower. It costs memory only while
  // there is lag.
  static constexpr const char* kQueuedRecords = "1000000";
  static constexpr const char* kQueuedKbytes = "262144";

  Status Create(const KafkaSourceOptions& options) {
    KafkaProperties defaults = {
        {"group.id", options.group},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "true"},
        // Throughput: large fetches, and a fetcher that keeps refilling the
        // local queue until it holds the limits above (librdkafka's 100,000 records
        // left the processing thread waiting in poll half the time on a
        // 96-partition backlog: 2x in the end-to-end benchmark).
        {"fetch.max.bytes", "52428800"},
        {"max.partition.fetch.bytes", "4194304"},
        {"queued.min.messages", kQueuedRecords},
        {"queued.max.messages.kbytes", kQueuedKbytes},
        {"fetch.wait.max.ms", "100"},
    };
    auto conf = MakeKafkaConf(defaults, options.properties);
    if (!conf.ok()) return conf.status();
    // Decided once from the configuration: asking librdkafka during
    // consumer close can answer NULL or "NONE".
    auto strategy = options.properties.find("partition.assignment.strategy");
    cooperative_ = (strategy == options.properties.end() ? defaults["partition.assignment.strategy"]
                                                         : strategy->second)
                       .find("cooperative") != std::string::npos;
    auto reset = options.properties.find("auto.offset.reset");
    from_end_ = reset != options.properties.end() &&
                (reset->second == "latest" || reset->second == "end" || reset->second == "largest");
    rd_kafka_conf_set_opaque(conf.value().get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.value().get(), &KafkaSource::RebalanceCb);
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().get(), err, sizeof err));
    if (!rk_) return Status::Error(std::string("kafka consumer: ") + err);
    conf.value().release();  // owned by the handle once rd_kafka_new succeeds
    rd_kafka_poll_set_consumer(rk_.get());
    queue_ = rd_kafka_queue_get_consumer(rk_.get());
    return Status::Ok();
  }

  // A mistyped --topic would otherwise leave the service waiting for an
  // assignment forever. Unreachable brokers are not a configuration error
  // (Kafka may be restarting): that only warns, and /readyz says why.
  Status CheckTopicsExist(const std::vector<std::string>& topics) {
    for (const std::string& name : topics) {
      auto count = PartitionCount(rk_.get(), name, 5000);
      if (!count.ok()) {
        spdlog::warn("kafka: {} yet", count.status().message());
        continue;
      }
      if (count.value() == 0) return Status::Error("--topic " + name + ": no such topic on the brokers");
    }
    return Status::Ok();
  }

  void SetListener(PartitionListener* listener) override { listener_ = listener; }

  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override {
    out.clear();
    ReleaseBatch();
    if (bounded_ && !assigned_) {
      if (Status s = AssignRanges(); !s.ok()) return s;
    }
    if (bounded_ && remaining_ == 0) return Status::Ok();
    batch_.resize(max);
    // librdkafka's batch call waits until the batch is full or the timeout
    // ends, however many records are ready: a partial batch (a replay's last
    // records, a fetch behind the processing thread, a live trickle) sat in
    // the queue for the whole timeout. So: what is ready now, and only if
    // nothing is, a wait for the first record and what came with it.
    ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch_.data(), max);
    if (n == 0 && max > 0) {
      if (rd_kafka_message_t* first =
              rd_kafka_consume_queue(queue_, static_cast<int>(timeout.count()))) {
        batch_[0] = first;
        ssize_t rest = rd_kafka_consume_batch_queue(queue_, 0, batch_.data() + 1, max - 1);
        if (rest < 0) rd_kafka_message_destroy(first);
        n = rest < 0 ? rest : rest + 1;
      }
    }
    if (n < 0) {
      batch_.clear();
      return Status::Error(std::string("kafka consume: ") +
                           rd_kafka_err2str(rd_kafka_last_error()));
    }
    batch_.resize(static_cast<size_t>(n));
    out.reserve(batch_.size());
    for (rd_kafka_message_t* m : batch_) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (bounded_ && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) Reached(m, m->offset);
        if (Status s = HandleError(m); !s.ok()) return s;
        continue;
      }
      if (bounded_ && !Reached(m, m->offset + 1)) continue;
      out.push_back(ToRecord(m));
    }
    return Status::Ok();
  }

  Status ReportDurable(const std::vector<SourcePosition>& positions) override {
    // A replay commits nothing to Kafka: its group is no one's.
    if (positions.empty() || bounded_) return Status::Ok();
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
    for (const auto& p : positions) {
      rd_kafka_topic_partition_list_add(list.get(), p.tp.topic.c_str(), p.tp.partition)->offset =
          p.next_offset;
    }
    // Async: Kafka's committed offsets are for lag monitoring only.
    rd_kafka_resp_err_t e = rd_kafka_commit(rk_.get(), list.get(), 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      spdlog::warn("kafka offset commit (lag monitoring only): {}", rd_kafka_err2str(e));
    }
    return Status::Ok();
  }

  bool Exhausted() const override { return bounded_ && assigned_ && remaining_ == 0; }

  std::optional<int64_t> EndOffset(const TopicPartition& tp) const override {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(rk_.get(), tp.topic.c_str(), tp.partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0) {
      return std::nullopt;
    }
    return hi;
  }

 private:
  // A replayed partition: its range, and whether it has been read to its end.
  struct Bounded {
    PartitionRange range;
    bool done = false;
  };

  // Tells the listener about the partitions with something to read and
  // assigns them from their start (or from where the listener's state says).
  Status AssignRanges() {
    assigned_ = true;
    std::vector<TopicPartition> tps;
    for (const Bounded& b : ranges_) {
      if (!b.done) tps.push_back(b.range.tp);
    }
    std::vector<SourcePosition> starts;
    if (listener_ != nullptr && !tps.empty()) starts = listener_->OnAssigned(tps);
    PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
    int64_t total = 0;
    for (Bounded& b : ranges_) {
      for (const SourcePosition& s : starts) {
        if (s.tp == b.range.tp) b.range.start = std::max(b.range.start, s.next_offset);
      }
      b.done = b.range.start >= b.range.end;
      if (b.done) continue;
      ++remaining_;
      rd_kafka_topic_partition_list_add(list.get(), b.range.tp.topic.c_str(), b.range.tp.partition)
          ->offset = b.range.start;
      total += b.range.end - b.range.start;
      spdlog::debug("replaying {}[{}] offsets {} to {}", b.range.tp.topic, b.range.tp.partition,
                    b.range.start, b.range.end);
    }
    spdlog::info("replaying {} offsets of {} partitions", total, remaining_);
    rd_kafka_resp_err_t e = rd_kafka_assign(rk_.get(), list.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Error(std::string("kafka assign: ") + rd_kafka_err2str(e));
    }
    return Status::Ok();
  }

  // Notes that `m`'s partition has been read up to `next`; false if `m` is
  // past its range. A partition read to its end is paused.
  bool Reached(const rd_kafka_message_t* m, int64_t next) {
    Bounded* b = last_bounded_;
    if (b == nullptr || b->range.tp.partition != m->partition ||
        b->range.tp.topic != rd_kafka_topic_name(m->rkt)) {
      b = nullptr;
      for (Bounded& x : ranges_) {
        if (x.range.tp.partition == m->partition && x.range.tp.topic == rd_kafka_topic_name(m->rkt)) {
          b = &x;
        }
      }
      last_bounded_ = b;
    }
    if (b == nullptr || b->done) return false;
    const bool past = m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset >= b->range.end;
    if (next >= b->range.end) {
      b->done = true;
      --remaining_;
      PartitionListPtr one(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(one.get(), b->range.tp.topic.c_str(), b->range.tp.partition);
      rd_kafka_pause_partitions(rk_.get(), one.get());
    }
    return !past;
  }

  SourceRecord ToRecord(const rd_kafka_message_t* m) {
    SourceRecord r;
    r.topic = rd_kafka_topic_name(m->rkt);
    r.partition = m->partition;
    r.offset = m->offset;
    r.key = {static_cast<const uint8_t*>(m->key), m->key_len};
    r.value = {static_cast<const uint8_t*>(m->payload), m->len};
    rd_kafka_timestamp_type_t type;
    int64_t ts = rd_kafka_message_timestamp(m, &type);
    if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0) r.timestamp_ms = ts;
    return r;
  }

  Status HandleError(const rd_kafka_message_t* m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return Status::Ok();
    std::string what = rd_kafka_message_errstr(m);
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) return Status::Error("kafka fatal error: " + what);
    // Transient broker or fetch errors: librdkafka retries by itself.
    spdlog::warn("kafka consumer: {}", what);
    return Status::Ok();
  }

  void ReleaseBatch() {
    for (rd_kafka_message_t* m : batch_) rd_kafka_message_destroy(m);
    batch_.clear();
  }

  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<KafkaSource*>(opaque)->Rebalance(rk, err, parts);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = cooperative_;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      std::vector<SourcePosition> starts;
      if (listener_ != nullptr) starts = listener_->OnAssigned(ToVector(parts));
      for (int i = 0; i < parts->cnt; ++i) {
        auto& el = parts->elems[i];
        // Without local state the partition is read from its beginning, so
        // state is built from everything; Kafka's committed offsets are for
        // lag monitoring only and never decide where state starts.
        el.offset = from_end_ ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        for (const auto& s : starts) {
          if (s.tp.topic == el.topic && s.tp.partition == el.partition) el.offset = s.next_offset;
        }
        spdlog::info("assigned {}[{}] from offset {}", el.topic, el.partition, el.offset);
      }
      Check(cooperative ? rd_kafka_error_to_err(rd_kafka_incremental_assign(rk, parts))
                        : rd_kafka_assign(rk, parts),
            "assign");
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      if (listener_ != nullptr) listener_->OnRevoked(ToVector(parts));
      Check(cooperative ? rd_kafka_error_to_err(rd_kafka_incremental_unassign(rk, parts))
                        : rd_kafka_assign(rk, nullptr),
            "unassign");
    } else {
      spdlog::error("kafka rebalance: {}", rd_kafka_err2str(err));
      if (cooperative) {
        rd_kafka_topic_partition_list_t* current = nullptr;
        if (rd_kafka_assignment(rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR && current) {
          Check(rd_kafka_error_to_err(rd_kafka_incremental_unassign(rk, current)), "unassign");
          rd_kafka_topic_partition_list_destroy(current);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }

  static void Check(rd_kafka_resp_err_t err, const char* what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("kafka {}: {}", what, rd_kafka_err2str(err));
    }
  }

  static rd_kafka_resp_err_t rd_kafka_error_to_err(rd_kafka_error_t* error) {
    if (error == nullptr) return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    return code;
  }

  KafkaHandlePtr rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  PartitionListener* listener_ = nullptr;
  bool cooperative_ = true;
  bool from_end_ = false;  // -X auto.offset.reset=latest: new partitions start at the end
  bool bounded_ = false;   // a replay: the ranges below, assigned by hand
  bool assigned_ = false;
  std::vector<Bounded> ranges_;
  size_t remaining_ = 0;  // ranges not read to their end
  Bounded* last_bounded_ = nullptr;
  std::vector<rd_kafka_message_t*> batch_;
};

}  // namespace

Result<std::unique_ptr<EventSource>> OpenKafkaSource(const KafkaSourceOptions& options) {
  if (options.topics.empty()) return Status::Error("kafka source: no --topic given");
  auto source = std::make_unique<KafkaSource>();
  if (Status s = source->Open(options); !s.ok()) return s;
  return std::unique_ptr<EventSource>(std::move(source));
}

Result<std::unique_ptr<EventSource>> OpenKafkaReplaySource(const KafkaReplayOptions& options,
                                                           std::vector<PartitionRange>* ranges) {
  if (options.topics.empty()) return Status::Error("kafka source: no --topic given");
  auto source = std::make_unique<KafkaSource>();
  if (Status s = source->OpenReplay(options); !s.ok()) return s;
  if (ranges != nullptr) *ranges = source->ranges();
  return std::unique_ptr<EventSource>(std::move(source));
}

}  // namespace chorus
