#include "support/mock_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace chorus::testing {
namespace {

TEST(MockCluster, ListensOnLoopbackPortsOfItsOwn) {
  MockCluster a;
  MockCluster b(3);
  EXPECT_EQ(a.bootstrap_servers().rfind("127.0.0.1:", 0), 0u) << a.bootstrap_servers();
  EXPECT_NE(a.bootstrap_servers(), b.bootstrap_servers());
  EXPECT_EQ(std::count(b.bootstrap_servers().begin(), b.bootstrap_servers().end(), ','), 2);
  EXPECT_NE(a.mock(), nullptr);
}

TEST(MockCluster, ReadAllReturnsEveryRecordInPartitionOrder) {
  MockCluster cluster;
  cluster.CreateTopic("events", 4);
  constexpr int kRecords = 200;
  constexpr int64_t kBaseMs = 1'700'000'000'000;
  for (int i = 0; i < kRecords; ++i) {
    // Every fifth record goes to an explicit partition; the rest by key.
    int32_t partition = i % 5 == 0 ? (i / 5) % 4 : -1;
    cluster.Produce("events", partition, "member-" + std::to_string(i % 13),
                    "value-" + std::to_string(i), kBaseMs + i, {{"seq", std::to_string(i)}});
  }
  cluster.Flush();

  std::vector<KafkaRecord> records = cluster.ReadAll("events");
  ASSERT_EQ(records.size(), static_cast<size_t>(kRecords));
  std::map<int32_t, int64_t> next_offset;
  std::map<int32_t, int> last_seq;
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const KafkaRecord& r : records) {
    ASSERT_TRUE(r.value.has_value());
    int seq = std::stoi(r.value->substr(std::string("value-").size()));
    EXPECT_EQ(r.key, "member-" + std::to_string(seq % 13));
    EXPECT_EQ(r.timestamp_ms, kBaseMs + seq);
    EXPECT_EQ(r.Header("seq"), std::to_string(seq));
    EXPECT_EQ(r.Header("absent"), std::nullopt);
    if (seq % 5 == 0) {
      EXPECT_EQ(r.partition, (seq / 5) % 4) << seq;
    } else {
      partitions_of_key[*r.key].insert(r.partition);
    }
    // Offsets are dense from zero and follow the order of production.
    EXPECT_EQ(r.offset, next_offset[r.partition]++) << "partition " << r.partition;
    if (last_seq.count(r.partition)) {
      EXPECT_GT(seq, last_seq[r.partition]);
    }
    last_seq[r.partition] = seq;
  }
  EXPECT_EQ(next_offset.size(), 4u);  // all partitions received records
  for (const auto& [key, parts] : partitions_of_key) {
    EXPECT_EQ(parts.size(), 1u) << key << " was spread over partitions";
  }
  std::vector<int64_t> highs = cluster.HighWatermarks("events");
  ASSERT_EQ(highs.size(), 4u);
  for (int32_t p = 0; p < 4; ++p) EXPECT_EQ(highs[p], next_offset[p]);
}

TEST(MockCluster, NullKeysValuesAndMissingTimestampsRoundTrip) {
  MockCluster cluster;
  cluster.CreateTopic("t", 1);
  cluster.Produce("t", 0, std::nullopt, "v");
  cluster.Produce("t", 0, "k", std::nullopt, 5);
  cluster.Flush();
  std::vector<KafkaRecord> records = cluster.ReadAll("t");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, std::nullopt);
  EXPECT_EQ(records[0].value, "v");
  EXPECT_GT(records[0].timestamp_ms, 0);  // the producer stamps it
  EXPECT_EQ(records[1].key, "k");
  EXPECT_EQ(records[1].value, std::nullopt);
  EXPECT_EQ(records[1].timestamp_ms, 5);
}

TEST(MockCluster, ReadAllOfAnEmptyOrUnknownTopicIsEmpty) {
  MockCluster cluster;
  cluster.CreateTopic("empty", 3);
  EXPECT_TRUE(cluster.ReadAll("empty").empty());
  EXPECT_TRUE(cluster.ReadAll("never-created").empty());
}

TEST(MockCluster, EachReadAllStartsFromTheBeginning) {
  MockCluster cluster;
  cluster.CreateTopic("t", 2);
  cluster.Produce("t", 0, "a", "1");
  cluster.Flush();
  ASSERT_EQ(cluster.ReadAll("t").size(), 1u);
  cluster.Produce("t", 1, "b", "2");
  cluster.Flush();
  EXPECT_EQ(cluster.ReadAll("t").size(), 2u);  // each call reads from the beginning
}

}  // namespace
}  // namespace chorus::testing
