#include "chorus/operators/dedup.h"

#include <gtest/gtest.h>

#include <algorithm>
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

// As the runtime's commit orders one operator's mutations: puts by key,
// range deletes last.
void ApplyAsRuntime(Store& store, Mutations ms) {
  std::stable_sort(ms.begin(), ms.end(), [](const Mutation& a, const Mutation& b) {
    bool ar = a.op == Mutation::Op::kDeleteRange;
    bool br = b.op == Mutation::Op::kDeleteRange;
    if (ar != br) return br;
    return !ar && a.key < b.key;
  });
  ApplyTo(store, ms);
}

// Restores `store` (in key order, as a prefix scan yields it) into `d`.
bool RestoreAll(DedupIndex& d, const Store& store) {
  for (const auto& [k, v] : store) {
    if (!d.Restore(k, v)) return false;
  }
  return true;
}

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

std::string BucketKey(int32_t partition, int64_t bucket_ms, uint64_t seq) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  PutFixed64BE(key, OrderedBits(bucket_ms));
  PutFixed64BE(key, seq);
  return key;
}

// A bucket value: the count, then (time delta, hash) per id.
std::string BucketValue(std::initializer_list<std::pair<uint64_t, uint64_t>> pairs) {
  std::string v;
  PutVarint(v, pairs.size());
  for (auto [delta, hash] : pairs) {
    PutVarint(v, delta);
    PutFixed64BE(v, hash);
  }
  return v;
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

// The processor hands dedup the ids' hashes (event.h): by hash or by id,
// dedup answers alike.
TEST(Dedup, AnIdByItsHashIsTheIdItself) {
  DedupIndex d;
  EXPECT_FALSE(d.CheckAndInsert(0, StableHash64("evt-1"), At(1'000)));
  EXPECT_TRUE(d.CheckAndInsert(0, "evt-1", At(1'000)));
  EXPECT_FALSE(d.CheckAndInsert(0, "evt-0", At(1'000)));
  EXPECT_TRUE(d.CheckAndInsert(0, StableHash64("evt-0"), At(1'000)));
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

TEST(Dedup, DrainWritesOneValuePerBucketWithTheIdsSortedByTime) {
  DedupIndex d;
  ASSERT_FALSE(d.CheckAndInsert(3, "a", At(1'000)));
  ASSERT_TRUE(d.CheckAndInsert(3, "a", At(1'000)));
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Mutation::Op::kPut);
  // Partition 3, bucket start 0 with the sign bit flipped, sequence 1.
  EXPECT_EQ(out[0].key, Bytes({0, 0, 0, 3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  // One id, 1000 ms (varint e8 07) past the bucket start, StableHash64("a").
  EXPECT_EQ(out[0].value, Bytes({1, 0xe8, 0x07, 0x82, 0xa2, 0xa9, 0x58, 0xa9, 0xbe, 0xce, 0x5b}));
  out.clear();
  d.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "nothing changed since the last drain";

  ASSERT_FALSE(d.CheckAndInsert(3, "c", At(kHour.count() + 7)));
  ASSERT_FALSE(d.CheckAndInsert(3, "b", At(2'000)));
  ASSERT_FALSE(d.CheckAndInsert(3, "d", At(500)));
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u) << "one value per bucket touched";
  EXPECT_EQ(out[0].key, BucketKey(3, 0, 2));
  EXPECT_EQ(out[0].value, BucketValue({{500, StableHash64("d")}, {1'500, StableHash64("b")}}));
  EXPECT_EQ(out[1].key, BucketKey(3, kHour.count(), 3));
  EXPECT_EQ(out[1].value, BucketValue({{7, StableHash64("c")}}));
}

TEST(Dedup, BucketsFollowEventTimeBelowZero) {
  DedupIndex d;
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(-1)));
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, BucketKey(0, -kHour.count(), 1));
  EXPECT_EQ(out[0].value, BucketValue({{kHour.count() - 1, StableHash64("a")}}));
}

TEST(Dedup, ExtremeEventTimesRoundTrip) {
  const int64_t times[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
  DedupIndex d;
  for (int64_t ms : times) ASSERT_FALSE(d.CheckAndInsert(0, std::to_string(ms), At(ms)));
  Mutations out;
  d.DrainDirty(out);
  EXPECT_EQ(out.size(), 4u) << "the lowest and highest buckets, and either side of 0";
  Store store;
  ApplyAsRuntime(store, out);
  DedupIndex restored;
  ASSERT_TRUE(RestoreAll(restored, store));
  EXPECT_EQ(restored.size(), std::size(times));
  for (int64_t ms : times) EXPECT_TRUE(restored.CheckAndInsert(0, std::to_string(ms), At(ms)));
}

TEST(Dedup, ExpiryDrainsAsAnExpiryEntryAndOneRangeDeletePerPartition) {
  DedupIndex d(DedupOptions{kHour});
  ASSERT_FALSE(d.CheckAndInsert(1, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(1, "b", At(2 * kHour.count())));
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  out.clear();
  d.Expire();  // bound 1 h
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  // The expiry entry: key partition 1 alone; value the bound (1 h =
  // 0x36ee80, sign bit flipped), then the next sequence number, 3.
  EXPECT_EQ(out[0].op, Mutation::Op::kPut);
  EXPECT_EQ(out[0].key, Bytes({0, 0, 0, 1}));
  EXPECT_EQ(out[0].value, Bytes({0x80, 0, 0, 0, 0, 0x36, 0xee, 0x80, 0, 0, 0, 0, 0, 0, 0, 3}));
  EXPECT_EQ(out[1].op, Mutation::Op::kDeleteRange);
  EXPECT_EQ(out[1].key, Bytes({0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  // Exclusive end: partition 1, bucket 1 h; the buckets below it end at or before the bound.
  EXPECT_EQ(out[1].value, Bytes({0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0x36, 0xee, 0x80}));
  out.clear();
  d.Expire();
  d.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "no second range delete when nothing expired";
}

TEST(Dedup, RangeDeleteKeepsWholeBucketsAndSparesThoseThisDrainWrites) {
  DedupIndex d(DedupOptions{kHour});
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  ASSERT_FALSE(d.CheckAndInsert(0, "b", At(5 * kHour.count())));
  Mutations out;
  d.DrainDirty(out);
  out.clear();
  d.Expire();  // bound 4 h: "a" goes
  // Accepted after the expiry: live, though below the bound.
  ASSERT_FALSE(d.CheckAndInsert(0, "late", At(2 * kHour.count() + 1)));
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].op, Mutation::Op::kDeleteRange);
  std::string end;
  AppendPartitionPrefix(end, 0);
  PutFixed64BE(end, OrderedBits(2 * kHour.count()));
  EXPECT_EQ(out[1].value, end) << "stops below the bucket of this drain's late id";

  // In either order of the batch the late id survives a restart.
  for (bool runtime_order : {false, true}) {
    Store store;
    DedupIndex fresh(DedupOptions{kHour});
    ASSERT_FALSE(fresh.CheckAndInsert(0, "a", At(0)));
    ASSERT_FALSE(fresh.CheckAndInsert(0, "b", At(5 * kHour.count())));
    Mutations first;
    fresh.DrainDirty(first);
    ApplyTo(store, first);
    fresh.Expire();
    ASSERT_FALSE(fresh.CheckAndInsert(0, "late", At(2 * kHour.count() + 1)));
    Mutations second;
    fresh.DrainDirty(second);
    runtime_order ? ApplyAsRuntime(store, second) : ApplyTo(store, second);
    DedupIndex restored(DedupOptions{kHour});
    ASSERT_TRUE(RestoreAll(restored, store));
    EXPECT_EQ(restored.size(), 2u);
    EXPECT_TRUE(restored.CheckAndInsert(0, "late", At(2 * kHour.count() + 1)));
    EXPECT_FALSE(restored.CheckAndInsert(0, "a", At(0)));
  }
}

TEST(Dedup, RestoreFromTheDrainedStoreAgrees) {
  for (bool runtime_order : {false, true}) {
    DedupIndex d(DedupOptions{kHour});
    Store store;
    Mutations out;
    auto apply = [&] {
      runtime_order ? ApplyAsRuntime(store, out) : ApplyTo(store, out);
      out.clear();
    };
    ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
    ASSERT_FALSE(d.CheckAndInsert(0, "b", At(50 * kMin)));
    ASSERT_FALSE(d.CheckAndInsert(2, "a", At(-5 * kMin)));
    d.DrainDirty(out);
    apply();
    ASSERT_FALSE(d.CheckAndInsert(0, "c", At(100 * kMin)));
    ASSERT_FALSE(d.CheckAndInsert(0, "d", At(10 * kMin)));  // inserted, then expired undrained
    d.Expire();                                             // bound 40 min: "a" and "d" go
    ASSERT_FALSE(d.CheckAndInsert(0, "e", At(5 * kMin)));   // older than the bound, yet remembered
    d.DrainDirty(out);
    apply();
    // Partition 0: the expiry entry, bucket 0 from each drain ("a" and "b",
    // then "e"), bucket 1 h ("c"); partition 2: bucket −1 h ("a").
    EXPECT_EQ(store.size(), 5u);

    DedupIndex restored(DedupOptions{kHour});
    ASSERT_TRUE(RestoreAll(restored, store));
    EXPECT_EQ(restored.size(), d.size());
    Mutations none;
    restored.DrainDirty(none);
    EXPECT_TRUE(none.empty());
    for (DedupIndex* idx : {&d, &restored}) {
      EXPECT_TRUE(idx->CheckAndInsert(0, "b", At(50 * kMin)));
      EXPECT_TRUE(idx->CheckAndInsert(0, "c", At(100 * kMin)));
      EXPECT_TRUE(idx->CheckAndInsert(0, "e", At(5 * kMin)));
      EXPECT_TRUE(idx->CheckAndInsert(2, "a", At(-5 * kMin)));
      EXPECT_FALSE(idx->CheckAndInsert(0, "a", At(0))) << "expired in a bucket still stored";
      EXPECT_FALSE(idx->CheckAndInsert(0, "d", At(10 * kMin)));
    }
    // The restored maximum drives expiry the same way.
    d.Expire();
    restored.Expire();
    EXPECT_EQ(restored.size(), d.size());
  }
}

// Every id ever offered gets the same answer from `a` and `b` (both copied,
// since a miss inserts).
void ExpectSameDecisions(const DedupIndex& a, const DedupIndex& b,
                         const std::vector<std::pair<int32_t, int64_t>>& offered) {
  DedupIndex x = a;
  DedupIndex y = b;
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < offered.size(); ++i) {
    auto [partition, ms] = offered[i];
    std::string id = "id-" + std::to_string(i);
    ASSERT_EQ(x.CheckAndInsert(partition, id, At(ms)), y.CheckAndInsert(partition, id, At(ms)))
        << id << " on " << partition << " at " << ms;
  }
}

TEST(Dedup, RoundTripsOverManyDrainsWithExpiryInsideBuckets) {
  // A 150-minute horizon puts every expiry bound inside a bucket.
  const DedupOptions options{Millis(150 * kMin)};
  DedupIndex d(options);
  Store store;
  std::vector<std::pair<int32_t, int64_t>> offered;  // id i: (partition, time)
  uint64_t x = 42;
  auto next = [&x] { return (x = x * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  for (int drain = 0; drain < 12; ++drain) {
    for (int i = 0; i < 400; ++i) {
      auto partition = static_cast<int32_t>(next() % 3);
      // Mostly ahead, sometimes behind: times wander over neighbouring buckets.
      int64_t ms = drain * 40 * kMin + static_cast<int64_t>(next() % (90 * kMin)) - 30 * kMin;
      size_t id = next() % 8 == 0 && !offered.empty() ? next() % offered.size() : offered.size();
      if (id == offered.size()) offered.emplace_back(partition, ms);
      (void)d.CheckAndInsert(offered[id].first, "id-" + std::to_string(id), At(offered[id].second));
    }
    d.Expire();  // as the runtime's commit does before draining
    Mutations out;
    d.DrainDirty(out);
    ApplyAsRuntime(store, out);

    DedupIndex restored(options);
    ASSERT_TRUE(RestoreAll(restored, store)) << "drain " << drain;
    ExpectSameDecisions(d, restored, offered);
    Mutations none;
    restored.DrainDirty(none);
    EXPECT_TRUE(none.empty());
  }
  EXPECT_LT(d.size(), offered.size()) << "expiry forgot some";
}

TEST(Dedup, SequenceNumbersContinueAfterARestart) {
  DedupIndex d(DedupOptions{kHour});
  Store store;
  Mutations out;
  ASSERT_FALSE(d.CheckAndInsert(0, "b", At(3 * kHour.count())));
  d.DrainDirty(out);  // seq 1
  // Older than the horizon, but drained before any Expire.
  ASSERT_FALSE(d.CheckAndInsert(0, "a", At(0)));
  d.DrainDirty(out);  // seq 2
  ApplyAsRuntime(store, out);
  out.clear();
  d.Expire();         // bound 2 h: "a" goes
  d.DrainDirty(out);  // the expiry entry names seq 3; its range delete takes seq 2's bucket
  ApplyAsRuntime(store, out);
  out.clear();
  ASSERT_EQ(store.size(), 2u) << "the expiry entry and b's value (seq 1)";

  // The next value must not reuse seq 2, or the expiry entry would filter it.
  DedupIndex restored(DedupOptions{kHour});
  ASSERT_TRUE(RestoreAll(restored, store));
  ASSERT_FALSE(restored.CheckAndInsert(0, "late", At(kHour.count())));
  ASSERT_FALSE(restored.CheckAndInsert(0, "c", At(3 * kHour.count() + 1)));
  restored.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, BucketKey(0, kHour.count(), 3));
  EXPECT_EQ(out[1].key, BucketKey(0, 3 * kHour.count(), 4)) << "beside b's seq 1, not over it";
  ApplyAsRuntime(store, out);

  DedupIndex again(DedupOptions{kHour});
  ASSERT_TRUE(RestoreAll(again, store));
  EXPECT_EQ(again.size(), 3u);
  for (const char* id : {"b", "late", "c"}) {
    EXPECT_TRUE(again.CheckAndInsert(0, id, At(3 * kHour.count()))) << id;
  }
}

TEST(Dedup, ManyEventsDrainAsFewMutations) {
  DedupIndex d;
  constexpr int kEvents = 200'000;
  // Four partitions over 4 hours of event time: four buckets each.
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_FALSE(d.CheckAndInsert(i % 4, "id-" + std::to_string(i), At(i * 72LL)));
  }
  d.Expire();
  Mutations out;
  d.DrainDirty(out);
  EXPECT_EQ(out.size(), 16u) << "one put per partition and bucket";
  size_t bytes = 0;
  for (const Mutation& m : out) bytes += m.key.size() + m.value.size();
  EXPECT_LT(bytes, static_cast<size_t>(kEvents) * 11) << "about 10 bytes an id";

  Store store;
  ApplyAsRuntime(store, out);
  DedupIndex restored;
  ASSERT_TRUE(RestoreAll(restored, store));
  EXPECT_EQ(restored.size(), d.size());
  for (int i = 0; i < kEvents; i += 97) {
    ASSERT_TRUE(restored.CheckAndInsert(i % 4, "id-" + std::to_string(i), At(i * 72LL))) << i;
  }
}

TEST(Dedup, AFullBucketIsSplitIntoSeveralValues) {
  DedupIndex d;
  constexpr int kEvents = 40'000;
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_FALSE(d.CheckAndInsert(5, "id-" + std::to_string(i), At(i % 1'000)));
  }
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 3u) << "16,384 ids a value at most";
  for (uint64_t seq = 1; seq <= 3; ++seq) EXPECT_EQ(out[seq - 1].key, BucketKey(5, 0, seq));
  Store store;
  ApplyAsRuntime(store, out);
  DedupIndex restored;
  ASSERT_TRUE(RestoreAll(restored, store));
  EXPECT_EQ(restored.size(), static_cast<size_t>(kEvents));
}

TEST(Dedup, RestoreRejectsMalformedEntries) {
  DedupIndex d;
  const std::string key = BucketKey(1, 0, 7);
  const std::string value = BucketValue({{1'000, 0x0102030405060708}, {0, 0x1112131415161718}});
  for (size_t n : {0, 3, 5, 12, 19}) EXPECT_FALSE(d.Restore(key.substr(0, n), value)) << n;
  EXPECT_FALSE(d.Restore(key + "x", value));
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(d.Restore(key, value.substr(0, n))) << "truncated to " << n;
  }
  EXPECT_FALSE(d.Restore(key, value + '\0')) << "trailing bytes";
  EXPECT_FALSE(d.Restore(key, BucketValue({{1'000, 0}}))) << "hash 0 marks empty slots";
  EXPECT_FALSE(d.Restore(key, BucketValue({{kHour.count(), 1}}))) << "past the bucket";
  EXPECT_FALSE(d.Restore(key, BucketValue({{kHour.count() - 1, 1}, {1, 2}}))) << "past the bucket";
  EXPECT_FALSE(d.Restore(BucketKey(1, 1'000, 7), value)) << "not a bucket start";
  EXPECT_FALSE(d.Restore(BucketKey(1, 0, 0), value)) << "sequence numbers start at 1";
  EXPECT_EQ(d.size(), 0u) << "a rejected value leaves nothing behind";

  std::string expiry;
  PutFixed64BE(expiry, OrderedBits(0));
  PutFixed64BE(expiry, 3);
  const std::string expiry_key = Bytes({0, 0, 0, 1});
  EXPECT_FALSE(d.Restore(expiry_key, expiry.substr(0, 15)));
  EXPECT_FALSE(d.Restore(expiry_key, expiry + "x"));
  EXPECT_FALSE(d.Restore(expiry_key, expiry.substr(0, 8) + std::string(8, '\0'))) << "seq 0";

  EXPECT_TRUE(d.Restore(key, value));
  EXPECT_EQ(d.size(), 2u);
  EXPECT_FALSE(d.Restore(expiry_key, expiry)) << "sorts before its partition's values";
  EXPECT_TRUE(d.Restore(Bytes({0, 0, 0, 2}), expiry));
  EXPECT_FALSE(d.Restore(Bytes({0, 0, 0, 2}), expiry)) << "one per partition";
}

TEST(Dedup, EveryTruncationOfADrainedValueIsRejected) {
  DedupIndex d;
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(d.CheckAndInsert(0, "id-" + std::to_string(i), At(i * 70'000LL)));
  }
  Mutations out;
  d.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  for (size_t n = 0; n < out[0].value.size(); ++n) {
    DedupIndex fresh;
    EXPECT_FALSE(fresh.Restore(out[0].key, out[0].value.substr(0, n))) << n;
  }
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
