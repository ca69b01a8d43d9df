// A test fixture around the real `chorus run`: one mock Kafka cluster per
// suite, fresh topics per test (input, DLQ, window results), the binary
// started on them with a short commit interval, and its /metrics.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/workload.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {

class RunFixture : public ::testing::Test {
 protected:
  using Metrics = std::map<std::string, double>;

  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // Makes `<prefix>-N` (N counts the tests) with `partitions`, and its DLQ
  // and window-results topics.
  void CreateTopics(const std::string& prefix, int partitions);
  // Produces one record to the input topic (call cluster_->Flush() after).
  void Produce(const WorkloadRecord& r);
  // Starts `chorus run` on the topics: 200 ms commits, output topic and
  // DLQ, any free HTTP port, then `flags`. Waits up to `deadline` for the
  // port it logs; its log goes to a new file under dir_.
  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& flags,
                                      std::chrono::seconds deadline,
                                      const std::vector<std::string>& env = {});
  std::optional<Metrics> Scrape() const;
  // Counters only grow: after a crash and restart nothing may be lower.
  static void ExpectNotBelow(const Metrics& now, const Metrics& before);

  static MockCluster* cluster_;
  TempDir dir_;
  std::string topic_, dlq_, windows_, log_;
  int port_ = 0;
  int starts_ = 0;
};

}  // namespace chorus::testing
