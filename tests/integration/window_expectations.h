// Window results computed by the test from a workload's records alone,
// from the definitions in DESIGN.md and chorus.v1.ChannelWindow, sharing no
// code with chorus: decode, drop what has no channel, keep the first copy
// of each event id, and sum each event into its 1 m, 1 h and 1 d windows.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "chorus/v1/channel_window.pb.h"
#include "integration/workload.h"

namespace chorus::testing {

struct ExpectedWindow {
  std::map<int, uint64_t> events_by_kind;  // by chorus.v1.EventKind number
  uint64_t posts = 0, impressions = 0, engagements = 0, shares = 0, follows = 0, unfollows = 0;
  int64_t followers_start = 0, followers_end = 0;

  bool operator==(const ExpectedWindow&) const = default;
};

// The figures of a result as chorus wrote it, to compare with the expected.
ExpectedWindow FiguresOf(const v1::ChannelWindow& result);
std::ostream& operator<<(std::ostream& out, const ExpectedWindow& x);

// (channel, "1m" | "1h" | "1d", start ms).
using WindowId = std::tuple<std::string, std::string, int64_t>;

std::map<WindowId, ExpectedWindow> ExpectedWindows(const Workload& w);

// The end of a window, from its id.
int64_t WindowEnd(const WindowId& id);

// The 1 m, 1 h and 1 d windows of `channel` that an event at `ms` falls in.
std::vector<WindowId> WindowsOf(const std::string& channel, int64_t ms);

}  // namespace chorus::testing
