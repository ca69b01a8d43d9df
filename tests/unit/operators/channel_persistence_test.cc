// Channel growth state as stored: totals chunks and window groups, drains that
// keep a store in step, restore, and rejection of malformed entries.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "channel_test_util.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {
namespace {

using namespace channel_test;  // NOLINT: test helpers

// ---- Persistence -----------------------------------------------------------

TEST(ChannelPersistence, KeysArePartitionTagAndChunkOrWindowGroupValuesAreCompact) {
  ChannelGrowth g;
  g.Apply(2, ByMember(K::kReaction, kMin, C::kText, "a"), false);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 4u) << "the channel's chunk and one window group per size";
  uint16_t chunk = ChunkOf("a");
  auto hi = static_cast<uint8_t>(chunk >> 8), lo = static_cast<uint8_t>(chunk & 0xff);
  EXPECT_EQ(out[0].key, Bytes({0, 0, 0, 2, 0x08, hi, lo}));
  // Id "a" length-prefixed; platform twitter (1); kinds mask bit 5 then 1;
  // posts mask 0; engagements mask bit 1 (text) then 1; no snapshots and no
  // legacy bound; net follows 0; no deltas.
  EXPECT_EQ(out[0].value, Bytes({0x01, 'a', 0x01, 0x20, 0x01, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00}));
  // The minute windows of partition 2 starting at 60,000 ms: size 60,000 =
  // 0xea60, then the start with its sign bit flipped.
  EXPECT_EQ(out[1].key, Bytes({0,    0,    0,    2, 0x07, 0, 0, 0, 0,    0,   0,
                               0xea, 0x60, 0x80, 0, 0,    0, 0, 0, 0xea, 0x60}));
  // Id "a", its counts, then no corrections made and none pending.
  EXPECT_EQ(out[1].value, Bytes({0x01, 'a', 0x20, 0x01, 0x00, 0x02, 0x01, 0x00}));
  // The hour (3,600,000 = 0x36ee80) and day (86,400,000 = 0x5265c00) windows
  // starting at 0.
  EXPECT_EQ(out[2].key,
            Bytes({0, 0, 0, 2, 0x07, 0, 0, 0, 0, 0, 0x36, 0xee, 0x80, 0x80, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(out[3].key, Bytes({0,    0,    0,    2, 0x07, 0, 0, 0, 0, 0x05, 0x26,
                               0x5c, 0x00, 0x80, 0, 0,    0, 0, 0, 0, 0}));
  EXPECT_EQ(out[3].value, out[1].value);
  for (const Mutation& m : out) EXPECT_EQ(m.op, Mutation::Op::kPut);
  out.clear();
  g.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "nothing changed since the last drain";
}

// Two partitions, two channels, open windows and follower deltas.
void Populate(ChannelGrowth& g) {
  g.Apply(0, Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 1'000), false);
  g.Apply(1, Ev(K::kFollow, 150 * kSec, "twitter:acme", 2), false);
  g.Apply(1, Ev(K::kUnfollow, 90 * kSec), false);
  g.Apply(0, Ev(K::kFollow, 170 * kSec), false);
  g.Apply(1, ByMember(K::kShare, 30 * kSec, C::kLink), false);
  g.Apply(0, Post(2 * kHr, C::kVideo, "forum:x"), false);
  g.Apply(0, Ev(K::kImpression, -kDy, "forum:x", 1'000'000), true);
  g.Apply(1, Ev(K::kFollow, 10 * kSec, "forum:x"), false);
}

TEST(ChannelPersistence, DrainThenRestoreRoundTripsExactly) {
  ChannelGrowth g;
  Populate(g);
  Store store;
  Drain(g, store);
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());
  EXPECT_EQ(One(r).followers, 1'000 + 2 + 1);
  Mutations none;
  r.DrainDirty(none);
  EXPECT_TRUE(none.empty()) << "restored state is clean";

  // Both go on identically: the same events, the same windows closing.
  for (ChannelGrowth* x : {&g, &r}) {
    x->Apply(2, Ev(K::kFollow, 200 * kSec), false);
    x->Apply(0, Ev(K::kFollowerCount, 160 * kSec, "twitter:acme", 2'000), false);
  }
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(One(g).followers, 2'000 + 1 + 1) << "the follows at 170 s and 200 s";
  std::vector<Closed> from_original = Advance(g, 4 * kHr);
  EXPECT_EQ(Advance(r, 4 * kHr), from_original);
  // twitter:acme: minutes [0, 60 s) … [180 s, 240 s) and hour [0, 1 h);
  // forum:x: minutes [0, 60 s) and [2 h, 2 h 1 m), hours [0, 1 h) and [2 h, 3 h).
  EXPECT_EQ(from_original.size(), 9u);
}

TEST(ChannelPersistence, IncrementalDrainsKeepTheStoreInStep) {
  ChannelGrowth g;
  Store store;
  Populate(g);
  Drain(g, store);
  g.Apply(1, Ev(K::kFollowerCount, 300 * kSec, "twitter:acme", 3'000), false);
  g.Apply(0, Post(3 * kHr, C::kText, "forum:x"), false);
  Drain(g, store);
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());
  EXPECT_EQ(One(r).followers, 3'000);
}

TEST(ChannelPersistence, ClosedWindowsAreDeletedFromTheStore) {
  ChannelGrowth g;
  Store store;
  g.Apply(0, Post(0, C::kText, "a"), false);
  g.Apply(1, Post(0, C::kText, "a"), false);
  Drain(g, store);
  ASSERT_EQ(CountWithTag(store, kWindowGroupTag), 6u);
  ASSERT_EQ(Advance(g, kMin).size(), 1u);
  Mutations out;
  g.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "firing changes nothing stored";
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 1u) << "the hour fires as the minute closes";
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u) << "the closed minute groups";
  EXPECT_EQ(out[0].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[0].key, WindowGroupKeyOf(0, kMin, 0));
  EXPECT_EQ(out[1].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[1].key, WindowGroupKeyOf(1, kMin, 0));
  ApplyTo(store, out);
  EXPECT_EQ(CountWithTag(store, kWindowGroupTag), 4u);
  EXPECT_EQ(CountWithTag(store, kChannelChunkTag), 2u) << "channel totals stay";
  ChannelGrowth r = RestoreFrom(store);
  r.RestoreWatermark(EventTime::FromMillis(kMin + kHr));
  EXPECT_EQ(r.open_windows(), 4u);
  EXPECT_EQ(Advance(r, kMin + kHr).size(), 0u) << "restored with its watermark: fired already";
}

TEST(ChannelPersistence, WindowsClosedBeforeTheirFirstDrainLeaveNoMutations) {
  ChannelGrowth g(WindowOptions{Millis(0)});  // no lateness: closed when fired
  g.Apply(0, Post(0, C::kText, "a"), false);
  EXPECT_TRUE(Advance(g, kMin - 1).empty());
  ASSERT_EQ(Advance(g, kMin).size(), 1u);
  ASSERT_EQ(Advance(g, kDy).size(), 2u);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u) << "only the channel totals";
  EXPECT_EQ(out[0].key, ChannelChunkKeyOf(0, ChunkOf("a")));
}

TEST(ChannelPersistence, AGroupHoldsItsPartitionsChannelsInIdOrder) {
  ChannelGrowth g;
  g.Apply(0, Post(0, C::kText, "b"), false);
  g.Apply(0, ByMember(K::kReaction, 30 * kSec, C::kText, "a"), false);
  g.Apply(1, Post(0, C::kText, "a"), false);
  Store store;
  Drain(g, store);
  ASSERT_EQ(store.count(WindowGroupKeyOf(0, kMin, 0)), 1u);
  // a: a reaction (kinds bit 5) to text by a member; b: a text post (kinds
  // bit 1, posts bit 1).
  EXPECT_EQ(store[WindowGroupKeyOf(0, kMin, 0)],
            GroupEntry("a", Bytes({0x20, 0x01, 0x00, 0x02, 0x01})) +
                GroupEntry("b", Bytes({0x02, 0x01, 0x02, 0x01, 0x00})));
  EXPECT_EQ(store[WindowGroupKeyOf(1, kMin, 0)],
            GroupEntry("a", Bytes({0x02, 0x01, 0x02, 0x01, 0x00})));
}

TEST(ChannelPersistence, ADrainRewritesOnlyTheGroupsThatChanged) {
  ChannelGrowth g;
  Store store;
  g.Apply(0, Post(0, C::kText, "a"), false);
  g.Apply(0, Post(2 * kMin, C::kText, "b"), false);
  g.Apply(1, Post(2 * kMin, C::kText, "b"), false);
  Drain(g, store);
  // One more event in open windows of partition 0: its totals chunk and the
  // three groups holding those windows.
  g.Apply(0, Post(2 * kMin + 1, C::kText, "b"), false);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].key, ChannelChunkKeyOf(0, ChunkOf("b")));
  EXPECT_EQ(out[1].key, WindowGroupKeyOf(0, kMin, 2 * kMin));
  EXPECT_EQ(out[2].key, WindowGroupKeyOf(0, kHr, 0));
  EXPECT_EQ(out[3].key, WindowGroupKeyOf(0, kDy, 0));
  ApplyTo(store, out);
  // Closing a's minute window deletes its group and rewrites nothing else;
  // the hour windows and b's minute fire.
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 4u);
  out.clear();
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[0].key, WindowGroupKeyOf(0, kMin, 0));
  ApplyTo(store, out);
  ChannelGrowth r = RestoreFrom(store);
  r.RestoreWatermark(EventTime::FromMillis(kMin + kHr));
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());
  EXPECT_EQ(Advance(r, 10 * kDy), Advance(g, 10 * kDy));
}

TEST(ChannelPersistence, PendingCorrectionsAndTheirNumberingSurviveARestore) {
  ChannelGrowth g;
  Store store;
  g.Apply(0, Post(0, C::kText, "a"), false);
  ASSERT_EQ(Advance(g, kMin).size(), 1u);
  g.Apply(1, Post(1, C::kText, "a"), false);
  ASSERT_EQ(Advance(g, kMin + 1).size(), 1u) << "correction 1";
  g.Apply(2, Post(2, C::kText, "a"), false);  // correction 2, pending at the drain
  Drain(g, store);
  EXPECT_EQ(store[WindowGroupKeyOf(1, kMin, 0)],
            GroupEntry("a", Bytes({0x02, 0x01, 0x02, 0x01, 0x00}), Bytes({0x04})))
      << "one correction made, none pending";
  EXPECT_EQ(store[WindowGroupKeyOf(2, kMin, 0)],
            GroupEntry("a", Bytes({0x02, 0x01, 0x02, 0x01, 0x00}), Bytes({0x01})))
      << "none made here, pending";
  ChannelGrowth r = RestoreFrom(store);
  r.RestoreWatermark(EventTime::FromMillis(kMin + 1));
  std::vector<Closed> expected = Advance(g, kMin + 2);
  ASSERT_EQ(expected.size(), 1u);
  EXPECT_EQ(expected[0].revision, 2u);
  EXPECT_EQ(expected[0].counts.events_by_kind[I(K::kPostPublished)], 3u);
  EXPECT_EQ(Advance(r, kMin + 2), expected);
}

TEST(ChannelPersistence, GroupsStoredBeforeCorrectionsAreReadAndRewritten) {
  ChannelGrowth g;
  std::string counts = Bytes({0x02, 0x01, 0x02, 0x01, 0x00});
  std::string v1 = WindowGroupKeyOf(0, kMin, 0, kWindowGroupV1Tag);
  ASSERT_TRUE(g.Restore(v1, GroupEntry("a", counts, "")));
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[0].key, v1);
  EXPECT_EQ(out[1].key, WindowGroupKeyOf(0, kMin, 0));
  EXPECT_EQ(out[1].value, GroupEntry("a", counts));
}

TEST(ChannelPersistence, GroupsStoredBeforeResponsesAreReadAndRewritten) {
  ChannelGrowth g;
  g.RestoreWatermark(EventTime::FromMillis(kMin));
  std::string counts = Bytes({0x02, 0x01, 0x02, 0x01, 0x00});
  std::string v2 = WindowGroupKeyOf(0, kMin, 0, kWindowGroupV2Tag);
  // Two corrections made, one pending: (2 << 1) | 1.
  ASSERT_TRUE(g.Restore(v2, GroupEntry("a", counts, Bytes({0x05}))));
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, v2);
  EXPECT_EQ(out[1].value, GroupEntry("a", counts, Bytes({0x09}))) << "(2 << 2) | 1";
  std::vector<Closed> corrections = Advance(g, kMin + 1);
  ASSERT_EQ(corrections.size(), 1u);
  EXPECT_EQ(corrections[0].revision, 3u);
}

TEST(ChannelPersistence, ADrainWritesOneKeyPerChunkAndWindowGroupTouched) {
  ChannelGrowth g;
  std::set<std::pair<int32_t, uint16_t>> chunks;
  std::set<std::tuple<int32_t, int, int64_t>> groups;
  constexpr int kPartitions = 3;
  constexpr int kChannels = 2'000;
  for (int i = 0; i < 30'000; ++i) {
    auto partition = static_cast<int32_t>(i % kPartitions);
    std::string channel = "ch-" + std::to_string((i * 7919) % kChannels);
    g.Apply(partition, Post(i * 10, C::kText, channel), false);
    chunks.emplace(partition, ChunkOf(channel));
    for (int s = 0; s < kWindowSpecCount; ++s) {
      groups.emplace(partition, s,
                     WindowStart(EventTime::FromMillis(i * 10), kWindowSpecs[s].size).millis());
    }
  }
  Mutations out;
  g.DrainDirty(out);
  EXPECT_EQ(out.size(), chunks.size() + groups.size());
  EXPECT_LE(chunks.size(), size_t{kPartitions * 64});
  std::set<std::string> keys;
  for (const Mutation& m : out) EXPECT_TRUE(keys.insert(m.key).second) << "each key once";
  Store store;
  ApplyTo(store, out);
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());

  // Closing every window: one delete per group.
  EXPECT_EQ(Advance(r, 10 * kDy), Advance(g, 10 * kDy));
  out.clear();
  g.DrainDirty(out);
  EXPECT_EQ(out.size(), groups.size());
  for (const Mutation& m : out) EXPECT_EQ(m.op, Mutation::Op::kDelete);
}

TEST(ChannelPersistence, RestoreRejectsMalformedEntries) {
  uint16_t chunk = ChunkOf("a");
  std::string counts = Bytes({0, 0, 0});
  ChannelGrowth g;
  EXPECT_FALSE(g.Restore(Bytes({0, 0, 0}), ""));
  EXPECT_FALSE(g.Restore(Bytes({0, 0, 0, 0, 0x07, 'a'}), ""));
  // Earlier layouts: unchunked (tag 1: channel id; tag 2: size, start, id)
  // and windows chunked by channel (tag 4: size, chunk).
  EXPECT_FALSE(
      g.Restore(Bytes({0, 0, 0, 0, 0x01, 'a'}), Bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})));
  std::string old_window = Bytes({0, 0, 0, 0, 0x02});
  PutFixed64BE(old_window, kMin);
  PutFixed64BE(old_window, OrderedBits(0));
  old_window.push_back('a');
  EXPECT_FALSE(g.Restore(old_window, counts));
  std::string chunked = Bytes({0, 0, 0, 0, 0x04});
  PutFixed64BE(chunked, kMin);
  PutChunk(chunked, chunk);
  std::string chunked_value = Bytes({0x01, 'a', 0x01});
  PutSignedVarint(chunked_value, 0);
  EXPECT_FALSE(g.Restore(chunked, chunked_value + counts));
  // A chunk out of range, a key too long, a channel in the wrong chunk.
  std::string channel = Bytes({0x01, 'a', 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, 64), channel));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk) + "a", channel));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, (chunk + 1) % 64), channel));
  // Empty, truncated, unsorted or duplicated channels.
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), ""));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), channel.substr(0, 5)));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), channel + channel));
  // A group of an unknown size, one whose start is not a boundary, keys cut
  // short or too long.
  EXPECT_FALSE(g.Restore(WindowGroupKeyOf(0, 7, 0), GroupEntry("a", counts)));
  EXPECT_FALSE(g.Restore(WindowGroupKeyOf(0, kMin, 1), GroupEntry("a", counts)));
  std::string key = WindowGroupKeyOf(0, kMin, 0);
  EXPECT_FALSE(g.Restore(key.substr(0, key.size() - 1), GroupEntry("a", counts)));
  EXPECT_FALSE(g.Restore(key + "a", GroupEntry("a", counts)));
  // An empty group, truncated counts, a zero counter, unsorted or
  // duplicated channels.
  EXPECT_FALSE(g.Restore(key, ""));
  EXPECT_FALSE(g.Restore(key, GroupEntry("a", counts.substr(0, 2))));
  EXPECT_FALSE(g.Restore(key, GroupEntry("a", Bytes({0x01, 0x00, 0x00, 0x00}))));
  EXPECT_FALSE(g.Restore(key, GroupEntry("b", counts) + GroupEntry("a", counts)));
  EXPECT_FALSE(g.Restore(key, GroupEntry("a", counts) + GroupEntry("a", counts)));
  EXPECT_EQ(g.open_windows(), 0u);
  EXPECT_TRUE(Views(g).empty()) << "rejected entries leave no state";
  EXPECT_TRUE(g.Restore(WindowGroupKeyOf(0, kMin, -kMin), GroupEntry("a", counts)));
  EXPECT_EQ(g.open_windows(), 1u);
  EXPECT_TRUE(g.Restore(ChannelChunkKeyOf(0, chunk), channel));
  EXPECT_EQ(Views(g).size(), 1u);
}

TEST(ChannelPartitions, DropPartitionForgetsItsTotalsAndWindows) {
  ChannelGrowth g;
  g.Apply(0, Post(0, C::kText, "a"), false);
  g.Apply(1, Post(0, C::kText, "a", 4), false);
  g.Apply(1, Post(0, C::kText, "only-in-1"), false);
  ASSERT_EQ(g.open_windows(), 9u);
  g.DropPartition(1);
  EXPECT_EQ(g.open_windows(), 3u);
  std::vector<View> v = Views(g);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].totals.posts_by_content_type[I(C::kText)], 1u);
  std::vector<Closed> closed = Advance(g, kMin);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].channel, "a");
  EXPECT_EQ(closed[0].counts.posts_by_content_type[I(C::kText)], 1u);
  Mutations out;
  g.DrainDirty(out);
  for (const Mutation& m : out) EXPECT_EQ(m.key.substr(0, 4), Bytes({0, 0, 0, 0}));
  g.DropPartition(7);  // unknown: nothing happens
  EXPECT_EQ(g.open_windows(), 3u);
}

}  // namespace
}  // namespace chorus::ops
