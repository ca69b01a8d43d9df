#include "chorus/operators/partition_map.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chorus::ops {
namespace {

TEST(PartitionMap, IndexedAndUnindexedIdsBehaveAlike) {
  PartitionMap<std::string> m;
  // Dense ids, a negative one and one past the index.
  const std::vector<int32_t> ids = {3, 0, -5, 1 << 20, 17};
  for (int32_t id : ids) m[id] = "p" + std::to_string(id);
  EXPECT_EQ(m.size(), ids.size());
  std::string* three = &m[3];
  for (int32_t id : ids) {
    ASSERT_NE(m.Find(id), nullptr) << id;
    EXPECT_EQ(*m.Find(id), "p" + std::to_string(id));
  }
  EXPECT_EQ(m.Find(4), nullptr);
  EXPECT_EQ(m.Find(-4), nullptr);
  EXPECT_EQ(m.Find(1 << 21), nullptr);
  // In id order, whatever the insertion order.
  std::vector<int32_t> order;
  for (const auto& [id, value] : m) order.push_back(id);
  EXPECT_EQ(order, (std::vector<int32_t>{-5, 0, 3, 17, 1 << 20}));
  for (int32_t id : {0, -5, 1 << 20}) m.Erase(id);
  EXPECT_EQ(m.Find(0), nullptr);
  EXPECT_EQ(m.Find(-5), nullptr);
  EXPECT_EQ(m.Find(1 << 20), nullptr);
  EXPECT_EQ(m.size(), 2u);
  // Values never move: the reference taken before the erasures still holds.
  EXPECT_EQ(three, m.Find(3));
  EXPECT_EQ(m[0], "");  // made again, fresh
}

TEST(PartitionMap, ACopyFindsItsOwnValues) {
  PartitionMap<int> m;
  m[1] = 10;
  m[-1] = -10;
  PartitionMap<int> copy = m;
  copy[1] = 11;
  EXPECT_EQ(*m.Find(1), 10);
  EXPECT_EQ(*copy.Find(1), 11);
  copy = m;
  EXPECT_EQ(*copy.Find(1), 10);
  EXPECT_NE(copy.Find(1), m.Find(1));
  PartitionMap<int> moved = std::move(copy);
  EXPECT_EQ(*moved.Find(-1), -10);
}

}  // namespace
}  // namespace chorus::ops
