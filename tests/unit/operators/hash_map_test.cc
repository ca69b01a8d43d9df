#include "chorus/operators/hash_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace chorus::ops {
namespace {

TEST(HashMap, FindsWhatWasInsertedAndNothingElse) {
  HashMap<std::string> m;
  EXPECT_EQ(m.Find(7), nullptr);
  EXPECT_FALSE(m.Erase(7));
  auto [v, inserted] = m.TryEmplace(7);
  ASSERT_TRUE(inserted);
  EXPECT_EQ(*v, "");  // value-initialized
  *v = "seven";
  auto [again, inserted_again] = m.TryEmplace(7);
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(*again, "seven");
  m[0] = "zero";  // 0 is a key like any other
  EXPECT_EQ(m.size(), 2u);
  ASSERT_NE(m.Find(0), nullptr);
  EXPECT_EQ(*m.Find(0), "zero");
  EXPECT_EQ(m.Find(8), nullptr);
  EXPECT_TRUE(m.Erase(7));
  EXPECT_EQ(m.Find(7), nullptr);
  EXPECT_EQ(m.size(), 1u);
  // A key inserted again after its erase starts from a fresh value.
  EXPECT_EQ(m[7], "");
}

// Random inserts, erases and lookups against std::map. Each round draws a
// few random keys, so at this table size collision runs of every shape
// form, including ones that wrap around the table end, where backward-shift
// erasure can go wrong.
TEST(HashMap, AgreesWithStdMapUnderChurn) {
  std::mt19937_64 rng(20261125);
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint64_t> keys(2 + rng() % 12);
    for (uint64_t& k : keys) k = rng();
    HashMap<uint64_t> m;
    std::map<uint64_t, uint64_t> want;
    for (int step = 0; step < 300; ++step) {
      const uint64_t key = keys[rng() % keys.size()];
      switch (rng() % 4) {
        case 0:
        case 1:
          m[key] += step;
          want[key] += step;
          break;
        case 2:
          ASSERT_EQ(m.Erase(key), want.erase(key) == 1) << key;
          break;
        default: {
          const uint64_t* got = m.Find(key);
          auto it = want.find(key);
          ASSERT_EQ(got != nullptr, it != want.end()) << key;
          if (got != nullptr) {
            ASSERT_EQ(*got, it->second) << key;
          }
        }
      }
      ASSERT_EQ(m.size(), want.size());
    }
    for (const auto& [key, value] : want) {
      ASSERT_NE(m.Find(key), nullptr) << key;
      EXPECT_EQ(*m.Find(key), value) << key;
    }
    // A pass visits each entry once, whatever the erasures shifted.
    std::map<uint64_t, uint64_t> visited;
    m.ForEach([&](uint64_t key, uint64_t& value) {
      EXPECT_TRUE(visited.emplace(key, value).second) << key;
    });
    EXPECT_EQ(visited, want);
  }
}

TEST(HashMap, EraseIfRemovesExactlyTheMatches) {
  HashMap<int> m;
  for (uint64_t k = 0; k < 1000; ++k) m[k * 977] = static_cast<int>(k);
  EXPECT_EQ(m.EraseIf([](uint64_t, const int& v) { return v % 3 == 0; }), 334u);
  EXPECT_EQ(m.size(), 666u);
  for (uint64_t k = 0; k < 1000; ++k) {
    EXPECT_EQ(m.Find(k * 977) != nullptr, k % 3 != 0) << k;
  }
}

// ForEachFound visits the listed keys that are present, in list order
// (repeats too), each with its own value; absent keys are skipped. More
// keys than its look-ahead, so every stage of it runs.
TEST(HashMap, ForEachFoundVisitsThePresentKeysInListOrder) {
  HashMap<int> m;
  for (uint64_t k = 0; k < 100; k += 2) m[k] = static_cast<int>(k) * 10;
  std::vector<uint64_t> keys;
  for (uint64_t k = 0; k < 40; ++k) keys.push_back((k * 37) % 50);
  keys.push_back(4);     // again
  keys.push_back(1000);  // never inserted
  std::vector<std::pair<uint64_t, int>> seen;
  m.ForEachFound(keys, [&](uint64_t key, int& value) {
    seen.emplace_back(key, value);
    ++value;
  });
  std::vector<std::pair<uint64_t, int>> expected;
  std::map<uint64_t, int> bumped;
  for (uint64_t k : keys) {
    if (k % 2 != 0 || k >= 100) continue;
    expected.emplace_back(k, static_cast<int>(k) * 10 + bumped[k]++);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(*m.Find(4), 40 + bumped[4]);
}

}  // namespace
}  // namespace chorus::ops
