// ChannelGrowth: applying events to partial and merged channel state,
// listing channels and dropping partitions. Followers are in
// channel_followers_merge.cc, windows in channel_windows.cc, persistence in
// channel_persistence.cc.
#include "chorus/operators/channel_growth.h"

#include <algorithm>
#include <utility>

#include "channel_state.h"

namespace chorus::ops {

using channel_internal::ContributionOf;

ChannelGrowth::ChannelGrowth(WindowOptions options) : state_(std::make_unique<State>(options)) {}
ChannelGrowth::~ChannelGrowth() = default;
ChannelGrowth::ChannelGrowth(ChannelGrowth&&) noexcept = default;
ChannelGrowth& ChannelGrowth::operator=(ChannelGrowth&&) noexcept = default;

static_assert(ChannelGrowth::kUnknownChannel == channel_internal::ChannelCatalog::kAbsent);

ChannelGrowth::ChannelRef ChannelGrowth::Locate(int32_t partition, const Event& e) const {
  return state_->Locate(partition, e);
}
void ChannelGrowth::Prefetch(int32_t partition, const Event& e, ChannelRef channel) const {
  state_->Prefetch(partition, e, channel);
}
void ChannelGrowth::PrefetchCounts(int32_t partition, const Event& e, ChannelRef channel) const {
  state_->PrefetchCounts(partition, e, channel);
}
void ChannelGrowth::Apply(int32_t partition, const Event& e, bool late, ChannelRef channel) {
  state_->Apply(partition, e, late, channel);
}
void ChannelGrowth::Apply(int32_t partition, const Event& e, bool late) {
  state_->Apply(partition, e, late);
}
void ChannelGrowth::AdvanceWatermark(EventTime watermark,
                                     const std::function<void(const WindowResult&)>& sink) {
  state_->AdvanceWatermark(watermark, sink);
}
void ChannelGrowth::CountOnly(int spec_index, bool count_only) {
  state_->CountOnly(spec_index, count_only);
}
void ChannelGrowth::RestoreWatermark(EventTime watermark) { state_->RestoreWatermark(watermark); }
void ChannelGrowth::ApplyResponse(int32_t partition, std::string_view channel_id, EventTime at,
                                  ResponseKind kind, Millis waited) {
  state_->ApplyResponse(partition, channel_id, at, kind, waited);
}

void WindowResponses::Add(const WindowResponses& o) {
  responses += o.responses;
  response_ms += o.response_ms;
  first_responses += o.first_responses;
  first_response_ms += o.first_response_ms;
}
void ChannelGrowth::ForEachChannel(const std::function<void(const ChannelView&)>& fn) const {
  state_->ForEachChannel(fn);
}
size_t ChannelGrowth::open_windows() const { return state_->open_windows(); }
void ChannelGrowth::DrainDirty(Mutations& out) { state_->DrainDirty(out); }
bool ChannelGrowth::Restore(std::string_view key, std::string_view value) {
  return state_->Restore(key, value);
}
void ChannelGrowth::DropPartition(int32_t partition) { state_->DropPartition(partition); }

ChannelGrowth::State::Partition& ChannelGrowth::State::PartitionFor(int32_t id) {
  // Records come in runs from one partition.
  if (last_partition_ != nullptr && last_partition_->id == id) return *last_partition_;
  Partition& part = partitions_[id];
  part.id = id;
  last_partition_ = &part;
  return part;
}

ChannelGrowth::State::LocalIndex ChannelGrowth::State::FindOrAddChannel(Partition& part,
                                                                        ChannelIndex c) {
  LocalIndex local = part.Find(c);
  if (local != kAbsent) return local;
  if (part.local_of.size() <= c) part.local_of.resize(catalog_.size(), kAbsent);
  local = static_cast<LocalIndex>(part.channels.size());
  part.local_of[c] = local;
  part.channels.emplace_back().channel = c;
  part.platforms.push_back(Platform::kUnspecified);
  part.prune_due.push_back(FollowerState{}.PruneDue());
  std::vector<LocalIndex>& in_chunk = part.chunk_channels[catalog_.chunk(c)];
  std::string_view id = catalog_.id(c);
  auto pos = std::lower_bound(in_chunk.begin(), in_chunk.end(), id, [&](LocalIndex l, auto s) {
    return catalog_.id(part.channels[l].channel) < s;
  });
  in_chunk.insert(pos, local);
  if (merged_.size() <= c) merged_.resize(catalog_.size());
  std::vector<Partition*>& holders = merged_[c].holders;
  holders.insert(std::upper_bound(holders.begin(), holders.end(), part.id,
                                  [](int32_t id, const Partition* p) { return id < p->id; }),
                 &part);
  // An empty partial changes no merge.
  return local;
}

void ChannelGrowth::State::MarkDirty(Partition& part, ChannelIndex c) const {
  uint16_t chunk = catalog_.chunk(c);
  if (part.totals_dirty[chunk]) return;
  part.totals_dirty[chunk] = true;
  part.dirty_totals.push_back(chunk);
}

const ChannelGrowth::State::Partition* ChannelGrowth::State::PartitionToPrefetch(int32_t id) const {
  if (last_partition_ != nullptr && last_partition_->id == id) return last_partition_;
  auto it = partitions_.find(id);
  return it == partitions_.end() ? nullptr : &it->second;
}

template <typename Fn>
void ChannelGrowth::State::ForEachLatestGroup(const Partition& part, EventTime at, Fn&& fn) {
  for (int s = 0; s < kWindowSpecCount; ++s) {
    const WindowGroup* g = part.last_group[s];
    if (g != nullptr && g->start_ms == WindowStart(at, kWindowSpecs[s].size).millis()) fn(*g);
  }
}

// Finds the channel without interning it (a new one is interned by Apply,
// in event order), and loads the slots of its partial state's index and of
// its latest windows' indexes.
channel_internal::ChannelIndex ChannelGrowth::State::Locate(int32_t partition,
                                                            const Event& e) const {
  const ChannelIndex c = catalog_.Find(e.channel_id);
  const Partition* part = PartitionToPrefetch(partition);
  if (c == channel_internal::ChannelCatalog::kAbsent || part == nullptr) return c;
  if (c < part->local_of.size()) PrefetchLine(&part->local_of[c]);
  ForEachLatestGroup(*part, e.occurred_at, [&](const WindowGroup& g) { g.entry_of.Prefetch(c); });
  return c;
}

// Through the indexes Locate() loaded: the partial channel, the channel's
// merge, the counters the event adds to in both, and the channel's latest
// windows.
void ChannelGrowth::State::Prefetch(int32_t partition, const Event& e, ChannelIndex c) const {
  const Partition* part = PartitionToPrefetch(partition);
  if (c == channel_internal::ChannelCatalog::kAbsent || part == nullptr) return;
  const LocalIndex local = part->Find(c);
  if (local == kAbsent) return;
  const PartialChannel& channel = part->channels[local];
  const MergedChannel& m = merged_[c];  // a held channel has one
  const channel_internal::Contribution x = ContributionOf(e);
  PrefetchLine(&channel);
  PrefetchLine(&m.stale);
  for (int i = 0; i < x.size; ++i) {
    PrefetchLine(&channel_internal::Counter(channel.totals, x.counter[i]));
    PrefetchLine(&channel_internal::Counter(m.totals, x.counter[i]));
  }
  ForEachLatestGroup(*part, e.occurred_at, [&](const WindowGroup& g) {
    const uint32_t entry = g.entry_of.Find(c);
    if (entry == channel_internal::IndexMap::kNotFound) return;
    if (g.count_only) {
      PrefetchLine(&g.counted[entry]);
      return;
    }
    // Both ends: an entry is not line-aligned, and its counts' pointer to
    // their dense array is near its end.
    const WindowEntry& w = g.entries[entry];
    PrefetchLine(&w);
    PrefetchLine(reinterpret_cast<const char*>(&w + 1) - 1);
  });
}

// Through the windows Prefetch() loaded: their spilled counters.
void ChannelGrowth::State::PrefetchCounts(int32_t partition, const Event& e, ChannelIndex c) const {
  const Partition* part = PartitionToPrefetch(partition);
  if (c == channel_internal::ChannelCatalog::kAbsent || part == nullptr) return;
  const channel_internal::Contribution x = ContributionOf(e);
  ForEachLatestGroup(*part, e.occurred_at, [&](const WindowGroup& g) {
    if (g.count_only) return;
    if (uint32_t entry = g.entry_of.Find(c); entry != channel_internal::IndexMap::kNotFound) {
      g.entries[entry].counts.Prefetch(x);
    }
  });
}

void ChannelGrowth::State::Apply(int32_t partition, const Event& e, bool late, ChannelIndex c) {
  Partition& part = PartitionFor(partition);
  if (c == channel_internal::ChannelCatalog::kAbsent) c = catalog_.Intern(e.channel_id);
  LocalIndex local = FindOrAddChannel(part, c);
  PartialChannel& channel = part.channels[local];
  MergedChannel& m = Merged(c);
  if (static_cast<int>(e.platform) < kPlatformCount && e.platform != Platform::kUnspecified) {
    part.platforms[local] = e.platform;
    if (m.platform == Platform::kUnspecified || part.id <= m.platform_partition) {
      m.platform = e.platform;
      m.platform_partition = part.id;
    }
  }
  const channel_internal::Contribution x = ContributionOf(e);
  Add(channel.totals, x);
  Add(m.totals, x);
  ApplyFollowers(part, channel, m, e);
  MarkDirty(part, c);
  if (late) return;
  UpdateWindows(part, c, local, e.occurred_at, [&](WindowEntry& entry) { entry.counts.Add(x); });
}

template <typename Fn>
void ChannelGrowth::State::UpdateWindows(Partition& part, ChannelIndex c, LocalIndex local,
                                         EventTime at, Fn&& fn) {
  for (int s = 0; s < kWindowSpecCount; ++s) {
    EventTime start = WindowStart(at, kWindowSpecs[s].size);
    EventTime end = start + kWindowSpecs[s].size;
    // A caller that misjudged lateness must not reopen a closed window.
    if (IsClosed(end, watermark_, options_.allowed_lateness)) continue;
    WindowGroup& group = FindOrAddGroup(part, s, start.millis());
    const bool fired = HasFired(end, watermark_);
    if (group.count_only) {
      // Changed only by a channel's first window or a first update since
      // it fired.
      const size_t before = group.counted.size();
      CountedWindow& w = FindOrOpenCounted(group, c);
      bool changed = group.counted.size() != before;
      if (fired && (w & kCountedPending) == 0) {
        w |= kCountedPending;
        pending_buckets_.emplace(end.millis(), s);
        changed = true;
      }
      if (changed) MarkGroupDirty(group);
      continue;
    }
    WindowEntry& entry = FindOrOpenWindow(group, c, local);
    fn(entry);
    if (fired && !entry.pending) {
      entry.pending = true;
      pending_buckets_.emplace(end.millis(), s);
    }
    MarkGroupDirty(group);
  }
}

void ChannelGrowth::State::ApplyResponse(int32_t partition, std::string_view channel_id,
                                         EventTime at, ResponseKind kind, Millis waited) {
  Partition& part = PartitionFor(partition);
  ChannelIndex c = catalog_.Intern(channel_id);
  LocalIndex local = FindOrAddChannel(part, c);
  auto ms = static_cast<uint64_t>(std::max<int64_t>(0, waited.count()));
  UpdateWindows(part, c, local, at, [&](WindowEntry& entry) {
    if (!entry.responses) entry.responses = std::make_unique<WindowResponses>();
    if (kind == ResponseKind::kClosing) {
      entry.responses->responses++;
      entry.responses->response_ms += ms;
    } else {
      entry.responses->first_responses++;
      entry.responses->first_response_ms += ms;
    }
  });
}

ChannelGrowth::State::MergedChannel& ChannelGrowth::State::Merged(ChannelIndex c) const {
  MergedChannel& m = merged_[c];
  if (m.stale) Recompute(c, m);
  return m;
}

// The merge from scratch, as the incremental updates keep it.
void ChannelGrowth::State::Recompute(ChannelIndex c, MergedChannel& m) const {
  m.stale = false;
  m.platform = Platform::kUnspecified;
  m.totals = ChannelCounts{};
  std::vector<const FollowerState*> followers;
  for (Partition* p : m.holders) {
    const LocalIndex local = p->Find(c);
    const PartialChannel& pc = p->channels[local];
    const Platform platform = p->platforms[local];
    followers.push_back(&pc.followers);
    m.totals.Add(pc.totals);
    if (m.platform == Platform::kUnspecified && platform != Platform::kUnspecified) {
      m.platform = platform;
      m.platform_partition = p->id;
    }
  }
  m.followers.AssignMerge(followers);
  m.follows_after =
      m.followers.has_snapshot()
          ? m.followers.SumFrom(channel_internal::SecondOf(m.followers.newest().ms) + 1)
          : 0;
}

void ChannelGrowth::State::ForEachChannel(const std::function<void(const ChannelView&)>& fn) const {
  ChannelView view;
  for (ChannelIndex c : catalog_.in_id_order()) {
    if (c >= merged_.size() || merged_[c].holders.empty()) continue;
    const MergedChannel& m = Merged(c);
    view.channel_id = catalog_.id(c);
    view.platform = m.platform;
    view.totals = m.totals;
    view.has_follower_snapshot = m.followers.has_snapshot();
    view.followers = m.current_followers();
    fn(view);
  }
}

void ChannelGrowth::State::DropPartition(int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  Partition& part = it->second;
  ForgetWindows(part);
  for (const PartialChannel& channel : part.channels) {
    MergedChannel& m = merged_[channel.channel];
    std::erase(m.holders, &part);
    m.stale = true;
  }
  if (last_partition_ == &part) last_partition_ = nullptr;
  partitions_.erase(it);
}

}  // namespace chorus::ops
