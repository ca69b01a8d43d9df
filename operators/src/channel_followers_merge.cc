// ChannelGrowth's followers merged over partitions: applying follows and
// snapshots, followers at a window edge, and pruning what the horizon left
// behind (channel_followers.h has the rule and the per-partition state).
#include <algorithm>
#include <tuple>

#include "channel_state.h"

namespace chorus::ops {

using channel_internal::FollowerSnapshot;
using channel_internal::SecondOf;

namespace {

// Prunes on an event wait until there is an hour's worth to forget.
constexpr int64_t kPruneSlackSeconds = 3'600;

}  // namespace

void ChannelGrowth::State::ApplyFollowers(Partition& part, PartialChannel& channel,
                                          MergedChannel& m, const Event& e) {
  FollowerState& f = channel.followers;
  const int64_t ms = e.occurred_at.millis();
  if (e.kind == EventKind::kFollow || e.kind == EventKind::kUnfollow) {
    auto n = static_cast<int64_t>(Multiplicity(e));
    int64_t d = e.kind == EventKind::kFollow ? n : -n;
    f.net_follows += d;
    m.net_follows += d;
    bool had_deltas = !f.deltas.empty();
    f.AddDelta(SecondOf(ms), d);
    if (f.deltas.empty()) {
      std::erase(m.with_deltas, &part);
    } else if (!had_deltas) {
      m.with_deltas.push_back(&part);
    }
    if (m.has_snapshot && SecondOf(ms) > SecondOf(m.snapshot_ms)) m.follows_after += d;
  } else if (e.kind == EventKind::kFollowerCount) {
    const FollowerSnapshot s{ms, static_cast<int64_t>(e.count)};
    if (!f.AddSnapshot(s)) return;
    if (!m.has_snapshot || std::tie(s.ms, s.value) > std::tie(m.snapshot_ms, m.snapshot_value)) {
      m.has_snapshot = true;
      m.snapshot_ms = s.ms;
      m.snapshot_value = s.value;
      m.follows_after = FollowsAfter(channel.channel, m, SecondOf(s.ms));
    }
  } else {
    return;
  }
  PruneFollowers(part, channel);
}

int64_t ChannelGrowth::State::FollowsAfter(ChannelIndex c, const MergedChannel& m,
                                           int64_t second) const {
  int64_t sum = 0;
  for (const Partition* p : m.with_deltas) {
    sum += p->channels[p->Find(c)].followers.SumFrom(second + 1);
  }
  return sum;
}

int64_t ChannelGrowth::State::FollowersAt(ChannelIndex c, int64_t ms) const {
  const MergedChannel& m = Merged(c);
  const int64_t second = SecondOf(ms);
  // State from before the snapshot history lacks the follows before its
  // newest snapshot: that snapshot stands in, as it did.
  if (m.has_snapshot && ms <= m.legacy_until_ms) return m.snapshot_value;
  if (!m.has_snapshot || m.snapshot_ms < ms) {
    // The newest snapshot (if any) is before `ms`: the current count less
    // the follows from `ms` on, which are the newest, read from the back.
    const int64_t from = m.has_snapshot ? std::max(second, SecondOf(m.snapshot_ms) + 1) : second;
    int64_t now = m.has_snapshot ? m.snapshot_value + m.follows_after : m.net_follows;
    for (const Partition* p : m.with_deltas) now -= p->channels[p->Find(c)].followers.SumFrom(from);
    return now;
  }
  const FollowerSnapshot* before = nullptr;
  for (const Partition* p : m.holders) {
    const FollowerSnapshot* s = p->channels[p->Find(c)].followers.NewestBefore(ms);
    if (s != nullptr && (before == nullptr || *s > *before)) before = s;
  }
  int64_t out = before != nullptr ? before->value : m.net_follows;
  for (const Partition* p : m.with_deltas) {
    const FollowerState& f = p->channels[p->Find(c)].followers;
    out += before != nullptr ? f.SumBetween(SecondOf(before->ms), second) : -f.SumFrom(second);
  }
  return out;
}

std::optional<int64_t> ChannelGrowth::State::Horizon() const {
  if (watermark_ == EventTime::Min()) return std::nullopt;
  const int64_t largest = kWindowSpecs.back().size.count();
  return SecondOf(watermark_.millis() - options_.allowed_lateness.count() - largest);
}

void ChannelGrowth::State::PruneFollowers(Partition& part, PartialChannel& channel, bool force) {
  const std::optional<int64_t> horizon = Horizon();
  FollowerState& f = channel.followers;
  if (!horizon || !f.NeedsPrune(*horizon, force ? 0 : kPruneSlackSeconds)) return;
  // The newest snapshot before the horizon in any partition: follows up to
  // it are inside it for every time from the horizon on.
  const MergedChannel& m = merged_[channel.channel];
  std::optional<FollowerSnapshot> covering;
  for (const Partition* p : m.holders) {
    const FollowerSnapshot* s =
        p->channels[p->Find(channel.channel)].followers.NewestBefore(*horizon * 1000);
    if (s != nullptr && (!covering || *s > *covering)) covering = *s;
  }
  std::optional<int64_t> covered;
  if (covering) covered = SecondOf(covering->ms);
  if (!f.Prune(*horizon, covered)) return;
  MarkDirty(part, channel.channel);
  // The sums after the newest snapshot are as they were (see Prune).
  if (f.deltas.empty()) std::erase(merged_[channel.channel].with_deltas, &part);
}

void ChannelGrowth::State::SweepFollowers() {
  const std::optional<int64_t> horizon = Horizon();
  if (!horizon) return;
  const int64_t hour = FloorDiv(*horizon, 3'600);
  if (swept_hour_ == hour) return;
  swept_hour_ = hour;
  for (auto& [id, part] : partitions_) {
    for (PartialChannel& channel : part.channels) PruneFollowers(part, channel, true);
  }
}

}  // namespace chorus::ops
