// The order a commit writes one store's mutations in (OrderForWrite).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "chorus/pipeline/state_store.h"

namespace chorus {
namespace {

// Puts and deletes by key (equal keys in drain order), range deletes after
// them in drain order: checked against a plain stable sort by that rule,
// over keys that share long prefixes, end inside or right at the 16 bytes
// sorted first, or start with 0xff bytes.
TEST(OrderForWrite, KeyOrderThenRangeDeletesStableForEqualKeys) {
  std::mt19937_64 rng(7);
  using namespace std::string_literals;
  const std::vector<std::string> stems = {""s,
                                          "\x01"s,
                                          std::string(8, '\xff'),
                                          "\x00\x00\x00\x02t"s,
                                          "\x00\x00\x00\x02t\x80\x00\x00\x01"s,
                                          "\x00\x00\x00\x02t\x80\x00\x00\x01\x00\x00\x07\xff\x00"s,
                                          std::string(16, '\xff')};
  ops::Mutations drained;
  for (int i = 0; i < 5000; ++i) {
    ops::Mutation m;
    const int op = static_cast<int>(rng() % 10);
    m.op = op == 0   ? ops::Mutation::Op::kDeleteRange
           : op == 1 ? ops::Mutation::Op::kDelete
                     : ops::Mutation::Op::kPut;
    m.key = stems[rng() % stems.size()] + std::string(rng() % 3, static_cast<char>(rng() % 4));
    m.value = std::to_string(i);  // tells equal keys apart
    drained.push_back(std::move(m));
  }
  std::vector<const ops::Mutation*> ordered, expected;
  for (const ops::Mutation& m : drained) ordered.push_back(&m);
  expected = ordered;
  std::stable_sort(expected.begin(), expected.end(), [](const auto* a, const auto* b) {
    const bool ar = a->op == ops::Mutation::Op::kDeleteRange;
    const bool br = b->op == ops::Mutation::Op::kDeleteRange;
    if (ar != br) return br;
    return !ar && a->key < b->key;
  });
  EXPECT_TRUE(OrderForWrite(ordered));  // 5,000 keys from a few hundred
  EXPECT_EQ(ordered, expected);
}

// Whether two puts or deletes share a key is reported exactly: a bulk
// commit relies on it to keep the last of each key.
TEST(OrderForWrite, ReportsRepeatedKeys) {
  using Op = ops::Mutation::Op;
  ops::Mutations m = {{Op::kPut, "b", "1"},
                      {Op::kDeleteRange, "a", "z"},
                      {Op::kDelete, "a", {}},
                      {Op::kDeleteRange, "a", "z"},
                      {Op::kPut, "c", "2"}};
  std::vector<const ops::Mutation*> p;
  for (const ops::Mutation& x : m) p.push_back(&x);
  EXPECT_FALSE(OrderForWrite(p));  // equal range deletes are not repeated keys
  m.push_back({Op::kPut, "b", "3"});
  p.clear();
  for (const ops::Mutation& x : m) p.push_back(&x);
  EXPECT_TRUE(OrderForWrite(p));
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[1]->value, "1");  // equal keys in the order given
  EXPECT_EQ(p[2]->value, "3");
}

}  // namespace
}  // namespace chorus
