#include "chorus/operators/id_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace chorus::ops {
namespace {

TEST(IdIndex, InternsIdsToDenseIndexesInOrderFirstSeen) {
  IdIndex index;
  EXPECT_EQ(index.Find("twitter:acme"), IdIndex::kAbsent);
  EXPECT_EQ(index.Intern("twitter:acme"), 0u);
  EXPECT_EQ(index.Intern("discord:acme"), 1u);
  EXPECT_EQ(index.Intern("twitter:acme"), 0u);
  EXPECT_EQ(index.Intern(""), 2u);  // the empty id is an id like any other
  EXPECT_EQ(index.Find("discord:acme"), 1u);
  EXPECT_EQ(index.Find(""), 2u);
  EXPECT_EQ(index.Find("twitter:acm"), IdIndex::kAbsent);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.id(1), "discord:acme");
}

// Many ids, so the table grows many times and probes run into each
// other's slots: every id keeps its index, and views handed out before the
// growth still read the same id.
TEST(IdIndex, AgreesWithAMapAcrossGrowth) {
  std::mt19937_64 rng(11);
  IdIndex index;
  std::unordered_map<std::string, uint32_t> reference;
  const std::string_view first = index.id(index.Intern("first"));
  reference["first"] = 0;
  for (int i = 0; i < 50'000; ++i) {
    std::string id = "channel-" + std::to_string(rng() % 30'000);
    if (rng() % 3 == 0) {
      auto it = reference.find(id);
      EXPECT_EQ(index.Find(id), it == reference.end() ? IdIndex::kAbsent : it->second) << id;
      continue;
    }
    auto [it, inserted] = reference.emplace(id, static_cast<uint32_t>(reference.size()));
    ASSERT_EQ(index.Intern(id), it->second) << id << (inserted ? " (new)" : "");
  }
  EXPECT_EQ(index.size(), reference.size());
  for (const auto& [id, i] : reference) {
    ASSERT_EQ(index.Find(id), i);
    ASSERT_EQ(index.id(i), id);
  }
  EXPECT_EQ(first, "first");
}

}  // namespace
}  // namespace chorus::ops
