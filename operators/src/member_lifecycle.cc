// The lifecycle rules: which stage a member qualifies for at a time, how
// promotion and the demotion grace apply, and when to look again.

#include <algorithm>

#include "chorus/operators/member_engagement.h"
#include "member_internal.h"

namespace chorus::ops::member_internal {
namespace {

constexpr int kRegularBlocks = 4;  // "in N of the last 4 weeks"
constexpr int kBitmapDays = 128;

bool IsInactive(Stage s) {
  return s == Stage::kAtRisk || s == Stage::kLapsed || s == Stage::kChurned;
}

// Among activity stages: new and active rank alike, then regular, champion.
int ActivityRank(Stage s) {
  switch (s) {
    case Stage::kRegular:
      return 1;
    case Stage::kChampion:
      return 2;
    default:
      return 0;
  }
}

bool IsChampion(const MemberState& s, int64_t day, const MemberOptions& o) {
  const int window = std::clamp(o.champion_window_days, 1, kBitmapDays);
  if (s.ActiveDaysIn(day, window) < o.champion_active_days) return false;
  const std::optional<double> sentiment = s.SentimentAt(EventTime::Max(), o.sentiment_half_life);
  return !sentiment || *sentiment >= o.champion_min_sentiment;
}

bool IsRegular(const MemberState& s, int64_t day, const MemberOptions& o) {
  int weeks = 0;
  for (int block = 0; block < kRegularBlocks; ++block) {
    if (s.ActiveDaysIn(day - 7 * block, 7) >= o.regular_days_per_week) ++weeks;
  }
  return weeks >= o.regular_weeks;
}

}  // namespace

Stage RawStage(const MemberState& s, EventTime t, const MemberOptions& o) {
  const Millis quiet = t - s.last_seen;
  if (quiet >= o.churned_after) return Stage::kChurned;
  if (quiet >= o.lapsed_after) return Stage::kLapsed;
  if (s.was_engaged && quiet >= o.at_risk_after) return Stage::kAtRisk;
  const int64_t day = DayIndex(t);
  if (IsChampion(s, day, o)) return Stage::kChampion;
  if (IsRegular(s, day, o)) return Stage::kRegular;
  if (t - s.first_seen < o.new_period) return Stage::kNew;
  return Stage::kActive;
}

StageDecision Decide(const MemberState& s, Stage raw, EventTime t, bool on_event,
                     const MemberOptions& o) {
  constexpr EventTime kNone = EventTime::Min();
  // Inactivity thresholds are their own grace, and leaving inactivity
  // (only an event can) is a promotion.
  if (IsInactive(raw) || IsInactive(s.stage)) return {raw, kNone};
  if (ActivityRank(raw) < ActivityRank(s.stage)) {
    // Below regular or champion: wait out the grace from the first time
    // the member was found below, then take the stage it has now.
    const EventTime since = s.demotion_pending_since == kNone ? t : s.demotion_pending_since;
    if (t - since >= o.demotion_grace) return {raw, kNone};
    return {s.stage, since};
  }
  if (!on_event && ActivityRank(raw) > ActivityRank(s.stage)) {
    // A timer never promotes (a day boundary can realign the regular weeks,
    // but promotion is decided at the member's own activity); new still
    // ends on time.
    const bool still_new = s.stage == Stage::kNew && t - s.first_seen < o.new_period;
    return {s.stage == Stage::kNew && !still_new ? Stage::kActive : s.stage, kNone};
  }
  return {raw, kNone};
}

EventTime NextDue(const MemberState& s, EventTime t, const MemberOptions& o) {
  EventTime next = EventTime::Max();
  auto consider = [&](EventTime c) {
    if (c > t && c < next) next = c;
  };
  if (s.was_engaged) consider(s.last_seen + o.at_risk_after);
  consider(s.last_seen + o.lapsed_after);
  consider(s.last_seen + o.churned_after);
  consider(s.first_seen + o.new_period);
  // Regular and champion rest on the bitmap, which ages at each UTC day
  // boundary; a pending demotion is always one of these stages.
  if (s.stage == Stage::kRegular || s.stage == Stage::kChampion) {
    consider(EventTime::FromMillis((DayIndex(t) + 1) * kDay.count()));
  }
  if (s.demotion_pending_since != EventTime::Min()) {
    consider(s.demotion_pending_since + o.demotion_grace);
  }
  return next;
}

}  // namespace chorus::ops::member_internal
