// MemberEngagement's relationship fields: open threads, welcome, reach,
// brand interactions, influencers and the members' sentiment distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "chorus/operators/member_engagement.h"
#include "unit/operators/member_test_util.h"

namespace chorus::ops {
namespace {

using member_test::Day;
using member_test::kT0;
using member_test::MemberEvent;
using member_test::Scored;

class MemberRelationsTest : public ::testing::Test {
 protected:
  void Apply(const Event& e) { engine_.Apply(0, e, nullptr); }
  void Thread(ThreadUpdate::Kind kind, std::string_view opener, EventTime opened, EventTime at,
              Responder responder = Responder::kBrand, bool closed = true) {
    engine_.OnThread(ThreadUpdate{.kind = kind,
                                  .partition = 0,
                                  .opener = opener,
                                  .opened_at = opened,
                                  .at = at,
                                  .responder = responder,
                                  .closed = closed,
                                  .first_response = true});
  }
  const MemberState& Ann() const { return *engine_.Find(0, "ann"); }

  MemberEngagement engine_;
};

TEST_F(MemberRelationsTest, OpenThreadsFollowTheirThreads) {
  Apply(MemberEvent("ann", Day(0)));
  Thread(ThreadUpdate::Kind::kOpened, "ann", Day(0), Day(0));
  Thread(ThreadUpdate::Kind::kOpened, "ann", Day(0), Day(0));
  EXPECT_EQ(Ann().open_threads, 2);
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(0), Day(0) + kMinute, Responder::kMember,
         /*closed=*/false);
  EXPECT_EQ(Ann().open_threads, 2);  // a peer's answer closes nothing
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(0), Day(0) + kHour);
  Thread(ThreadUpdate::Kind::kExpired, "ann", Day(0), Day(7));
  EXPECT_EQ(Ann().open_threads, 0);
  // Unknown members are ignored rather than created.
  Thread(ThreadUpdate::Kind::kOpened, "nobody", Day(0), Day(0));
  EXPECT_EQ(engine_.member_count(), 1u);
}

TEST_F(MemberRelationsTest, WelcomeIsTheFirstTeamReplyToANewMembersThreadOnce) {
  Apply(MemberEvent("ann", Day(0)));
  Thread(ThreadUpdate::Kind::kOpened, "ann", Day(0), Day(0));
  // The brand answering is not the team welcoming.
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(0), Day(0) + kHour, Responder::kBrand);
  EXPECT_EQ(engine_.Summary().welcome.count, 0u);
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(1), Day(1) + 2 * kHour,
         Responder::kCommunityTeam);
  MemberSummary s = engine_.Summary();
  ASSERT_EQ(s.welcome.count, 1u);
  // From her first activity (Day 0), not from the thread: 26 hours.
  EXPECT_DOUBLE_EQ(s.welcome.sum, 26 * 3600.0);
  EXPECT_TRUE(Ann().welcomed);
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(2), Day(2) + kHour, Responder::kCommunityTeam);
  EXPECT_EQ(engine_.Summary().welcome.count, 1u);
}

TEST_F(MemberRelationsTest, ThreadOpenedAfterTheNewPeriodWelcomesNobody) {
  Apply(MemberEvent("ann", Day(0)));
  Apply(MemberEvent("ann", Day(10)));
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(10), Day(10) + kHour,
         Responder::kCommunityTeam);
  EXPECT_EQ(engine_.Summary().welcome.count, 0u);
  EXPECT_TRUE(Ann().welcomed);  // and never will be counted later
}

TEST_F(MemberRelationsTest, ReachIsTheLargestSeenAndMakesAnInfluencer) {
  Event e = MemberEvent("ann", Day(0));
  e.member_reach = 50'000;
  Apply(e);
  e.member_reach = 20;
  e.occurred_at = Day(1);
  Apply(e);
  EXPECT_EQ(Ann().reach, 50'000u);
  MemberSummary s = engine_.Summary();
  EXPECT_EQ(s.influencers_by_stage[static_cast<size_t>(Stage::kNew)], 1);
  // The influencer moves with the member's stage.
  engine_.AdvanceWatermark(Day(40), nullptr);
  s = engine_.Summary();
  EXPECT_EQ(s.influencers_by_stage[static_cast<size_t>(Stage::kNew)], 0);
  EXPECT_EQ(s.influencers_by_stage[static_cast<size_t>(Stage::kLapsed)], 1);
}

TEST_F(MemberRelationsTest, BrandInteractionsDecayWithTheLoveHalfLife) {
  Apply(MemberEvent("ann", kT0, EventKind::kMention));
  Apply(MemberEvent("ann", kT0 + 30 * kDay, EventKind::kShare));
  // 1 · 2^-1 + 1 at the share, a half-life later.
  EXPECT_DOUBLE_EQ(Ann().BrandInteractionsAt(kT0 + 30 * kDay, 30 * kDay), 1.5);
  EXPECT_DOUBLE_EQ(Ann().BrandInteractionsAt(kT0 + 60 * kDay, 30 * kDay), 0.75);
  // A comment is not an interaction with the brand by itself.
  Apply(MemberEvent("ann", kT0 + 30 * kDay, EventKind::kComment));
  EXPECT_DOUBLE_EQ(Ann().BrandInteractionsAt(kT0 + 30 * kDay, 30 * kDay), 1.5);
}

TEST_F(MemberRelationsTest, MemberSentimentDistributionTracksEachMembersAverage) {
  Apply(Scored("ann", Day(0), 0.5f));
  Apply(Scored("bob", Day(0), -0.9f));
  Apply(MemberEvent("cy", Day(0)));  // never scored: not in the distribution
  MemberSummary s = engine_.Summary();
  int64_t members = 0;
  for (int64_t n : s.member_sentiment_buckets) members += n;
  EXPECT_EQ(members, 2);
  EXPECT_EQ(s.member_sentiment_buckets[0], 1);  // (-inf, -0.8]
  EXPECT_EQ(s.member_sentiment_buckets[7], 1);  // (0.4, 0.6]
  EXPECT_NEAR(s.member_sentiment_sum, -0.4, 1e-6);
  // Ann's second score moves her, not adds her again: (0.5 + 0.1) / 2 = 0.3.
  Apply(Scored("ann", Day(0), 0.1f));
  s = engine_.Summary();
  EXPECT_EQ(s.member_sentiment_buckets[7], 0);
  EXPECT_EQ(s.member_sentiment_buckets[6], 1);  // (0.2, 0.4]
}

TEST_F(MemberRelationsTest, RelationsSurviveARestoreAndRebuildTheDerivedCounts) {
  Event e = Scored("ann", Day(0), 0.5f);
  e.member_reach = 12'000;
  Apply(e);
  Thread(ThreadUpdate::Kind::kOpened, "ann", Day(0), Day(0));
  Thread(ThreadUpdate::Kind::kOpened, "ann", Day(0), Day(0));
  Thread(ThreadUpdate::Kind::kResponded, "ann", Day(0), Day(0) + kHour, Responder::kCommunityTeam);
  Mutations out;
  engine_.DrainDirty(out);
  MemberEngagement restored;
  for (const Mutation& m : out) ASSERT_TRUE(restored.Restore(m.key, m.value));
  const MemberState& r = *restored.Find(0, "ann");
  EXPECT_EQ(r.reach, 12'000u);
  EXPECT_EQ(r.open_threads, 1);
  EXPECT_TRUE(r.welcomed);
  EXPECT_EQ(r.brand_interactions, Ann().brand_interactions);
  EXPECT_EQ(r.brand_ref, Ann().brand_ref);
  MemberSummary a = engine_.Summary(), b = restored.Summary();
  EXPECT_EQ(b.welcome, a.welcome);
  EXPECT_EQ(b.influencers_by_stage, a.influencers_by_stage);
  EXPECT_EQ(b.member_sentiment_buckets, a.member_sentiment_buckets);
  EXPECT_EQ(b.welcome.count, 1u);
}

}  // namespace
}  // namespace chorus::ops
