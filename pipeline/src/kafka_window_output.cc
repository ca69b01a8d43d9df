// The window results producer (see window_output.h for why the outbox and
// an idempotent producer, rather than a Kafka transaction, make results
// effectively-once: the state lives in RocksDB, which no Kafka transaction
// can include, and a transaction would still need the outbox to survive a
// crash between the RocksDB commit and the Kafka commit).
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "chorus/pipeline/clock.h"
#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/window_output.h"
#include "kafka_conf.h"
#include "kafka_offsets.h"
#include "kafka_producer.h"

namespace chorus {
namespace {

constexpr char kSeqHeader[] = "chorus-seq";
constexpr int kTimeoutMs = 10'000;

class KafkaWindowOutput final : public WindowOutput {
 public:
  KafkaWindowOutput(std::string topic, KafkaProperties properties,
                    std::unique_ptr<KafkaProducer> producer, int32_t partitions)
      : topic_(std::move(topic)),
        properties_(std::move(properties)),
        producer_(std::move(producer)),
        partitions_(partitions) {}

  void Send(std::span<const OutputRecord> records) override {
    for (const OutputRecord& r : records) Produce(r);
  }

  Status Flush() override {
    Status s = producer_->Flush();
    return s.ok() ? s : Status::Error("output topic " + topic_ + ": " + s.message());
  }

  Status Resume(std::span<const OutputRecord> records) override {
    std::map<int32_t, int64_t> last;  // per partition: the last seq it holds, -1 for none
    for (const OutputRecord& r : records) last.emplace(PartitionOf(r.key), -2);
    for (auto& [partition, seq] : last) {
      auto found = LastSeq(partition);
      if (!found.ok()) return found.status();
      seq = found.value();
    }
    size_t skipped = 0;
    for (const OutputRecord& r : records) {
      if (static_cast<int64_t>(r.seq) <= last[PartitionOf(r.key)]) {
        ++skipped;
        continue;
      }
      Produce(r);
    }
    spdlog::info("output topic {}: {} of {} outbox results were delivered before the restart",
                 topic_, skipped, records.size());
    return Status::Ok();
  }

 private:
  // Java clients' default partitioner (murmur2 of the key), so consumers
  // of any client find a channel's results in one partition.
  int32_t PartitionOf(const std::string& key) const {
    return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions_, nullptr,
                                            nullptr);
  }

  void Produce(const OutputRecord& r) {
    std::string seq = std::to_string(r.seq);
    KafkaProducer::Header headers[] = {{kSeqHeader, seq}};
    producer_->Produce(topic_, PartitionOf(r.key), Bytes(r.key), Bytes(r.value), r.timestamp_ms,
                       headers);
  }

  // The chorus-seq of the partition's last record; -1 if it has none.
  Result<int64_t> LastSeq(int32_t partition) {
    auto probe =
        OpenProbeConsumer({{"group.id", "chorus-output-check"}}, properties_, "output topic check");
    if (!probe.ok()) return probe.status();
    KafkaHandlePtr rk = std::move(probe.value());
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk.get(), topic_.c_str(), partition,
                                                             &low, &high, kTimeoutMs);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Error("output topic " + topic_ + ": " + rd_kafka_err2str(e));
    }
    if (high <= low) return int64_t{-1};
    rd_kafka_topic_partition_list_t* tps = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tps, topic_.c_str(), partition)->offset = high - 1;
    e = rd_kafka_assign(rk.get(), tps);
    rd_kafka_topic_partition_list_destroy(tps);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Error("output topic " + topic_ + ": " + rd_kafka_err2str(e));
    }
    Clock& clock = SystemClock();
    const ops::ProcessingTime deadline = clock.Now() + ops::Millis(kTimeoutMs);
    while (clock.Now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
      if (m == nullptr) continue;
      int64_t seq = -1;
      bool done = m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset == high - 1;
      rd_kafka_headers_t* hdrs = nullptr;
      const void* v = nullptr;
      size_t size = 0;
      if (done && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(hdrs, kSeqHeader, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        seq = std::stoll(std::string(static_cast<const char*>(v), size));
      }
      rd_kafka_message_destroy(m);
      if (!done) continue;
      if (seq < 0) {
        spdlog::warn("output topic {}[{}]: its last record is not chorus's; resending", topic_,
                     partition);
      }
      rd_kafka_consumer_close(rk.get());
      return seq;
    }
    return Status::Error("output topic " + topic_ + "[" + std::to_string(partition) +
                         "]: could not read its last record");
  }

  std::string topic_;
  KafkaProperties properties_;
  std::unique_ptr<KafkaProducer> producer_;
  int32_t partitions_;
};

}  // namespace

Result<std::unique_ptr<WindowOutput>> OpenKafkaWindowOutput(const std::string& topic,
                                                            const KafkaProperties& properties) {
  auto producer = KafkaProducer::Open(properties);
  if (!producer.ok()) return producer.status();
  auto partitions = PartitionCount(producer.value()->handle(), topic, kTimeoutMs);
  if (!partitions.ok()) return Status::Error("--output-topic " + partitions.status().message());
  if (partitions.value() <= 0) {
    return Status::Error("--output-topic " + topic + ": " +
                         rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  }
  // The partition of a channel must not change under chorus: it is what
  // tells, after a restart, which results the topic already holds.
  return std::unique_ptr<WindowOutput>(
      new KafkaWindowOutput(topic, properties, std::move(producer.value()), partitions.value()));
}

}  // namespace chorus
