// Followers at a window's start and end: newer snapshots that arrived before
// the window fired, channels without snapshots, a random comparison with
// the rule applied to every event seen, state bounded as the watermark
// moves, and restores (including from the stored form before snapshot
// histories, tag 0x03).
#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "channel_test_util.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {
namespace {

using namespace channel_test;  // NOLINT: test helpers

// (start, end) → (followers_start, followers_end) of the channel's results
// of one size, revision 0 and corrections alike (the last one wins).
using Edges = std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>>;

Edges AdvanceEdges(ChannelGrowth& g, int64_t watermark, std::string_view size = "1m",
                   std::string_view channel = "twitter:acme") {
  Edges out;
  g.AdvanceWatermark(EventTime::FromMillis(watermark), [&](const WindowResult& w) {
    if (w.spec->name != size || w.channel_id != channel) return;
    out[{w.start.millis(), w.end.millis()}] = {w.followers_start, w.followers_end};
  });
  return out;
}

std::pair<int64_t, int64_t> Pair(int64_t start, int64_t end) { return {start, end}; }

// Followers at the start and end of the window starting at `start`.
std::pair<int64_t, int64_t> EdgesOf(const Edges& e, int64_t start) {
  for (const auto& [window, followers] : e) {
    if (window.first == start) return followers;
  }
  ADD_FAILURE() << "no window at " << start;
  return {};
}

TEST(ChannelFollowersAt, ANewerSnapshotThatArrivedFirstDoesNotStandIn) {
  ChannelGrowth g;
  // Snapshots every 30 s over three partitions, follows in all of them,
  // everything out of order; the newest snapshot (at 150 s) arrives first.
  g.Apply(2, Ev(K::kFollowerCount, 150 * kSec, "twitter:acme", 2'000), false);
  g.Apply(0, Ev(K::kFollow, 100 * kSec, "twitter:acme", 3), false);
  g.Apply(1, Ev(K::kFollowerCount, 90 * kSec, "twitter:acme", 1'500), false);
  g.Apply(1, Ev(K::kFollow, 125 * kSec, "twitter:acme", 4), false);
  g.Apply(2, Ev(K::kUnfollow, 119'999, "twitter:acme"), false);  // second 119: before 2 min
  g.Apply(0, Ev(K::kFollowerCount, 30 * kSec, "twitter:acme", 1'000), false);
  g.Apply(2, Ev(K::kFollow, 20 * kSec, "twitter:acme", 7), false);  // inside the 30 s snapshot
  g.Apply(1, Ev(K::kFollow, 45 * kSec, "twitter:acme", 2), false);
  g.Apply(0, Ev(K::kFollow, 90 * kSec, "twitter:acme", 50), false);  // inside the 90 s one
  g.Apply(2, Ev(K::kFollow, 150 * kSec, "twitter:acme", 9), false);  // inside the 150 s one
  g.Apply(0, Ev(K::kFollow, 170 * kSec, "twitter:acme", 6), false);
  Edges e = AdvanceEdges(g, 3 * kMin);
  ASSERT_EQ(e.size(), 3u);
  // At 0: no snapshot before it, and no follows before it.
  EXPECT_EQ(EdgesOf(e, 0), Pair(0, 1'000 + 2));
  // At 60 s: the 30 s snapshot, then +2 at 45 s. At 120 s: the 90 s one,
  // then +3 at 100 s and −1 at 119.999 s.
  EXPECT_EQ(EdgesOf(e, kMin), Pair(1'002, 1'500 + 3 - 1));
  // At 180 s: the 150 s one, then +6 at 170 s (the +4 at 125 s is inside).
  EXPECT_EQ(EdgesOf(e, 2 * kMin), Pair(1'502, 2'006));
  EXPECT_EQ(One(g).followers, 2'006) << "current: the newest snapshot and the follows after it";

  // A late snapshot between edges of a fired window makes a correction with
  // the exact value.
  g.Apply(1, Ev(K::kFollowerCount, 110 * kSec, "twitter:acme", 1'600), false);
  e = AdvanceEdges(g, 3 * kMin + kSec);
  ASSERT_EQ(e.size(), 1u) << "a correction of the minute [60 s, 120 s)";
  EXPECT_EQ(EdgesOf(e, kMin), Pair(1'002, 1'600 - 1));
  EXPECT_EQ(One(g).followers, 2'006);
}

TEST(ChannelFollowersAt, WithoutASnapshotAreLifetimeFollowsBeforeTheEdge) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollow, -5 * kDy, "twitter:acme", 10), true);  // late: totals only
  g.Apply(1, Ev(K::kFollow, 30 * kSec, "twitter:acme", 4), false);
  g.Apply(0, Ev(K::kUnfollow, 90 * kSec, "twitter:acme", 1), false);
  g.Apply(1, Ev(K::kFollow, 150 * kSec, "twitter:acme", 2), false);  // after both windows
  Edges e = AdvanceEdges(g, 2 * kMin);
  EXPECT_EQ(EdgesOf(e, 0), Pair(10, 14));
  EXPECT_EQ(EdgesOf(e, kMin), Pair(14, 13));
  EXPECT_EQ(One(g).followers, 15);
  EXPECT_FALSE(One(g).has_snapshot);
}

// The rule applied to every event seen, from scratch.
class Reference {
 public:
  void Apply(const Event& e) {
    const int64_t ms = e.occurred_at.millis();
    if (e.kind == K::kFollowerCount) {
      snapshots_.emplace_back(ms, static_cast<int64_t>(e.count));
    } else if (e.kind == K::kFollow || e.kind == K::kUnfollow) {
      auto n = static_cast<int64_t>(Multiplicity(e));
      follows_.emplace_back(FloorDiv(ms, 1000), e.kind == K::kFollow ? n : -n);
    }
  }

  // Followers at `ms`; nullopt: now.
  int64_t At(std::optional<int64_t> ms) const {
    std::optional<std::pair<int64_t, int64_t>> s;
    for (const auto& x : snapshots_) {
      if ((!ms || x.first < *ms) && (!s || x > *s)) s = x;
    }
    int64_t out = s ? s->second : 0;
    for (const auto& [second, d] : follows_) {
      if ((!s || second > FloorDiv(s->first, 1000)) && (!ms || second < FloorDiv(*ms, 1000))) {
        out += d;
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> snapshots_;  // (ms, value)
  std::vector<std::pair<int64_t, int64_t>> follows_;    // (second, delta)
};

// Snapshots now and then, follows and unfollows in bursts, over four
// partitions, up to two hours out of order (some late), for five days; the
// watermark trails the newest event by five minutes. Every result's edges
// and the current count must follow the rule, in the original and in
// copies restored from the store along the way.
TEST(ChannelFollowersAt, MatchTheRuleOverRandomEventsAcrossPrunesAndRestores) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(seed);
    Uniform uniform(seed);
    ChannelGrowth g;
    Reference ref;
    Store store;
    int64_t now = 0, watermark = -kHr, checked = 0;
    const int64_t snapshot_every = uniform(0, 2) == 0 ? 0 : uniform(1, 40);  // 0: never
    while (now < 5 * kDy) {
      now += uniform(0, 90 * kSec);
      int64_t t = now - (uniform(0, 19) == 0 ? uniform(0, 2 * kHr) : uniform(0, 4 * kMin));
      int op = uniform(0, 99);
      Event e = snapshot_every != 0 && op % snapshot_every == 0
                    ? Ev(K::kFollowerCount, t, "twitter:acme", uniform(0, 100'000))
                : op < 60 ? Ev(K::kFollow, t, "twitter:acme", uniform(0, 3))
                          : Ev(K::kUnfollow, t, "twitter:acme", uniform(0, 2));
      bool late = IsLate(e.occurred_at, EventTime::FromMillis(watermark), kHour);
      g.Apply(static_cast<int32_t>(uniform(0, 3)), e, late);
      ref.Apply(e);
      if (uniform(0, 9) != 0) continue;
      watermark = std::max(watermark, now - 5 * kMin);
      g.AdvanceWatermark(EventTime::FromMillis(watermark), [&](const WindowResult& w) {
        ASSERT_EQ(w.followers_start, ref.At(w.start.millis()))
            << w.spec->name << " " << w.start.millis();
        ASSERT_EQ(w.followers_end, ref.At(w.end.millis())) << w.spec->name << " " << w.end.millis();
        ++checked;
      });
      ASSERT_EQ(One(g).followers, ref.At(std::nullopt));
      if (uniform(0, 200) == 0) {
        Drain(g, store);
        ChannelGrowth r = RestoreFrom(store);
        r.RestoreWatermark(EventTime::FromMillis(watermark));
        ASSERT_EQ(Views(r), Views(g));
        g = std::move(r);
      }
    }
    EXPECT_GT(checked, 5'000);
  }
}

// The stored followers of `channel` in partition `partition`: snapshots and
// deltas kept.
struct Kept {
  uint64_t snapshots = 0;
  uint64_t deltas = 0;
};

Kept KeptIn(const Store& store, int32_t partition, std::string_view channel) {
  auto it = store.find(ChannelChunkKeyOf(partition, ChunkOf(channel)));
  if (it == store.end()) {
    ADD_FAILURE() << "no chunk";
    return {};
  }
  Reader r(it->second);
  std::string_view id;
  uint64_t v = 0;
  int64_t s = 0;
  while (r.LengthPrefixed(id)) {
    Kept k;
    EXPECT_TRUE(r.Varint(v));  // platform
    for (int group = 0; group < 3; ++group) {
      EXPECT_TRUE(r.Varint(v));
      for (int n = std::popcount(v); n > 0; --n) EXPECT_TRUE(r.Varint(v));
    }
    uint64_t header = 0;
    EXPECT_TRUE(r.Varint(header));
    k.snapshots = header >> 1;
    for (uint64_t i = 0; i < 2 * k.snapshots + (header & 1); ++i) EXPECT_TRUE(r.SignedVarint(s));
    EXPECT_TRUE(r.SignedVarint(s));  // net follows
    EXPECT_TRUE(r.Varint(k.deltas));
    for (uint64_t i = 0; i < 2 * k.deltas; ++i) EXPECT_TRUE(r.SignedVarint(s));
    if (id == channel) return k;
  }
  ADD_FAILURE() << "no channel " << channel;
  return {};
}

TEST(ChannelFollowersState, IsBoundedByTheSpanWindowEdgesCanStillNeed) {
  // Follows every 10 s for four days on two partitions: "quiet" stops after
  // the first day, "never" sends no snapshot, "hourly" one an hour.
  ChannelGrowth g;
  Store store;
  Reference hourly;
  int64_t first_result = 0;
  for (int64_t t = 0; t < 4 * kDy; t += 10 * kSec) {
    auto p = static_cast<int32_t>(t / (10 * kSec) % 2);
    g.Apply(p, Ev(K::kFollow, t, "never"), false);
    g.Apply(p, Ev(K::kFollow, t, "hourly"), false);
    hourly.Apply(Ev(K::kFollow, t, "hourly"));
    if (t < kDy) g.Apply(p, Ev(K::kFollow, t, "quiet"), false);
    if (t % kHr == 0) {
      Event s = Ev(K::kFollowerCount, t + 5 * kSec, "hourly", 1'000 + t / kHr);
      g.Apply(1 - p, s, false);
      hourly.Apply(s);
    }
    if (t % kMin == 0 && t >= 5 * kMin) {
      g.AdvanceWatermark(EventTime::FromMillis(t - 5 * kMin), [&](const WindowResult& w) {
        if (w.channel_id != "hourly" || w.spec->name != "1d") return;
        EXPECT_EQ(w.followers_start, hourly.At(w.start.millis()));
        EXPECT_EQ(w.followers_end, hourly.At(w.end.millis()));
        ++first_result;
      });
    }
  }
  EXPECT_EQ(first_result, 3) << "the first three days";
  Drain(g, store);
  // From the horizon (watermark − 1 h lateness − 1 day) on, plus up to an
  // hour waiting for the next prune, one folded delta, and the minutes the
  // watermark trails: per partition, a delta every 20 s.
  const uint64_t bound = (kDy + kHr + kHr + 10 * kMin) / (20 * kSec) + 1;
  for (int32_t p = 0; p < 2; ++p) {
    SCOPED_TRACE(p);
    EXPECT_LE(KeptIn(store, p, "never").deltas, bound);
    EXPECT_GT(KeptIn(store, p, "never").deltas, kDy / (20 * kSec));
    EXPECT_LE(KeptIn(store, p, "hourly").deltas, bound);
    EXPECT_LE(KeptIn(store, p, "hourly").snapshots, 28u) << "a day and an hour or two of hourly";
    EXPECT_LE(KeptIn(store, p, "quiet").deltas, 1u) << "the sweep folds a quiet channel";
  }
  // The hourly channel's current count and the last day's edges, after a
  // restore of the pruned state.
  ChannelGrowth r = RestoreFrom(store);
  r.RestoreWatermark(EventTime::FromMillis(4 * kDy - 6 * kMin));
  EXPECT_EQ(One(r, "hourly").followers, hourly.At(std::nullopt));
  EXPECT_EQ(One(r, "never").followers, 4 * kDy / (10 * kSec));
  EXPECT_EQ(One(r, "quiet").followers, kDy / (10 * kSec));
  Edges e = AdvanceEdges(r, 4 * kDy, "1d", "hourly");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e.begin()->second, Pair(hourly.At(3 * kDy), hourly.At(4 * kDy)));
}

TEST(ChannelFollowersState, TheSweepFoldsAQuietChannelRestoredUnpruned) {
  // A day of follows stored before any watermark, so nothing is pruned; the
  // restored channel gets no event again, and only the hourly sweep can
  // fold it.
  ChannelGrowth g;
  Store store;
  for (int64_t t = 0; t < kDy; t += 10 * kSec) g.Apply(0, Ev(K::kFollow, t, "quiet"), false);
  Drain(g, store);
  ASSERT_GT(KeptIn(store, 0, "quiet").deltas, 1u);
  ChannelGrowth r = RestoreFrom(store);
  r.AdvanceWatermark(EventTime::FromMillis(4 * kDy), [](const WindowResult&) {});
  Drain(r, store);
  EXPECT_LE(KeptIn(store, 0, "quiet").deltas, 1u);
  EXPECT_EQ(One(r, "quiet").followers, kDy / (10 * kSec));
}

TEST(ChannelFollowersState, RestoresTheFormBeforeSnapshotHistoriesAndRewritesIt) {
  // Tag 0x03: partition 0 holds the newest snapshot (1,000 at 100 s) and a
  // follow at 150 s; partition 1 a follow at 120 s. Both had their deltas
  // up to 100 s pruned.
  auto channel = [](std::initializer_list<uint8_t> followers) {
    std::string v;
    PutLengthPrefixed(v, "twitter:acme");
    v += Bytes({0x01, 0x00, 0x00, 0x00});  // twitter, no counters
    v += Bytes(followers);
    return v;
  };
  const uint16_t chunk = ChunkOf("twitter:acme");
  std::string snapshot;
  PutVarint(snapshot, 1);
  PutSignedVarint(snapshot, 1'000);
  PutSignedVarint(snapshot, 100'000);
  std::string p0 = channel({}) + snapshot;
  PutSignedVarint(p0, 5);  // lifetime net follows
  PutVarint(p0, 1);
  PutSignedVarint(p0, 150);
  PutSignedVarint(p0, 2);
  std::string p1 = channel({0x00});
  PutSignedVarint(p1, 1);
  PutVarint(p1, 1);
  PutSignedVarint(p1, 120);
  PutSignedVarint(p1, 1);
  Store store = {{ChannelChunkKeyOf(0, chunk, kChannelChunkV1Tag), p0},
                 {ChannelChunkKeyOf(1, chunk, kChannelChunkV1Tag), p1}};
  ChannelGrowth g = RestoreFrom(store);
  EXPECT_EQ(One(g).followers, 1'003);
  EXPECT_TRUE(One(g).has_snapshot);

  Mutations out;
  g.DrainDirty(out);
  ApplyTo(store, out);
  EXPECT_EQ(CountWithTag(store, kChannelChunkV1Tag), 0u) << "the old records go";
  EXPECT_EQ(CountWithTag(store, kChannelChunkTag), 2u) << "rewritten under the new tag";
  ChannelGrowth r = RestoreFrom(store);
  EXPECT_EQ(Views(r), Views(g));
  out.clear();
  r.DrainDirty(out);
  EXPECT_TRUE(out.empty()) << "nothing left to rewrite";

  // Edges up to the old snapshot lack the follows it pruned: the snapshot
  // stands in there, as before; later edges follow the rule.
  for (ChannelGrowth* x : {&g, &r}) {
    x->Apply(1, Ev(K::kFollow, 30 * kSec, "twitter:acme"), false);
    x->Apply(1, Ev(K::kFollow, 170 * kSec, "twitter:acme"), false);
    Edges e = AdvanceEdges(*x, 3 * kMin);
    ASSERT_EQ(e.size(), 2u) << "the minutes of the two new follows";
    EXPECT_EQ(EdgesOf(e, 0), Pair(1'000, 1'000));
    // At 120 s: the snapshot, and no follow in (100 s, 120 s).
    EXPECT_EQ(EdgesOf(e, 2 * kMin), Pair(1'000, 1'004));
  }
}

}  // namespace
}  // namespace chorus::ops
