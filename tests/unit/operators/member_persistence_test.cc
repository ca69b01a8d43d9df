// MemberEngagement persistence: what DrainDirty emits, that Restore rebuilds
// an engine that behaves like the original, and the size of a member.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chorus/operators/member_engagement.h"
#include "chorus/operators/state.h"
#include "unit/operators/member_test_util.h"

namespace chorus::ops {
namespace {

using member_test::Day;
using member_test::MemberEvent;
using member_test::Scored;

using Store = std::map<std::string, std::string>;

void DrainInto(MemberEngagement& e, Store& store) {
  Mutations out;
  e.DrainDirty(out);
  for (Mutation& m : out) {
    ASSERT_EQ(m.op, Mutation::Op::kPut);
    store[m.key] = m.value;
  }
}

std::string MemberKey(int32_t partition, std::string_view id) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back('m');
  key.append(id);
  return key;
}

std::string SummaryKey(int32_t partition) {
  std::string key;
  AppendPartitionPrefix(key, partition);
  key.push_back('s');
  return key;
}

void ExpectSameState(const MemberState& a, const MemberState& b) {
  EXPECT_EQ(a.first_seen, b.first_seen);
  EXPECT_EQ(a.last_seen, b.last_seen);
  EXPECT_EQ(a.love, b.love);
  if (a.love != 0) {
    EXPECT_EQ(a.love_ref, b.love_ref);
  }
  EXPECT_EQ(a.sentiment_num, b.sentiment_num);
  EXPECT_EQ(a.sentiment_den, b.sentiment_den);
  if (a.sentiment_den != 0) {
    EXPECT_EQ(a.sentiment_ref, b.sentiment_ref);
  }
  EXPECT_EQ(a.active_days, b.active_days);
  EXPECT_EQ(a.active_days_end, b.active_days_end);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.stage_since, b.stage_since);
  EXPECT_EQ(a.demotion_pending_since, b.demotion_pending_since);
  EXPECT_EQ(a.was_engaged, b.was_engaged);
  EXPECT_EQ(a.next_timer, b.next_timer);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.evaluated_at, b.evaluated_at);
}

void ExpectSameSummary(const MemberSummary& a, const MemberSummary& b) {
  EXPECT_EQ(a.members_by_stage, b.members_by_stage);
  EXPECT_EQ(a.transitions, b.transitions);
  EXPECT_EQ(a.new_members, b.new_members);
  EXPECT_EQ(a.sentiment_buckets, b.sentiment_buckets);
  EXPECT_EQ(a.sentiment_sum, b.sentiment_sum);
  EXPECT_EQ(a.sentiment_count, b.sentiment_count);
}

struct Fired {
  std::string member;
  Stage from, to;
  EventTime at;
  bool operator==(const Fired&) const = default;
};

std::vector<Fired> Advance(MemberEngagement& e, EventTime w) {
  std::vector<Fired> fired;
  e.AdvanceWatermark(w, [&](const StageTransition& t) {
    fired.push_back({std::string(t.member_id), t.from, t.to, t.at});
  });
  return fired;
}

// Champion "ann" with a pending demotion, "bob" regular with sentiment,
// "cy" new, "dee" lapsed, in partitions 0 and 3.
void Populate(MemberEngagement& e) {
  for (int d = 0; d <= 41; ++d) {
    e.Apply(0, d == 38 ? Scored("ann", Day(d), -0.5f) : MemberEvent("ann", Day(d)), nullptr);
  }
  for (int d = 10; d <= 41; d += 2) e.Apply(3, Scored("bob", Day(d), 0.25f), nullptr);
  e.Apply(3, MemberEvent("dee", Day(1), EventKind::kForumPost), nullptr);
  e.AdvanceWatermark(Day(41), nullptr);
  e.Apply(0, MemberEvent("cy", Day(41) + kHour, EventKind::kMemberJoined), nullptr);
}

const std::vector<std::pair<int32_t, std::string>> kMembers = {
    {0, "ann"}, {3, "bob"}, {0, "cy"}, {3, "dee"}};

TEST(MemberPersistence, RestoredEngineMatchesTheOriginal) {
  MemberEngagement original;
  Populate(original);
  Store store;
  DrainInto(original, store);
  ASSERT_EQ(store.size(), 6u) << "four members and two partition summaries";

  MemberEngagement forward, backward;
  for (const auto& [k, v] : store) ASSERT_TRUE(forward.Restore(k, v));
  for (auto it = store.rbegin(); it != store.rend(); ++it) {
    ASSERT_TRUE(backward.Restore(it->first, it->second));
  }
  for (MemberEngagement* restored : {&forward, &backward}) {
    ASSERT_EQ(restored->member_count(), original.member_count());
    for (const auto& [p, id] : kMembers) {
      SCOPED_TRACE(id);
      ASSERT_NE(restored->Find(p, id), nullptr);
      ExpectSameState(*original.Find(p, id), *restored->Find(p, id));
    }
    ExpectSameSummary(original.Summary(), restored->Summary());
    for (EventTime at : {Day(41), Day(100)}) {
      const std::vector<double> bounds = {0, 0.5, 1, 5, 10, 20, 50};
      const auto a = original.LoveScores(at, bounds);
      const auto b = restored->LoveScores(at, bounds);
      EXPECT_EQ(a.cumulative, b.cumulative);
      EXPECT_EQ(a.count, b.count);
      EXPECT_NEAR(a.sum, b.sum, 1e-9 * a.sum);
    }
    Mutations none;
    restored->DrainDirty(none);
    EXPECT_TRUE(none.empty()) << "restoring dirties nothing";
  }

  // The timers carry on alike: the pending demotion, the quiet thresholds.
  const std::vector<Fired> expected = Advance(original, Day(400));
  EXPECT_NE(std::find(expected.begin(), expected.end(),
                      Fired{"ann", Stage::kChampion, Stage::kRegular, Day(45)}),
            expected.end());
  EXPECT_EQ(Advance(forward, Day(400)), expected);
  EXPECT_EQ(Advance(backward, Day(400)), expected);
  ExpectSameSummary(original.Summary(), forward.Summary());
}

TEST(MemberPersistence, DrainEmitsEachChangedMemberOnce) {
  MemberEngagement e;
  for (std::string_view id : {"a", "b", "c"}) e.Apply(0, MemberEvent(id, Day(0)), nullptr);
  Store store;
  Mutations out;
  e.DrainDirty(out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].key, SummaryKey(0));
  std::vector<std::string> keys;
  for (const Mutation& m : out) keys.push_back(m.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{MemberKey(0, "a"), MemberKey(0, "b"), MemberKey(0, "c"),
                                            SummaryKey(0)}));

  out.clear();
  e.DrainDirty(out);
  EXPECT_TRUE(out.empty());

  // Two events for b, no new member and no transition: b alone.
  e.Apply(0, MemberEvent("b", Day(1)), nullptr);
  e.Apply(0, MemberEvent("b", Day(2)), nullptr);
  e.DrainDirty(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, MemberKey(0, "b"));

  // Timers: a and c leave new at day 7 (b was first seen on day 0 too).
  out.clear();
  EXPECT_EQ(Advance(e, Day(7)).size(), 3u);
  e.DrainDirty(out);
  EXPECT_EQ(out.size(), 4u);
}

TEST(MemberPersistence, BusyMemberEncodesUnder200Bytes) {
  MemberEngagement e;
  const std::string id = "discord:123456789012345678";  // a long platform id
  for (int d = 0; d <= 120; ++d) {
    for (int i = 0; i < 5; ++i) {
      e.Apply(7, Scored(id, Day(d) + i * kHour, i % 2 ? 0.7f : -0.3f), nullptr);
    }
  }
  for (int i = 0; i < 30; ++i) {
    e.Apply(7, Scored(id, Day(121), -1.0f), nullptr);  // average < 0: demotion pending
  }
  ASSERT_EQ(e.Find(7, id)->stage, Stage::kChampion);
  ASSERT_NE(e.Find(7, id)->demotion_pending_since, EventTime::Min());
  Mutations out;
  e.DrainDirty(out);
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].key, MemberKey(7, id));
  const size_t bytes = out[0].key.size() + out[0].value.size();
  RecordProperty("member_key_bytes", static_cast<int>(out[0].key.size()));
  RecordProperty("member_value_bytes", static_cast<int>(out[0].value.size()));
  EXPECT_LT(bytes, 200u);
  EXPECT_LT(out[0].value.size(), 100u);
}

TEST(MemberPersistence, RestoreRejectsMalformedEntries) {
  MemberEngagement source;
  source.Apply(0, Scored("m", Day(0), 0.5f), nullptr);
  Store store;
  DrainInto(source, store);
  const std::string value = store.at(MemberKey(0, "m"));
  const std::string summary = store.at(SummaryKey(0));

  MemberEngagement e;
  EXPECT_FALSE(e.Restore("abc", value)) << "shorter than the partition prefix";
  EXPECT_FALSE(e.Restore(MemberKey(0, ""), value)) << "no member id";
  std::string unknown = SummaryKey(0);
  unknown.back() = 'x';
  EXPECT_FALSE(e.Restore(unknown, value));
  EXPECT_FALSE(e.Restore(SummaryKey(0) + "extra", summary));
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(e.Restore(MemberKey(0, "m"), value.substr(0, n))) << "truncated to " << n;
  }
  EXPECT_FALSE(e.Restore(MemberKey(0, "m"), value + "x")) << "trailing bytes";
  std::string bad_version = value;
  bad_version[0] = 9;
  EXPECT_FALSE(e.Restore(MemberKey(0, "m"), bad_version));
  std::string bad_stage = value;
  bad_stage[1] = static_cast<char>(bad_stage[1] | 0x07);
  EXPECT_FALSE(e.Restore(MemberKey(0, "m"), bad_stage));
  EXPECT_FALSE(e.Restore(SummaryKey(0), summary.substr(0, summary.size() - 1)));
  EXPECT_EQ(e.member_count(), 0u);
  EXPECT_TRUE(e.Restore(MemberKey(0, "m"), value));
  EXPECT_TRUE(e.Restore(SummaryKey(0), summary));
  EXPECT_EQ(e.Summary().sentiment_count, 1u);
  EXPECT_EQ(e.Summary().members_by_stage[static_cast<int>(Stage::kNew)], 1);
}

TEST(MemberPersistence, DropPartitionForgetsItsMembersAndTimers) {
  MemberEngagement e;
  e.Apply(0, MemberEvent("keep", Day(0)), nullptr);
  e.Apply(1, MemberEvent("gone", Day(0), EventKind::kEventAttended), nullptr);
  e.Apply(1, MemberEvent("gone2", Day(0)), nullptr);
  e.DropPartition(1);
  EXPECT_EQ(e.member_count(), 1u);
  EXPECT_EQ(e.Find(1, "gone"), nullptr);
  EXPECT_EQ(e.Summary().new_members, 1u);
  const auto d = e.LoveScores(Day(0), {2, 5});
  EXPECT_EQ(d.cumulative, (std::vector<uint64_t>{1, 1}));
  EXPECT_NEAR(d.sum, 2.0, 1e-9);
  const std::vector<Fired> fired = Advance(e, Day(10));
  EXPECT_EQ(fired, (std::vector<Fired>{{"keep", Stage::kNew, Stage::kActive, Day(7)}}));
  // The partition can come back, empty, and fill again.
  e.Apply(1, MemberEvent("gone", Day(11)), nullptr);
  EXPECT_EQ(e.member_count(), 2u);
  EXPECT_EQ(e.Summary().new_members, 2u);
}

}  // namespace
}  // namespace chorus::ops
