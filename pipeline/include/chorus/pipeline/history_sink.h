// What happened in event time, as the operators work it out: every window
// result as it is made (minute windows included, which the API and gauges
// never keep), members joining and changing stage at the event time the
// operator stamps on it, and the watermark after each advance. `chorus
// replay --backfill` records these to write Prometheus history (see
// backfill.h); a live run has no HistorySink and pays nothing for it.
//
// Results arrive as the processor makes them, before they are durable: a
// backfill is written only by a replay that ended, so a crash loses the file
// (never half of it) and the replay starts again from nothing.
//
// Called on the processing thread only, from inside Processor::Step() and
// Run(); the references are valid during the call only.
#pragma once

#include <string_view>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/member_engagement.h"

namespace chorus {

class HistorySink {
 public:
  virtual ~HistorySink() = default;
  // A window's result: its first (revision 0) or a correction.
  virtual void OnWindow(const ops::WindowResult& w) = 0;
  // A member seen for the first time, at the creating event's time.
  virtual void OnMemberJoined(ops::EventTime at) = 0;
  virtual void OnTransition(const ops::StageTransition& t) = 0;
  // After the member timers, threads and windows due at `watermark` have
  // fired: every result of a window that closes at `watermark` has been
  // passed to OnWindow.
  virtual void OnWatermark(ops::EventTime watermark) = 0;
};

}  // namespace chorus
