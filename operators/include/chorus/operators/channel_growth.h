// The social media manager's view: per-channel growth counters and
// event-time windows.
//
// State belongs to the input partition that carried the events: each
// (partition, channel) keeps partial sums that merge across partitions by
// addition, so a partition can later move between instances.
//
// Followers are the one value that does not merge by addition. Followers at
// time t are the value of the newest FOLLOWER_COUNT snapshot, in any
// partition, stamped before t, plus every partition's follows − unfollows
// in the seconds after that snapshot's second and before t; follows at or
// before a snapshot's second are already in it. Without a snapshot before t,
// they are lifetime follows − unfollows before t. The current count is the
// same with t after everything. A partition keeps its snapshots (event
// time, value) and per-second deltas for the times a window edge can still
// need: from watermark − allowed lateness − 1 day on (the horizon); what is
// older is pruned as the horizon moves, so state stays bounded whether or
// not a channel sends snapshots.
//
// Windows (see windows.h) hold the same counters per (channel, size, start).
// When the watermark reaches a window's end the window *fires*: its result,
// merged across partitions, is handed to the caller as revision 0. Events
// that still reach it (not late: within the allowed lateness) update it, and
// the next watermark advance hands over a correction with the next revision.
// When the watermark passes end + lateness the window closes and its state
// is deleted. Which windows fired is a function of the watermark alone, and
// which need a correction is stored with the windows, so a restart on
// restored state emits neither a result twice nor a correction too few.
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

// How fast the channel answered, by the event time of the answers: the
// threads (see threads.h) whose closing brand or team reply, or whose first
// reply by anyone but the opener, falls in the window, with their times
// from the thread's opening summed. Merges by addition.
struct WindowResponses {
  uint64_t responses = 0;
  uint64_t response_ms = 0;
  uint64_t first_responses = 0;
  uint64_t first_response_ms = 0;

  void Add(const WindowResponses& o);
  bool empty() const { return responses == 0 && first_responses == 0; }
  bool operator==(const WindowResponses&) const = default;
};

// One result of one channel's window, merged over partitions.
struct WindowResult {
  std::string_view channel_id;
  Platform platform = Platform::kUnspecified;
  const WindowSpec* spec = nullptr;
  EventTime start;
  EventTime end;
  // 0 for the result the window fired with; corrections count up from 1.
  uint32_t revision = 0;
  ChannelCounts counts;
  // Followers at the window's start and end by the rule above, from the
  // snapshots and follows known when the result is made (a later one inside
  // the window's span makes a correction only if it also updates the
  // window).
  int64_t followers_start = 0;
  int64_t followers_end = 0;
  WindowResponses responses;
  // For windows that are only counted (ChannelGrowth::CountOnly): this
  // result stands for every channel's window that fired at `end` (revision
  // 0), or for every one corrected at `end` by this advance (revision 1),
  // `windows` of them, and only spec, start, end and revision are set
  // besides.
  bool count_only = false;
  uint32_t windows = 1;
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

  // Looking ahead, for a caller that holds the next events
  // (ParallelOperators, on either thread): Locate() finds an event's channel
  // and starts loading the indexes that lead to its state; Prefetch(), some
  // events later with those in cache, starts loading the state itself;
  // PrefetchCounts(), later still, the counters a busy channel's windows
  // keep in an array of their own; Apply() with the channel found skips
  // finding it again. Each state lookup otherwise stalls two or three times.
  using ChannelRef = uint32_t;
  static constexpr ChannelRef kUnknownChannel = ~ChannelRef{0};  // Apply() finds it
  ChannelRef Locate(int32_t partition, const Event& e) const;
  void Prefetch(int32_t partition, const Event& e, ChannelRef channel) const;
  void PrefetchCounts(int32_t partition, const Event& e, ChannelRef channel) const;
  // REQUIRES: `channel` is Locate(partition, e) or kUnknownChannel.
  void Apply(int32_t partition, const Event& e, bool late, ChannelRef channel);

  // Adds a thread's response to the windows of `at` (its event time) of the
  // thread's channel, in the thread's partition: a closing reply, or the
  // first reply by anyone but the opener, `waited` after the opening. Closed
  // windows are left alone; fired ones get a correction.
  enum class ResponseKind { kClosing, kFirst };
  void ApplyResponse(int32_t partition, std::string_view channel_id, EventTime at,
                     ResponseKind kind, Millis waited);

  // Hands `sink` the corrections of fired windows updated since their last
  // result, then fires every window with end <= `watermark`, in (end, size,
  // channel) order, then closes every window with end + lateness <=
  // `watermark`. A WindowResult's channel id stays valid as long as this
  // ChannelGrowth (ids are interned for good), so results can be queued.
  void AdvanceWatermark(EventTime watermark, const std::function<void(const WindowResult&)>& sink);

  // For a caller that reads none of the results of `spec_index`: its
  // windows opened from now on keep only that they exist, not their counts,
  // and the sink gets one count per end for those that fire and one per
  // end for those corrected, not a result per channel. Results themselves
  // are identical in number to what whole windows make, and the
  // open_windows() they add up to the same. A window opened count-only
  // stays so until it closes, restored or not: an end with one is counted,
  // not handed out whole, even once the size is no longer count-only.
  void CountOnly(int spec_index, bool count_only);

  // The watermark the restored state was committed at: its windows up to
  // it have fired already. Call before the first AdvanceWatermark.
  void RestoreWatermark(EventTime watermark);

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
