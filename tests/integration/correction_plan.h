// The input of the corrections end-to-end test (window_corrections_e2e_test)
// and what chorus must make of it, by the test's own arithmetic.
//
// A workload (workload.h) of about four and a half hours of event time,
// from 20:30 on New Year's Eve, cut into three parts: up to 00:30, up to
// 00:45, and the rest (some 15 minutes more). After the first part the
// watermark stands some 25 minutes past midnight, and stragglers are made
// from it: within the allowed lateness they fall into fired 1 m, 1 h and
// 1 d windows (December's day fired at midnight and stays open until 01:00)
// and into unfired ones; the late ones into December's day too, still open
// though they are late: they must not reach it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integration/window_expectations.h"
#include "integration/workload.h"

namespace chorus::testing {

// An event made after the first part fired, stamped behind the watermark.
struct Straggler {
  WorkloadRecord record;
  std::string event_id, channel;
  std::string kind;    // as chorus_channel_events_total labels it
  uint64_t count = 1;  // what it adds to that counter
  int64_t occurred_ms = 0;
  bool late = false;  // beyond the allowed lateness (chorus's default, 1 h)
};

// 80 stragglers behind `watermark_ms`, a quarter of them late: 10 to 50
// minutes behind (ten minutes of margin on both sides of "within the
// lateness"), or 2 to 2.5 hours. No follows among them: a follow read late
// would change followers in results already given, which only results made
// after it can show. Both kinds go to the workload's channels and, one in
// five, to a channel of their own: the stragglers' channel has windows that
// fired empty, so its first result there is a correction; the late ones'
// channel must get no window at all.
std::vector<Straggler> MakeStragglers(uint64_t seed, int64_t watermark_ms);

// The workload, where it is cut, and the stragglers after the first part.
struct Plan {
  Workload on_time;
  size_t split = 0;      // records [0, split) come first,
  size_t middle = 0;     // [split, middle) second, [middle, end) last
  int64_t fired_ms = 0;  // the watermark the first part reached
  std::vector<Straggler> stragglers;

  size_t late() const;
};

// The workload cut in parts; the stragglers are made once `fired_ms` is known.
Plan MakePlan(uint64_t seed);

// What the records make of the windows.
struct Windows {
  std::map<WindowId, ExpectedWindow> expected;  // late events in none
  // The first part's, which fired with a result before the stragglers.
  std::map<WindowId, ExpectedWindow> fired_first;
  // A straggler within the lateness in a window that has fired makes one
  // correction: all of them are read before the watermark moves on.
  std::set<WindowId> corrected;
  std::map<std::string, size_t> corrected_by_size;  // "1m", "1h", "1d"
};

Windows ExpectedOf(const Plan& p);

}  // namespace chorus::testing
