#include "chorus/operators/channel_growth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chorus/operators/dedup.h"
#include "chorus/operators/state.h"

namespace chorus::ops {
namespace {

constexpr int64_t kSec = 1'000;
constexpr int64_t kMin = 60'000;
constexpr int64_t kHr = 3'600'000;
constexpr int64_t kDy = 86'400'000;

using K = EventKind;
using C = ContentType;

Event Ev(K kind, int64_t ms, std::string_view channel = "twitter:acme", uint64_t count = 0) {
  Event e;
  e.event_id = "id";
  e.occurred_at = EventTime::FromMillis(ms);
  e.channel_id = channel;
  e.platform = Platform::kTwitter;
  e.kind = kind;
  e.actor_role = ActorRole::kBrand;
  e.count = count;
  return e;
}

Event ByMember(K kind, int64_t ms, C content, std::string_view channel = "twitter:acme") {
  Event e = Ev(kind, ms, channel);
  e.actor_role = ActorRole::kMember;
  e.member_id = "m1";
  e.content_type = content;
  return e;
}

Event Post(int64_t ms, C content, std::string_view channel = "twitter:acme", uint64_t count = 0) {
  Event e = Ev(K::kPostPublished, ms, channel, count);
  e.content_type = content;
  return e;
}

size_t I(K k) { return static_cast<size_t>(k); }
size_t I(C c) { return static_cast<size_t>(c); }

struct View {
  std::string channel;
  Platform platform;
  ChannelCounts totals;
  int64_t followers;
  bool has_snapshot;
  bool operator==(const View&) const = default;
};

std::vector<View> Views(const ChannelGrowth& g) {
  std::vector<View> out;
  g.ForEachChannel([&](const ChannelView& v) {
    out.push_back(View{std::string(v.channel_id), v.platform, v.totals, v.followers,
                       v.has_follower_snapshot});
  });
  return out;
}

View One(const ChannelGrowth& g, std::string_view channel = "twitter:acme") {
  for (View& v : Views(g)) {
    if (v.channel == channel) return v;
  }
  ADD_FAILURE() << "no channel " << channel;
  return View{};
}

struct Closed {
  std::string channel;
  std::string spec;
  int64_t start;
  int64_t end;
  Platform platform;
  ChannelCounts counts;
  bool operator==(const Closed&) const = default;
};

std::vector<Closed> Advance(ChannelGrowth& g, int64_t watermark_ms) {
  std::vector<Closed> out;
  g.AdvanceWatermark(EventTime::FromMillis(watermark_ms), [&](const ClosedWindow& w) {
    out.push_back(Closed{std::string(w.channel_id), std::string(w.spec->name), w.start.millis(),
                         w.end.millis(), w.platform, w.counts});
  });
  return out;
}

// The store as RocksDB would hold it after applying mutations in order.
using Store = std::map<std::string, std::string>;

void ApplyTo(Store& store, const Mutations& ms) {
  for (const Mutation& m : ms) {
    if (m.op == Mutation::Op::kPut) {
      store[m.key] = m.value;
    } else if (m.op == Mutation::Op::kDelete) {
      store.erase(m.key);
    } else {
      store.erase(store.lower_bound(m.key), store.lower_bound(m.value));
    }
  }
}

void Drain(ChannelGrowth& g, Store& store) {
  Mutations out;
  g.DrainDirty(out);
  ApplyTo(store, out);
}

ChannelGrowth RestoreFrom(const Store& store) {
  ChannelGrowth g;
  for (const auto& [k, v] : store) EXPECT_TRUE(g.Restore(k, v));
  return g;
}

size_t CountWithTag(const Store& store, char tag) {
  return std::count_if(store.begin(), store.end(),
                       [&](const auto& kv) { return kv.first.size() > 4 && kv.first[4] == tag; });
}

std::string Bytes(std::initializer_list<uint8_t> b) { return std::string(b.begin(), b.end()); }

constexpr char kChannelChunkTag = 0x03;
constexpr char kWindowChunkTag = 0x04;

// The chunk storing `channel`: its stable hash modulo the 64 chunks.
uint16_t ChunkOf(std::string_view channel) {
  return static_cast<uint16_t>(StableHash64(channel) % 64);
}

void PutChunk(std::string& key, uint16_t chunk) {
  key.push_back(static_cast<char>(chunk >> 8));
  key.push_back(static_cast<char>(chunk & 0xff));
}

// Keys as KeysArePartitionTagAndChunkValuesAreCompact spells them out.
std::string ChannelChunkKeyOf(int32_t partition, uint16_t chunk) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(kChannelChunkTag);
  PutChunk(key, chunk);
  return key;
}

std::string WindowChunkKeyOf(int32_t partition, uint64_t size_ms, uint16_t chunk) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back(kWindowChunkTag);
  PutFixed64BE(key, size_ms);
  PutChunk(key, chunk);
  return key;
}

// A window chunk value holding one window of `channel`.
std::string OneWindow(std::string_view channel, int64_t start_ms, std::string_view counts) {
  std::string value;
  PutLengthPrefixed(value, channel);
  PutVarint(value, 1);
  PutSignedVarint(value, start_ms);
  value.append(counts);
  return value;
}

// ---- Counters --------------------------------------------------------------

TEST(ChannelGrowth, EventsByKindAreWeightedByMultiplicity) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kImpression, 0, "twitter:acme", 100), false);
  g.Apply(0, Ev(K::kImpression, 0), false);  // count 0 means 1
  g.Apply(0, ByMember(K::kReaction, 0, C::kText), false);
  g.Apply(0, Ev(K::kFollowerCount, 0, "twitter:acme", 5'000), false);  // counts once
  View v = One(g);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kImpression)], 101u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kReaction)], 1u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kFollowerCount)], 1u);
  EXPECT_EQ(v.platform, Platform::kTwitter);
  // Values from a newer schema count under unspecified instead of crashing.
  g.Apply(0, Post(0, static_cast<C>(99)), false);
  g.Apply(0, Ev(static_cast<K>(200), 0), false);
  v = One(g);
  EXPECT_EQ(v.totals.posts_by_content_type[0], 1u);
  EXPECT_EQ(v.totals.events_by_kind[0], 1u);
}

TEST(ChannelGrowth, PostsByContentType) {
  ChannelGrowth g;
  g.Apply(0, Post(0, C::kVideo), false);
  g.Apply(0, Post(1, C::kVideo, "twitter:acme", 2), false);
  g.Apply(0, Post(2, C::kImage), false);
  g.Apply(0, ByMember(K::kComment, 3, C::kImage), false);  // not a post
  View v = One(g);
  EXPECT_EQ(v.totals.posts_by_content_type[I(C::kVideo)], 3u);
  EXPECT_EQ(v.totals.posts_by_content_type[I(C::kImage)], 1u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kPostPublished)], 4u);
}

TEST(ChannelGrowth, EngagementsAreReactionsCommentsSharesAndMentionsByMembers) {
  ChannelGrowth g;
  g.Apply(0, ByMember(K::kReaction, 0, C::kVideo), false);
  g.Apply(0, ByMember(K::kComment, 0, C::kVideo), false);
  g.Apply(0, ByMember(K::kShare, 0, C::kImage), false);
  Event mention = ByMember(K::kMention, 0, C::kText);
  mention.count = 3;
  g.Apply(0, mention, false);
  // Not engagements: the brand reacting, a member without an id, other kinds.
  Event brand = ByMember(K::kReaction, 0, C::kVideo);
  brand.actor_role = ActorRole::kBrand;
  Event anonymous = ByMember(K::kComment, 0, C::kVideo);
  anonymous.member_id = "";
  for (const Event& e : {brand, anonymous, ByMember(K::kDirectMessage, 0, C::kVideo),
                         ByMember(K::kImpression, 0, C::kVideo)}) {
    g.Apply(0, e, false);
  }
  View v = One(g);
  EXPECT_EQ(v.totals.engagements_by_content_type[I(C::kVideo)], 2u);
  EXPECT_EQ(v.totals.engagements_by_content_type[I(C::kImage)], 1u);
  EXPECT_EQ(v.totals.engagements_by_content_type[I(C::kText)], 3u);
  EXPECT_EQ(v.totals.engagements_by_content_type[I(C::kLink)], 0u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kReaction)], 2u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kComment)], 2u);
}

TEST(ChannelGrowth, ChannelsMergeAcrossPartitionsInIdOrder) {
  ChannelGrowth g;
  g.Apply(1, Post(0, C::kText, "twitter:b"), false);
  g.Apply(0, Post(0, C::kText, "twitter:b", 4), false);
  g.Apply(0, Post(0, C::kText, "forum:a"), false);
  std::vector<View> v = Views(g);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].channel, "forum:a");
  EXPECT_EQ(v[1].channel, "twitter:b");
  EXPECT_EQ(v[1].totals.posts_by_content_type[I(C::kText)], 5u);
}

// ---- Followers ---------------------------------------------------------------

TEST(ChannelFollowers, WithoutSnapshotAreNetFollows) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollow, 1 * kSec, "twitter:acme", 3), false);
  g.Apply(1, Ev(K::kUnfollow, 2 * kSec), false);
  g.Apply(1, Ev(K::kFollow, 3 * kSec), false);
  View v = One(g);
  EXPECT_EQ(v.followers, 3);
  EXPECT_FALSE(v.has_snapshot);
}

TEST(ChannelFollowers, SnapshotInOnePartitionPlusFollowsAfterItInAnother) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 1'000), false);
  g.Apply(1, Ev(K::kFollow, 50 * kSec), false);   // before: inside the snapshot
  g.Apply(1, Ev(K::kFollow, 100 * kSec), false);  // at: inside the snapshot
  g.Apply(1, Ev(K::kFollow, 150 * kSec, "twitter:acme", 2), false);
  g.Apply(1, Ev(K::kUnfollow, 200 * kSec), false);
  g.Apply(0, Ev(K::kFollow, 160 * kSec), false);
  View v = One(g);
  EXPECT_TRUE(v.has_snapshot);
  EXPECT_EQ(v.followers, 1'000 + 2 - 1 + 1);
}

TEST(ChannelFollowers, OlderSnapshotIsIgnored) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 1'000), false);
  g.Apply(1, Ev(K::kFollow, 120 * kSec), false);
  g.Apply(1, Ev(K::kFollowerCount, 80 * kSec, "twitter:acme", 500), true);
  g.Apply(0, Ev(K::kFollowerCount, 90 * kSec, "twitter:acme", 400), true);
  EXPECT_EQ(One(g).followers, 1'001);
}

TEST(ChannelFollowers, NewerSnapshotReplacesFollowsItCovers) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 1'000), false);
  g.Apply(1, Ev(K::kFollow, 120 * kSec, "twitter:acme", 5), false);
  g.Apply(1, Ev(K::kFollow, 140 * kSec), false);
  g.Apply(2, Ev(K::kFollowerCount, 130 * kSec, "twitter:acme", 1'004), false);
  EXPECT_EQ(One(g).followers, 1'005) << "1,004 at 130 s, then the follow at 140 s";
}

TEST(ChannelFollowers, AreIndependentOfArrivalOrder) {
  struct In {
    int32_t partition;
    Event e;
  };
  std::vector<In> events = {
      {0, Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 1'000)},
      {1, Ev(K::kFollowerCount, 60 * kSec, "twitter:acme", 700)},
      {1, Ev(K::kFollow, 50 * kSec)},
      {1, Ev(K::kFollow, 150 * kSec, "twitter:acme", 3)},
      {0, Ev(K::kUnfollow, 120 * kSec)},
      {0, Ev(K::kFollow, 100 * kSec + 500)},  // same second as the snapshot: inside it
  };
  std::vector<int> order = {0, 1, 2, 3, 4, 5};
  int permutations = 0;
  do {
    ChannelGrowth g;
    for (int i : order) g.Apply(events[i].partition, events[i].e, false);
    ASSERT_EQ(One(g).followers, 1'000 + 3 - 1) << "permutation " << permutations;
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 720);
}

TEST(ChannelFollowers, SnapshotsAtTheSameTimeResolveToTheLargerValueInAnyOrder) {
  Event small = Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 900);
  Event large = Ev(K::kFollowerCount, 100 * kSec, "twitter:acme", 950);
  ChannelGrowth g, h;
  g.Apply(0, small, false);
  g.Apply(1, large, false);
  h.Apply(1, large, false);
  h.Apply(0, small, false);
  h.Apply(1, small, false);
  EXPECT_EQ(One(g).followers, 950);
  EXPECT_EQ(One(h).followers, 950);
}

// ---- Windows ---------------------------------------------------------------

TEST(ChannelWindows, LateEventsUpdateTotalsButNoWindow) {
  ChannelGrowth g;
  g.Apply(0, Post(10 * kSec, C::kText), true);
  g.Apply(0, Ev(K::kFollow, 10 * kSec), true);
  EXPECT_EQ(g.open_windows(), 0u);
  View v = One(g);
  EXPECT_EQ(v.totals.posts_by_content_type[I(C::kText)], 1u);
  EXPECT_EQ(v.followers, 1);
  EXPECT_TRUE(Advance(g, 10 * kDy).empty());
}

TEST(ChannelWindows, CloseAtEndPlusLatenessMergedOverPartitions) {
  ChannelGrowth g;
  g.Apply(0, ByMember(K::kReaction, 30 * kSec, C::kText, "twitter:b"), false);
  g.Apply(1, Ev(K::kImpression, 59 * kSec + 999, "twitter:b", 2), false);
  g.Apply(0, Post(0, C::kVideo, "forum:a"), false);
  ASSERT_EQ(g.open_windows(), 9u);
  EXPECT_TRUE(Advance(g, kMin + kHr - 1).empty());
  std::vector<Closed> closed = Advance(g, kMin + kHr);
  ASSERT_EQ(closed.size(), 2u);
  ChannelCounts a, b;
  a.events_by_kind[I(K::kPostPublished)] = 1;
  a.posts_by_content_type[I(C::kVideo)] = 1;
  b.events_by_kind[I(K::kReaction)] = 1;
  b.events_by_kind[I(K::kImpression)] = 2;
  b.engagements_by_content_type[I(C::kText)] = 1;
  EXPECT_EQ(closed[0], (Closed{"forum:a", "1m", 0, kMin, Platform::kTwitter, a}));
  EXPECT_EQ(closed[1], (Closed{"twitter:b", "1m", 0, kMin, Platform::kTwitter, b}));
  EXPECT_EQ(g.open_windows(), 6u) << "three per-partition minute windows closed";
  EXPECT_TRUE(Advance(g, kMin + kHr).empty()) << "each window closes once";
  closed = Advance(g, 2 * kHr);
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[1], (Closed{"twitter:b", "1h", 0, kHr, Platform::kTwitter, b}));
  EXPECT_EQ(g.open_windows(), 3u);
}

TEST(ChannelWindows, ClosingOrderIsEndThenSizeThenChannel) {
  ChannelGrowth g;
  const int64_t last_half_minute = kDy - 30 * kSec;  // in the last minute and hour of day 0
  g.Apply(1, Post(last_half_minute, C::kText, "twitter:b"), false);
  g.Apply(0, Post(last_half_minute, C::kText, "forum:a"), false);
  g.Apply(0, Post(kDy + 5 * kSec, C::kText, "forum:a"), false);  // day 1: closes later
  std::vector<Closed> closed = Advance(g, kDy + kHr);
  std::vector<std::pair<std::string, std::string>> order;
  for (const Closed& c : closed) order.emplace_back(c.spec, c.channel);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(order, (std::vector<P>{{"1m", "forum:a"},
                                   {"1m", "twitter:b"},
                                   {"1h", "forum:a"},
                                   {"1h", "twitter:b"},
                                   {"1d", "forum:a"},
                                   {"1d", "twitter:b"}}));
  EXPECT_EQ(closed[0].start, kDy - kMin);
  EXPECT_EQ(closed[2].start, kDy - kHr);
  EXPECT_EQ(closed[4].start, 0);
  for (const Closed& c : closed) EXPECT_EQ(c.end, kDy);
  EXPECT_EQ(g.open_windows(), 3u);
}

TEST(ChannelWindows, NegativeTimesUseFlooredWindows) {
  ChannelGrowth g;
  g.Apply(0, Post(-1, C::kText), false);
  // Every window of t = −1 ms ends at the epoch, so all close together.
  EXPECT_TRUE(Advance(g, kHr - 1).empty());
  std::vector<Closed> closed = Advance(g, kHr);
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].spec, "1m");
  EXPECT_EQ(closed[0].start, -kMin);
  EXPECT_EQ(closed[1].start, -kHr);
  EXPECT_EQ(closed[2].start, -kDy);
  for (const Closed& c : closed) EXPECT_EQ(c.end, 0);
}

TEST(ChannelWindows, AnEventMisjudgedAsNotLateDoesNotReopenAClosedWindow) {
  ChannelGrowth g;
  g.Apply(0, Post(0, C::kText), false);
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 1u);
  g.Apply(0, Post(1, C::kText), false);
  EXPECT_EQ(g.open_windows(), 2u) << "the hour and day windows only";
  EXPECT_EQ(Advance(g, 2 * kHr).size(), 1u);
}

// ---- Persistence -----------------------------------------------------------

TEST(ChannelPersistence, KeysArePartitionTagAndChunkValuesAreCompact) {
  ChannelGrowth g;
  g.Apply(2, ByMember(K::kReaction, kMin, C::kText, "a"), false);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 4u) << "the channel's chunk and three window chunks";
  uint16_t chunk = ChunkOf("a");
  auto hi = static_cast<uint8_t>(chunk >> 8), lo = static_cast<uint8_t>(chunk & 0xff);
  EXPECT_EQ(out[0].key, Bytes({0, 0, 0, 2, 0x03, hi, lo}));
  // Id "a" length-prefixed; platform twitter (1); kinds mask bit 5 then 1;
  // posts mask 0; engagements mask bit 1 (text) then 1; no snapshot; net
  // follows 0; no deltas.
  EXPECT_EQ(out[0].value, Bytes({0x01, 'a', 0x01, 0x20, 0x01, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00}));
  // The minute windows of the chunk: size 60,000 = 0xea60.
  EXPECT_EQ(out[1].key, Bytes({0, 0, 0, 2, 0x04, 0, 0, 0, 0, 0, 0, 0xea, 0x60, hi, lo}));
  // Id "a"; one window; start 60,000 zigzagged (120,000 = c0 a9 07); counts.
  EXPECT_EQ(out[1].value, Bytes({0x01, 'a', 0x01, 0xc0, 0xa9, 0x07, 0x20, 0x01, 0x00, 0x02, 0x01}));
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
  ASSERT_EQ(CountWithTag(store, kWindowChunkTag), 6u);
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 1u);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u) << "the minute chunks, now empty";
  EXPECT_EQ(out[0].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[0].key, WindowChunkKeyOf(0, kMin, ChunkOf("a")));
  EXPECT_EQ(out[1].op, Mutation::Op::kDelete);
  EXPECT_EQ(out[1].key, WindowChunkKeyOf(1, kMin, ChunkOf("a")));
  ApplyTo(store, out);
  EXPECT_EQ(CountWithTag(store, kWindowChunkTag), 4u);
  EXPECT_EQ(CountWithTag(store, kChannelChunkTag), 2u) << "channel totals stay";
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(r.open_windows(), 4u);
  EXPECT_EQ(Advance(r, kMin + kHr).size(), 0u);
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

TEST(ChannelPersistence, ClosingOneWindowRewritesItsChunkWithoutIt) {
  // Two channels in one chunk: closing one's windows keeps the other's.
  std::string a = "a", b;
  for (int i = 0; b.empty(); ++i) {
    std::string id = "c" + std::to_string(i);
    if (ChunkOf(id) == ChunkOf(a)) b = id;
  }
  ChannelGrowth g;
  Store store;
  g.Apply(0, Post(0, C::kText, a), false);
  Drain(g, store);
  g.Apply(0, Post(2 * kMin, C::kText, b), false);
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 1u);
  Mutations out;
  g.DrainDirty(out);
  ASSERT_EQ(out.size(), 4u) << "totals, and the three window chunks rewritten";
  for (const Mutation& m : out) EXPECT_EQ(m.op, Mutation::Op::kPut);
  EXPECT_EQ(out[1].key, WindowChunkKeyOf(0, kMin, ChunkOf(a)));
  std::string only_b;
  PutLengthPrefixed(only_b, b);
  PutVarint(only_b, 1);
  PutSignedVarint(only_b, 2 * kMin);
  EXPECT_EQ(out[1].value.substr(0, only_b.size()), only_b) << "b's window alone";
  ApplyTo(store, out);
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());
  EXPECT_EQ(Advance(r, 10 * kDy), Advance(g, 10 * kDy));
}

TEST(ChannelPersistence, ADrainWritesOneKeyPerChunkTouched) {
  ChannelGrowth g;
  std::set<std::pair<int32_t, uint16_t>> touched;
  constexpr int kPartitions = 3;
  constexpr int kChannels = 2'000;
  for (int i = 0; i < 30'000; ++i) {
    auto partition = static_cast<int32_t>(i % kPartitions);
    std::string channel = "ch-" + std::to_string((i * 7919) % kChannels);
    g.Apply(partition, Post(i * 10, C::kText, channel), false);
    touched.emplace(partition, ChunkOf(channel));
  }
  Mutations out;
  g.DrainDirty(out);
  // Per (partition, chunk): the totals and one chunk per window size.
  EXPECT_LE(out.size(), touched.size() * (1 + kWindowSpecs.size()));
  EXPECT_EQ(out.size(), touched.size() * (1 + kWindowSpecs.size()));
  EXPECT_LE(touched.size(), size_t{kPartitions * 64});
  std::set<std::string> keys;
  for (const Mutation& m : out) EXPECT_TRUE(keys.insert(m.key).second) << "each key once";
  Store store;
  ApplyTo(store, out);
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  EXPECT_EQ(r.open_windows(), g.open_windows());

  // Closing every window: at most one delete per window chunk.
  EXPECT_EQ(Advance(r, 10 * kDy), Advance(g, 10 * kDy));
  out.clear();
  g.DrainDirty(out);
  EXPECT_EQ(out.size(), touched.size() * kWindowSpecs.size());
  for (const Mutation& m : out) EXPECT_EQ(m.op, Mutation::Op::kDelete);
}

TEST(ChannelPersistence, RestoreRejectsMalformedEntries) {
  uint16_t chunk = ChunkOf("a");
  std::string counts = Bytes({0, 0, 0});
  ChannelGrowth g;
  EXPECT_FALSE(g.Restore(Bytes({0, 0, 0}), ""));
  EXPECT_FALSE(g.Restore(Bytes({0, 0, 0, 0, 0x07, 'a'}), ""));
  // The unchunked layout (tag 1: channel id; tag 2: size, start, id).
  EXPECT_FALSE(
      g.Restore(Bytes({0, 0, 0, 0, 0x01, 'a'}), Bytes({0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})));
  std::string old_window = Bytes({0, 0, 0, 0, 0x02});
  PutFixed64BE(old_window, kMin);
  PutFixed64BE(old_window, OrderedBits(0));
  old_window.push_back('a');
  EXPECT_FALSE(g.Restore(old_window, counts));
  // A chunk out of range, a key too long, a channel in the wrong chunk.
  std::string channel = Bytes({0x01, 'a', 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, 64), channel));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk) + "a", channel));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, (chunk + 1) % 64), channel));
  // Empty, truncated, unsorted or duplicated channels.
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), ""));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), channel.substr(0, 5)));
  EXPECT_FALSE(g.Restore(ChannelChunkKeyOf(0, chunk), channel + channel));
  // A window of an unknown size, one whose start is not a boundary, an
  // empty or truncated chunk, and windows out of order.
  EXPECT_FALSE(g.Restore(WindowChunkKeyOf(0, 7, chunk), OneWindow("a", 0, counts)));
  EXPECT_FALSE(g.Restore(WindowChunkKeyOf(0, kMin, chunk), OneWindow("a", 1, counts)));
  EXPECT_FALSE(g.Restore(WindowChunkKeyOf(0, kMin, chunk), ""));
  EXPECT_FALSE(g.Restore(WindowChunkKeyOf(0, kMin, chunk), OneWindow("a", 0, "")));
  std::string two = Bytes({0x01, 'a', 0x02});
  PutSignedVarint(two, kMin);
  two += counts;
  PutSignedVarint(two, -kMin);
  two += counts;
  EXPECT_FALSE(g.Restore(WindowChunkKeyOf(0, kMin, chunk), two));
  EXPECT_EQ(g.open_windows(), 0u);
  EXPECT_TRUE(Views(g).empty()) << "rejected entries leave no state";
  EXPECT_TRUE(g.Restore(WindowChunkKeyOf(0, kMin, chunk), OneWindow("a", -kMin, counts)));
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
  std::vector<Closed> closed = Advance(g, kMin + kHr);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].channel, "a");
  EXPECT_EQ(closed[0].counts.posts_by_content_type[I(C::kText)], 1u);
  Mutations out;
  g.DrainDirty(out);
  for (const Mutation& m : out) EXPECT_EQ(m.key.substr(0, 4), Bytes({0, 0, 0, 0}));
  g.DropPartition(7);  // unknown: nothing happens
  EXPECT_EQ(g.open_windows(), 2u);
}

}  // namespace
}  // namespace chorus::ops
