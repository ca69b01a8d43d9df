// An in-process Kafka cluster for tests: librdkafka's mock cluster behind a
// RAII wrapper, plus a producer and a reader that reach it over loopback
// with the real protocol.
//
// The mock speaks produce, fetch, consumer groups, offset commits,
// idempotence and transactions, but keeps only the last 5 MiB / 100,000
// message sets per partition, answers -1 to every lookup by time and writes
// no transaction markers (see DESIGN.md, "The Kafka peer in tests"). Size
// topics for that.
//
// Destruction can take up to a second: librdkafka 2.0.2's mock sometimes
// joins an internal broker thread only when its 1 s queue wait expires. A
// suite with many tests may share one cluster (SetUpTestSuite) and use a
// topic per test.
//
// Failures to set up or to reach the cluster throw std::runtime_error with a
// message naming the topic: in a test, that fails the test with the reason.
//
// Thread-safety: one test thread at a time; the code under test may use
// the cluster from any thread through bootstrap_servers().
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/pipeline/embedded_kafka.h"

namespace chorus::testing {

using KafkaHeaders = std::vector<std::pair<std::string, std::string>>;

// One record as a consumer sees it.
struct KafkaRecord {
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;    // nullopt: a null key
  std::optional<std::string> value;  // nullopt: a null value (tombstone)
  int64_t timestamp_ms = -1;         // -1 when the record has none
  KafkaHeaders headers;              // in record order; names may repeat

  // The value of the first header called `name`, if any.
  std::optional<std::string> Header(std::string_view name) const;
};

class MockCluster {
 public:
  // Starts `brokers` brokers on loopback ports the mock chooses.
  explicit MockCluster(int brokers = 1);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }

  // For fault injection with the rd_kafka_mock_* functions. Owned here.
  rd_kafka_mock_cluster_t* mock() const { return cluster_->mock(); }

  // Creates `name` with `partitions` partitions (replication factor 1).
  // Topics are otherwise auto-created on first use with the mock's default.
  void CreateTopic(const std::string& name, int partitions);

  // Queues one record. `partition` -1 lets the producer's partitioner pick
  // by key (librdkafka's consistent_random: CRC32 of the key). Delivery is
  // confirmed by Flush().
  void Produce(const std::string& topic, int32_t partition, std::optional<std::string_view> key,
               std::optional<std::string_view> value,
               std::optional<int64_t> timestamp_ms = std::nullopt,
               const KafkaHeaders& headers = {});

  // Waits until every queued record is acknowledged; throws if any failed.
  void Flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The high watermark (next offset) of each partition of `topic`, by
  // partition number.
  std::vector<int64_t> HighWatermarks(const std::string& topic,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The offsets `group` has committed for each partition of `topic`, by
  // partition number (-1001, librdkafka's "invalid", where none).
  std::vector<int64_t> CommittedOffsets(const std::string& group, const std::string& topic,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Every record of `topic` from the start of each partition up to its high
  // watermark as seen when the call begins, ordered by (partition, offset).
  // Reads with a plain assigned consumer (no group membership).
  std::vector<KafkaRecord> ReadAll(const std::string& topic,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  using Settings = std::vector<std::pair<std::string, std::string>>;
  // A client of the mock over loopback; `opaque` reaches its callbacks.
  rd_kafka_t* NewClient(rd_kafka_type_t type, const Settings& settings, void* opaque = nullptr);
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  std::unique_ptr<EmbeddedKafka> cluster_;
  std::string bootstrap_servers_;
  rd_kafka_t* producer_ = nullptr;
  int delivery_failures_ = 0;  // written by the delivery callback during poll
  std::string first_delivery_error_;
};

}  // namespace chorus::testing
