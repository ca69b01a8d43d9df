// Processing time comes from here and nowhere else, so tests and replays can
// control it. Event time comes from events.
#pragma once

#include "chorus/operators/time.h"

namespace chorus {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch; never goes backwards for a SystemClock.
  virtual ops::ProcessingTime Now() = 0;
};

// The real clock (wall time, made monotonic).
Clock& SystemClock();

}  // namespace chorus
