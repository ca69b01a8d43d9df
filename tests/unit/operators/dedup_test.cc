#include "chorus/operators/dedup.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace chorus::ops {
namespace {

constexpr int64_t kMin = 60'000;  // one minute in ms

EventTime At(int64_t ms) { return EventTime::FromMillis(ms); }

// The store as RocksDB would hold it after applying mutations in order.
using Store = std::map<std::string, std::string>;

void ApplyTo(Store& store, const Mutations& ms) {
  for (const Mutation& m : ms) {
    switch (m.op) {
      case Mutation::Op::kPut:
        store[m.key] = m.value;
        break;
      case Mutation::Op::kDelete:
        store.erase(m.key);
        break;
      case Mutation::Op::kDeleteRange:
        store.erase(store.lower_bound(m.key), store.lower_bound(m.value));
        break;
    }
  }
}

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

TEST(StableHash64, IsFnv1aFollowedByFmix64) {
  // Computed independently: FNV-1a 64 ("" = cbf29ce484222325, "a" =
  // af63dc4c8601ec8c, "foobar" = 85944171f73967e8), then murmur3's fmix64.
  EXPECT_EQ(StableHash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash64("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableHash64("foobar"), 0x2c22194922d1672bULL);
  EXPECT_EQ(StableHash64("evt-1"), 0xfb2be2d1a757c1b1ULL);
}

TEST(Dedup, DuplicateWithinTheHorizonIsDetected) {
  DedupIndex d;
  EXPECT_FALSE(d.CheckAndInsert(0, "e1", At(1'000)));
  EXPECT_TRUE(d.CheckAndInsert(0, "e1", At(1'000)));
  // The id decides, not the time the duplicate claims.
  EXPECT_TRUE(d.CheckAndInsert(0, "e1", At(6 * kDay.count())));
  EXPECT_FALSE(d.CheckAndInsert(0, "e2", At(1'000)));
  EXPECT_EQ(d.size(), 2u);
}

TEST(Dedup, PartitionsAreIndependent) {
  DedupIndex d;
  EXPECT_FALSE(d.CheckAndInsert(0, "e1", At(0)));
  EXPECT_FALSE(d.CheckAndInsert(1, "e1", At(0)));
  EXPECT_TRUE(d.CheckAndInsert(1, "e1", At(0)));
  EXPECT_EQ(d.size(), 2u);
}

TEST(Dedup, DefaultHorizonIsSevenDays) { EXPECT_EQ(DedupOptions{}.horizon, 7 * kDay); }

TEST(Dedup, ExpiresIdsOlderThanThePartitionMaxMinusTheHorizon) {
  DedupIndex d(DedupOptions{kHour});
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(0, "b", At(30 * kMin)));
  ASSERT_FALSE(d.CheckAndInsert(0, "c", At(90 * kMin)));
  d.Expire();  // bound 90 − 60 = 30 min: "a" goes, "b" (exactly at it) stays
  EXPECT_EQ(d.size(), 2u);
  EXPECT_TRUE(d.CheckAndInsert(0, "b", At(30 * kMin)));
  EXPECT_TRUE(d.CheckAndInsert(0, "c", At(90 * kMin)));
  EXPECT_FALSE(d.CheckAndInsert(0, "a", At(0))) << "forgotten, so accepted again";
}

TEST(Dedup, ExpiryFollowsEachPartitionsOwnMaximum) {
  DedupIndex d(DedupOptions{kHour});
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(1, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(0, "late-max", At(10 * kHour.count())));
  d.Expire();
  EXPECT_TRUE(d.CheckAndInsert(1, "a", At(0))) << "partition 1 has not moved on";
  EXPECT_FALSE(d.CheckAndInsert(0, "a", At(0)));
}

TEST(Dedup, ManyIdsSurviveGrowthAndPartialExpiry) {
  DedupIndex d(DedupOptions{Millis(5'000'000)});
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_FALSE(d.CheckAndInsert(0, "id-" + std::to_string(i), At(i * 1'000LL)));
  }
  // Max 9,999,000 − 5,000,000 = 4,999,000: ids 0 … 4998 go, 4999 … 9999 stay.
  d.Expire();
  EXPECT_EQ(d.size(), 5'001u);
  for (int i = 4'999; i < 10'000; ++i) {
    ASSERT_TRUE(d.CheckAndInsert(0, "id-" + std::to_string(i), At(i * 1'000LL))) << i;
  }
  for (int i = 0; i < 4'999; ++i) {
    ASSERT_FALSE(d.CheckAndInsert(0, "id-" + std::to_string(i), At(i * 1'000LL))) << i;
  }
}

TEST(Dedup, DrainWritesPartitionTimeAndHashKeysWithEmptyValues) {
  DedupIndex d;
  ASSERT_FALSE(d.CheckAndInsert(3, "a", At(1'000)));
  ASSERT_TRUE(d.CheckAndInsert(3, "a", At(1'000)));
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Mutation::Op::kPut);
  // Partition 3, then 1000 with the sign bit flipped, then StableHash64("a").
  EXPECT_EQ(out[0].key, Bytes({0,    0,    0,    3,    0x80, 0,    0,    0,    0,    0,
                               0x03, 0xe8, 0x82, 0xa2, 0xa9, 0x58, 0xa9, 0xbe, 0xce, 0x5b}));
  EXPECT_EQ(out[0].value, "");
  out.clear();
  d.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "nothing changed since the last drain";
}

TEST(Dedup, ExpiryDrainsAsOneRangeDeletePerPartition) {
  DedupIndex d(DedupOptions{kHour});
  ASSERT_FALSE(d.CheckAndInsert(1, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(1, "b", At(2 * kHour.count())));
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  out.clear();
  d.Expire();
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Mutation::Op::kDeleteRange);
  EXPECT_EQ(out[0].key, Bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  // Exclusive end: partition 1, 1 h (3,600,000 = 0x36ee80) with the sign bit.
  EXPECT_EQ(out[0].value, Bytes({0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0x36, 0xee, 0x80}));
  out.clear();
  d.Expire();
  d.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "no second range delete when nothing expired";
}

TEST(Dedup, RestoreFromTheDrainedStoreAgrees) {
  DedupIndex d(DedupOptions{kHour});
  Store store;
  Mutations out;
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(0, "b", At(50 * kMin)));
  ASSERT_FALSE(d.CheckAndInsert(2, "a", At(-5 * kMin)));
  d.DrainDirty(out);
  ASSERT_FALSE(d.CheckAndInsert(0, "c", At(100 * kMin)));
  ASSERT_FALSE(d.CheckAndInsert(0, "d", At(10 * kMin)));  // inserted, then expired undrained
  d.Expire();                                             // bound 40 min: "a" and "d" go
  ASSERT_FALSE(d.CheckAndInsert(0, "e", At(5 * kMin)));   // older than the bound, yet remembered
  d.DrainDirty(out);
  ApplyTo(store, out);
  EXPECT_EQ(store.size(), 4u) << "b, c and e on partition 0, a on partition 2";

  DedupIndex restored(DedupOptions{kHour});
  for (const auto& [k, v] : store) ASSERT_TRUE(restored.Restore(k, v));
  EXPECT_EQ(restored.size(), d.size());
  Mutations none;
  restored.DrainDirty(none);
  EXPECT_TRUE(none.empty());
  for (DedupIndex* idx : {&d, &restored}) {
    EXPECT_TRUE(idx->CheckAndInsert(0, "b", At(50 * kMin)));
    EXPECT_TRUE(idx->CheckAndInsert(0, "c", At(100 * kMin)));
    EXPECT_TRUE(idx->CheckAndInsert(0, "e", At(5 * kMin)));
    EXPECT_TRUE(idx->CheckAndInsert(2, "a", At(-5 * kMin)));
    EXPECT_FALSE(idx->CheckAndInsert(0, "a", At(0)));
    EXPECT_FALSE(idx->CheckAndInsert(0, "d", At(10 * kMin)));
  }
  // The restored maximum drives expiry the same way.
  d.Expire();
  restored.Expire();
  EXPECT_EQ(restored.size(), d.size());
}

TEST(Dedup, RestoreRejectsMalformedEntries) {
  DedupIndex d;
  std::string key = Bytes({0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_FALSE(d.Restore(key.substr(0, 19), ""));
  EXPECT_FALSE(d.Restore(key, "x"));
  EXPECT_TRUE(d.Restore(key, ""));
  EXPECT_EQ(d.size(), 1u);
}

TEST(Dedup, DropPartitionForgetsOnlyThatPartition) {
  DedupIndex d;
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(1, "a", At(0)));
  d.DropPartition(1);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.CheckAndInsert(0, "a", At(0)));
  EXPECT_FALSE(d.CheckAndInsert(1, "a", At(0)));
}

}  // namespace
}  // namespace chorus::ops
