// ChannelGrowth's state and the declarations its source files share
// (internal to operators/): channel_growth.cc applies events and keeps the
// merged views, channel_windows.cc opens and closes windows,
// channel_persistence.cc drains and restores.
//
// Windows are held in groups, one per (partition, size, start): the windows
// of a group close together, so closing reads whole groups in sequence and
// deletes each as one stored record, and a commit rewrites only the groups
// that changed. A partition's latest group per size is at hand, and a
// group finds a channel's entry by a small hash table, so an event reaches
// its windows without touching memory that only its channel uses.
//
// Channel ids are interned once (channel_catalog.h); everything else refers
// to a channel by its index. Each partition keeps its channels' partial
// state in a vector, found through a table indexed by channel. Beside the
// partial state, each channel keeps its merge over the partitions holding
// it, updated with every event, so listing channels costs one step per
// channel rather than one per (partition, channel). Dropping or restoring a
// partition marks the merges it touches stale; they are recomputed from the
// partitions on next use.
//
// Followers (channel_followers.h) keep what window edges from the horizon
// on need; the horizon trails the watermark, and a (partition, channel)'s
// old follower state is pruned on its next follow or snapshot, and in a
// sweep over all channels each time the horizon enters a new hour.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channel_catalog.h"
#include "channel_counters.h"
#include "channel_followers.h"
#include "chorus/operators/channel_growth.h"
#include "index_map.h"

namespace chorus::ops {

class ChannelGrowth::State {
 public:
  explicit State(WindowOptions options) : options_(options) {}

  // ChannelGrowth's look-ahead (channel_growth.h); kAbsent: not located.
  void Apply(int32_t partition, const Event& e, bool late,
             channel_internal::ChannelIndex c = channel_internal::ChannelCatalog::kAbsent);
  channel_internal::ChannelIndex Locate(int32_t partition, const Event& e) const;
  void Prefetch(int32_t partition, const Event& e, channel_internal::ChannelIndex c) const;
  void PrefetchCounts(int32_t partition, const Event& e, channel_internal::ChannelIndex c) const;
  void ApplyResponse(int32_t partition, std::string_view channel_id, EventTime at,
                     ResponseKind kind, Millis waited);
  using ResultSink = std::function<void(const WindowResult&)>;
  void AdvanceWatermark(EventTime watermark, const ResultSink& sink);
  void RestoreWatermark(EventTime watermark) { watermark_ = std::max(watermark_, watermark); }
  void CountOnly(int spec_index, bool count_only) { count_only_.at(spec_index) = count_only; }
  void ForEachChannel(const std::function<void(const ChannelView&)>& fn) const;
  size_t open_windows() const { return open_windows_; }
  void DrainDirty(Mutations& out);
  bool Restore(std::string_view key, std::string_view value);
  void DropPartition(int32_t partition);

 private:
  using ChannelIndex = channel_internal::ChannelIndex;
  using SparseCounts = channel_internal::SparseCounts;
  // A channel's place in its partition's `channels`.
  using LocalIndex = uint32_t;
  static constexpr LocalIndex kAbsent = ~LocalIndex{0};

  using FollowerState = channel_internal::FollowerState;
  // Its platform is in Partition::platforms.
  struct PartialChannel {
    ChannelIndex channel = 0;
    ChannelCounts totals;
    FollowerState followers;
  };
  // One partition's windows of one size and start, one entry per channel:
  // they close together and are stored as one record (channel_codec.h).
  struct WindowEntry {
    ChannelIndex channel;
    LocalIndex local;
    SparseCounts counts;
    // Corrections of the channel's window handed out so far; every part of
    // a window holds the count once a correction is made.
    uint32_t corrections = 0;
    // Updated after the window fired, and no correction made since.
    bool pending = false;
    // Only windows with an answered thread have one.
    std::unique_ptr<WindowResponses> responses;
  };
  struct Partition;
  // A count-only group's window: its channel, and kCountedPending if it was
  // updated after the window fired and no correction counted since.
  using CountedWindow = uint32_t;
  static constexpr CountedWindow kCountedPending = channel_internal::ChannelCatalog::kMaxChannels;
  struct WindowGroup {
    Partition* partition = nullptr;
    int spec_index = 0;
    int64_t start_ms = 0;
    // Opened while its size was count-only (ChannelGrowth::CountOnly): it
    // keeps which channels have a window, in `counted`, and not what they
    // hold. Most events of a busy stream open a minute window of their own,
    // so a whole entry there is most of what a minute costs.
    bool count_only = false;
    std::vector<WindowEntry> entries;     // unless count_only; in the order they opened
    std::vector<CountedWindow> counted;   // if count_only; in the order they opened
    channel_internal::IndexMap entry_of;  // by channel: its place in entries or counted
    bool dirty = false;                   // changed since the last drain
    bool persisted = false;               // the store holds it

    size_t windows() const { return count_only ? counted.size() : entries.size(); }
    ChannelIndex channel(uint32_t i) const {
      return count_only ? counted[i] & ~kCountedPending : entries[i].channel;
    }
  };
  // Totals are stored in chunks of channels (see channel_codec.h): a commit
  // rewrites each changed chunk once instead of one key per channel.
  static constexpr int kChunks = 64;
  struct GroupKey {
    int spec_index;
    int64_t start_ms;
    bool count_only = false;  // stored under kCountedGroupTag
  };
  struct Partition {
    int32_t id = 0;
    std::vector<LocalIndex> local_of;  // by channel; kAbsent, or past its end, if not held
    std::vector<PartialChannel> channels;
    // Each channel's platform, by local index: apart, because firing reads
    // it for every window and would otherwise miss on each PartialChannel.
    std::vector<Platform> platforms;
    // Each channel's FollowerState::PruneDue, by local index: the hourly
    // sweep skips the channels with nothing to prune without a cache miss
    // on each one's follower state.
    std::vector<int64_t> prune_due;
    // Each chunk's channels, by id, so a chunk encodes the same way always.
    std::array<std::vector<LocalIndex>, kChunks> chunk_channels;
    std::array<bool, kChunks> totals_dirty{};
    std::vector<uint16_t> dirty_totals;  // chunks, pending drain
    // Open window groups by start, per entry of kWindowSpecs. Map nodes stay
    // in place: close buckets point at them.
    std::array<std::map<int64_t, WindowGroup>, kWindowSpecCount> groups;
    std::array<WindowGroup*, kWindowSpecCount> last_group{};  // the newest one used
    std::vector<GroupKey> dirty_groups;    // pending drain; closed ones are skipped
    std::vector<GroupKey> deleted_groups;  // closed since the last drain, stored
    // Restored from records of an earlier tag, to delete: (key, tag).
    std::vector<std::pair<GroupKey, char>> legacy_groups;
    std::vector<uint16_t> legacy_chunks;  // restored from tag 0x03, to delete

    LocalIndex Find(ChannelIndex c) const { return c < local_of.size() ? local_of[c] : kAbsent; }
  };
  // A channel merged over the partitions holding it (see the header of
  // channel_growth.h for the followers). Valid unless `stale`.
  struct MergedChannel {
    std::vector<Partition*> holders;  // by partition id
    bool stale = false;
    // The platform of the first holder, by partition id, that has one.
    Platform platform = Platform::kUnspecified;
    int32_t platform_partition = 0;
    ChannelCounts totals;
    // The holders' follower states merged (FollowerState::AssignMerge), so
    // followers at a time cost a search, not a visit to every holder. Pruned
    // at the same horizon as the holders, on its own schedule: its deltas
    // before the horizon may be summed differently, to the same sums.
    FollowerState followers;
    // The deltas after the newest snapshot's second, summed.
    int64_t follows_after = 0;

    // The current follower count (see channel_growth.h).
    int64_t current_followers() const {
      return followers.has_snapshot() ? followers.newest().value + follows_after
                                      : followers.net_follows;
    }
  };
  // Per window spec: the groups of every partition by end time. Firing
  // orders a bucket's entries by (channel rank, partition) and merges each
  // channel's parts, so results come in (end, size, channel) order;
  // kWindowSpecs is sorted by size, so its index orders by size.
  using CloseBuckets = std::map<int64_t, std::vector<WindowGroup*>>;
  // A fired bucket with an entry pending correction: (end ms, spec index).
  using BucketKey = std::pair<int64_t, int>;
  // An entry of a closing bucket or of a group being encoded, in sort order.
  struct SortedEntry {
    uint64_t key;
    WindowGroup* group;
    uint32_t entry;
  };

  // channel_growth.cc
  Partition& PartitionFor(int32_t id);
  // The partition a prefetch looks in; null if it has no state yet.
  const Partition* PartitionToPrefetch(int32_t id) const;
  // Calls fn(group) for each window size whose group the partition used
  // last is the group of `at`: where an event's windows almost always are.
  template <typename Fn>
  static void ForEachLatestGroup(const Partition& part, EventTime at, Fn&& fn);
  LocalIndex FindOrAddChannel(Partition& part, ChannelIndex c);
  MergedChannel& Merged(ChannelIndex c) const;  // recomputed first if stale
  void Recompute(ChannelIndex c, MergedChannel& m) const;
  void MarkDirty(Partition& part, ChannelIndex c) const;

  // channel_followers_merge.cc
  void ApplyFollowers(Partition& part, PartialChannel& channel, MergedChannel& m, const Event& e);
  // Followers of merged channel `c` at `ms` (see WindowResult).
  int64_t FollowersAt(ChannelIndex c, int64_t ms) const;
  // The second window edges can no longer be before (channel_followers.h),
  // if the watermark has advanced.
  std::optional<int64_t> Horizon() const;
  // Prunes `channel` of `part`, and the merge of its channel, at the
  // horizon, if due; `force` skips the slack that batches prunes. Called
  // after every change of the channel's followers: it keeps prune_due.
  void PruneFollowers(Partition& part, PartialChannel& channel, bool force = false);
  void PruneMerged(MergedChannel& m, bool force);
  // Prunes every channel of every partition, once each time the horizon
  // enters a new hour, so channels that went quiet shrink too.
  void SweepFollowers();

  // channel_windows.cc
  WindowGroup& FindOrAddGroup(Partition& part, int spec_index, int64_t start_ms);
  // The channel's window in `group`, opened if new. Valid until a window
  // opens in the group. REQUIRES: the group is whole for the first,
  // count_only for the second.
  WindowEntry& FindOrOpenWindow(WindowGroup& group, ChannelIndex c, LocalIndex local);
  CountedWindow& FindOrOpenCounted(WindowGroup& group, ChannelIndex c);
  // Hands out the merged results of the bucket's windows: all of them
  // (firing), or only the ones pending correction.
  enum class Emit { kAll, kCorrections };
  void EmitBucket(int spec_index, int64_t end_ms, Emit which, const ResultSink& sink);
  // Firing a count-only bucket: how many channels have a window in it.
  uint32_t CountChannels(const std::vector<WindowGroup*>& groups);
  void CloseBucket(int spec_index);
  void MarkGroupDirty(WindowGroup& group);
  void RemoveGroup(WindowGroup& group);
  void ForgetWindows(Partition& part);
  // Appends `group`'s entries to sorted_, keyed by (channel rank, partition).
  void AddSorted(WindowGroup& group);
  // Fills sorted_ with the entries of a bucket's groups (one per partition;
  // reordered by partition), in key order.
  void SortBucket(std::vector<WindowGroup*>& groups);
  // Orders sorted_ by key. REQUIRES: entries of one channel were added in
  // partition order (the sort is stable within a rank).
  void SortEntries();

  // channel_persistence.cc
  std::string EncodeGroup(WindowGroup& group);  // either form
  bool RestoreChannelChunk(int32_t partition, uint16_t chunk, std::string_view value, char tag);
  bool RestoreWindowGroup(int32_t partition, int spec_index, int64_t start_ms,
                          std::string_view value, char tag);
  bool RestoreCountedGroup(int32_t partition, int spec_index, int64_t start_ms,
                           std::string_view value);
  // The group of the key, for restoring windows of the given form into,
  // marked stored with any delete of the record pending dropped: null if
  // it holds windows of the other form.
  WindowGroup* GroupToRestore(int32_t partition, int spec_index, int64_t start_ms, bool count_only);
  // Marks the channel's windows of `at` that are not closed as changed and
  // hands each to `fn` (WindowEntry&).
  template <typename Fn>
  void UpdateWindows(Partition& part, ChannelIndex c, LocalIndex local, EventTime at, Fn&& fn);
  static void EncodeChannel(std::string& out, Platform platform, const PartialChannel& c);
  // `tag` is the chunk's: the current one or kChannelChunkV1Tag.
  static bool DecodeChannel(Reader& r, Platform& platform, PartialChannel& c, char tag);

  WindowOptions options_;
  channel_internal::ChannelCatalog catalog_;
  // Map nodes stay in place: holders, close entries and the cache point at them.
  std::map<int32_t, Partition> partitions_;
  Partition* last_partition_ = nullptr;  // the last one Apply used
  // By channel index. Mutable: ForEachChannel recomputes stale merges.
  mutable std::vector<MergedChannel> merged_;
  std::array<CloseBuckets, kWindowSpecCount> close_buckets_;
  // Emptied bucket vectors kept for reuse, so buckets rarely allocate.
  std::vector<std::vector<WindowGroup*>> spare_buckets_;
  // The storage of closed groups, emptied, kept for new groups of the same
  // size, so opening a group rarely allocates.
  struct SpareGroup {
    std::vector<WindowEntry> entries;
    std::vector<CountedWindow> counted;
    channel_internal::IndexMap entry_of;
  };
  std::array<std::vector<SpareGroup>, kWindowSpecCount> spare_groups_;
  // Entries in order while a bucket closes or a group encodes; kept for its
  // capacity.
  std::vector<SortedEntry> sorted_;
  std::vector<SortedEntry> unsorted_;  // SortEntries', for its capacity
  std::vector<uint32_t> rank_starts_;  // SortEntries': by rank, where its entries go
  // Sizes whose new groups are count-only (ChannelGrowth::CountOnly).
  std::array<bool, kWindowSpecCount> count_only_{};
  // By channel index: the bucket count that last counted it, so counting
  // a bucket's channels needs no sort. Kept for its capacity.
  std::vector<uint32_t> counted_in_;
  uint32_t counting_ = 0;
  size_t open_windows_ = 0;
  // Fired buckets holding entries pending correction, in emission order.
  std::set<BucketKey> pending_buckets_;
  // The largest watermark windows were advanced to (or restored at): the
  // windows ending at or before it have fired. A window closed under it is
  // not reopened even if a caller misjudges an event as not late, so no
  // window is ever reported after it closed.
  EventTime watermark_ = EventTime::Min();
  // The hour of the horizon at the last SweepFollowers.
  std::optional<int64_t> swept_hour_;
};

}  // namespace chorus::ops
