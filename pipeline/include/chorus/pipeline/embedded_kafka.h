// An in-process Kafka cluster: librdkafka's mock cluster, which speaks the
// real protocol (produce, fetch, consumer groups, offset commits) on
// loopback ports it picks. `chorus demo` and the tests run against it.
//
// Known gaps (see DESIGN.md): each partition keeps only the last 5 MiB and
// 100,000 message sets; no offsets-for-times lookup; transactions without
// control records; group joins wait ~3 s for the initial rebalance.
#pragma once

#include <memory>
#include <string>

#include "chorus/pipeline/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace chorus {

class EmbeddedKafka {
 public:
  static Result<std::unique_ptr<EmbeddedKafka>> Start(int brokers = 1);
  ~EmbeddedKafka();

  // "127.0.0.1:port,…" for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstraps_; }
  Status CreateTopic(const std::string& topic, int partitions, int replication = 1);
  // For fault injection with the rd_kafka_mock_* functions. Owned here.
  rd_kafka_mock_cluster_t* mock() const { return cluster_; }

 private:
  EmbeddedKafka() = default;
  rd_kafka_t* rk_ = nullptr;  // owns the cluster's threads
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace chorus
