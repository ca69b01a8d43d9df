// The test's own member lifecycle, written from the rules in DESIGN.md
// ("Member lifecycle") and member_engagement.h, with no chorus code: each
// member's history is replayed and its stage evaluated at every activity,
// every UTC day boundary and every threshold instant (7, 28 and 180 days
// after the latest activity, 7 days after the first, 7 days after a
// pending demotion began). Members here have no sentiment, so champion's
// sentiment condition always holds.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace chorus::testing::lifecycle {

// In chorus's order: new, active, regular, champion, at_risk, lapsed, churned.
enum class Stage { kNew, kActive, kRegular, kChampion, kAtRisk, kLapsed, kChurned };
inline constexpr int kStages = 7;
inline constexpr std::array<const char*, kStages> kStageNames = {
    "new", "active", "regular", "champion", "at_risk", "lapsed", "churned"};

struct Options {
  // Whether an evaluation without an event (a day boundary) may raise a
  // member from new or active to regular. member_engagement.h promotes only
  // at the member's own event ("raising a stage needs new activity"), the
  // default here; yet the weeks slide with T's day, so a day boundary alone
  // can bring two active days into one week and qualify a quiet member for
  // regular. On the dump the stage counts at the watermark are the same
  // either way; 30 members' histories (and the transition counts) differ.
  bool promote_without_event = false;
};

// One evaluation that changed the stage, for explaining a disagreement.
struct Change {
  int64_t at;  // ms since the epoch
  Stage from;
  Stage to;
};

struct Result {
  Stage stage = Stage::kNew;
  std::vector<Change> changes;
};

// The stage of a member whose activities happened at `times` (ms since the
// epoch, any order, at least one), evaluated up to `until`: every activity
// is applied (even one after `until`, as chorus applies every event it
// reads), and timers (day boundaries, thresholds) fire up to
// max(until, the latest activity).
Result Evaluate(std::vector<int64_t> times, int64_t until, const Options& options = {});

// "2024-05-01T12:00:00.000" for messages.
std::string Iso(int64_t ms);

}  // namespace chorus::testing::lifecycle
