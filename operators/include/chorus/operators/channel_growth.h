// The social media manager's view: per-channel growth counters and
// event-time windows.
//
// State belongs to the input partition that carried the events: each
// (partition, channel) keeps partial sums that merge across partitions by
// addition, so a partition can later move between instances.
//
// Followers are the one value that does not merge by addition. A partition
// keeps the latest FOLLOWER_COUNT snapshot it saw (value, event time) and the
// follow/unfollow deltas with event time after the newest snapshot of the
// channel in any partition. The merged follower count is the newest snapshot
// plus every partition's deltas after it; follows at or before a snapshot's
// time are already in that snapshot. Without any snapshot, followers are
// follows − unfollows. Deltas are kept at one-second resolution.
//
// Windows (see windows.h) hold the same counters per (channel, size, start);
// when the watermark closes a window, its merged result across partitions is
// handed to the caller and its state is deleted.
//
// Not thread-safe: owned by the processing thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "chorus/operators/event.h"
#include "chorus/operators/state.h"
#include "chorus/operators/windows.h"

namespace chorus::ops {

// Counters that merge by addition. All are sums of Multiplicity().
struct ChannelCounts {
  std::array<uint64_t, kEventKindCount> events_by_kind{};           // FOLLOWER_COUNT counts once
  std::array<uint64_t, kContentTypeCount> posts_by_content_type{};  // POST_PUBLISHED
  // Reactions, comments, shares and mentions acted by members.
  std::array<uint64_t, kContentTypeCount> engagements_by_content_type{};

  void Add(const ChannelCounts& o);
  bool operator==(const ChannelCounts&) const = default;
};

// One closed window of one channel, merged over partitions.
struct ClosedWindow {
  std::string_view channel_id;
  Platform platform = Platform::kUnspecified;
  const WindowSpec* spec = nullptr;
  EventTime start;
  EventTime end;
  ChannelCounts counts;
};

// A channel's lifetime totals merged over partitions.
struct ChannelView {
  std::string_view channel_id;
  Platform platform = Platform::kUnspecified;
  ChannelCounts totals;
  int64_t followers = 0;
  bool has_follower_snapshot = false;
};

class ChannelGrowth {
 public:
  explicit ChannelGrowth(WindowOptions options = {});
  ~ChannelGrowth();
  // Move-only. A moved-from ChannelGrowth may only be assigned or destroyed.
  ChannelGrowth(ChannelGrowth&&) noexcept;
  ChannelGrowth& operator=(ChannelGrowth&&) noexcept;
  ChannelGrowth(const ChannelGrowth&) = delete;
  ChannelGrowth& operator=(const ChannelGrowth&) = delete;

  // Applies a validated, deduplicated event read from `partition`. A `late`
  // event (see windows.h) updates lifetime totals and followers only.
  void Apply(int32_t partition, const Event& e, bool late);

  // Closes every window with end + lateness <= `watermark`, calling `sink`
  // once per (channel, window) in (end, size, channel) order. The views in
  // a ClosedWindow are valid during the call.
  void AdvanceWatermark(EventTime watermark, const std::function<void(const ClosedWindow&)>& sink);

  // Calls `fn` for each channel in channel id order, merged over partitions.
  // Costs one step per channel: merges are kept up to date as events apply.
  void ForEachChannel(const std::function<void(const ChannelView&)>& fn) const;

  // Number of open (not yet closed) per-partition windows.
  size_t open_windows() const;

  // Persistence (see state.h). Drain appends the mutations for everything
  // changed since the last drain; Restore accepts what a drain produced.
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);
  // Forgets all state of `partition` (it moved to another instance).
  void DropPartition(int32_t partition);

 private:
  class State;  // operators/src/channel_state.h
  std::unique_ptr<State> state_;
};

}  // namespace chorus::ops
