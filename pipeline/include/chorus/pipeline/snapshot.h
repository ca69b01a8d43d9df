// What chorus exports, as of the last commit. The processing thread builds
// a Snapshot right after each successful commit and publishes it; readers
// (the /metrics and API handlers) only ever see committed values, so an
// exported counter never runs ahead of durable state and never goes
// backwards across a crash and restart.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/member_engagement.h"
#include "chorus/operators/posts.h"
#include "chorus/operators/threads.h"
#include "chorus/operators/windows.h"
#include "chorus/pipeline/dlq_reason.h"
#include "chorus/pipeline/event_source.h"

namespace chorus {

// kOutOfRange: a replay's record whose event time is outside its --from/--to.
enum class Outcome : uint8_t { kProcessed = 0, kInvalid, kDuplicate, kLate, kOutOfRange, kCount_ };
inline constexpr int kOutcomeCount = static_cast<int>(Outcome::kCount_);
std::string_view Name(Outcome o);

// Counters that belong to one input partition and move with it.
struct PartitionCounters {
  std::array<uint64_t, kOutcomeCount> outcomes{};
  std::array<uint64_t, kDlqReasonCount> dlq{};
  void Add(const PartitionCounters& o);
};

struct ChannelSnapshot {
  std::string channel_id;
  ops::Platform platform = ops::Platform::kUnspecified;
  ops::ChannelCounts totals;
  int64_t followers = 0;
};

struct PartitionSnapshot {
  TopicPartition tp;
  int32_t state_id = 0;      // the partition prefix of its state keys
  int64_t next_offset = -1;  // -1: nothing read yet
  int64_t lag = -1;          // -1: unknown
  // The newest event time read from it, and how far behind the wall clock
  // the last record read was (Kafka timestamp) while records still wait:
  // the lag in seconds; -1 unknown.
  ops::EventTime max_event = ops::EventTime::Min();
  double lag_seconds = -1;
};

// Wall clock minus event time of processed events (a sample of them).
inline constexpr std::array<double, 12> kEventLagBounds = {
    1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400};
struct EventLagHistogram {
  std::array<uint64_t, kEventLagBounds.size() + 1> buckets{};
  double sum = 0;
  void Observe(double seconds);
};

// The figures of one window result the window gauges show.
struct WindowFigures {
  ops::Platform platform = ops::Platform::kUnspecified;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  uint32_t revision = 0;
  uint64_t posts = 0, impressions = 0, engagements = 0, shares = 0;
  uint64_t follows = 0, unfollows = 0;
  int64_t followers_start = 0, followers_end = 0;
};

// Per channel and window size (index into kWindowSpecs), the newest fired
// window's figures at its newest revision.
using LatestWindows =
    std::map<std::string, std::array<std::optional<WindowFigures>, ops::kWindowSpecCount>,
             std::less<>>;

struct Snapshot {
  bool ready = false;
  std::string not_ready_reason = "starting";
  std::vector<ChannelSnapshot> channels;  // by channel id
  // Thread counters by channel id, merged over partitions.
  std::map<std::string, ops::ChannelThreadStats, std::less<>> threads;
  ops::PostStats posts;  // matured post figures and unmatched engagements
  ops::MemberSummary members;
  uint64_t member_count = 0;
  ops::MemberEngagement::LoveDistribution love;
  PartitionCounters counters;                                    // summed over partitions
  std::array<uint64_t, ops::kWindowSpecCount> windows_closed{};  // fired
  std::array<uint64_t, ops::kWindowSpecCount> window_corrections{};
  LatestWindows latest_windows;
  std::vector<PartitionSnapshot> partitions;
  ops::EventTime watermark = ops::EventTime::Min();
  uint64_t commits = 0;
  uint64_t rebalances = 0;  // assignments and revocations, committed with the state
  // Observations of this process since it started (not state).
  EventLagHistogram event_lag;
  // Time the processing thread spent waiting for records to read (polls);
  // the rest of its time it was busy. In all, and as a share of the time
  // between the last two commits: near 0 while there is lag means chorus,
  // not its input, sets the pace.
  ops::Millis input_wait{0};
  double input_wait_ratio = 0;
};

// Upper bounds of the love-score distribution's buckets.
const std::vector<double>& LoveScoreBounds();

}  // namespace chorus
