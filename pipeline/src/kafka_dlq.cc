// The DLQ producer: the record's own key and value with headers that say
// why and where from.
#include <algorithm>
#include <string>
#include <vector>

#include "chorus/pipeline/kafka.h"
#include "kafka_producer.h"

namespace chorus {
namespace {

// Well under Kafka's default 1 MB message limit, headers included.
constexpr size_t kMaxValueBytes = 512 * 1024;

class KafkaDlq final : public DlqSink {
 public:
  KafkaDlq(std::string topic, std::unique_ptr<KafkaProducer> producer)
      : topic_(std::move(topic)), producer_(std::move(producer)) {}

  void Send(const SourceRecord& record, DlqReason reason) override {
    std::string partition = std::to_string(record.partition);
    std::string offset = std::to_string(record.offset);
    std::string source_ts = record.timestamp_ms ? std::to_string(*record.timestamp_ms) : "";
    std::string size = std::to_string(record.value.size());
    std::vector<KafkaProducer::Header> headers = {
        {"chorus-error-reason", Name(reason)},
        {"chorus-source-topic", record.topic},
        {"chorus-source-partition", partition},
        {"chorus-source-offset", offset},
    };
    if (!source_ts.empty()) headers.push_back({"chorus-source-timestamp", source_ts});
    // A record too large for the DLQ topic would fail every commit after it:
    // keep its head and say how big it was.
    std::span<const uint8_t> value = record.value;
    if (value.size() > kMaxValueBytes) {
      value = value.first(kMaxValueBytes);
      headers.push_back({"chorus-original-size", size});
    }
    // Stamped now, not with the source time, so DLQ retention counts from
    // when the record was rejected.
    producer_->Produce(topic_, -1, record.key.first(std::min(record.key.size(), kMaxValueBytes)),
                       value, std::nullopt, headers);
  }

  Status Flush() override {
    Status s = producer_->Flush();
    return s.ok() ? s : Status::Error("dlq topic " + topic_ + ": " + s.message());
  }

 private:
  std::string topic_;
  std::unique_ptr<KafkaProducer> producer_;
};

}  // namespace

Result<std::unique_ptr<DlqSink>> OpenKafkaDlq(const std::string& topic,
                                              const KafkaProperties& properties) {
  if (topic.empty()) return Status::Error("--dlq-topic is empty");
  auto producer = KafkaProducer::Open(properties);
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<DlqSink>(new KafkaDlq(topic, std::move(producer.value())));
}

}  // namespace chorus
