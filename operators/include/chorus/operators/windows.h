// Event-time tumbling windows and the lateness rule.
//
// A window of size S covers [start, start + S) with start a multiple of S
// since the epoch (UTC, so day windows are calendar days in UTC). With
// watermark W and allowed lateness L:
//   - a window *fires* (its first result) once W >= end;
//   - it stays updatable until W >= end + L, then it is *closed*: final,
//     and its state is dropped;
//   - an event at time t is *late* when t < W − L. A late event updates no
//     window (all of its windows may be closed) but still counts in
//     lifetime totals. An event that is not late always finds every one of
//     its windows still open, because end > t >= W − L.
#pragma once

#include <array>
#include <string_view>

#include "chorus/operators/time.h"

namespace chorus::ops {

struct WindowSpec {
  Millis size;
  std::string_view name;  // label value: "1m", "1h", "1d"
};

inline constexpr std::array<WindowSpec, 3> kWindowSpecs = {{
    {kMinute, "1m"},
    {kHour, "1h"},
    {kDay, "1d"},
}};
inline constexpr int kWindowSpecCount = static_cast<int>(kWindowSpecs.size());

struct WindowOptions {
  Millis allowed_lateness = kHour;
};

constexpr EventTime WindowStart(EventTime t, Millis size) {
  return EventTime::FromMillis(FloorDiv(t.millis(), size.count()) * size.count());
}

constexpr bool IsLate(EventTime t, EventTime watermark, Millis lateness) {
  return watermark != EventTime::Min() && t < watermark - lateness;
}

constexpr bool HasFired(EventTime window_end, EventTime watermark) {
  return watermark >= window_end;
}

constexpr bool IsClosed(EventTime window_end, EventTime watermark, Millis lateness) {
  return watermark != EventTime::Min() && watermark >= window_end + lateness;
}

}  // namespace chorus::ops
