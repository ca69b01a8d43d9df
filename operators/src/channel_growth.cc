#include "chorus/operators/channel_growth.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <tuple>
#include <utility>

#include "channel_codec.h"

namespace chorus::ops {

using channel_codec::ChunkOf;

namespace {

static_assert(std::is_sorted(kWindowSpecs.begin(), kWindowSpecs.end(),
                             [](const WindowSpec& a, const WindowSpec& b) {
                               return a.size < b.size;
                             }),
              "closing order (end, size, channel) relies on specs sorted by size");

// Unknown enum values count under kUnspecified rather than index past the end.
template <typename E>
size_t Index(E v, int count) {
  auto i = static_cast<size_t>(v);
  return i < static_cast<size_t>(count) ? i : 0;
}

bool IsEngagement(EventKind k) {
  return k == EventKind::kReaction || k == EventKind::kComment || k == EventKind::kShare ||
         k == EventKind::kMention;
}

// Adds one event's contribution: one to three counters, not a full Add().
void Count(ChannelCounts& c, const Event& e) {
  uint64_t n = Multiplicity(e);
  size_t content = Index(e.content_type, kContentTypeCount);
  // A snapshot's count is a follower total, not a multiplicity.
  c.events_by_kind[Index(e.kind, kEventKindCount)] += e.kind == EventKind::kFollowerCount ? 1 : n;
  if (e.kind == EventKind::kPostPublished) c.posts_by_content_type[content] += n;
  if (IsEngagement(e.kind) && IsMemberAction(e)) c.engagements_by_content_type[content] += n;
}

int64_t Second(int64_t ms) { return FloorDiv(ms, 1000); }

// Removes deltas at or before `second` (already in a snapshot); true if any.
bool PruneDeltas(std::vector<std::pair<int64_t, int64_t>>& deltas, int64_t second) {
  auto end = std::upper_bound(deltas.begin(), deltas.end(), second,
                              [](int64_t s, const auto& d) { return s < d.first; });
  if (end == deltas.begin()) return false;
  deltas.erase(deltas.begin(), end);
  return true;
}

void AddDelta(std::vector<std::pair<int64_t, int64_t>>& deltas, int64_t second, int64_t d) {
  if (deltas.empty() || deltas.back().first < second) {
    deltas.emplace_back(second, d);
    return;
  }
  auto it = std::lower_bound(deltas.begin(), deltas.end(), second,
                             [](const auto& x, int64_t s) { return x.first < s; });
  if (it != deltas.end() && it->first == second) {
    it->second += d;
    if (it->second == 0) deltas.erase(it);
  } else {
    deltas.emplace(it, second, d);
  }
}

// The first open window starting at or after `start_ms`.
template <typename Vec>
auto LowerBound(Vec& open, int64_t start_ms) {
  return std::lower_bound(open.begin(), open.end(), start_ms,
                          [](const auto& w, int64_t s) { return w.start_ms < s; });
}

// Emptied close buckets kept for reuse: a few cover the buckets open at once
// for the common case of one bucket per size per window end.
constexpr size_t kSpareBuckets = 16;

}  // namespace

void ChannelCounts::Add(const ChannelCounts& o) {
  for (size_t i = 0; i < events_by_kind.size(); ++i) events_by_kind[i] += o.events_by_kind[i];
  for (size_t i = 0; i < posts_by_content_type.size(); ++i) {
    posts_by_content_type[i] += o.posts_by_content_type[i];
    engagements_by_content_type[i] += o.engagements_by_content_type[i];
  }
}

ChannelGrowth::ChannelGrowth(WindowOptions options) : options_(options) {}

ChannelGrowth::ChannelEntry& ChannelGrowth::FindOrAddChannel(Partition& part,
                                                             std::string_view channel_id) {
  auto it = part.channels.find(channel_id);
  if (it != part.channels.end()) return *it;
  static_assert(kChunks == channel_codec::kChunks);
  it = part.channels.emplace(std::string(channel_id), PartialChannel{}).first;
  uint16_t chunk = ChunkOf(channel_id);
  it->second.chunk = chunk;
  std::vector<ChannelEntry*>& members = part.chunk_channels[chunk];
  auto pos =
      std::lower_bound(members.begin(), members.end(), channel_id,
                       [](const ChannelEntry* e, std::string_view id) { return e->first < id; });
  members.insert(pos, &*it);
  return *it;
}

void ChannelGrowth::MarkDirty(Partition& part, const PartialChannel& channel) {
  if (part.totals_dirty[channel.chunk]) return;
  part.totals_dirty[channel.chunk] = true;
  part.dirty_totals.push_back(channel.chunk);
}

void ChannelGrowth::MarkWindowsDirty(Partition& part, int spec_index, uint16_t chunk) {
  bool& dirty = part.windows_dirty[spec_index][chunk];
  if (dirty) return;
  dirty = true;
  part.dirty_windows.push_back(DirtyWindowChunk{static_cast<uint8_t>(spec_index), chunk});
}

void ChannelGrowth::Apply(int32_t partition, const Event& e, bool late) {
  Partition& part = partitions_[partition];
  ChannelEntry& entry = FindOrAddChannel(part, e.channel_id);
  PartialChannel& channel = entry.second;
  if (Index(e.platform, kPlatformCount) != 0) channel.platform = e.platform;
  Count(channel.totals, e);
  ApplyFollowers(partition, channel, e);
  MarkDirty(part, channel);
  if (late) return;
  for (int s = 0; s < kWindowSpecCount; ++s) {
    EventTime start = WindowStart(e.occurred_at, kWindowSpecs[s].size);
    // A caller that misjudged lateness must not reopen a reported window.
    if (IsClosed(start + kWindowSpecs[s].size, closed_through_, options_.allowed_lateness)) {
      continue;
    }
    PartialWindow& w = FindOrOpenWindow(partition, entry, s, start.millis());
    Count(w.counts, e);
    MarkWindowsDirty(part, s, channel.chunk);
  }
}

void ChannelGrowth::ApplyFollowers(int32_t partition, PartialChannel& channel, const Event& e) {
  FollowerState& f = channel.followers;
  int64_t ms = e.occurred_at.millis();
  if (e.kind == EventKind::kFollow || e.kind == EventKind::kUnfollow) {
    auto n = static_cast<int64_t>(Multiplicity(e));
    int64_t d = e.kind == EventKind::kFollow ? n : -n;
    f.net_follows += d;
    if (f.has_snapshot && Second(ms) <= Second(f.snapshot_ms)) return;
    AddDelta(f.deltas, Second(ms), d);
  } else if (e.kind == EventKind::kFollowerCount) {
    auto value = static_cast<int64_t>(e.count);
    // Ties on time go to the larger value, so arrival order cannot matter.
    if (f.has_snapshot && std::tie(ms, value) <= std::tie(f.snapshot_ms, f.snapshot_value)) {
      return;
    }
    f.has_snapshot = true;
    f.snapshot_ms = ms;
    f.snapshot_value = value;
    PruneDeltas(f.deltas, Second(ms));
    PruneOtherPartitions(partition, e.channel_id, Second(ms));
  }
}

void ChannelGrowth::PruneOtherPartitions(int32_t partition, std::string_view channel_id,
                                         int64_t second) {
  // Follows elsewhere at or before this snapshot are inside it; dropping
  // them bounds the deltas by the snapshot interval.
  for (auto& [id, part] : partitions_) {
    if (id == partition) continue;
    auto it = part.channels.find(channel_id);
    if (it != part.channels.end() && PruneDeltas(it->second.followers.deltas, second)) {
      MarkDirty(part, it->second);
    }
  }
}

ChannelGrowth::PartialWindow& ChannelGrowth::FindOrOpenWindow(int32_t partition,
                                                              ChannelEntry& channel, int spec_index,
                                                              int64_t start_ms) {
  std::vector<OpenWindow>& open = channel.second.windows[spec_index];
  auto pos = open.end();
  if (!open.empty() && open.back().start_ms >= start_ms) {
    pos = open.back().start_ms == start_ms ? open.end() - 1 : LowerBound(open, start_ms);
    if (pos->start_ms == start_ms) return window_pool_[pos->slot];
  }
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(window_pool_.size());
    window_pool_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    window_pool_[slot] = PartialWindow{};
  }
  open.insert(pos, OpenWindow{start_ms, slot});
  ++open_windows_;
  AddToCloseBucket(spec_index, start_ms + kWindowSpecs[spec_index].size.count(),
                   CloseEntry{&channel, partition, slot});
  return window_pool_[slot];
}

void ChannelGrowth::AddToCloseBucket(int spec_index, int64_t end_ms, CloseEntry entry) {
  CloseBuckets& buckets = close_buckets_[spec_index];
  // Events come mostly in time order: the newest bucket, or a new one after it.
  CloseBuckets::iterator it;
  if (buckets.empty() || buckets.rbegin()->first < end_ms) {
    it = buckets.emplace_hint(buckets.end(), end_ms, std::vector<CloseEntry>{});
  } else if (buckets.rbegin()->first == end_ms) {
    it = std::prev(buckets.end());
  } else {
    it = buckets.try_emplace(end_ms).first;
  }
  if (it->second.empty() && !spare_buckets_.empty()) {
    it->second = std::move(spare_buckets_.back());  // keeps its capacity
    spare_buckets_.pop_back();
  }
  it->second.push_back(entry);
}

void ChannelGrowth::AdvanceWatermark(EventTime watermark,
                                     const std::function<void(const ClosedWindow&)>& sink) {
  closed_through_ = std::max(closed_through_, watermark);
  for (;;) {
    // The earliest end over all specs; on a tie, the smaller size first.
    int next = -1;
    for (int s = 0; s < kWindowSpecCount; ++s) {
      if (!close_buckets_[s].empty() &&
          (next < 0 || close_buckets_[s].begin()->first < close_buckets_[next].begin()->first)) {
        next = s;
      }
    }
    if (next < 0 || !IsClosed(EventTime::FromMillis(close_buckets_[next].begin()->first), watermark,
                              options_.allowed_lateness)) {
      return;
    }
    CloseBucket(next, sink);
  }
}

void ChannelGrowth::CloseBucket(int spec_index,
                                const std::function<void(const ClosedWindow&)>& sink) {
  CloseBuckets& buckets = close_buckets_[spec_index];
  int64_t end_ms = buckets.begin()->first;
  std::vector<CloseEntry> entries = std::move(buckets.begin()->second);
  buckets.erase(buckets.begin());
  // Channel order for the sink; each channel's parts side by side, by partition.
  std::sort(entries.begin(), entries.end(), [](const CloseEntry& a, const CloseEntry& b) {
    int c = a.channel->first.compare(b.channel->first);
    return c != 0 ? c < 0 : a.partition < b.partition;
  });
  const WindowSpec& spec = kWindowSpecs[spec_index];
  for (size_t i = 0; i < entries.size();) {
    ClosedWindow out;
    out.channel_id = entries[i].channel->first;
    out.spec = &spec;
    out.end = EventTime::FromMillis(end_ms);
    out.start = out.end - spec.size;
    for (; i < entries.size() && entries[i].channel->first == out.channel_id; ++i) {
      TakeWindow(entries[i], spec_index, out);
    }
    sink(out);
  }
  entries.clear();
  if (spare_buckets_.size() < kSpareBuckets) spare_buckets_.push_back(std::move(entries));
}

// Adds one partition's part of a closing window to `out` and forgets it.
void ChannelGrowth::TakeWindow(const CloseEntry& entry, int spec_index, ClosedWindow& out) {
  PartialChannel& channel = entry.channel->second;
  std::vector<OpenWindow>& open = channel.windows[spec_index];
  int64_t start_ms = out.start.millis();
  // Windows of a channel close in start order, so this is the first one.
  auto w = !open.empty() && open.front().start_ms == start_ms ? open.begin()
                                                              : LowerBound(open, start_ms);
  const PartialWindow& pw = window_pool_[entry.slot];
  if (w == open.end() || w->slot != entry.slot) std::abort();  // the index lost a window
  out.counts.Add(pw.counts);
  if (out.platform == Platform::kUnspecified) out.platform = channel.platform;
  // Its chunk is rewritten without it (or deleted, if now empty).
  MarkWindowsDirty(partitions_.at(entry.partition), spec_index, channel.chunk);
  free_slots_.push_back(entry.slot);
  open.erase(w);
  --open_windows_;
}

ChannelView ChannelGrowth::Merge(std::string_view channel_id,
                                 const std::vector<const PartialChannel*>& parts) {
  ChannelView view;
  view.channel_id = channel_id;
  const FollowerState* newest = nullptr;
  int64_t net_follows = 0;
  for (const PartialChannel* p : parts) {
    view.totals.Add(p->totals);
    if (view.platform == Platform::kUnspecified) view.platform = p->platform;
    net_follows += p->followers.net_follows;
    const FollowerState& f = p->followers;
    if (f.has_snapshot &&
        (newest == nullptr || std::tie(f.snapshot_ms, f.snapshot_value) >
                                  std::tie(newest->snapshot_ms, newest->snapshot_value))) {
      newest = &f;
    }
  }
  if (newest == nullptr) {
    view.followers = net_follows;
    return view;
  }
  view.has_follower_snapshot = true;
  view.followers = newest->snapshot_value;
  int64_t after = Second(newest->snapshot_ms);
  for (const PartialChannel* p : parts) {
    for (const auto& [second, d] : p->followers.deltas) {
      if (second > after) view.followers += d;
    }
  }
  return view;
}

void ChannelGrowth::ForEachChannel(const std::function<void(const ChannelView&)>& fn) const {
  std::map<std::string_view, std::vector<const PartialChannel*>> by_id;
  for (const auto& [id, part] : partitions_) {
    for (const auto& [channel_id, channel] : part.channels) by_id[channel_id].push_back(&channel);
  }
  for (const auto& [channel_id, parts] : by_id) fn(Merge(channel_id, parts));
}

size_t ChannelGrowth::open_windows() const { return open_windows_; }

void ChannelGrowth::DropPartition(int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  for (const auto& [channel_id, channel] : it->second.channels) {
    for (const std::vector<OpenWindow>& open : channel.windows) {
      for (const OpenWindow& w : open) free_slots_.push_back(w.slot);
      open_windows_ -= open.size();
    }
  }
  for (CloseBuckets& buckets : close_buckets_) {
    for (auto b = buckets.begin(); b != buckets.end();) {
      std::erase_if(b->second, [&](const CloseEntry& e) { return e.partition == partition; });
      b = b->second.empty() ? buckets.erase(b) : std::next(b);
    }
  }
  partitions_.erase(it);
}

}  // namespace chorus::ops
