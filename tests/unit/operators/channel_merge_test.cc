// Channels merged over partitions as ChannelGrowth keeps them, updated per
// event: against a copy restored from the store (which merges from
// scratch), after dropped partitions, and in id order however ids arrive.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "channel_test_util.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {
namespace {

using namespace channel_test;  // NOLINT: test helpers

std::vector<std::string> Ids(const std::vector<View>& views) {
  std::vector<std::string> out;
  for (const View& v : views) out.push_back(v.channel);
  return out;
}

std::vector<std::string> Ids(const std::vector<Closed>& closed) {
  std::vector<std::string> out;
  for (const Closed& c : closed) out.push_back(c.channel);
  return out;
}

void ErasePartition(Store& store, int32_t partition) {
  std::string prefix;
  AppendPartitionPrefix(prefix, partition);
  std::erase_if(store, [&](const auto& kv) { return kv.first.starts_with(prefix); });
}

// Follows, unfollows and snapshots (some in the same second, some late),
// posts and platforms, over partitions; the incremental merges must always
// equal what a restore recomputes from the partitions' state.
TEST(ChannelMerge, IncrementalMergesMatchARestoreOverRandomEvents) {
  const std::vector<std::string> channels = {"a", "forum:x", "twitter:acme"};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    Uniform uniform(seed);
    ChannelGrowth g;
    Store store;
    int64_t now = 0;
    for (int step = 0; step < 600; ++step) {
      now += uniform(0, 3 * kSec);
      int64_t t = now - uniform(0, 20 * kSec);
      const std::string& channel = channels[uniform(0, channels.size() - 1)];
      int op = uniform(0, 9);
      Event e = op < 4   ? Ev(K::kFollow, t, channel, uniform(0, 3))
                : op < 6 ? Ev(K::kUnfollow, t, channel)
                : op < 8 ? Ev(K::kFollowerCount, t, channel, uniform(0, 5'000))
                         : Post(t, C::kVideo, channel);
      e.platform = static_cast<Platform>(uniform(0, 3));
      g.Apply(static_cast<int32_t>(uniform(0, 4)), e, uniform(0, 9) == 0);
      if (uniform(0, 40) == 0) {
        auto partition = static_cast<int32_t>(uniform(0, 4));
        g.DropPartition(partition);
        Drain(g, store);
        ErasePartition(store, partition);
      }
      if (step % 25 == 0) {
        Drain(g, store);
        ASSERT_EQ(Views(RestoreFrom(store)), Views(g)) << "step " << step;
      }
    }
  }
}

TEST(ChannelMerge, DroppingPartitionsRecomputesFollowersTotalsAndPlatform) {
  ChannelGrowth g;
  Event older = Ev(K::kFollowerCount, 40 * kSec, "x", 900);
  older.platform = Platform::kUnspecified;
  Event after_older = Ev(K::kFollow, 50 * kSec, "x");
  after_older.platform = Platform::kUnspecified;
  g.Apply(2, older, false);
  g.Apply(2, after_older, false);
  g.Apply(0, Ev(K::kFollowerCount, 100 * kSec, "x", 1'000), false);  // twitter
  Event follows = Ev(K::kFollow, 150 * kSec, "x", 2);
  follows.platform = Platform::kFacebook;
  g.Apply(1, follows, false);
  View v = One(g, "x");
  EXPECT_EQ(v.followers, 1'002) << "the newest snapshot, then the follows after it";
  EXPECT_EQ(v.platform, Platform::kTwitter) << "partition 0's";
  EXPECT_EQ(v.totals.events_by_kind[I(K::kFollowerCount)], 2u);

  g.DropPartition(0);
  v = One(g, "x");
  // Partition 2's snapshot is the newest left; its follow at 50 s and
  // partition 1's at 150 s are after it (no watermark yet: nothing pruned).
  EXPECT_EQ(v.followers, 900 + 1 + 2);
  EXPECT_TRUE(v.has_snapshot);
  EXPECT_EQ(v.platform, Platform::kFacebook) << "partition 1's; partition 2 has none";
  EXPECT_EQ(v.totals.events_by_kind[I(K::kFollowerCount)], 1u);
  EXPECT_EQ(v.totals.events_by_kind[I(K::kFollow)], 3u);

  // Merges go on incrementally from the recomputed state.
  g.Apply(1, Ev(K::kFollow, 160 * kSec, "x"), false);
  EXPECT_EQ(One(g, "x").followers, 904);
  g.DropPartition(1);
  v = One(g, "x");
  EXPECT_EQ(v.followers, 901);
  EXPECT_EQ(v.platform, Platform::kUnspecified);
  g.DropPartition(2);
  EXPECT_TRUE(Views(g).empty()) << "a channel no partition holds is not listed";
  g.Apply(5, Ev(K::kFollow, 10 * kSec, "x"), false);
  v = One(g, "x");
  EXPECT_EQ(v.followers, 1);
  EXPECT_FALSE(v.has_snapshot);
  EXPECT_EQ(v.platform, Platform::kTwitter);
}

TEST(ChannelMerge, PlatformIsThatOfTheLowestPartitionWithOne) {
  ChannelGrowth g;
  auto with = [](Platform p, int64_t ms) {
    Event e = Post(ms, C::kText, "x");
    e.platform = p;
    return e;
  };
  g.Apply(3, with(Platform::kTwitter, 0), false);
  g.Apply(1, with(Platform::kUnspecified, 0), false);
  EXPECT_EQ(One(g, "x").platform, Platform::kTwitter);
  g.Apply(1, with(Platform::kFacebook, 0), false);
  g.Apply(2, with(Platform::kYoutube, 0), false);
  g.Apply(0, with(static_cast<Platform>(99), 0), false);  // unknown: none
  EXPECT_EQ(One(g, "x").platform, Platform::kFacebook);
  g.Apply(3, with(Platform::kReddit, 0), false);
  EXPECT_EQ(One(g, "x").platform, Platform::kFacebook);
  std::vector<Closed> closed = Advance(g, kMin);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].platform, Platform::kFacebook) << "the same rule for windows";
}

TEST(ChannelMerge, ResultsComeInIdOrderWhenIdsFirstArriveBetweenCloses) {
  ChannelGrowth g;
  g.Apply(0, Post(0, C::kText, "m"), false);
  EXPECT_EQ(Ids(Advance(g, kMin)), (std::vector<std::string>{"m"}));
  // New ids on both sides of "m", from several partitions.
  for (std::string_view id : {"z", "a", "m"}) g.Apply(0, Post(2 * kMin, C::kText, id), false);
  g.Apply(1, Post(2 * kMin, C::kText, "b"), false);
  EXPECT_EQ(Ids(Advance(g, 3 * kMin)), (std::vector<std::string>{"a", "b", "m", "z"}));
  for (std::string_view id : {"zz", "c", "a"}) g.Apply(2, Post(4 * kMin, C::kText, id), false);
  EXPECT_EQ(Ids(Advance(g, 5 * kMin)), (std::vector<std::string>{"a", "c", "zz"}));
  EXPECT_EQ(Ids(Views(g)), (std::vector<std::string>{"a", "b", "c", "m", "z", "zz"}));
}

TEST(ChannelMerge, WindowsWithManyCountersCountExactlyAndRoundTrip) {
  ChannelGrowth g;
  ChannelCounts expected;
  uint64_t n = 1;
  for (size_t kind = 0; kind < kEventKindCount; ++kind) {
    for (size_t content = 0; content < kContentTypeCount; content += 3) {
      Event e = ByMember(static_cast<K>(kind), static_cast<int64_t>(kind) * kSec,
                         static_cast<C>(content), "x");
      e.count = n;
      g.Apply(static_cast<int32_t>(kind % 2), e, false);
      uint64_t once = kind == I(K::kFollowerCount) ? 1 : n;
      expected.events_by_kind[kind] += once;
      if (kind == I(K::kPostPublished)) expected.posts_by_content_type[content] += n;
      if (kind >= I(K::kReaction) && kind <= I(K::kMention)) {
        expected.engagements_by_content_type[content] += n;
      }
      n = n * 37 % (uint64_t{1} << 41) + 1;  // up to multi-byte varints
    }
  }
  Store store;
  Drain(g, store);
  ChannelGrowth r = RestoreFrom(store);
  std::vector<Closed> closed = Advance(g, kMin);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].counts, expected);
  EXPECT_EQ(Advance(r, kMin), closed);
  EXPECT_EQ(One(g, "x").totals, expected);
}

}  // namespace
}  // namespace chorus::ops
