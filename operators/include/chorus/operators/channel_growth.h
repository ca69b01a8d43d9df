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
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

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
  // Move-only: dirty lists point into its own maps.
  ChannelGrowth(ChannelGrowth&&) = default;
  ChannelGrowth& operator=(ChannelGrowth&&) = default;
  ChannelGrowth(const ChannelGrowth&) = delete;
  ChannelGrowth& operator=(const ChannelGrowth&) = delete;

  // Applies a validated, deduplicated event read from `partition`. A `late`
  // event (see windows.h) updates lifetime totals and followers only.
  void Apply(int32_t partition, const Event& e, bool late);

  // Closes every window with end + lateness <= `watermark`, calling `sink`
  // once per (channel, window) in (end, size, channel) order.
  void AdvanceWatermark(EventTime watermark, const std::function<void(const ClosedWindow&)>& sink);

  // Calls `fn` for each channel in channel id order, merged over partitions.
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
  struct FollowerState {
    bool has_snapshot = false;
    int64_t snapshot_value = 0;
    int64_t snapshot_ms = 0;  // event time of the newest snapshot seen here
    int64_t net_follows = 0;  // lifetime follows − unfollows
    // (second, net follows) after the channel's newest known snapshot, by
    // second. A sorted vector: follows mostly arrive in time order, so an
    // insert is usually an append. A snapshot anywhere prunes every
    // partition's deltas up to it, so they span one snapshot interval (all
    // seconds with follows, for a channel that never sends snapshots).
    std::vector<std::pair<int64_t, int64_t>> deltas;
  };
  struct PartialWindow {
    ChannelCounts counts;
  };
  // An open window of a channel: its start and its slot in window_pool_.
  struct OpenWindow {
    int64_t start_ms;
    uint32_t slot;
  };
  struct PartialChannel {
    Platform platform = Platform::kUnspecified;
    uint16_t chunk = 0;  // channel_codec::ChunkOf(id): where it is stored
    ChannelCounts totals;
    FollowerState followers;
    // Open windows by start time, one sorted vector per entry of kWindowSpecs.
    // About lateness / size + 1 are open at once and they open mostly in time
    // order, so opening is usually an append and closing takes the front.
    std::array<std::vector<OpenWindow>, kWindowSpecCount> windows;
  };
  // Transparent, so Apply looks channels up by string_view without a copy.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using ChannelMap = std::unordered_map<std::string, PartialChannel, StringHash, std::equal_to<>>;
  // Node-based maps keep entries in place, so chunk lists and close buckets
  // may point at them.
  using ChannelEntry = ChannelMap::value_type;
  // State is stored in chunks of channels (see channel_codec.h): a commit
  // rewrites each changed chunk once instead of one key per channel/window.
  static constexpr int kChunks = 64;
  struct DirtyWindowChunk {
    uint8_t spec_index;
    uint16_t chunk;
  };
  struct Partition {
    ChannelMap channels;
    // Each chunk's channels, by id, so a chunk encodes the same way always.
    std::array<std::vector<ChannelEntry*>, kChunks> chunk_channels;
    std::array<bool, kChunks> totals_dirty{};
    std::vector<uint16_t> dirty_totals;  // chunks, pending drain
    // Per (spec, chunk): changed since the last drain; held by the store.
    std::array<std::array<bool, kChunks>, kWindowSpecCount> windows_dirty{};
    std::array<std::array<bool, kChunks>, kWindowSpecCount> windows_persisted{};
    std::vector<DirtyWindowChunk> dirty_windows;
  };
  // One open per-partition window, listed once in the bucket of its end.
  struct CloseEntry {
    ChannelEntry* channel;
    int32_t partition;
    uint32_t slot;  // in window_pool_, so closing reads it without a search
  };
  // Per window spec: open windows by end time, in the order they opened.
  // Closing sorts a bucket by (channel, partition) and merges each channel's
  // parts, so results come in (end, size, channel) order; kWindowSpecs is
  // sorted by size, so its index orders by size.
  using CloseBuckets = std::map<int64_t, std::vector<CloseEntry>>;

  ChannelEntry& FindOrAddChannel(Partition& part, std::string_view channel_id);
  void ApplyFollowers(int32_t partition, PartialChannel& channel, const Event& e);
  void PruneOtherPartitions(int32_t partition, std::string_view channel_id, int64_t second);
  // The returned reference is valid until the next window opens.
  PartialWindow& FindOrOpenWindow(int32_t partition, ChannelEntry& channel, int spec_index,
                                  int64_t start_ms);
  void AddToCloseBucket(int spec_index, int64_t end_ms, CloseEntry entry);
  void CloseBucket(int spec_index, const std::function<void(const ClosedWindow&)>& sink);
  void TakeWindow(const CloseEntry& entry, int spec_index, ClosedWindow& out);
  static void MarkDirty(Partition& part, const PartialChannel& channel);
  static void MarkWindowsDirty(Partition& part, int spec_index, uint16_t chunk);
  static void EncodeChannel(std::string& out, const PartialChannel& c);
  static bool DecodeChannel(Reader& r, PartialChannel& c);
  std::string EncodeWindowChunk(const Partition& part, int spec_index, uint16_t chunk) const;
  bool RestoreChannelChunk(int32_t partition, uint16_t chunk, std::string_view value);
  bool RestoreWindowChunk(int32_t partition, int spec_index, uint16_t chunk,
                          std::string_view value);
  static ChannelView Merge(std::string_view channel_id,
                           const std::vector<const PartialChannel*>& parts);

  WindowOptions options_;
  std::map<int32_t, Partition> partitions_;
  std::array<CloseBuckets, kWindowSpecCount> close_buckets_;
  // Emptied bucket vectors kept for reuse, so buckets rarely allocate.
  std::vector<std::vector<CloseEntry>> spare_buckets_;
  // Every open window's state, by slot; freed slots are reused.
  std::vector<PartialWindow> window_pool_;
  std::vector<uint32_t> free_slots_;
  size_t open_windows_ = 0;
  // The largest watermark windows were closed at. A window closed under it
  // is not reopened even if a caller misjudges an event as not late, so no
  // window is ever reported twice. Not persisted: the runtime restores the
  // watermark and advances before it processes.
  EventTime closed_through_ = EventTime::Min();
};

}  // namespace chorus::ops
