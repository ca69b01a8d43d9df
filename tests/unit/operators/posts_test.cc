#include "chorus/operators/posts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "member_test_util.h"

namespace chorus::ops {
namespace {

using member_test::kT0;

constexpr size_t k24h = static_cast<size_t>(PostAge::k24h);
constexpr size_t k7d = static_cast<size_t>(PostAge::k7d);
constexpr auto kImage = static_cast<size_t>(ContentType::kImage);
constexpr auto kVideo = static_cast<size_t>(ContentType::kVideo);

// Events own their strings here: Event only views them.
struct Ev {
  std::string content = "p1", member, channel = "twitter:acme";
  EventTime t;
  EventKind kind = EventKind::kReaction;
  ActorRole role = ActorRole::kMember;
  ContentType type = ContentType::kImage;
  uint64_t count = 0;

  Event view() const {
    Event e;
    e.event_id = "e";
    e.occurred_at = t;
    e.channel_id = channel;
    e.platform = Platform::kTwitter;
    e.kind = kind;
    e.member_id = member;
    e.actor_role = role;
    e.content_id = content;
    e.content_type = type;
    e.count = count;
    return e;
  }
};

Ev Post(EventTime t, std::string content = "p1", ContentType type = ContentType::kImage) {
  return Ev{.content = std::move(content),
            .t = t,
            .kind = EventKind::kPostPublished,
            .role = ActorRole::kBrand,
            .type = type};
}

Ev Engage(EventTime t, uint64_t count = 0, std::string content = "p1",
          EventKind kind = EventKind::kReaction) {
  return Ev{.content = std::move(content), .member = "ann", .t = t, .kind = kind, .count = count};
}

class PostsTest : public ::testing::Test {
 protected:
  void Apply(const Ev& e, int32_t partition = 0) { posts_.Apply(partition, e.view()); }
  void Advance(EventTime wm) { posts_.AdvanceWatermark(wm); }
  ChannelPostStats Channel(const std::string& id = "twitter:acme") const {
    PostStats s = posts_.Stats();
    auto it = s.channels.find(id);
    return it == s.channels.end() ? ChannelPostStats{} : it->second;
  }
  uint64_t Unmatched(const std::string& id = "twitter:acme") const {
    PostStats s = posts_.Stats();
    auto it = s.unmatched.find(id);
    return it == s.unmatched.end() ? 0 : it->second;
  }
  PostEngagementHistogram Distribution(PostAge age, ContentType type = ContentType::kImage) const {
    PostStats s = posts_.Stats();
    auto it = s.distribution.find({Platform::kTwitter, type, age});
    return it == s.distribution.end() ? PostEngagementHistogram{} : it->second;
  }

  PostPerformance posts_;
};

TEST_F(PostsTest, FiguresCountEngagementsInTheirAgeFromPublication) {
  Apply(Post(kT0));
  Apply(Engage(kT0));                              // the first instant counts
  Apply(Engage(kT0 + 24 * kHour - Millis(1), 3));  // count 3: weighted
  Apply(Engage(kT0 + 24 * kHour));                 // out of 24 h, in 7 d
  Apply(Engage(kT0 + 7 * kDay - Millis(1), 2));    // the week's last instant
  Apply(Engage(kT0 + 7 * kDay));                   // past the week: for no post
  Apply(Engage(kT0 + kHour, 0, "p1", EventKind::kComment));
  Apply(Engage(kT0 + kHour, 0, "p1", EventKind::kShare));
  Apply(Engage(kT0 + kHour, 0, "p1", EventKind::kMention));
  // Not engagements: an impression, a follow, a reaction by the brand.
  Apply(Engage(kT0 + kHour, 100, "p1", EventKind::kImpression));
  Apply(Engage(kT0 + kHour, 0, "p1", EventKind::kFollow));
  Ev brand = Engage(kT0 + kHour);
  brand.role = ActorRole::kBrand;
  Apply(brand);
  EXPECT_EQ(Unmatched(), 1u);

  Advance(kT0 + 24 * kHour);
  ChannelPostStats s = Channel();
  EXPECT_EQ(s.matured[k24h][kImage], 1u);
  EXPECT_EQ(s.engagements[k24h][kImage], 1u + 3 + 3);  // first instant, weighted 3, three kinds
  EXPECT_EQ(s.matured[k7d][kImage], 0u);
  PostEngagementHistogram h = Distribution(PostAge::k24h);
  EXPECT_EQ(h.count, 1u);
  EXPECT_EQ(h.sum, 7);
  EXPECT_EQ(h.buckets[3], 1u);  // (5, 10]

  Advance(kT0 + 7 * kDay - Millis(1));
  EXPECT_EQ(Channel().matured[k7d][kImage], 0u);
  Advance(kT0 + 7 * kDay);
  s = Channel();
  EXPECT_EQ(s.matured[k7d][kImage], 1u);
  EXPECT_EQ(s.engagements[k7d][kImage], 7u + 1 + 2);
  EXPECT_EQ(Distribution(PostAge::k7d).sum, 10);
  EXPECT_EQ(posts_.posts(), 0u);  // forgotten after its week
}

TEST_F(PostsTest, FiguresAreRecordedOnlyWhenTheWatermarkReachesTheirAge) {
  Apply(Post(kT0));
  Apply(Engage(kT0 + kMinute));
  Apply(Engage(kT0 + 2 * kDay));  // read far ahead: the event time alone matures nothing
  EXPECT_EQ(Channel(), ChannelPostStats{});
  Advance(kT0 + 24 * kHour - Millis(1));
  EXPECT_EQ(Channel(), ChannelPostStats{});
  Advance(kT0 + 24 * kHour);
  EXPECT_EQ(Channel().engagements[k24h][kImage], 1u);
  // A late engagement for the recorded day still counts for the week.
  Apply(Engage(kT0 + 2 * kHour, 4));
  Advance(kT0 + 7 * kDay);
  ChannelPostStats s = Channel();
  EXPECT_EQ(s.engagements[k24h][kImage], 1u);
  EXPECT_EQ(s.engagements[k7d][kImage], 1u + 1 + 4);
  // After the week, the post is gone: engagements on it wait, then expire.
  Apply(Engage(kT0 + 3 * kDay));
  EXPECT_EQ(Unmatched(), 1u);
}

TEST_F(PostsTest, EngagementReadBeforeItsPostWaitsForIt) {
  Apply(Engage(kT0 + 10 * kMinute, 2), 1);
  Apply(Engage(kT0 + 20 * kMinute), 2);
  EXPECT_EQ(posts_.waiting_entries(), 2u);
  Advance(kT0 + 10 * kMinute + 59 * kMinute);  // within the hour's wait
  Apply(Post(kT0));
  EXPECT_EQ(posts_.waiting_entries(), 0u);
  Advance(kT0 + 24 * kHour);
  EXPECT_EQ(Channel().engagements[k24h][kImage], 3u);
  EXPECT_EQ(Unmatched(), 0u);
}

TEST_F(PostsTest, EngagementWhosePostDoesNotComeWithinTheWaitIsUnmatched) {
  Apply(Engage(kT0 + 10 * kMinute, 2), 1);
  Advance(kT0 + 10 * kMinute + kHour - Millis(1));
  EXPECT_EQ(Unmatched(), 0u);
  Advance(kT0 + 10 * kMinute + kHour);
  EXPECT_EQ(Unmatched(), 2u);
  EXPECT_EQ(posts_.waiting_entries(), 0u);
  // Read once its wait is over: unmatched at once.
  Apply(Engage(kT0 + 5 * kMinute, 0, "thread-9"), 1);
  EXPECT_EQ(Unmatched(), 3u);
  EXPECT_EQ(posts_.waiting_entries(), 0u);
  Apply(Post(kT0));  // too late for them
  Advance(kT0 + 24 * kHour);
  EXPECT_EQ(Channel().matured[k24h][kImage], 1u);
  EXPECT_EQ(Channel().engagements[k24h][kImage], 0u);
  EXPECT_EQ(Distribution(PostAge::k24h).buckets[0], 1u);  // the zero bucket
}

TEST_F(PostsTest, EngagementsWithoutContentOrPostsWithoutContentAreIgnored) {
  Apply(Post(kT0, ""));
  Apply(Engage(kT0, 0, ""));
  Advance(kT0 + 8 * kDay);
  EXPECT_EQ(posts_.Stats(), PostStats{});
}

TEST_F(PostsTest, CopiesOfAPostCountFromTheEarliestWhateverTheOrder) {
  // Copy a at 01:00 (video, partition 0), copy b at 00:00 (image, partition 1).
  const Ev a = Post(kT0 + kHour, "p1", ContentType::kVideo), b = Post(kT0);
  const Ev between = Engage(kT0 + 30 * kMinute), late = Engage(kT0 + 24 * kHour + 30 * kMinute);
  PostPerformance first, second;
  first.Apply(1, b.view());
  first.Apply(0, a.view());
  first.Apply(2, between.view());
  first.Apply(2, late.view());
  second.Apply(0, a.view());
  second.Apply(2, between.view());  // before copy a: waits for an earlier copy
  second.Apply(1, b.view());
  second.Apply(2, late.view());
  EXPECT_EQ(second.posts(), 1u);
  for (PostPerformance* p : {&first, &second}) p->AdvanceWatermark(kT0 + 8 * kDay);
  EXPECT_EQ(first.Stats(), second.Stats());
  PostStats s = first.Stats();
  const ChannelPostStats& c = s.channels.at("twitter:acme");
  EXPECT_EQ(c.matured[k24h][kImage], 1u);  // once, with copy b's content type
  EXPECT_EQ(c.matured[k24h][kVideo], 0u);
  EXPECT_EQ(c.engagements[k24h][kImage], 1u);  // 24:30 is past b's day
  EXPECT_EQ(c.engagements[k7d][kImage], 2u);
  EXPECT_TRUE(s.unmatched.empty());
  // The post belonged to copy b's partition: its counters go with it.
  second.DropPartition(0);
  EXPECT_EQ(second.Stats(), s);
  second.DropPartition(1);
  EXPECT_TRUE(second.Stats().channels.empty());
}

TEST_F(PostsTest, AKeysWaitingEngagementsAreMergedPerMinuteAndCapped) {
  // Exact first; then merged into the same partition's entry of the minute.
  const int n = PostPerformance::kExactWaiting + 12;
  for (int i = 0; i < n; ++i) Apply(Engage(kT0 + kMinute + i * (kSecond / 2)), 1);
  EXPECT_EQ(posts_.waiting_entries(), PostPerformance::kExactWaiting);
  Apply(Engage(kT0 + kMinute + 30 * kSecond), 2);  // another partition's: its own entry
  EXPECT_EQ(posts_.waiting_entries(), PostPerformance::kExactWaiting + 1);
  Apply(Post(kT0));
  Advance(kT0 + 24 * kHour);
  EXPECT_EQ(Channel().engagements[k24h][kImage], n + 1u);

  // At the cap, a key's further engagements are unmatched at once.
  const size_t cap = PostPerformance::kMaxWaiting;
  for (size_t i = 0; i < cap + 2; ++i) Apply(Engage(kT0 + 2 * kDay + i * kMinute, 0, "p9"));
  EXPECT_EQ(posts_.waiting_entries(), cap);
  EXPECT_EQ(Unmatched(), 2u);
}

TEST_F(PostsTest, APostReadBehindTheWatermarkMaturesAtOnce) {
  Apply(Engage(kT0 + kHour, 5), 1);
  Advance(kT0 + 24 * kHour + 30 * kMinute);
  EXPECT_EQ(Unmatched(), 5u);                            // its wait ended at 02:00
  Apply(Engage(kT0 + 23 * kHour + 50 * kMinute, 2), 1);  // its wait ends at 24:50
  Apply(Post(kT0 + 10 * kMinute));
  // The day from 00:10 ended behind the watermark: recorded now, with what waited.
  EXPECT_EQ(Channel().matured[k24h][kImage], 1u);
  EXPECT_EQ(Channel().engagements[k24h][kImage], 2u);
  EXPECT_EQ(posts_.waiting_entries(), 0u);
}

TEST_F(PostsTest, RestoredStateContinuesLikeAnUninterruptedRun) {
  std::vector<std::pair<Ev, int32_t>> first = {
      {Post(kT0 - 24 * kHour), 0},  // its day is recorded before the drain
      {Engage(kT0 - 24 * kHour + kMinute, 2), 1},
      {Post(kT0, "p3", ContentType::kVideo), 3},
      {Engage(kT0 - kMinute, 0, "p3"), 1},     // before publication: waits for an earlier copy
      {Engage(kT0 + kMinute, 0, "p2"), 2},     // no post yet: waits
      {Engage(kT0 - 24 * kHour, 0, "p9"), 2},  // unmatched by the drain
  };
  // Enough for p2's waiting entries to merge.
  for (int i = 0; i < 12; ++i) {
    first.push_back({Engage(kT0 + 5 * kMinute + i * kSecond, 0, "p2"), 2});
  }
  const std::vector<std::pair<Ev, int32_t>> second = {
      {Post(kT0 - 5 * kMinute, "p3", ContentType::kVideo), 0},  // an earlier copy, elsewhere
      {Post(kT0, "p2"), 0},
      {Engage(kT0 + 3 * kDay, 7), 1},
      {Engage(kT0 + 5 * kMinute, 0, "p2"), 2},
  };
  const EventTime mid = kT0 + 10 * kMinute;
  PostPerformance uninterrupted;
  for (const auto& [e, p] : first) uninterrupted.Apply(p, e.view());
  uninterrupted.AdvanceWatermark(mid);
  for (const auto& [e, p] : second) uninterrupted.Apply(p, e.view());
  uninterrupted.AdvanceWatermark(kT0 + 10 * kDay);

  for (const auto& [e, p] : first) Apply(e, p);
  Advance(mid);
  Mutations drained;
  posts_.DrainDirty(drained);
  PostPerformance restored;
  for (const Mutation& m : drained) {
    ASSERT_EQ(m.op, Mutation::Op::kPut);
    ASSERT_TRUE(restored.Restore(m.key, m.value));
  }
  EXPECT_EQ(restored.Stats(), posts_.Stats());
  EXPECT_EQ(restored.posts(), posts_.posts());
  EXPECT_EQ(restored.waiting_entries(), posts_.waiting_entries());
  for (const auto& [e, p] : second) restored.Apply(p, e.view());
  restored.AdvanceWatermark(kT0 + 10 * kDay);
  EXPECT_EQ(restored.Stats(), uninterrupted.Stats());
  EXPECT_EQ(restored.posts(), 0u);
  EXPECT_EQ(restored.waiting_entries(), 0u);

  // What went away after the restore is deleted from the store.
  Mutations after;
  restored.DrainDirty(after);
  size_t deletes = 0;
  for (const Mutation& m : after) deletes += m.op == Mutation::Op::kDelete;
  EXPECT_EQ(deletes, 4u);  // post p1, p3 on partition 3, and the engagements that waited
  PostStats s = restored.Stats();
  EXPECT_EQ(s.channels.at("twitter:acme").engagements[k7d][kImage], 2u + 7 + 14);  // p1, p2
  EXPECT_EQ(s.channels.at("twitter:acme").engagements[k7d][kVideo], 1u);           // p3
  EXPECT_EQ(s.unmatched.at("twitter:acme"), 1u);
}

TEST_F(PostsTest, MalformedEntriesAreRejected) {
  PostPerformance p;
  std::string key;
  AppendPartitionPrefix(key, 0);
  EXPECT_FALSE(p.Restore(key + "s", ""));
  EXPECT_FALSE(p.Restore(key + "s", "\x02"));  // a version from the future
  EXPECT_FALSE(p.Restore(key + "p", "\x01"));  // no hash
  EXPECT_FALSE(p.Restore(key + "q", "\x01"));
  EXPECT_FALSE(p.Restore(key + "s", "\x01\x05"));  // truncated
}

TEST_F(PostsTest, DroppingAPartitionForgetsItsPostsWaitingEngagementsAndCounters) {
  Apply(Post(kT0, "p1"), 0);
  Apply(Post(kT0, "p2"), 1);
  Apply(Engage(kT0, 0, "p3"), 0);
  Apply(Engage(kT0, 0, "p3"), 1);
  Advance(kT0 + 2 * kHour);  // p3's engagements expire, one unmatched per partition
  Apply(Engage(kT0 + 2 * kHour, 0, "p4"), 0);
  EXPECT_EQ(Unmatched(), 2u);
  posts_.DropPartition(0);
  EXPECT_EQ(posts_.posts(), 1u);
  EXPECT_EQ(posts_.waiting_entries(), 0u);
  EXPECT_EQ(Unmatched(), 1u);
  Advance(kT0 + 24 * kHour);
  EXPECT_EQ(Channel().matured[k24h][kImage], 1u);  // p2's
}

}  // namespace
}  // namespace chorus::ops
