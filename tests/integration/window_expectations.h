// Window results computed by the test from a workload's records alone,
// from the definitions in DESIGN.md and chorus.v1.ChannelWindow, sharing no
// code with chorus: decode, drop what has no channel, keep the first copy
// of each event id, and sum each event into its 1 m, 1 h and 1 d windows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "chorus/v1/channel_window.pb.h"
#include "integration/workload.h"
#include "support/mock_cluster.h"

namespace chorus::testing {

struct ExpectedWindow {
  std::map<int, uint64_t> events_by_kind;  // by chorus.v1.EventKind number
  uint64_t posts = 0, impressions = 0, engagements = 0, shares = 0, follows = 0, unfollows = 0;
  int64_t followers_start = 0, followers_end = 0;

  bool operator==(const ExpectedWindow&) const = default;
};

// A channel's followers as README defines them, from its snapshots and
// follows: at time t, the newest snapshot stamped before t (ties: the
// larger value) plus the follows − unfollows in the seconds after that
// snapshot's second and before t's; without one, all follows before t.
struct FollowerHistory {
  std::vector<std::pair<int64_t, int64_t>> snapshots;  // (ms, value)
  std::vector<std::pair<int64_t, int64_t>> follows;    // (floored second, delta)

  void Snapshot(int64_t ms, int64_t value) { snapshots.emplace_back(ms, value); }
  void Follow(int64_t ms, int64_t delta);
  // Followers at `ms`; without it, now (after every event).
  int64_t At(std::optional<int64_t> ms = std::nullopt) const;
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

// What a window results topic holds: each window's newest revision, and
// results seen twice (the same chorus-seq, or the same window and revision).
struct WindowResults {
  std::map<WindowId, v1::ChannelWindow> latest;
  size_t repeats = 0, corrections = 0;
  // Every record's (key, value) as read, in topic order.
  std::vector<std::pair<std::string, std::string>> records;
};
// Reads `topic` from its start; unreadable records fail the test.
WindowResults ReadWindowResults(MockCluster& cluster, const std::string& topic);

// Expects every window of `expected` that ends by `watermark_ms` in
// `latest` with the expected figures, and nothing in `latest` that was not
// expected.
void ExpectWindowFigures(const std::map<WindowId, ExpectedWindow>& expected,
                         const std::map<WindowId, v1::ChannelWindow>& latest, int64_t watermark_ms);

}  // namespace chorus::testing
