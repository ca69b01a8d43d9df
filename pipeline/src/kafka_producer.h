// chorus's one Kafka producer: idempotent, batching, and strict about
// delivery. Flush() reports every record librdkafka failed to deliver since
// the previous Flush(), so callers never move past a lost record.
// Produce() may be called from one thread at a time.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/status.h"
#include "kafka_conf.h"

namespace chorus {

class KafkaProducer {
 public:
  using Header = std::pair<std::string_view, std::string_view>;

  static Result<std::unique_ptr<KafkaProducer>> Open(const KafkaProperties& properties);
  ~KafkaProducer();

  // Queues one record; waits while librdkafka's queue is full. `partition`
  // -1 lets the partitioner choose by key.
  void Produce(const std::string& topic, int32_t partition, std::span<const uint8_t> key,
               std::span<const uint8_t> value, std::optional<int64_t> timestamp_ms,
               std::span<const Header> headers = {});
  Status Flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  rd_kafka_t* handle() { return rk_.get(); }

 private:
  KafkaProducer() = default;
  static void DeliveryCb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  KafkaHandlePtr rk_;
  std::atomic<uint64_t> failures_{0};
  std::string last_error_;
};

inline std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace chorus
