// ChannelGrowth's windows: opening them as events arrive, closing them as
// the watermark passes, merging each closed window over partitions.
#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "channel_state.h"

namespace chorus::ops {

namespace {

static_assert(std::is_sorted(kWindowSpecs.begin(), kWindowSpecs.end(),
                             [](const WindowSpec& a, const WindowSpec& b) {
                               return a.size < b.size;
                             }),
              "closing order (end, size, channel) relies on specs sorted by size");

// Emptied close buckets kept for reuse: a few cover the buckets open at once
// for the common case of one bucket per size per window end.
constexpr size_t kSpareBuckets = 16;
// Closed groups' storage kept per size: about what one bucket of groups frees.
constexpr size_t kSpareGroups = 128;

}  // namespace

ChannelGrowth::State::WindowGroup& ChannelGrowth::State::FindOrAddGroup(Partition& part,
                                                                        int spec_index,
                                                                        int64_t start_ms) {
  WindowGroup*& last = part.last_group[spec_index];
  if (last != nullptr && last->start_ms == start_ms) return *last;
  // The newest group stays cached: an older one is used for a late event or
  // for a thread response the watermark settled, and the partition's next
  // events would miss here again (and go unprefetched) after each.
  auto newest = [&](WindowGroup& g) -> WindowGroup& {
    if (last == nullptr || g.start_ms > last->start_ms) last = &g;
    return g;
  };
  std::map<int64_t, WindowGroup>& groups = part.groups[spec_index];
  // Events come mostly in time order: the newest group, or a new one after it.
  auto hint = !groups.empty() && groups.rbegin()->first < start_ms ? groups.end()
                                                                   : groups.lower_bound(start_ms);
  if (hint != groups.end() && hint->first == start_ms) return newest(hint->second);
  WindowGroup& group = groups.emplace_hint(hint, start_ms, WindowGroup{})->second;
  group.partition = &part;
  group.spec_index = spec_index;
  group.start_ms = start_ms;
  group.count_only = count_only_[spec_index];
  if (std::vector<SpareGroup>& spares = spare_groups_[spec_index]; !spares.empty()) {
    group.entries = std::move(spares.back().entries);
    group.counted = std::move(spares.back().counted);
    group.entry_of = std::move(spares.back().entry_of);
    spares.pop_back();
  }
  newest(group);
  CloseBuckets& buckets = close_buckets_[spec_index];
  int64_t end_ms = start_ms + kWindowSpecs[spec_index].size.count();
  auto it = buckets.find(end_ms);
  if (it == buckets.end()) {
    it = buckets.emplace_hint(buckets.upper_bound(end_ms), end_ms, std::vector<WindowGroup*>{});
    if (!spare_buckets_.empty()) {
      it->second = std::move(spare_buckets_.back());  // keeps its capacity
      spare_buckets_.pop_back();
    }
  }
  it->second.push_back(&group);
  return group;
}

ChannelGrowth::State::WindowEntry& ChannelGrowth::State::FindOrOpenWindow(WindowGroup& group,
                                                                          ChannelIndex c,
                                                                          LocalIndex local) {
  uint32_t entry = group.entry_of.Find(c);
  if (entry == channel_internal::IndexMap::kNotFound) {
    entry = static_cast<uint32_t>(group.entries.size());
    group.entries.push_back(WindowEntry{c, local, {}, 0, false, nullptr});
    group.entry_of.Insert(c, entry);
    ++open_windows_;
  }
  return group.entries[entry];
}

ChannelGrowth::State::CountedWindow& ChannelGrowth::State::FindOrOpenCounted(WindowGroup& group,
                                                                             ChannelIndex c) {
  uint32_t entry = group.entry_of.Find(c);
  if (entry == channel_internal::IndexMap::kNotFound) {
    entry = static_cast<uint32_t>(group.counted.size());
    group.counted.push_back(c);
    group.entry_of.Insert(c, entry);
    ++open_windows_;
  }
  return group.counted[entry];
}

void ChannelGrowth::State::AdvanceWatermark(EventTime watermark, const ResultSink& sink) {
  // Corrections first: they concern windows that fired before, so they sort
  // before the windows firing now.
  for (const auto& [end_ms, s] : pending_buckets_) EmitBucket(s, end_ms, Emit::kCorrections, sink);
  pending_buckets_.clear();
  if (watermark <= watermark_) return;
  const EventTime fired_before = watermark_;
  watermark_ = watermark;
  // Fire the buckets ending in (fired_before, watermark], merged by (end, size).
  std::array<CloseBuckets::iterator, kWindowSpecCount> next;
  for (int s = 0; s < kWindowSpecCount; ++s) {
    next[s] = fired_before == EventTime::Min()
                  ? close_buckets_[s].begin()
                  : close_buckets_[s].upper_bound(fired_before.millis());
  }
  for (;;) {
    int pick = -1;
    for (int s = 0; s < kWindowSpecCount; ++s) {
      if (next[s] == close_buckets_[s].end() || next[s]->first > watermark.millis()) continue;
      if (pick < 0 || next[s]->first < next[pick]->first) pick = s;
    }
    if (pick < 0) break;
    int64_t end_ms = next[pick]->first;
    ++next[pick];
    EmitBucket(pick, end_ms, Emit::kAll, sink);
  }
  for (int s = 0; s < kWindowSpecCount; ++s) {
    CloseBuckets& buckets = close_buckets_[s];
    while (!buckets.empty() && IsClosed(EventTime::FromMillis(buckets.begin()->first), watermark,
                                        options_.allowed_lateness)) {
      CloseBucket(s);
    }
  }
  SweepFollowers();
}

void ChannelGrowth::State::AddSorted(WindowGroup& group) {
  // The partition's sign bit flipped, so unsigned order is signed order.
  uint64_t partition = static_cast<uint32_t>(group.partition->id) ^ 0x80000000u;
  for (uint32_t i = 0; i < group.windows(); ++i) {
    uint64_t rank = catalog_.rank(group.channel(i));
    sorted_.push_back(SortedEntry{rank << 32 | partition, &group, i});
  }
}

void ChannelGrowth::State::SortBucket(std::vector<WindowGroup*>& groups) {
  catalog_.RefreshRanks();
  // Partition by partition, so that a stable sort by rank leaves each
  // channel's parts by partition.
  std::sort(groups.begin(), groups.end(), [](const WindowGroup* a, const WindowGroup* b) {
    return a->partition->id < b->partition->id;
  });
  sorted_.clear();
  for (WindowGroup* g : groups) AddSorted(*g);
  SortEntries();
}

void ChannelGrowth::State::SortEntries() {
  if (sorted_.size() < catalog_.size()) {  // few: cheaper than a pass over every rank
    std::sort(sorted_.begin(), sorted_.end(),
              [](const SortedEntry& a, const SortedEntry& b) { return a.key < b.key; });
    return;
  }
  // A closing hour holds tens of thousands of entries: counted by rank and
  // placed in one pass each, where std::sort took 1 % of the processing
  // thread.
  rank_starts_.assign(catalog_.size() + 1, 0);
  for (const SortedEntry& e : sorted_) ++rank_starts_[(e.key >> 32) + 1];
  for (size_t r = 1; r < rank_starts_.size(); ++r) rank_starts_[r] += rank_starts_[r - 1];
  unsorted_.swap(sorted_);
  sorted_.resize(unsorted_.size());
  for (const SortedEntry& e : unsorted_) sorted_[rank_starts_[e.key >> 32]++] = e;
}

void ChannelGrowth::State::EmitBucket(int spec_index, int64_t end_ms, Emit which,
                                      const ResultSink& sink) {
  auto bucket = close_buckets_[spec_index].find(end_ms);
  if (bucket == close_buckets_[spec_index].end()) return;
  const WindowSpec& spec = kWindowSpecs[spec_index];
  // A count-only group knows no counts, so a bucket holding one is counted
  // even for a caller that reads this size now.
  const bool counting =
      count_only_[spec_index] || std::any_of(bucket->second.begin(), bucket->second.end(),
                                             [](const WindowGroup* g) { return g->count_only; });
  WindowResult count;
  count.spec = &spec;
  count.end = EventTime::FromMillis(end_ms);
  count.start = count.end - spec.size;
  count.count_only = true;
  count.windows = 0;
  if (counting && which == Emit::kAll) {
    count.windows = CountChannels(bucket->second);
    if (count.windows > 0) sink(count);
    return;
  }
  // Channel order for the sink, by rank rather than by comparing ids; each
  // channel's parts side by side, by partition. Keys are unique: a group
  // has one entry per channel, a partition one group per bucket.
  SortBucket(bucket->second);
  WindowResult out;
  out.spec = &spec;
  out.end = EventTime::FromMillis(end_ms);
  out.start = out.end - spec.size;
  for (size_t i = 0; i < sorted_.size();) {
    uint64_t rank = sorted_[i].key >> 32;
    size_t first = i;
    bool pending = false;
    uint32_t corrections = 0;
    for (; i < sorted_.size() && sorted_[i].key >> 32 == rank; ++i) {
      const WindowGroup& g = *sorted_[i].group;
      if (g.count_only) {
        pending |= (g.counted[sorted_[i].entry] & kCountedPending) != 0;
        continue;
      }
      const WindowEntry& e = g.entries[sorted_[i].entry];
      pending |= e.pending;
      corrections = std::max(corrections, e.corrections);
    }
    if (which == Emit::kCorrections && !pending) continue;
    const uint32_t revision = which == Emit::kAll ? 0 : corrections + 1;
    if (which == Emit::kCorrections) {
      for (size_t j = first; j < i; ++j) {
        WindowGroup& g = *sorted_[j].group;
        // Stored, so a restart numbers the next correction on from here.
        if (g.count_only) {
          g.counted[sorted_[j].entry] &= ~kCountedPending;
        } else {
          g.entries[sorted_[j].entry].corrections = revision;
          g.entries[sorted_[j].entry].pending = false;
        }
        MarkGroupDirty(g);
      }
    }
    if (counting) {  // a correction: counted, not merged
      ++count.windows;
      continue;
    }
    const ChannelIndex c = sorted_[first].group->channel(sorted_[first].entry);
    out.channel_id = catalog_.id(c);
    out.platform = Platform::kUnspecified;
    out.counts = ChannelCounts{};
    out.responses = WindowResponses{};
    out.revision = revision;
    for (size_t j = first; j < i; ++j) {
      const WindowGroup& g = *sorted_[j].group;
      const WindowEntry& e = g.entries[sorted_[j].entry];
      e.counts.AddTo(out.counts);
      if (e.responses) out.responses.Add(*e.responses);
      if (out.platform == Platform::kUnspecified) {
        out.platform = g.partition->platforms[e.local];
      }
    }
    out.followers_start = FollowersAt(c, out.start.millis());
    out.followers_end = FollowersAt(c, end_ms);
    sink(out);
  }
  if (count.windows > 0) {
    count.revision = 1;  // corrections; their own numbers are the stored ones
    sink(count);
  }
}

uint32_t ChannelGrowth::State::CountChannels(const std::vector<WindowGroup*>& groups) {
  if (++counting_ == 0) {  // wrapped: forget every stamp
    std::fill(counted_in_.begin(), counted_in_.end(), 0);
    counting_ = 1;
  }
  if (counted_in_.size() < catalog_.size()) counted_in_.resize(catalog_.size(), 0);
  uint32_t channels = 0;
  for (const WindowGroup* g : groups) {
    for (uint32_t i = 0; i < g->windows(); ++i) {
      const ChannelIndex c = g->channel(i);
      if (counted_in_[c] == counting_) continue;
      counted_in_[c] = counting_;
      ++channels;
    }
  }
  return channels;
}

void ChannelGrowth::State::CloseBucket(int spec_index) {
  CloseBuckets& buckets = close_buckets_[spec_index];
  std::vector<WindowGroup*> groups = std::move(buckets.begin()->second);
  buckets.erase(buckets.begin());
  for (WindowGroup* g : groups) RemoveGroup(*g);
  groups.clear();
  if (spare_buckets_.size() < kSpareBuckets) spare_buckets_.push_back(std::move(groups));
}

void ChannelGrowth::State::MarkGroupDirty(WindowGroup& group) {
  if (group.dirty) return;
  group.dirty = true;
  group.partition->dirty_groups.push_back(GroupKey{group.spec_index, group.start_ms});
}

// Forgets a closed group.
void ChannelGrowth::State::RemoveGroup(WindowGroup& group) {
  Partition& part = *group.partition;
  open_windows_ -= group.windows();
  // The store drops it at the next drain.
  if (group.persisted) {
    part.deleted_groups.push_back(GroupKey{group.spec_index, group.start_ms, group.count_only});
  }
  if (part.last_group[group.spec_index] == &group) part.last_group[group.spec_index] = nullptr;
  if (std::vector<SpareGroup>& spares = spare_groups_[group.spec_index];
      spares.size() < kSpareGroups) {
    group.entries.clear();
    group.counted.clear();
    group.entry_of.Clear();
    spares.push_back(
        SpareGroup{std::move(group.entries), std::move(group.counted), std::move(group.entry_of)});
  }
  part.groups[group.spec_index].erase(group.start_ms);
}

void ChannelGrowth::State::ForgetWindows(Partition& part) {
  for (const auto& groups : part.groups) {
    for (const auto& [start, group] : groups) open_windows_ -= group.windows();
  }
  for (CloseBuckets& buckets : close_buckets_) {
    for (auto b = buckets.begin(); b != buckets.end();) {
      std::erase_if(b->second, [&](const WindowGroup* g) { return g->partition == &part; });
      b = b->second.empty() ? buckets.erase(b) : std::next(b);
    }
  }
}

}  // namespace chorus::ops
