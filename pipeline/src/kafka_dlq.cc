// The DLQ producer: the record's own key and value with headers that say
// why and where from.
#include <string>

#include "chorus/pipeline/kafka.h"
#include "kafka_producer.h"

namespace chorus {
namespace {

class KafkaDlq final : public DlqSink {
 public:
  KafkaDlq(std::string topic, std::unique_ptr<KafkaProducer> producer)
      : topic_(std::move(topic)), producer_(std::move(producer)) {}

  void Send(const SourceRecord& record, DlqReason reason) override {
    std::string partition = std::to_string(record.partition);
    std::string offset = std::to_string(record.offset);
    const KafkaProducer::Header headers[] = {
        {"chorus-error-reason", Name(reason)},
        {"chorus-source-topic", record.topic},
        {"chorus-source-partition", partition},
        {"chorus-source-offset", offset},
    };
    producer_->Produce(topic_, -1, record.key, record.value, record.timestamp_ms, headers);
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
