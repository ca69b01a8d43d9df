#include "stackexchange_lifecycle.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <limits>
#include <optional>
#include <set>

namespace chorus::testing::lifecycle {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNewPeriod = 7 * kDay;
constexpr int64_t kAtRiskAfter = 7 * kDay;
constexpr int64_t kLapsedAfter = 28 * kDay;
constexpr int64_t kChurnedAfter = 180 * kDay;
constexpr int64_t kDemotionGrace = 7 * kDay;
constexpr int kRegularDaysPerWeek = 2;
constexpr int kRegularWeeks = 3;
constexpr int kChampionDays = 30;
constexpr int kChampionWindow = 90;

int64_t DayOf(int64_t t) { return t >= 0 ? t / kDay : -((-t + kDay - 1) / kDay); }

bool Engaged(Stage s) { return s == Stage::kRegular || s == Stage::kChampion; }
bool Inactive(Stage s) {
  return s == Stage::kAtRisk || s == Stage::kLapsed || s == Stage::kChurned;
}

class Member {
 public:
  explicit Member(const Options& options) : options_(options) {}

  void Record(int64_t t) {
    first_ = std::min(first_, t);
    last_ = std::max(last_, t);
    days_.insert(DayOf(t));
  }

  // The stage at T; `event` when T is one of the member's activities.
  void Evaluate(int64_t t, bool event, std::vector<Change>& changes) {
    const Stage before = stage_;
    const int64_t quiet = t - last_;
    if (quiet >= kChurnedAfter) {
      stage_ = Stage::kChurned;
    } else if (quiet >= kLapsedAfter) {
      stage_ = Stage::kLapsed;
    } else if (was_engaged_ && quiet >= kAtRiskAfter) {
      stage_ = Stage::kAtRisk;
    } else {
      const Stage q = Qualifies(t);
      if (Engaged(stage_)) {
        if (q >= stage_) {
          // Back at (or above) its stage: no demotion; a higher one is a promotion.
          pending_.reset();
          stage_ = q;
        } else {
          if (!pending_) pending_ = t;
          if (t - *pending_ >= kDemotionGrace) {
            stage_ = q;
            pending_.reset();
          }
        }
      } else if (Engaged(q) && !event && !options_.promote_without_event && !Inactive(stage_)) {
        // A promotion waits for the member's own event.
      } else {
        // new/active follow what they qualify for; an inactive member is
        // evaluated below its thresholds only at its own event: it returns.
        stage_ = q;
      }
    }
    if (!Engaged(stage_)) pending_.reset();
    if (stage_ == Stage::kLapsed || stage_ == Stage::kChurned) was_engaged_ = false;
    if (Engaged(stage_)) was_engaged_ = true;
    if (stage_ != before) changes.push_back({t, before, stage_});
  }

  // The earliest time after `now` at which an evaluation could find a
  // different stage without an event: the next UTC day boundary or threshold.
  int64_t NextCheck(int64_t now) const {
    int64_t next = (DayOf(now) + 1) * kDay;
    auto consider = [&](int64_t t) {
      if (t > now) next = std::min(next, t);
    };
    consider(last_ + kAtRiskAfter);
    consider(last_ + kLapsedAfter);
    consider(last_ + kChurnedAfter);
    consider(first_ + kNewPeriod);
    if (pending_) consider(*pending_ + kDemotionGrace);
    return next;
  }

  Stage stage() const { return stage_; }

 private:
  int ActiveDays(int64_t lo, int64_t hi) const {
    return static_cast<int>(std::distance(days_.lower_bound(lo), days_.upper_bound(hi)));
  }

  // The activity stage the member qualifies for at T (no sentiment: champion
  // needs the active days only).
  Stage Qualifies(int64_t t) const {
    const int64_t d = DayOf(t);
    if (ActiveDays(d - (kChampionWindow - 1), d) >= kChampionDays) return Stage::kChampion;
    int weeks = 0;
    for (int w = 0; w < 4; ++w) {
      weeks += ActiveDays(d - 7 * w - 6, d - 7 * w) >= kRegularDaysPerWeek;
    }
    if (weeks >= kRegularWeeks) return Stage::kRegular;
    if (t - first_ < kNewPeriod) return Stage::kNew;
    return Stage::kActive;
  }

  const Options& options_;
  int64_t first_ = std::numeric_limits<int64_t>::max();
  int64_t last_ = std::numeric_limits<int64_t>::min();
  std::set<int64_t> days_;
  Stage stage_ = Stage::kNew;
  std::optional<int64_t> pending_;  // first evaluation that found it below its stage
  bool was_engaged_ = false;        // regular or champion since last lapsing
};

}  // namespace

Result Evaluate(std::vector<int64_t> times, int64_t until, const Options& options) {
  Result r;
  if (times.empty()) return r;
  std::sort(times.begin(), times.end());
  const int64_t horizon = std::max(until, times.back());
  Member m(options);
  size_t i = 0;
  int64_t now = times.front();
  auto apply = [&] {
    // Every activity at `now`, then one evaluation.
    for (; i < times.size() && times[i] == now; ++i) m.Record(now);
    m.Evaluate(now, /*event=*/true, r.changes);
  };
  apply();
  while (true) {
    const int64_t next_event = i < times.size() ? times[i] : std::numeric_limits<int64_t>::max();
    const int64_t check = m.NextCheck(now);
    // A timer due at an event's time fires first (chorus catches the member
    // up before applying the event).
    if (check <= next_event && check <= horizon) {
      now = check;
      m.Evaluate(now, /*event=*/false, r.changes);
    } else if (i < times.size()) {
      now = next_event;
      apply();
    } else {
      break;
    }
  }
  r.stage = m.stage();
  return r;
}

std::string Iso(int64_t ms) {
  const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms - secs * 1000));
  return out;
}

}  // namespace chorus::testing::lifecycle
