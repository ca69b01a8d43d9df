// MemberEngagement: lifecycle timelines with hand-worked exact times, timer
// catch-up, and the decayed scores.
#include "chorus/operators/member_engagement.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "unit/operators/member_test_util.h"

namespace chorus::ops {
namespace {

using member_test::Day;
using member_test::kT0;
using member_test::MemberEvent;
using member_test::Scored;

struct Seen {
  std::string member;
  Stage from;
  Stage to;
  EventTime at;
  bool operator==(const Seen&) const = default;
};

// Readable failures: times as days after kT0.
void PrintTo(const Seen& s, std::ostream* os) {
  *os << s.member << " " << Name(s.from) << "->" << Name(s.to) << " @day "
      << static_cast<double>((s.at - kT0).count()) / static_cast<double>(kDay.count());
}

// Records transitions and checks the stage counts after every call.
class Harness {
 public:
  explicit Harness(MemberOptions o = {}) : engine(o) {}
  void Apply(const Event& e, int32_t partition = 0) {
    engine.Apply(partition, e, sink());
    CheckCounts();
  }
  void Advance(EventTime w) {
    engine.AdvanceWatermark(w, sink());
    CheckCounts();
  }
  void CheckCounts() const {
    const MemberSummary s = engine.Summary();
    const int64_t total =
        std::accumulate(s.members_by_stage.begin(), s.members_by_stage.end(), int64_t{0});
    EXPECT_EQ(total, static_cast<int64_t>(engine.member_count()));
  }
  Stage StageOf(std::string_view member) const { return engine.Find(0, member)->stage; }
  std::vector<Seen> Take() { return std::exchange(seen, {}); }

  MemberEngagement engine;
  std::vector<Seen> seen;

 private:
  MemberEngagement::TransitionSink sink() {
    return [this](const StageTransition& t) {
      seen.push_back({std::string(t.member_id), t.from, t.to, t.at});
    };
  }
};

// Days 0, 1, 8, 9, 15, 16 make 2 active days in each of the blocks ending
// day 16 ([10,16], [3,9], [-4,2]); then daily activity from day 17 brings
// the 30th active day on day 40.
void BuildChampion(Harness& h, std::string_view member) {
  for (int d : {0, 1, 8, 9, 15, 16}) h.Apply(MemberEvent(member, Day(d)));
  for (int d = 17; d <= 40; ++d) h.Apply(MemberEvent(member, Day(d)));
}

TEST(MemberLifecycle, NewActiveRegularChampionAtExactTimes) {
  Harness h;
  h.Apply(MemberEvent("ann", Day(0)));
  EXPECT_EQ(h.StageOf("ann"), Stage::kNew);
  EXPECT_EQ(h.engine.Summary().new_members, 1u);

  h.Advance(Day(7) - Millis(1));
  EXPECT_EQ(h.Take(), std::vector<Seen>{}) << "still new until first_seen + 7 d";
  h.Advance(Day(7));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"ann", Stage::kNew, Stage::kActive, Day(7)}}));

  for (int d : {1, 8, 9, 15}) h.Apply(MemberEvent("ann", Day(d)));
  EXPECT_EQ(h.StageOf("ann"), Stage::kActive) << "two qualifying weeks are not enough";
  h.Apply(MemberEvent("ann", Day(16)));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"ann", Stage::kActive, Stage::kRegular, Day(16)}}));

  for (int d = 17; d <= 39; ++d) h.Apply(MemberEvent("ann", Day(d)));
  EXPECT_EQ(h.engine.Find(0, "ann")->ActiveDaysIn(DayIndex(Day(39)), 90), 29);
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  h.Apply(MemberEvent("ann", Day(40)));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"ann", Stage::kRegular, Stage::kChampion, Day(40)}}));
  const MemberState* s = h.engine.Find(0, "ann");
  EXPECT_TRUE(s->was_engaged);
  EXPECT_EQ(s->stage_since, Day(40));
  EXPECT_EQ(s->first_seen, Day(0));
  EXPECT_EQ(s->last_seen, Day(40));
  EXPECT_EQ(s->events, 30u);
  const MemberSummary sum = h.engine.Summary();
  EXPECT_EQ(sum.members_by_stage[static_cast<int>(Stage::kChampion)], 1);
  EXPECT_EQ(sum.transitions[static_cast<int>(Stage::kNew)][static_cast<int>(Stage::kActive)], 1u);
}

TEST(MemberLifecycle, NegativeSentimentBlocksChampion) {
  Harness h;
  for (int d : {0, 1, 8, 9, 15, 16}) h.Apply(MemberEvent("bo", Day(d)));
  for (int d = 17; d <= 38; ++d) h.Apply(MemberEvent("bo", Day(d)));
  h.Apply(Scored("bo", Day(39), -0.5f));
  h.Apply(MemberEvent("bo", Day(40)));
  EXPECT_EQ(h.StageOf("bo"), Stage::kRegular) << "30 active days but sentiment < 0";
  h.Take();
  // num = −0.5·2^(−2/14) + 1, den = 2^(−2/14) + 1: the average turns positive.
  h.Apply(Scored("bo", Day(41), 1.0f));
  const double f = std::exp2(-2.0 / 14.0);
  EXPECT_DOUBLE_EQ(*h.engine.Find(0, "bo")->SentimentAt(Day(41), 14 * kDay),
                   (-0.5 * f + 1) / (f + 1));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"bo", Stage::kRegular, Stage::kChampion, Day(41)}}));
}

TEST(MemberLifecycle, QuietChampionGoesAtRiskLapsedChurnedThenReturns) {
  Harness h;
  BuildChampion(h, "cy");
  h.Take();
  const EventTime last = Day(40);
  h.Advance(last + 7 * kDay - Millis(1));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  EXPECT_EQ(h.StageOf("cy"), Stage::kChampion);
  h.Advance(last + 7 * kDay);  // no event: the timer moves the member
  EXPECT_EQ(h.Take(),
            (std::vector<Seen>{{"cy", Stage::kChampion, Stage::kAtRisk, last + 7 * kDay}}));
  h.Advance(last + 28 * kDay);
  EXPECT_EQ(h.Take(),
            (std::vector<Seen>{{"cy", Stage::kAtRisk, Stage::kLapsed, last + 28 * kDay}}));
  EXPECT_FALSE(h.engine.Find(0, "cy")->was_engaged);
  h.Advance(last + 180 * kDay - Millis(1));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  h.Advance(last + 180 * kDay);
  EXPECT_EQ(h.Take(),
            (std::vector<Seen>{{"cy", Stage::kLapsed, Stage::kChurned, last + 180 * kDay}}));
  EXPECT_EQ(h.engine.Find(0, "cy")->next_timer, EventTime::Max());

  const EventTime back = last + 200 * kDay + 5 * kMinute;
  h.Apply(MemberEvent("cy", back));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"cy", Stage::kChurned, Stage::kActive, back}}));
  EXPECT_EQ(h.engine.Find(0, "cy")->stage_since, back);
}

TEST(MemberLifecycle, WatermarkJumpReplaysEveryThresholdInOrder) {
  Harness h;
  BuildChampion(h, "di");
  h.Apply(MemberEvent("ed", Day(40) + kHour));  // a new member alongside
  h.Take();
  const EventTime last = Day(40);
  h.Advance(last + 400 * kDay);
  EXPECT_EQ(h.Take(), (std::vector<Seen>{
                          {"di", Stage::kChampion, Stage::kAtRisk, last + 7 * kDay},
                          {"ed", Stage::kNew, Stage::kActive, last + kHour + 7 * kDay},
                          {"di", Stage::kAtRisk, Stage::kLapsed, last + 28 * kDay},
                          {"ed", Stage::kActive, Stage::kLapsed, last + kHour + 28 * kDay},
                          {"di", Stage::kLapsed, Stage::kChurned, last + 180 * kDay},
                          {"ed", Stage::kLapsed, Stage::kChurned, last + kHour + 180 * kDay},
                      }));
}

TEST(MemberLifecycle, ChampionDemotionWaitsOutTheGrace) {
  Harness h;
  BuildChampion(h, "fay");
  h.Take();
  // Sentiment −1 makes the raw stage regular from this event on.
  h.Apply(Scored("fay", Day(41), -1.0f));
  for (int d = 42; d <= 47; ++d) h.Apply(MemberEvent("fay", Day(d)));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  const MemberState* s = h.engine.Find(0, "fay");
  EXPECT_EQ(s->stage, Stage::kChampion);
  EXPECT_EQ(s->demotion_pending_since, Day(41));
  h.Advance(Day(48) - Millis(1));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  h.Advance(Day(48));
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"fay", Stage::kChampion, Stage::kRegular, Day(48)}}));
  EXPECT_EQ(h.engine.Find(0, "fay")->demotion_pending_since, EventTime::Min());
}

TEST(MemberLifecycle, DemotionCancelledWhenBackWithinTheGrace) {
  Harness h;
  BuildChampion(h, "gus");
  h.Take();
  h.Apply(Scored("gus", Day(41), -1.0f));
  h.Apply(Scored("gus", Day(43), 1.0f));
  h.Apply(Scored("gus", Day(44), 1.0f));  // average back above 0
  EXPECT_EQ(h.engine.Find(0, "gus")->demotion_pending_since, EventTime::Min());
  h.Advance(Day(50));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  EXPECT_EQ(h.StageOf("gus"), Stage::kChampion);
}

TEST(MemberLifecycle, RegularFallsToActiveAfterGraceWhileStillActive) {
  Harness h;
  for (int d = 0; d <= 20; ++d) h.Apply(MemberEvent("hal", Day(d)));
  // Regular from day 15: blocks [9,15], [2,8], [-5,1] hold 7, 7, 2 days.
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"hal", Stage::kNew, Stage::kActive, Day(7)},
                                         {"hal", Stage::kActive, Stage::kRegular, Day(15)}}));
  // Then one active day a week. At day 33 the blocks [27,33], [20,26],
  // [13,19], [6,12] hold 1, 1, 7, 7 days: two weeks, so raw is active.
  // (Each a little under 7 days after the previous: exactly 7 would be at
  // risk at that instant.)
  h.Apply(MemberEvent("hal", Day(27) - kHour));
  h.Apply(MemberEvent("hal", Day(34) - 2 * kHour));
  const EventTime pending = kT0 + 33 * kDay;
  EXPECT_EQ(h.engine.Find(0, "hal")->demotion_pending_since, pending);
  EXPECT_EQ(h.StageOf("hal"), Stage::kRegular);
  h.Advance(pending + 7 * kDay - Millis(1));
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
  h.Advance(pending + 7 * kDay);
  EXPECT_EQ(h.Take(),
            (std::vector<Seen>{{"hal", Stage::kRegular, Stage::kActive, pending + 7 * kDay}}));
  // Was regular, now quiet: at risk 7 days after its last event.
  h.Advance(Day(41));
  EXPECT_EQ(h.Take(),
            (std::vector<Seen>{{"hal", Stage::kActive, Stage::kAtRisk, Day(41) - 2 * kHour}}));
}

TEST(MemberLifecycle, ActiveNeverEngagedSkipsAtRisk) {
  Harness h;
  h.Apply(MemberEvent("ivy", Day(0)));
  h.Advance(Day(0) + 28 * kDay);
  EXPECT_EQ(h.Take(), (std::vector<Seen>{{"ivy", Stage::kNew, Stage::kActive, Day(7)},
                                         {"ivy", Stage::kActive, Stage::kLapsed, Day(28)}}));
}

// The same events give the same final state and the same transitions
// whether the watermark fired timers before a later event or the event
// caught the member up itself.
TEST(MemberLifecycle, CatchUpEquivalence) {
  auto run = [](bool advance_between) {
    Harness h;
    BuildChampion(h, "jo");
    h.Apply(MemberEvent("kim", Day(3)));
    if (advance_between) {
      for (int d = 41; d <= 90; d += 3) h.Advance(Day(d));
    }
    h.Apply(MemberEvent("jo", Day(90)));
    h.Apply(MemberEvent("kim", Day(95)));
    h.Advance(Day(400));
    return h;
  };
  Harness ha = run(true);
  Harness hb = run(false);
  // Per member the same transitions at the same times; across members the
  // delivery order differs, as catch-up fires only the event's member.
  auto of = [](const std::vector<Seen>& all, std::string_view m) {
    std::vector<Seen> mine;
    for (const Seen& s : all) {
      if (s.member == m) mine.push_back(s);
    }
    return mine;
  };
  EXPECT_EQ(of(ha.seen, "jo"), of(hb.seen, "jo"));
  EXPECT_EQ(of(ha.seen, "kim"), of(hb.seen, "kim"));
  // Back at day 90, the 90-day window still holds days 1..40 plus day 90:
  // 30 active days, so the lapsed member returns straight to champion.
  EXPECT_EQ(of(ha.seen, "jo"), (std::vector<Seen>{
                                   {"jo", Stage::kNew, Stage::kActive, Day(7)},
                                   {"jo", Stage::kActive, Stage::kRegular, Day(16)},
                                   {"jo", Stage::kRegular, Stage::kChampion, Day(40)},
                                   {"jo", Stage::kChampion, Stage::kAtRisk, Day(47)},
                                   {"jo", Stage::kAtRisk, Stage::kLapsed, Day(68)},
                                   {"jo", Stage::kLapsed, Stage::kChampion, Day(90)},
                                   {"jo", Stage::kChampion, Stage::kAtRisk, Day(97)},
                                   {"jo", Stage::kAtRisk, Stage::kLapsed, Day(118)},
                                   {"jo", Stage::kLapsed, Stage::kChurned, Day(270)},
                               }));
  const MemberEngagement& a = ha.engine;
  const MemberEngagement& b = hb.engine;
  for (std::string_view m : {"jo", "kim"}) {
    const MemberState& x = *a.Find(0, m);
    const MemberState& y = *b.Find(0, m);
    EXPECT_EQ(x.stage, y.stage);
    EXPECT_EQ(x.stage_since, y.stage_since);
    EXPECT_EQ(x.evaluated_at, y.evaluated_at);
    EXPECT_EQ(x.next_timer, y.next_timer);
    EXPECT_EQ(x.was_engaged, y.was_engaged);
    EXPECT_EQ(x.love, y.love);
  }
  EXPECT_EQ(a.Summary().transitions, b.Summary().transitions);
  EXPECT_EQ(a.Summary().members_by_stage, b.Summary().members_by_stage);
}

TEST(MemberLifecycle, LateEventIsJudgedAtTheMemberClock) {
  Harness h;
  h.Apply(MemberEvent("lou", Day(0)));
  h.Advance(Day(10));
  h.Take();
  h.Apply(MemberEvent("lou", Day(-5)));  // arrives late, before first_seen
  const MemberState* s = h.engine.Find(0, "lou");
  EXPECT_EQ(s->first_seen, Day(-5));
  EXPECT_EQ(s->evaluated_at, Day(7)) << "its new-period timer fired at day 7";
  EXPECT_EQ(s->stage_since, Day(7));
  EXPECT_EQ(s->ActiveDaysIn(DayIndex(Day(0)), 6), 2);
  EXPECT_EQ(h.Take(), std::vector<Seen>{});
}

TEST(MemberEngagementInput, NonMemberAndNonActivityEventsAreIgnored) {
  Harness h;
  Event brand = MemberEvent("acme", Day(0));
  brand.actor_role = ActorRole::kBrand;
  Event team = MemberEvent("cm-sue", Day(0));
  team.actor_role = ActorRole::kCommunityTeam;
  Event anonymous = MemberEvent("", Day(0));
  Event unknown_role = MemberEvent("x", Day(0));
  unknown_role.actor_role = ActorRole::kUnspecified;
  for (const Event& e : {brand, team, anonymous, unknown_role}) h.Apply(e);
  for (EventKind k :
       {EventKind::kImpression, EventKind::kFollowerCount, EventKind::kModerationAction,
        EventKind::kUnspecified, static_cast<EventKind>(200)}) {
    h.Apply(MemberEvent("x", Day(0), k));
  }
  EXPECT_EQ(h.engine.member_count(), 0u);
  EXPECT_EQ(h.engine.Summary().new_members, 0u);
  EXPECT_EQ(h.engine.Find(0, "x"), nullptr);
  h.Apply(MemberEvent("x", Day(0), EventKind::kMemberJoined));
  EXPECT_EQ(h.engine.member_count(), 1u);
  EXPECT_EQ(h.engine.Find(0, "x")->love, 0.0) << "MEMBER_JOINED is activity with weight 0";
}

TEST(MemberScores, LoveDecayIsOrderInvariant) {
  const Millis h = 30 * kDay;
  MemberEngagement in_order, reversed;
  const Event a = MemberEvent("m", Day(0), EventKind::kComment);     // weight 2
  const Event b = MemberEvent("m", Day(30), EventKind::kForumPost);  // weight 3
  in_order.Apply(0, a, nullptr);
  in_order.Apply(0, b, nullptr);
  reversed.Apply(0, b, nullptr);
  reversed.Apply(0, a, nullptr);
  for (const MemberEngagement* e : {&in_order, &reversed}) {
    const MemberState& s = *e->Find(0, "m");
    EXPECT_DOUBLE_EQ(s.LoveAt(Day(30), h), 2 * 0.5 + 3);
    EXPECT_DOUBLE_EQ(s.LoveAt(Day(60), h), 2.0);
    EXPECT_EQ(s.love_ref, Day(30));
    EXPECT_EQ(s.first_seen, Day(0));
    EXPECT_EQ(s.last_seen, Day(30));
  }
}

TEST(MemberScores, SentimentIsADecayedAverage) {
  MemberEngagement in_order, reversed;
  const Event a = Scored("m", Day(0), 1.0f);
  const Event b = Scored("m", Day(14), -1.0f);
  in_order.Apply(0, a, nullptr);
  in_order.Apply(0, b, nullptr);
  reversed.Apply(0, b, nullptr);
  reversed.Apply(0, a, nullptr);
  for (const MemberEngagement* e : {&in_order, &reversed}) {
    // (1·0.5 − 1) / (0.5 + 1)
    EXPECT_DOUBLE_EQ(*e->Find(0, "m")->SentimentAt(Day(14), 14 * kDay), -1.0 / 3.0);
  }
  EXPECT_FALSE(MemberState{}.SentimentAt(Day(0), 14 * kDay).has_value());
}

TEST(MemberScores, SentimentHistogramBuckets) {
  MemberEngagement e;
  for (float v : {-1.0f, -0.8f, -0.79f, 0.0f, 0.2f, 0.21f, 1.0f, 3.0f}) {
    e.Apply(0, Scored("m", Day(0), v), nullptr);
  }
  Event nan = Scored("m", Day(0), std::nanf(""));
  e.Apply(0, nan, nullptr);
  e.Apply(0, MemberEvent("m", Day(0)), nullptr);  // unscored
  const MemberSummary s = e.Summary();
  EXPECT_EQ(s.sentiment_buckets, (std::array<uint64_t, 11>{2, 1, 0, 0, 1, 1, 1, 0, 0, 2, 0}));
  EXPECT_EQ(s.sentiment_count, 8u);
  EXPECT_NEAR(s.sentiment_sum, -1 - 0.8 - 0.79 + 0 + 0.2 + 0.21 + 1 + 1, 1e-6);
}

TEST(MemberScores, ActiveDayBitmapKeeps128Days) {
  MemberEngagement e;
  e.Apply(0, MemberEvent("m", Day(200)), nullptr);
  e.Apply(0, MemberEvent("m", Day(200 - 127)), nullptr);  // oldest day kept
  e.Apply(0, MemberEvent("m", Day(200 - 128)), nullptr);  // too old for the bitmap
  const MemberState& s = *e.Find(0, "m");
  EXPECT_EQ(s.ActiveDaysIn(DayIndex(Day(200)), 128), 2);
  EXPECT_EQ(s.events, 3u);
  e.Apply(0, MemberEvent("m", Day(264)), nullptr);  // shifts by 64 days
  EXPECT_EQ(s.ActiveDaysIn(DayIndex(Day(264)), 128), 2);
  EXPECT_EQ(s.ActiveDaysIn(DayIndex(Day(200)), 1), 1);
  EXPECT_EQ(s.ActiveDaysIn(DayIndex(Day(264)) + 3, 4), 1) << "days after the newest are empty";
}

TEST(MemberScores, StageCountsAlwaysSumToMembers) {
  Harness h;
  uint64_t x = 42;
  const std::string names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  for (int step = 0; step < 3000; ++step) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int day = static_cast<int>((step / 10) + (x >> 60)) % 400;
    h.Apply(MemberEvent(names[(x >> 33) % 8], Day(day) + Millis((x >> 20) % 1000)));
    if (step % 50 == 0) h.Advance(Day(step / 10 - 3));
  }
  h.Advance(Day(1000));
  const MemberSummary s = h.engine.Summary();
  // Each stage count is what flowed in minus what flowed out.
  for (int st = 0; st < kStageCount; ++st) {
    int64_t flow = st == static_cast<int>(Stage::kNew) ? static_cast<int64_t>(s.new_members) : 0;
    for (int o = 0; o < kStageCount; ++o) {
      flow +=
          static_cast<int64_t>(s.transitions[o][st]) - static_cast<int64_t>(s.transitions[st][o]);
    }
    EXPECT_EQ(flow, s.members_by_stage[st]) << Name(static_cast<Stage>(st));
  }
  EXPECT_EQ(s.members_by_stage[static_cast<int>(Stage::kChurned)], 8);
}

TEST(MemberScores, LoveDistributionAtQueryTime) {
  MemberEngagement e;
  const EventTime t = Day(0);
  e.Apply(0, MemberEvent("one", t, EventKind::kFollow), nullptr);   // 1
  e.Apply(0, MemberEvent("two", t, EventKind::kComment), nullptr);  // 2
  e.Apply(1, MemberEvent("four", t, EventKind::kComment), nullptr);
  e.Apply(1, MemberEvent("four", t, EventKind::kComment), nullptr);  // 4
  e.Apply(1, MemberEvent("eight", t, EventKind::kEventAttended), nullptr);
  e.Apply(1, MemberEvent("eight", t, EventKind::kForumPost), nullptr);    // 8
  e.Apply(0, MemberEvent("zero", t, EventKind::kMemberJoined), nullptr);  // never scored

  auto d = e.LoveScores(t, {-1, 0, 1, 2, 3, 4, 8, 16});
  EXPECT_EQ(d.cumulative, (std::vector<uint64_t>{0, 1, 2, 3, 3, 4, 5, 5}));
  EXPECT_EQ(d.count, 5u);
  EXPECT_NEAR(d.sum, 15.0, 1e-9);

  // One half-life later every score has halved.
  d = e.LoveScores(t + 30 * kDay, {0.5, 1, 2, 4});
  EXPECT_EQ(d.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_NEAR(d.sum, 7.5, 1e-9);

  // A new score moves the member between buckets: 1·0.5 + 5 = 5.5.
  e.Apply(0, MemberEvent("one", t + 30 * kDay, EventKind::kEventAttended), nullptr);
  d = e.LoveScores(t + 30 * kDay, {1, 4, 5, 6});
  EXPECT_EQ(d.cumulative, (std::vector<uint64_t>{2, 4, 4, 5}));
  EXPECT_NEAR(d.sum, 12.5, 1e-9);
  // Bounds need not be sorted; +Inf counts everyone.
  d = e.LoveScores(t + 30 * kDay, {std::numeric_limits<double>::infinity(), 1});
  EXPECT_EQ(d.cumulative, (std::vector<uint64_t>{5, 2}));
}

}  // namespace
// The distribution is kept per bucket of 1/32 octave as members move
// between buckets; it must agree with the members' own scores to within a
// bucket, whatever the order of their events (new low buckets open below
// the others) and whenever drains drop the empty ones.
TEST(MemberScores, LoveDistributionAgreesWithEveryMembersScore) {
  MemberEngagement e;
  const Millis half_life = MemberOptions{}.love_half_life;
  std::mt19937 rng(11);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  constexpr std::array kKinds = {EventKind::kFollow, EventKind::kComment, EventKind::kForumPost,
                                 EventKind::kEventAttended};
  std::vector<int> last_day(60, -1);  // each member's events in time order
  const double bucket = std::exp2(1.0 / 32);
  for (int step = 0; step < 2000; ++step) {
    const int m = uniform(0, static_cast<int>(last_day.size()) - 1);
    last_day[m] = std::max(last_day[m], uniform(0, 400));
    e.Apply(m % 3,
            MemberEvent("m" + std::to_string(m), Day(last_day[m]),
                        kKinds[static_cast<size_t>(uniform(0, 3))]),
            nullptr);
    if (uniform(0, 9) == 0) {
      Mutations out;
      e.DrainDirty(out);
    }
    if (step % 100 != 99) continue;
    const EventTime at = Day(420);
    const std::vector<double> bounds = {1e-6, 1e-4, 0.01, 0.1, 0.5, 1, 3, 10};
    const auto d = e.LoveScores(at, bounds);
    for (size_t b = 0; b < bounds.size(); ++b) {
      uint64_t surely = 0, maybe = 0;  // at most bound / bucket, at most bound · bucket
      for (size_t m = 0; m < last_day.size(); ++m) {
        const MemberState* state = e.Find(static_cast<int32_t>(m % 3), "m" + std::to_string(m));
        if (state == nullptr) continue;
        const double love = state->LoveAt(at, half_life);
        surely += love <= bounds[b] / bucket ? 1 : 0;
        maybe += love <= bounds[b] * bucket ? 1 : 0;
      }
      ASSERT_GE(d.cumulative[b], surely) << "step " << step << " bound " << bounds[b];
      ASSERT_LE(d.cumulative[b], maybe) << "step " << step << " bound " << bounds[b];
    }
  }
}

}  // namespace chorus::ops
