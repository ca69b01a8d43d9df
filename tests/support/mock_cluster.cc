#include "support/mock_cluster.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace chorus::testing {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("mock cluster: " + what);
}

int ToMs(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(0, ToMs(left));
}

struct ConsumerDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using Consumer = std::unique_ptr<rd_kafka_t, ConsumerDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};

// The topic's partition count, or 0 if the cluster does not know the topic.
int PartitionCount(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, ToMs(timeout));
  rd_kafka_topic_destroy(rkt);
  if (err) Fail("metadata for topic " + topic + ": " + rd_kafka_err2str(err));
  int count = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    count = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return count;
}

std::optional<std::string> Bytes(const void* data, size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(data), size);
}

KafkaRecord ToRecord(const rd_kafka_message_t* m) {
  KafkaRecord r;
  r.partition = m->partition;
  r.offset = m->offset;
  r.key = Bytes(m->key, m->key_len);
  r.value = Bytes(m->payload, m->len);
  rd_kafka_timestamp_type_t type;
  r.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      r.headers.emplace_back(
          name, value ? std::string(static_cast<const char*>(value), size) : std::string());
    }
  }
  return r;
}

struct PartitionMarks {
  int64_t low = 0;
  int64_t high = 0;
};

// Low and high watermarks of every partition of `topic`; empty if unknown.
std::vector<PartitionMarks> Watermarks(rd_kafka_t* rk, const std::string& topic,
                                       Clock::time_point deadline) {
  int partitions = PartitionCount(rk, topic, std::chrono::milliseconds(RemainingMs(deadline)));
  std::vector<PartitionMarks> marks(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, topic.c_str(), p, &marks[p].low, &marks[p].high, RemainingMs(deadline));
    if (err) {
      Fail("watermarks of " + topic + "[" + std::to_string(p) + "]: " + rd_kafka_err2str(err));
    }
  }
  return marks;
}

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};

// Polls the assigned consumer until every partition has reached its high
// watermark in `marks` (by a record or by an end-of-partition event, which
// also covers offsets taken by transaction markers), keeping the records
// below it.
std::vector<KafkaRecord> ConsumeToMarks(rd_kafka_t* rk, const std::string& topic,
                                        const std::vector<PartitionMarks>& marks,
                                        Clock::time_point deadline) {
  std::vector<bool> done(marks.size());
  size_t remaining = 0;
  for (size_t p = 0; p < marks.size(); ++p) {
    done[p] = marks[p].low >= marks[p].high;
    if (!done[p]) ++remaining;
  }
  std::vector<KafkaRecord> records;
  std::string last_error = "none";
  while (remaining > 0) {
    if (Clock::now() > deadline) {
      Fail(
          "reading " + topic + ": " + std::to_string(remaining) +
          " partition(s) short of their high watermark at the deadline; last error: " + last_error);
    }
    std::unique_ptr<rd_kafka_message_t, MessageDeleter> m(
        rd_kafka_consumer_poll(rk, std::min(100, RemainingMs(deadline))));
    if (!m) continue;
    auto p = static_cast<size_t>(m->partition);
    int64_t reached = 0;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      reached = m->offset;
    } else if (m->err) {
      last_error = rd_kafka_message_errstr(m.get());
      continue;
    } else {
      reached = m->offset + 1;
      if (p < marks.size() && m->offset < marks[p].high) records.push_back(ToRecord(m.get()));
    }
    if (p < marks.size() && !done[p] && reached >= marks[p].high) {
      done[p] = true;
      --remaining;
    }
  }
  return records;
}

}  // namespace

std::optional<std::string> KafkaRecord::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

MockCluster::MockCluster(int brokers) {
  auto cluster = EmbeddedKafka::Start(brokers);
  if (!cluster.ok()) Fail(cluster.status().message());
  cluster_ = std::move(cluster.value());
  bootstrap_servers_ = cluster_->bootstrap_servers();
  // Small batches keep tests fast; a bounded message timeout turns an
  // unreachable cluster into a failed Flush instead of a hang.
  producer_ =
      NewClient(RD_KAFKA_PRODUCER, {{"linger.ms", "5"}, {"message.timeout.ms", "30000"}}, this);
}

MockCluster::~MockCluster() {
  // Clients first: they must not outlive the brokers they are connected to.
  if (producer_ != nullptr) {
    rd_kafka_flush(producer_, 5000);
    rd_kafka_destroy(producer_);
  }
  cluster_.reset();
}

rd_kafka_t* MockCluster::NewClient(rd_kafka_type_t type, const Settings& settings, void* opaque) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Settings all = settings;
  all.emplace_back("bootstrap.servers", bootstrap_servers_);
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      Fail("setting " + name + "=" + value + ": " + err);
    }
  }
  if (opaque != nullptr) {
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_conf_set_dr_msg_cb(conf, &MockCluster::OnDelivery);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    Fail(std::string("cannot create client: ") + err);
  }
  return rk;
}

void MockCluster::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<MockCluster*>(opaque);
  if (self->delivery_failures_++ == 0) {
    self->first_delivery_error_ =
        std::string(rd_kafka_topic_name(message->rkt)) + ": " + rd_kafka_err2str(message->err);
  }
}

void MockCluster::CreateTopic(const std::string& name, int partitions) {
  if (Status s = cluster_->CreateTopic(name, partitions); !s.ok()) Fail(s.message());
}

void MockCluster::Produce(const std::string& topic, int32_t partition,
                          std::optional<std::string_view> key,
                          std::optional<std::string_view> value,
                          std::optional<int64_t> timestamp_ms, const KafkaHeaders& headers) {
  std::vector<rd_kafka_vu_t> vus;
  auto add = [&vus](rd_kafka_vtype_t type) -> rd_kafka_vu_t& {
    vus.push_back(rd_kafka_vu_t{});
    vus.back().vtype = type;
    return vus.back();
  };
  add(RD_KAFKA_VTYPE_TOPIC).u.cstr = topic.c_str();
  add(RD_KAFKA_VTYPE_PARTITION).u.i32 = partition < 0 ? RD_KAFKA_PARTITION_UA : partition;
  add(RD_KAFKA_VTYPE_MSGFLAGS).u.i = RD_KAFKA_MSG_F_COPY;
  if (key) {
    auto& vu = add(RD_KAFKA_VTYPE_KEY);
    vu.u.mem.ptr = const_cast<char*>(key->data());
    vu.u.mem.size = key->size();
  }
  if (value) {
    auto& vu = add(RD_KAFKA_VTYPE_VALUE);
    vu.u.mem.ptr = const_cast<char*>(value->data());
    vu.u.mem.size = value->size();
  }
  if (timestamp_ms) add(RD_KAFKA_VTYPE_TIMESTAMP).u.i64 = *timestamp_ms;
  for (const auto& [name, v] : headers) {
    auto& vu = add(RD_KAFKA_VTYPE_HEADER);
    vu.u.header.name = name.c_str();
    vu.u.header.val = v.data();
    vu.u.header.size = static_cast<ssize_t>(v.size());
  }
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(producer_, vus.data(), vus.size());
    if (error == nullptr) return;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    std::string reason = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() > deadline) {
      Fail("produce to " + topic + ": " + reason);
    }
    rd_kafka_poll(producer_, 100);  // serves delivery reports, freeing queue space
  }
}

void MockCluster::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_, ToMs(timeout));
  if (err) {
    Fail("flush: " + std::to_string(rd_kafka_outq_len(producer_)) +
         " record(s) unacknowledged: " + rd_kafka_err2str(err));
  }
  if (delivery_failures_ > 0) {
    int failures = std::exchange(delivery_failures_, 0);
    Fail(std::to_string(failures) + " record(s) not delivered, first to " +
         std::exchange(first_delivery_error_, ""));
  }
}

std::vector<int64_t> MockCluster::HighWatermarks(const std::string& topic,
                                                 std::chrono::milliseconds timeout) {
  Consumer consumer(NewClient(RD_KAFKA_CONSUMER, {{"group.id", "chorus-testing-watermarks"}}));
  std::vector<int64_t> highs;
  for (const auto& marks : Watermarks(consumer.get(), topic, Clock::now() + timeout)) {
    highs.push_back(marks.high);
  }
  return highs;
}

std::vector<int64_t> MockCluster::CommittedOffsets(const std::string& group,
                                                   const std::string& topic,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Consumer consumer(NewClient(RD_KAFKA_CONSUMER, {{"group.id", group}}));
  int partitions = PartitionCount(consumer.get(), topic, timeout);
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
      rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  rd_kafka_resp_err_t err = rd_kafka_committed(consumer.get(), list.get(), RemainingMs(deadline));
  if (err) Fail("committed offsets of " + group + " on " + topic + ": " + rd_kafka_err2str(err));
  std::vector<int64_t> offsets(static_cast<size_t>(partitions), RD_KAFKA_OFFSET_INVALID);
  for (int i = 0; i < list->cnt; ++i) {
    offsets[static_cast<size_t>(list->elems[i].partition)] = list->elems[i].offset;
  }
  return offsets;
}

std::vector<KafkaRecord> MockCluster::ReadAll(const std::string& topic,
                                              std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  // librdkafka's consumer API wants a group.id even for assign(), which
  // never joins the group; nothing is committed under it.
  Consumer consumer(NewClient(RD_KAFKA_CONSUMER, {{"group.id", "chorus-testing-reader"},
                                                  {"enable.auto.commit", "false"},
                                                  {"enable.partition.eof", "true"},
                                                  {"auto.offset.reset", "earliest"},
                                                  {"fetch.wait.max.ms", "10"}}));
  std::vector<PartitionMarks> marks = Watermarks(consumer.get(), topic, deadline);
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> assignment(
      rd_kafka_topic_partition_list_new(static_cast<int>(marks.size())));
  for (size_t p = 0; p < marks.size(); ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), static_cast<int32_t>(p))
        ->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment.get());
  if (err) Fail("assign " + topic + ": " + rd_kafka_err2str(err));
  std::vector<KafkaRecord> records = ConsumeToMarks(consumer.get(), topic, marks, deadline);
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return records;
}

}  // namespace chorus::testing
