#include "chorus/operators/channel_growth.h"

#include <gtest/gtest.h>

#include "channel_test_util.h"

namespace chorus::ops {
namespace {

using namespace channel_test;  // NOLINT: test helpers

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

TEST(ChannelWindows, FireAtEndMergedOverPartitionsCloseAtEndPlusLateness) {
  ChannelGrowth g;
  g.Apply(0, ByMember(K::kReaction, 30 * kSec, C::kText, "twitter:b"), false);
  g.Apply(1, Ev(K::kImpression, 59 * kSec + 999, "twitter:b", 2), false);
  g.Apply(0, Post(0, C::kVideo, "forum:a"), false);
  ASSERT_EQ(g.open_windows(), 9u);
  EXPECT_TRUE(Advance(g, kMin - 1).empty()) << "an event at 59.999 s is inside [0, 1 min)";
  std::vector<Closed> fired = Advance(g, kMin);
  ASSERT_EQ(fired.size(), 2u);
  ChannelCounts a, b;
  a.events_by_kind[I(K::kPostPublished)] = 1;
  a.posts_by_content_type[I(C::kVideo)] = 1;
  b.events_by_kind[I(K::kReaction)] = 1;
  b.events_by_kind[I(K::kImpression)] = 2;
  b.engagements_by_content_type[I(C::kText)] = 1;
  EXPECT_EQ(fired[0], (Closed{"forum:a", "1m", 0, kMin, Platform::kTwitter, a}));
  EXPECT_EQ(fired[1], (Closed{"twitter:b", "1m", 0, kMin, Platform::kTwitter, b}));
  EXPECT_EQ(g.open_windows(), 9u) << "fired windows stay open for the allowed lateness";
  EXPECT_TRUE(Advance(g, kHr - 1).empty()) << "each window fires once";
  fired = Advance(g, kHr);
  ASSERT_EQ(fired.size(), 2u) << "the hour windows";
  EXPECT_EQ(fired[1], (Closed{"twitter:b", "1h", 0, kHr, Platform::kTwitter, b}));
  EXPECT_TRUE(Advance(g, kMin + kHr).empty()) << "closing hands out nothing new";
  EXPECT_EQ(g.open_windows(), 6u) << "three per-partition minute windows closed";
  EXPECT_TRUE(Advance(g, 2 * kHr).empty());
  EXPECT_EQ(g.open_windows(), 3u) << "the hour windows closed at 2 h";
}

TEST(ChannelWindows, UpdatesWithinTheLatenessComeOutAsNumberedCorrections) {
  ChannelGrowth g;
  g.Apply(0, Post(10 * kSec, C::kText), false);
  ASSERT_EQ(Advance(g, 2 * kMin).size(), 1u);
  // Two events for the fired minute (not late: within the hour's lateness),
  // one from a partition that had no part of it yet.
  g.Apply(0, Post(20 * kSec, C::kImage), false);
  g.Apply(3, Post(30 * kSec, C::kImage), false);
  g.Apply(0, Post(90 * kSec, C::kText), false);  // fired minute [1, 2 min) too
  std::vector<Closed> corrections = Advance(g, 2 * kMin + 1);
  ASSERT_EQ(corrections.size(), 2u);
  ChannelCounts first;
  first.events_by_kind[I(K::kPostPublished)] = 3;
  first.posts_by_content_type[I(C::kText)] = 1;
  first.posts_by_content_type[I(C::kImage)] = 2;
  EXPECT_EQ(corrections[0], (Closed{"twitter:acme", "1m", 0, kMin, Platform::kTwitter, first, 1}));
  EXPECT_EQ(corrections[1].start, kMin);
  EXPECT_EQ(corrections[1].revision, 1u) << "the second minute's first correction";
  EXPECT_TRUE(Advance(g, 3 * kMin).empty()) << "nothing pending, nothing in [2, 3 min)";
  g.Apply(3, Post(40 * kSec, C::kText), false);
  corrections = Advance(g, 3 * kMin + 1);
  ASSERT_EQ(corrections.size(), 1u);
  EXPECT_EQ(corrections[0].revision, 2u);
  EXPECT_EQ(corrections[0].counts.events_by_kind[I(K::kPostPublished)], 4u);
  // A correction still pending when the window closes comes out first.
  g.Apply(1, Post(50 * kSec, C::kText), false);
  std::vector<Closed> last = Advance(g, kMin + kHr);
  ASSERT_GE(last.size(), 1u);
  EXPECT_EQ(last[0].start, 0);
  EXPECT_EQ(last[0].revision, 3u);
  EXPECT_EQ(last[0].counts.events_by_kind[I(K::kPostPublished)], 5u);
}

TEST(ChannelWindows, ResponsesCountInTheWindowsOfTheirEventTimeAndSurviveARestore) {
  ChannelGrowth g;
  using RK = ChannelGrowth::ResponseKind;
  g.Apply(0, Post(0, C::kText), false);
  g.ApplyResponse(0, "twitter:acme", EventTime::FromMillis(30 * kSec), RK::kFirst, Millis(20'000));
  g.ApplyResponse(1, "twitter:acme", EventTime::FromMillis(50 * kSec), RK::kClosing,
                  Millis(40'000));
  g.ApplyResponse(1, "twitter:acme", EventTime::FromMillis(70 * kSec), RK::kClosing,
                  Millis(5'000));  // the next minute
  Store store;
  Drain(g, store);
  ChannelGrowth r = RestoreFrom(store);
  for (ChannelGrowth* x : {&g, &r}) {
    std::vector<WindowResult> minutes;
    x->AdvanceWatermark(EventTime::FromMillis(2 * kMin), [&](const WindowResult& w) {
      if (w.spec->name == "1m") minutes.push_back(w);
    });
    ASSERT_EQ(minutes.size(), 2u);
    EXPECT_EQ(minutes[0].responses, (WindowResponses{1, 40'000, 1, 20'000}));
    EXPECT_EQ(minutes[1].responses, (WindowResponses{1, 5'000, 0, 0}));
  }
  // An answer that settles after its window fired corrects it.
  g.ApplyResponse(0, "twitter:acme", EventTime::FromMillis(10 * kSec), RK::kClosing, Millis(1'000));
  std::vector<Closed> corrections = Advance(g, 2 * kMin + 1);
  ASSERT_EQ(corrections.size(), 1u);
  EXPECT_EQ(corrections[0].revision, 1u);
}

TEST(ChannelWindows, AnEventExactlyAtAnEndBelongsToTheNextWindowAcrossADayBoundary) {
  ChannelGrowth g;
  g.Apply(0, Post(kDy - 1, C::kText), false);  // 23:59:59.999 of day 0
  g.Apply(0, Post(kDy, C::kImage), false);     // 00:00:00.000 of day 1
  std::vector<Closed> fired = Advance(g, kDy);
  ASSERT_EQ(fired.size(), 3u) << "day 0's last minute, hour and day";
  for (const Closed& c : fired) {
    EXPECT_EQ(c.end, kDy);
    EXPECT_EQ(c.counts.posts_by_content_type[I(C::kText)], 1u) << c;
    EXPECT_EQ(c.counts.posts_by_content_type[I(C::kImage)], 0u) << c;
  }
  fired = Advance(g, 2 * kDy);
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0].start, kDy);
  EXPECT_EQ(fired[2].start, kDy) << "day 1 holds the image post";
  EXPECT_EQ(fired[2].counts.posts_by_content_type[I(C::kImage)], 1u);
}

TEST(ChannelWindows, RatioInputsOfAWindow) {
  ChannelGrowth g;
  g.Apply(0, Ev(K::kFollowerCount, 0, "twitter:acme", 400), false);
  g.Apply(0, Post(kMin + 1, C::kVideo), false);
  g.Apply(1, Ev(K::kImpression, kMin + 2, "twitter:acme", 250), false);
  g.Apply(1, ByMember(K::kReaction, kMin + 3, C::kVideo), false);
  g.Apply(2, ByMember(K::kShare, kMin + 4, C::kVideo), false);
  g.Apply(2, ByMember(K::kComment, kMin + 5, C::kVideo), false);
  g.Apply(0, Ev(K::kFollow, kMin + 6'000, "twitter:acme", 3), false);
  g.Apply(0, Ev(K::kUnfollow, kMin + 7'000), false);
  std::vector<WindowResult> minute;
  g.AdvanceWatermark(EventTime::FromMillis(2 * kMin), [&](const WindowResult& w) {
    if (w.spec->name == "1m" && w.start.millis() == kMin) minute.push_back(w);
  });
  ASSERT_EQ(minute.size(), 1u);
  const ChannelCounts& c = minute[0].counts;
  // Engagement rate 3 / 250, amplification 1 share / 1 post, follower
  // growth (3 − 1) / 400.
  EXPECT_EQ(c.engagements_by_content_type[I(C::kVideo)], 3u);
  EXPECT_EQ(c.events_by_kind[I(K::kImpression)], 250u);
  EXPECT_EQ(c.events_by_kind[I(K::kShare)], 1u);
  EXPECT_EQ(c.posts_by_content_type[I(C::kVideo)], 1u);
  EXPECT_EQ(c.events_by_kind[I(K::kFollow)], 3u);
  EXPECT_EQ(c.events_by_kind[I(K::kUnfollow)], 1u);
  EXPECT_EQ(minute[0].followers_start, 400);
  EXPECT_EQ(minute[0].followers_end, 402);
}

TEST(ChannelWindows, FollowersAtStartAndEndOfAWindow) {
  ChannelGrowth g;
  std::vector<WindowResult> results;
  auto advance = [&](int64_t ms) {
    results.clear();
    g.AdvanceWatermark(EventTime::FromMillis(ms), [&](const WindowResult& w) {
      if (w.spec->name == "1m") results.push_back(w);
    });
  };
  g.Apply(0, Ev(K::kFollowerCount, 10 * kSec, "twitter:acme", 1000), false);
  g.Apply(1, Ev(K::kFollow, 70 * kSec, "twitter:acme", 5), false);
  g.Apply(0, Ev(K::kUnfollow, 80 * kSec, "twitter:acme", 2), false);
  g.Apply(2, Ev(K::kFollow, 130 * kSec, "twitter:acme", 7), false);  // the minute after
  advance(2 * kMin);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].followers_start, 0) << "no snapshot before 0: lifetime follows before it";
  EXPECT_EQ(results[0].followers_end, 1000);
  EXPECT_EQ(results[1].followers_start, 1000);
  EXPECT_EQ(results[1].followers_end, 1003) << "+5 −2, not the follows after the end";
}

TEST(ChannelWindows, ClosingOrderIsEndThenSizeThenChannel) {
  ChannelGrowth g;
  const int64_t last_half_minute = kDy - 30 * kSec;  // in the last minute and hour of day 0
  g.Apply(1, Post(last_half_minute, C::kText, "twitter:b"), false);
  g.Apply(0, Post(last_half_minute, C::kText, "forum:a"), false);
  g.Apply(0, Post(kDy + 5 * kSec, C::kText, "forum:a"), false);  // day 1: closes later
  std::vector<Closed> closed = Advance(g, kDy);
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
  for (int i = 0; i < 6; ++i) EXPECT_EQ(closed[i].end, kDy);
  EXPECT_EQ(g.open_windows(), 9u) << "fired, not yet closed";
}

// The operator thread queues results for the processing thread: their
// channel ids must outlive the call, while later events intern more ids.
TEST(ChannelWindows, AResultsChannelIdOutlivesTheCallThatMadeIt) {
  ChannelGrowth g;
  std::vector<std::string> channels;
  for (int i = 0; i < 3; ++i) channels.push_back("forum:early-" + std::to_string(i));
  for (const std::string& c : channels) g.Apply(0, Post(10 * kSec, C::kText, c), false);
  std::vector<WindowResult> kept;
  g.AdvanceWatermark(EventTime::FromMillis(kMin),
                     [&](const WindowResult& r) { kept.push_back(r); });
  ASSERT_EQ(kept.size(), 3u);
  // Thousands of ids more, each its own string, freed right after.
  for (int i = 0; i < 5000; ++i) {
    std::string c = "forum:later-" + std::to_string(i) + std::string(40, 'x');
    g.Apply(i % 7, Post(kMin + i, C::kText, c), false);
  }
  g.AdvanceWatermark(EventTime::FromMillis(kHr), [](const WindowResult&) {});
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i].channel_id, channels[i]);
}

TEST(ChannelWindows, NegativeTimesUseFlooredWindows) {
  ChannelGrowth g;
  g.Apply(0, Post(-1, C::kText), false);
  // Every window of t = −1 ms ends at the epoch, so all fire together.
  EXPECT_TRUE(Advance(g, -1).empty());
  std::vector<Closed> closed = Advance(g, 0);
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
  ASSERT_EQ(Advance(g, kMin).size(), 1u);
  ASSERT_EQ(Advance(g, kMin + kHr).size(), 1u) << "the hour fires";
  g.Apply(0, Post(1, C::kText), false);
  EXPECT_EQ(g.open_windows(), 2u) << "the hour and day windows only";
  std::vector<Closed> out = Advance(g, 2 * kHr);
  ASSERT_EQ(out.size(), 1u) << "only the hour's correction";
  EXPECT_EQ(out[0].spec, "1h");
  EXPECT_EQ(out[0].revision, 1u);
}

}  // namespace
}  // namespace chorus::ops
