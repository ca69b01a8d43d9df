// Time types for chorus's operators.
//
// Two clocks meet in a streaming pipeline and must never be mixed up:
// event time (when a thing happened, carried by the event) and processing
// time (when chorus looked at it, read from an injected Clock). Each has its
// own strong type; both count milliseconds since the Unix epoch. Durations
// are std::chrono::milliseconds for both.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <limits>

namespace chorus::ops {

using Millis = std::chrono::milliseconds;

inline constexpr Millis kSecond{1'000};
inline constexpr Millis kMinute{60'000};
inline constexpr Millis kHour{3'600'000};
inline constexpr Millis kDay{86'400'000};

// A strong millisecond timestamp; Tag keeps event and processing time apart.
template <typename Tag>
class Timestamp {
 public:
  constexpr Timestamp() = default;
  static constexpr Timestamp FromMillis(int64_t ms) { return Timestamp(ms); }
  static constexpr Timestamp Min() { return Timestamp(std::numeric_limits<int64_t>::min()); }
  static constexpr Timestamp Max() { return Timestamp(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t millis() const { return ms_; }
  constexpr double seconds() const { return static_cast<double>(ms_) / 1000.0; }

  constexpr auto operator<=>(const Timestamp&) const = default;
  constexpr Timestamp operator+(Millis d) const { return Timestamp(ms_ + d.count()); }
  constexpr Timestamp operator-(Millis d) const { return Timestamp(ms_ - d.count()); }
  constexpr Millis operator-(Timestamp o) const { return Millis(ms_ - o.ms_); }

 private:
  constexpr explicit Timestamp(int64_t ms) : ms_(ms) {}
  int64_t ms_ = 0;
};

struct EventTimeTag {};
struct ProcessingTimeTag {};

// When the event happened, by the event's own clock.
using EventTime = Timestamp<EventTimeTag>;
// When chorus handled it; comes only from an injected Clock.
using ProcessingTime = Timestamp<ProcessingTimeTag>;

// Floor division that is correct for times before the epoch.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Days since the epoch (UTC) containing `t`.
constexpr int64_t DayIndex(EventTime t) { return FloorDiv(t.millis(), kDay.count()); }

}  // namespace chorus::ops
