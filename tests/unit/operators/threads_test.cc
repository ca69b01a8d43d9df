#include "chorus/operators/threads.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "member_test_util.h"

namespace chorus::ops {
namespace {

using member_test::kT0;

constexpr int kForumPost = 2;  // index of FORUM_POST in kThreadKinds
constexpr int kComment = 0;

// Events own their strings here: Event only views them.
struct Ev {
  std::string id, member, reply_to, channel = "forum:acme";
  EventTime t;
  EventKind kind = EventKind::kForumPost;
  ActorRole role = ActorRole::kMember;

  Event view() const {
    Event e;
    e.event_id = id;
    e.occurred_at = t;
    e.channel_id = channel;
    e.platform = Platform::kForum;
    e.kind = kind;
    e.member_id = member;
    e.actor_role = role;
    e.reply_to_event_id = reply_to;
    return e;
  }
};

Ev Question(std::string id, std::string member, EventTime t) {
  return Ev{.id = std::move(id), .member = std::move(member), .t = t};
}

Ev Reply(std::string id, std::string to, ActorRole role, EventTime t, std::string member = "") {
  return Ev{.id = std::move(id),
            .member = std::move(member),
            .reply_to = std::move(to),
            .t = t,
            .kind = EventKind::kComment,
            .role = role};
}

class ThreadsTest : public ::testing::Test {
 protected:
  void Apply(const Ev& e, int32_t partition = 0) {
    threads_.Apply(partition, e.view(), [&](const ThreadUpdate& u) { Record(u); });
  }
  void Advance(EventTime wm) {
    threads_.AdvanceWatermark(wm, [&](const ThreadUpdate& u) { Record(u); });
  }
  void Record(const ThreadUpdate& u) {
    updates_.push_back(u);
    openers_.emplace_back(u.opener);
  }
  ChannelThreadStats Stats(const Threads& t, const std::string& channel = "forum:acme") const {
    auto all = t.Stats();
    auto it = all.find(channel);
    return it == all.end() ? ChannelThreadStats{} : it->second;
  }
  ChannelThreadStats Stats() const { return Stats(threads_); }
  // The current counters, held by the fixture so references into them stay valid.
  const ChannelThreadStats& S() {
    current_ = Stats();
    return current_;
  }

  Threads threads_;
  std::vector<ThreadUpdate> updates_;
  std::vector<std::string> openers_;  // updates_' openers, owned
  ChannelThreadStats current_;
};

// The bucket that holds `seconds`.
size_t BucketOf(double seconds) {
  size_t i = 0;
  while (i < kResponseBounds.size() && seconds > kResponseBounds[i]) ++i;
  return i;
}

TEST_F(ThreadsTest, BrandReplyClosesTheThreadAndIsAlsoItsFirstResponse) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("r1", "q1", ActorRole::kBrand, kT0 + 10 * kMinute));
  // A candidate until the watermark passes it: an earlier reply may come.
  EXPECT_EQ(S().open, 1);
  EXPECT_EQ(S().response[static_cast<int>(Responder::kBrand)].count, 0u);
  Advance(kT0 + 10 * kMinute);
  ChannelThreadStats s = Stats();
  EXPECT_EQ(s.opened[kForumPost], 1u);
  EXPECT_EQ(s.open, 0);
  const ResponseHistogram& brand = s.response[static_cast<int>(Responder::kBrand)];
  EXPECT_EQ(brand.count, 1u);
  EXPECT_DOUBLE_EQ(brand.sum, 600.0);
  EXPECT_EQ(brand.buckets[BucketOf(600)], 1u);
  EXPECT_EQ(BucketOf(600), 2u);  // (300, 900]
  EXPECT_EQ(s.first_response[static_cast<int>(Responder::kBrand)].count, 1u);
  EXPECT_EQ(s.response[static_cast<int>(Responder::kCommunityTeam)].count, 0u);
  EXPECT_EQ(threads_.open_threads(), 0u);
  ASSERT_EQ(updates_.size(), 2u);
  EXPECT_EQ(updates_[1].kind, ThreadUpdate::Kind::kResponded);
  EXPECT_TRUE(updates_[1].closed);
  EXPECT_TRUE(updates_[1].first_response);
  EXPECT_EQ(openers_[1], "ann");
  // A second brand reply finds no open thread and waits for one that never comes.
  Apply(Reply("r2", "q1", ActorRole::kBrand, kT0 + 20 * kMinute));
  Advance(kT0 + 20 * kMinute);
  EXPECT_EQ(S().response[static_cast<int>(Responder::kBrand)].count, 1u);
}

TEST_F(ThreadsTest, TeamReplyCountsUnderCommunityTeam) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("r1", "q1", ActorRole::kCommunityTeam, kT0 + 2 * kHour));
  Advance(kT0 + 2 * kHour);
  ChannelThreadStats s = Stats();
  const ResponseHistogram& team = s.response[static_cast<int>(Responder::kCommunityTeam)];
  EXPECT_EQ(team.count, 1u);
  EXPECT_EQ(team.buckets[BucketOf(7200)], 1u);
  EXPECT_EQ(BucketOf(7200), 5u);  // (3600, 7200]: bounds are inclusive
  EXPECT_EQ(s.response[static_cast<int>(Responder::kBrand)].count, 0u);
}

TEST_F(ThreadsTest, PeerAnswerIsTheFirstResponseAndLeavesTheThreadOpen) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("own", "q1", ActorRole::kMember, kT0 + kMinute, "ann"));  // the opener
  Apply(Reply("a1", "q1", ActorRole::kMember, kT0 + 2 * kMinute, "bob"));
  Apply(Reply("a2", "q1", ActorRole::kMember, kT0 + 5 * kMinute, "cy"));
  Advance(kT0 + 5 * kMinute);
  ChannelThreadStats s = Stats();
  EXPECT_EQ(s.open, 4);  // q1 and the three comments
  EXPECT_EQ(s.first_response[static_cast<int>(Responder::kMember)].count, 1u);
  EXPECT_DOUBLE_EQ(s.first_response[static_cast<int>(Responder::kMember)].sum, 120.0);
  // Answers are comments by members: they open threads of their own.
  EXPECT_EQ(s.opened[kComment], 3u);
  Apply(Reply("t1", "q1", ActorRole::kCommunityTeam, kT0 + 3 * kHour));
  Advance(kT0 + 3 * kHour);
  s = Stats();
  EXPECT_EQ(s.response[static_cast<int>(Responder::kCommunityTeam)].count, 1u);
  EXPECT_DOUBLE_EQ(s.response[static_cast<int>(Responder::kCommunityTeam)].sum, 10800.0);
  // The team's reply closed it but was not its first response.
  EXPECT_EQ(s.first_response[static_cast<int>(Responder::kCommunityTeam)].count, 0u);
  EXPECT_EQ(s.first_response[static_cast<int>(Responder::kMember)].count, 1u);
}

TEST_F(ThreadsTest, EarlierReplyReadLaterStillCountsFirst) {
  // The brand's reply (10 min) is read before a peer's (2 min) and the
  // team's (5 min) that came on slower partitions: event time decides.
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("r1", "q1", ActorRole::kBrand, kT0 + 10 * kMinute));
  Apply(Reply("a1", "q1", ActorRole::kMember, kT0 + 2 * kMinute, "bob"));
  Apply(Reply("t1", "q1", ActorRole::kCommunityTeam, kT0 + 5 * kMinute));
  Advance(kT0 + 3 * kMinute);  // the peer's answer is final, the thread still open
  EXPECT_EQ(S().first_response[static_cast<int>(Responder::kMember)].count, 1u);
  EXPECT_EQ(S().open, 2);  // q1 and bob's answer
  Advance(kT0 + 15 * kMinute);
  ChannelThreadStats s = Stats();
  EXPECT_EQ(s.response[static_cast<int>(Responder::kCommunityTeam)].count, 1u);
  EXPECT_DOUBLE_EQ(s.response[static_cast<int>(Responder::kCommunityTeam)].sum, 300.0);
  EXPECT_EQ(s.response[static_cast<int>(Responder::kBrand)].count, 0u);
  EXPECT_EQ(s.first_response[static_cast<int>(Responder::kBrand)].count, 0u);
  // Once counted, a reply read behind the watermark changes nothing.
  Apply(Reply("a0", "q1", ActorRole::kMember, kT0 + kMinute, "cy"));
  Advance(kT0 + 20 * kMinute);
  EXPECT_EQ(S().first_response[static_cast<int>(Responder::kMember)].count, 1u);
}

TEST_F(ThreadsTest, WhatIsAlreadyBehindTheWatermarkSettlesAtOnce) {
  // The watermark will not move again (the input ended); a waiting reply
  // matched now, and a thread opened past its horizon, must not hang.
  Apply(Reply("r1", "q1", ActorRole::kBrand, kT0 + kMinute), 1);
  Advance(kT0 + 30 * kMinute);
  Apply(Question("q1", "ann", kT0));
  EXPECT_EQ(S().response[static_cast<int>(Responder::kBrand)].count, 1u);
  EXPECT_EQ(S().open, 0);
  Advance(kT0 + 8 * kDay);
  Apply(Question("q2", "bob", kT0 + 12 * kHour));
  EXPECT_EQ(S().unanswered[kForumPost], 1u);
  EXPECT_EQ(S().open, 0);
}

TEST_F(ThreadsTest, RepliesThatOpenThreadsKeepTheirFirstResponsesApart) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("a1", "q1", ActorRole::kMember, kT0 + 10 * kMinute, "bob"));  // bob's answer
  Apply(Reply("c1", "a1", ActorRole::kMember, kT0 + 15 * kMinute, "cy"));   // cy on the answer
  Advance(kT0 + kHour);
  ChannelThreadStats s = Stats();
  const int member = static_cast<int>(Responder::kMember);
  EXPECT_EQ(s.first_response[member].count, 1u);  // the question: 600 s
  EXPECT_DOUBLE_EQ(s.first_response[member].sum, 600.0);
  EXPECT_EQ(s.reply_first_response[member].count, 1u);  // the answer: 300 s
  EXPECT_DOUBLE_EQ(s.reply_first_response[member].sum, 300.0);
}

TEST_F(ThreadsTest, UnansweredThreadExpiresExactlyAtTheHorizon) {
  Apply(Question("q1", "ann", kT0));
  Advance(kT0 + 7 * kDay - Millis(1));
  EXPECT_EQ(S().unanswered[kForumPost], 0u);
  EXPECT_EQ(S().open, 1);
  Advance(kT0 + 7 * kDay);
  ChannelThreadStats s = Stats();
  EXPECT_EQ(s.unanswered[kForumPost], 1u);
  EXPECT_EQ(s.unresponded[kForumPost], 1u);  // nobody at all answered
  EXPECT_EQ(s.open, 0);
  ASSERT_EQ(updates_.size(), 2u);
  EXPECT_EQ(updates_[1].kind, ThreadUpdate::Kind::kExpired);
  EXPECT_EQ(updates_[1].at, kT0 + 7 * kDay);
  EXPECT_EQ(openers_[1], "ann");
}

TEST_F(ThreadsTest, ReplyAfterTheHorizonDoesNotAnswerEvenBeforeTheWatermarkGetsThere) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("late", "q1", ActorRole::kBrand, kT0 + 7 * kDay + kSecond));
  EXPECT_EQ(S().response[static_cast<int>(Responder::kBrand)].count, 0u);
  Advance(kT0 + 7 * kDay);
  EXPECT_EQ(S().unanswered[kForumPost], 1u);
}

TEST_F(ThreadsTest, ReplyToAnUnknownEventWaitsThenCountsAsUnmatched) {
  Apply(Reply("r1", "nowhere", ActorRole::kBrand, kT0));
  EXPECT_EQ(threads_.waiting_replies(), 1u);
  Advance(kT0 + kHour - Millis(1));
  EXPECT_EQ(threads_.waiting_replies(), 1u);
  Advance(kT0 + kHour);
  EXPECT_EQ(threads_.waiting_replies(), 0u);
  EXPECT_EQ(S().unmatched_replies, 1u);
  // Once the watermark is past its wait, a reply is unmatched at once.
  Apply(Reply("r2", "nowhere", ActorRole::kBrand, kT0));
  EXPECT_EQ(threads_.waiting_replies(), 0u);
  EXPECT_EQ(S().unmatched_replies, 2u);
}

TEST_F(ThreadsTest, ReplyReadBeforeItsThreadGivesTheSameResultAsInOrder) {
  std::vector<Ev> in_order = {Question("q1", "ann", kT0),
                              Reply("a1", "q1", ActorRole::kMember, kT0 + kMinute, "bob"),
                              Reply("r1", "q1", ActorRole::kBrand, kT0 + 30 * kMinute)};
  Threads expected;
  for (const Ev& e : in_order) expected.Apply(0, e.view(), [](const ThreadUpdate&) {});
  // The replies came on partition 1, ahead of partition 0, brand first.
  Apply(in_order[2], 1);
  Apply(in_order[1], 1);
  Apply(in_order[0], 0);
  EXPECT_EQ(threads_.waiting_replies(), 0u);
  expected.AdvanceWatermark(kT0 + kHour, [](const ThreadUpdate&) {});
  Advance(kT0 + kHour);
  EXPECT_EQ(Stats(), Stats(expected));
  EXPECT_EQ(S().first_response[static_cast<int>(Responder::kMember)].count, 1u);
}

TEST_F(ThreadsTest, ReplyStampedBeforeItsThreadCountsAsZeroSeconds) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("r1", "q1", ActorRole::kBrand, kT0 - kMinute));
  Advance(kT0);
  const ResponseHistogram& h = S().response[static_cast<int>(Responder::kBrand)];
  EXPECT_EQ(h.count, 1u);
  EXPECT_DOUBLE_EQ(h.sum, 0.0);
  EXPECT_EQ(h.buckets[0], 1u);
}

TEST_F(ThreadsTest, OnlyMemberMessagesOpenThreads) {
  Apply(Ev{.id = "p", .t = kT0, .kind = EventKind::kPostPublished, .role = ActorRole::kBrand});
  Apply(Ev{.id = "x", .member = "ann", .t = kT0, .kind = EventKind::kReaction});
  Apply(Ev{.id = "m", .member = "ann", .t = kT0, .kind = EventKind::kMention});
  Apply(Ev{.id = "d", .member = "ann", .t = kT0, .kind = EventKind::kDirectMessage});
  Apply(Ev{.id = "b", .t = kT0, .kind = EventKind::kComment, .role = ActorRole::kBrand});
  EXPECT_EQ(threads_.open_threads(), 2u);
  EXPECT_EQ(S().opened, (std::array<uint64_t, kThreadKindCount>{0, 1, 0, 1}));
}

TEST_F(ThreadsTest, RestoredStateContinuesLikeAnUninterruptedRun) {
  std::vector<Ev> first = {Question("q1", "ann", kT0), Question("q2", "bob", kT0 + kMinute),
                           Reply("a1", "q1", ActorRole::kMember, kT0 + 2 * kMinute, "cy"),
                           Reply("w1", "q9", ActorRole::kBrand, kT0 + 3 * kMinute)};
  std::vector<Ev> second = {Reply("r1", "q1", ActorRole::kBrand, kT0 + 10 * kMinute),
                            Question("q9", "dee", kT0 + 4 * kMinute)};
  Threads uninterrupted;
  auto ignore = [](const ThreadUpdate&) {};
  for (const Ev& e : first) uninterrupted.Apply(0, e.view(), ignore);
  for (const Ev& e : second) uninterrupted.Apply(0, e.view(), ignore);
  uninterrupted.AdvanceWatermark(kT0 + 8 * kDay, ignore);

  for (const Ev& e : first) Apply(e);
  Mutations drained;
  threads_.DrainDirty(drained);
  Threads restored;
  for (const Mutation& m : drained) {
    ASSERT_EQ(m.op, Mutation::Op::kPut);
    ASSERT_TRUE(restored.Restore(m.key, m.value));
  }
  EXPECT_EQ(restored.open_threads(), 3u);  // q1, q2, a1
  EXPECT_EQ(restored.waiting_replies(), 1u);
  for (const Ev& e : second) restored.Apply(0, e.view(), ignore);
  restored.AdvanceWatermark(kT0 + 8 * kDay, ignore);
  EXPECT_EQ(Stats(restored), Stats(uninterrupted));
  EXPECT_EQ(restored.open_threads(), 0u);

  // What closed after the restore is deleted from the store.
  Mutations after;
  restored.DrainDirty(after);
  size_t deletes = 0;
  for (const Mutation& m : after) deletes += m.op == Mutation::Op::kDelete;
  EXPECT_EQ(deletes, 4u);  // q1, q2, a1 and the waiting reply w1
}

TEST_F(ThreadsTest, MalformedEntriesAreRejected) {
  Threads t;
  std::string key;
  AppendPartitionPrefix(key, 0);
  EXPECT_FALSE(t.Restore(key + "t", "x"));
  EXPECT_FALSE(t.Restore(key + "s", "\x05"));
  EXPECT_FALSE(t.Restore(key + "c", ""));  // no channel id
  EXPECT_FALSE(t.Restore(key + "cforum:acme", "\x05"));
  EXPECT_FALSE(t.Restore(key + "q", ""));
}

// The keys of a partition's per-channel counters written by a drain.
std::vector<std::string> CounterKeys(const Mutations& drained) {
  std::vector<std::string> keys;
  for (const Mutation& m : drained) {
    if (m.op == Mutation::Op::kPut && m.key[4] == 'c') keys.push_back(m.key.substr(5));
  }
  return keys;
}

TEST_F(ThreadsTest, ADrainRewritesOnlyTheChannelsThatChanged) {
  Apply(Question("q1", "ann", kT0));
  Ev other = Question("q2", "bob", kT0);
  other.channel = "forum:other";
  Apply(other);
  Mutations first;
  threads_.DrainDirty(first);
  EXPECT_EQ(CounterKeys(first), (std::vector<std::string>{"forum:acme", "forum:other"}));
  Apply(Question("q3", "cy", kT0 + kMinute));
  Mutations second;
  threads_.DrainDirty(second);
  EXPECT_EQ(CounterKeys(second), std::vector<std::string>{"forum:acme"});
  Mutations idle;
  threads_.DrainDirty(idle);
  EXPECT_TRUE(idle.empty());
}

// The keys of the threads a drain writes.
std::set<std::string> ThreadKeys(const Mutations& drained) {
  std::set<std::string> keys;
  for (const Mutation& m : drained) {
    if (m.op == Mutation::Op::kPut && m.key[4] == 't') {
      EXPECT_TRUE(keys.insert(m.key).second);
    }
  }
  return keys;
}

// A drain finds changed threads by a pass over the table when many of them
// changed, and one by one otherwise; either way each is written once, and
// what was written restores to the same state.
TEST_F(ThreadsTest, ADrainWritesEachChangedThreadOnceWhicheverWayItFindsThem) {
  Threads restored;
  auto restore = [&](const Mutations& drained) {
    for (const Mutation& m : drained) {
      if (m.op == Mutation::Op::kPut) {
        ASSERT_TRUE(restored.Restore(m.key, m.value));
      } else {
        ASSERT_EQ(m.op, Mutation::Op::kDelete);  // nothing of this test was closed
      }
    }
  };
  for (int i = 0; i < 40; ++i) {
    Apply(Question("q" + std::to_string(i), "m" + std::to_string(i), kT0 + i * kMinute));
  }
  Mutations all;  // every thread changed: the pass
  threads_.DrainDirty(all);
  const std::set<std::string> opened = ThreadKeys(all);
  EXPECT_EQ(opened.size(), 40u);
  restore(all);

  // Two answers by a peer: two threads change and two open, 4 of 42.
  Apply(Reply("a0", "q0", ActorRole::kMember, kT0 + kHour, "cy"));
  Apply(Reply("a1", "q7", ActorRole::kMember, kT0 + kHour, "cy"));
  Mutations few;  // one by one
  threads_.DrainDirty(few);
  const std::set<std::string> changed = ThreadKeys(few);
  EXPECT_EQ(changed.size(), 4u);
  size_t known = 0;
  for (const std::string& k : changed) known += opened.count(k);
  EXPECT_EQ(known, 2u);  // q0 and q7 again, under the keys they had
  restore(few);

  // Seven more: 14 of 49, the pass again, which must skip the other 35.
  for (int i = 10; i < 17; ++i) {
    Apply(Reply("b" + std::to_string(i), "q" + std::to_string(i), ActorRole::kMember,
                kT0 + 2 * kHour, "dee"));
  }
  Mutations more;
  threads_.DrainDirty(more);
  const std::set<std::string> again = ThreadKeys(more);
  EXPECT_EQ(again.size(), 14u);
  known = 0;
  for (const std::string& k : again) known += opened.count(k);
  EXPECT_EQ(known, 7u);
  restore(more);

  Mutations idle;
  threads_.DrainDirty(idle);
  EXPECT_TRUE(ThreadKeys(idle).empty());
  EXPECT_EQ(restored.open_threads(), threads_.open_threads());
  auto ignore = [](const ThreadUpdate&) {};
  Advance(kT0 + 8 * kDay);
  restored.AdvanceWatermark(kT0 + 8 * kDay, ignore);
  EXPECT_EQ(Stats(restored), Stats());
}

// State written before counters had a key per channel: one 's' value per
// partition, (count, then each channel's id and counters). It restores to
// the same counters and moves to per-channel keys at the next drain.
TEST_F(ThreadsTest, APartitionsCountersInOneValueAreStillRead) {
  Apply(Question("q1", "ann", kT0));
  Apply(Reply("r1", "q1", ActorRole::kBrand, kT0 + kMinute));
  threads_.AdvanceWatermark(kT0 + kDay, [](const ThreadUpdate&) {});
  Mutations drained;
  threads_.DrainDirty(drained);
  std::string legacy;
  PutVarint(legacy, 1);
  PutLengthPrefixed(legacy, "forum:acme");
  std::string prefix;
  AppendPartitionPrefix(prefix, 0);
  Threads restored;
  for (const Mutation& m : drained) {
    if (m.key == prefix + "cforum:acme") {
      legacy += m.value;
    } else {
      ASSERT_TRUE(restored.Restore(m.key, m.value));
    }
  }
  ASSERT_TRUE(restored.Restore(prefix + "s", legacy));
  EXPECT_EQ(Stats(restored), S());
  Mutations moved;
  restored.DrainDirty(moved);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].op, Mutation::Op::kDelete);
  EXPECT_EQ(moved[0].key, prefix + "s");
  EXPECT_EQ(CounterKeys(moved), std::vector<std::string>{"forum:acme"});
}

TEST_F(ThreadsTest, DroppingAPartitionForgetsItsThreadsAndCounters) {
  Apply(Question("q1", "ann", kT0), 0);
  Apply(Question("q2", "bob", kT0), 1);
  threads_.DropPartition(0);
  EXPECT_EQ(threads_.open_threads(), 1u);
  EXPECT_EQ(S().opened[kForumPost], 1u);
}

TEST_F(ThreadsTest, MembersMentionsAreCountedBySentimentBand) {
  auto mention = [](std::string id, std::optional<float> sentiment) {
    Ev e{.id = std::move(id), .member = "ann", .t = kT0, .kind = EventKind::kMention};
    Event v = e.view();
    if (sentiment) {
      v.has_sentiment = true;
      v.sentiment = *sentiment;
    }
    return std::pair{std::move(e), v};
  };
  for (auto [id, s] : std::vector<std::pair<std::string, std::optional<float>>>{
           {"a", -0.9f}, {"b", -0.25f}, {"c", 0.0f}, {"d", 0.25f}, {"e", 0.3f}, {"f", {}}}) {
    auto [owner, v] = mention(id, s);
    v.event_id = owner.id;
    v.member_id = owner.member;
    v.channel_id = owner.channel;
    threads_.Apply(0, v, [](const ThreadUpdate&) {});
  }
  // Bounds are neutral: -0.25 and 0.25 are neither negative nor positive.
  EXPECT_EQ(S().mentions_by_band, (std::array<uint64_t, 4>{1, 3, 1, 1}));
}

}  // namespace
}  // namespace chorus::ops
