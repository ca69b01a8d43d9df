// The community manager's view: per-member engagement state and lifecycle.
//
// A member is a person acting with actor_role MEMBER and a member_id; brand
// and community-team actors are not members. A member's state lives with the
// input partition that carries the member's records (producers key by
// member). Everything here runs on event time; the watermark fires timers.
//
// Activity is any member action except IMPRESSION, FOLLOWER_COUNT and
// MODERATION_ACTION (the first two are brand-level counts, the last is done
// to a member, not by them).
//
// Love score: Σ weight(kind) · 2^(−age / half_life), kept as a value and its
// reference time (the member's latest scored event time), so the result does
// not depend on arrival order. Sentiment: a decayed average over scored
// events, numerator and denominator decayed alike. Active days: a bitmap of
// the last 128 UTC days.
//
// Stages, evaluated at an event time T (priority order):
//   churned  — nothing for more than churned_after (180 d);
//   lapsed   — nothing for more than lapsed_after (28 d);
//   at_risk  — was regular or champion since last lapsing, nothing for at
//              least at_risk_after (7 d);
//   champion — >= champion_active_days (30) active days in the last
//              champion_window_days (90), decayed sentiment >= 0 (or none);
//   regular  — >= regular_days_per_week (2) active days in at least
//              regular_weeks (3) of the last 4 seven-day blocks ending at T;
//   new      — first seen new_period (7 d) ago or less;
//   active   — anything else (activity within the last 30 days).
// Promotion is immediate. A demotion from champion or regular to a lower
// activity stage (regular, active) takes effect only once the lower stage
// has held for demotion_grace (7 d); inactivity stages (at_risk, lapsed,
// churned) take effect exactly at their thresholds, which are their grace.
//
// Event-time timers: each member has one next-evaluation time (the next
// threshold or day boundary at which its stage could change without a new
// event). AdvanceWatermark fires due timers in (due time, key) order; Apply
// first catches the member up to the event's time, so the result is the
// same whether a timer fired before the event arrived or not. Transitions
// are stamped with the exact threshold time, not the watermark.
//
// Not thread-safe: owned by the processing thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/state.h"

namespace chorus::ops {

enum class Stage : uint8_t { kNew = 0, kActive, kRegular, kChampion, kAtRisk, kLapsed, kChurned };
inline constexpr int kStageCount = 7;
std::string_view Name(Stage s);  // "new", "active", "regular", "champion", "at_risk", "lapsed", "churned"

struct MemberOptions {
  Millis love_half_life = 30 * kDay;
  Millis sentiment_half_life = 14 * kDay;
  // Love weight by EventKind; kinds not listed weigh 0.
  std::array<double, kEventKindCount> weights = DefaultWeights();
  Millis new_period = 7 * kDay;
  Millis at_risk_after = 7 * kDay;
  Millis lapsed_after = 28 * kDay;
  Millis churned_after = 180 * kDay;
  int regular_days_per_week = 2;
  int regular_weeks = 3;
  int champion_active_days = 30;
  int champion_window_days = 90;
  double champion_min_sentiment = 0.0;
  Millis demotion_grace = 7 * kDay;

  // FORUM_POST 3, COMMENT 2, SHARE 2, MENTION 1.5, DIRECT_MESSAGE 1,
  // FOLLOW 1, REACTION 0.5, CONTRIBUTION 3, EVENT_ATTENDED 5.
  static std::array<double, kEventKindCount> DefaultWeights();
};

// One member's state; encodes to well under 200 bytes.
struct MemberState {
  EventTime first_seen;
  EventTime last_seen;  // latest activity
  double love = 0;      // at love_ref
  EventTime love_ref;
  double sentiment_num = 0;  // decayed Σ sentiment, at sentiment_ref
  double sentiment_den = 0;  // decayed Σ 1, at sentiment_ref
  EventTime sentiment_ref;
  std::array<uint64_t, 2> active_days{};  // bit i: day (active_days_end − i)
  int64_t active_days_end = 0;            // UTC day index of bit 0
  Stage stage = Stage::kNew;
  EventTime stage_since;
  EventTime demotion_pending_since = EventTime::Min();  // Min: none pending
  bool was_engaged = false;  // reached regular or champion since last lapsing
  EventTime next_timer = EventTime::Max();  // Max: none
  uint64_t events = 0;  // lifetime member actions

  // Decayed values at event time `t`.
  double LoveAt(EventTime t, Millis half_life) const;
  std::optional<double> SentimentAt(EventTime t, Millis half_life) const;
  // Active days within the `days` days ending at (and including) day `day`.
  int ActiveDaysIn(int64_t day, int days) const;
};

struct StageTransition {
  std::string_view member_id;
  Stage from;
  Stage to;
  EventTime at;
};

// Per-partition aggregates, exported as metrics (no member ids).
struct MemberSummary {
  std::array<int64_t, kStageCount> members_by_stage{};
  std::array<std::array<uint64_t, kStageCount>, kStageCount> transitions{};  // [from][to]
  uint64_t new_members = 0;
  // Per-event sentiment histogram over scored member events: bucket i counts
  // sentiments <= kSentimentBounds[i]; the last bucket is +Inf.
  std::array<uint64_t, 11> sentiment_buckets{};
  double sentiment_sum = 0;
  uint64_t sentiment_count = 0;

  void Add(const MemberSummary& o);
};
inline constexpr std::array<double, 10> kSentimentBounds = {-0.8, -0.6, -0.4, -0.2, 0.0,
                                                            0.2,  0.4,  0.6,  0.8,  1.0};

class MemberEngagement {
 public:
  using TransitionSink = std::function<void(const StageTransition&)>;

  explicit MemberEngagement(MemberOptions options = {});

  // Applies a validated, deduplicated event read from `partition`. Events
  // that are not member actions are ignored. Late events update state too.
  void Apply(int32_t partition, const Event& e, const TransitionSink& sink);

  // Fires every member timer due at or before `watermark`.
  void AdvanceWatermark(EventTime watermark, const TransitionSink& sink);

  const MemberState* Find(int32_t partition, std::string_view member_id) const;
  MemberSummary Summary() const;  // merged over partitions
  size_t member_count() const;
  const MemberOptions& options() const { return options_; }

  // Love-score distribution at event time `at`: count of members with a
  // decayed score <= each bound, plus the total count and sum.
  struct LoveDistribution {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // same size as bounds
    uint64_t count = 0;
    double sum = 0;
  };
  LoveDistribution LoveScores(EventTime at, const std::vector<double>& bounds) const;

  // Persistence (see state.h).
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);
  void DropPartition(int32_t partition);

 private:
  struct Partition;
  MemberOptions options_;
  std::map<int32_t, std::unique_ptr<Partition>> partitions_;
};

}  // namespace chorus::ops
