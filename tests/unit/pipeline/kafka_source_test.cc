// The Kafka source against librdkafka's mock cluster on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "chorus/pipeline/kafka.h"
#include "support/mock_cluster.h"

namespace chorus {
namespace {

class NoListener final : public PartitionListener {
 public:
  std::vector<SourcePosition> OnAssigned(const std::vector<TopicPartition>&) override { return {}; }
  void OnRevoked(const std::vector<TopicPartition>&) override {}
};

// A poll returns the records that are ready, however few, rather than
// waiting out its timeout for a full batch: librdkafka's batch call alone
// held a replay's last records for the whole timeout.
TEST(KafkaSource, AFewReadyRecordsDoNotWaitForAFullBatch) {
  testing::MockCluster cluster;
  cluster.CreateTopic("t", 2);
  for (int i = 0; i < 5; ++i) cluster.Produce("t", i % 2, "k", "v" + std::to_string(i));
  cluster.Flush();
  auto source =
      OpenKafkaReplaySource({{"t"}, {{"bootstrap.servers", cluster.bootstrap_servers()}}, {}, {}});
  ASSERT_TRUE(source.ok()) << source.status().message();
  NoListener listener;
  source.value()->SetListener(&listener);

  constexpr auto kTimeout = std::chrono::seconds(30);
  const auto start = std::chrono::steady_clock::now();
  std::vector<SourceRecord> records;
  size_t read = 0;
  for (int polls = 0; polls < 3 && !source.value()->Exhausted(); ++polls) {
    ASSERT_TRUE(source.value()->Poll(records, 10'000, kTimeout).ok());
    read += records.size();
  }
  EXPECT_EQ(read, 5u);
  EXPECT_TRUE(source.value()->Exhausted());
  // The first fetch takes milliseconds on loopback; the old way took the
  // whole 30 s timeout for the first poll.
  EXPECT_LT(std::chrono::steady_clock::now() - start, kTimeout / 2);
}

}  // namespace
}  // namespace chorus
