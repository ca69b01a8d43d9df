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
  FollowerState& merged = m.followers;
  const int64_t ms = e.occurred_at.millis();
  if (e.kind == EventKind::kFollow || e.kind == EventKind::kUnfollow) {
    auto n = static_cast<int64_t>(Multiplicity(e));
    int64_t d = e.kind == EventKind::kFollow ? n : -n;
    f.net_follows += d;
    merged.net_follows += d;
    f.AddDelta(SecondOf(ms), d);
    merged.AddDelta(SecondOf(ms), d);
    if (merged.has_snapshot() && SecondOf(ms) > SecondOf(merged.newest().ms)) m.follows_after += d;
  } else if (e.kind == EventKind::kFollowerCount) {
    const FollowerSnapshot s{ms, static_cast<int64_t>(e.count)};
    if (!f.AddSnapshot(s)) return;
    const bool newest = !merged.has_snapshot() || s > merged.newest();
    merged.AddSnapshot(s);
    if (newest) m.follows_after = merged.SumFrom(SecondOf(s.ms) + 1);
  } else {
    return;
  }
  PruneFollowers(part, channel);
}

int64_t ChannelGrowth::State::FollowersAt(ChannelIndex c, int64_t ms) const {
  const MergedChannel& m = Merged(c);
  const FollowerState& f = m.followers;
  const int64_t second = SecondOf(ms);
  // State from before the snapshot history lacks the follows before its
  // newest snapshot: that snapshot stands in, as it did.
  if (f.has_snapshot() && ms <= f.legacy_until_ms) return f.newest().value;
  const FollowerSnapshot* before = f.NewestBefore(ms);
  if (before == nullptr) return f.net_follows - f.SumFrom(second);
  if (before == &f.newest()) {
    // The current count less the follows from `ms` on: the newest, read
    // from the back.
    return m.current_followers() - f.SumFrom(std::max(second, SecondOf(before->ms) + 1));
  }
  return before->value + f.SumBetween(SecondOf(before->ms), second);
}

std::optional<int64_t> ChannelGrowth::State::Horizon() const {
  if (watermark_ == EventTime::Min()) return std::nullopt;
  const int64_t largest = kWindowSpecs.back().size.count();
  return SecondOf(watermark_.millis() - options_.allowed_lateness.count() - largest);
}

namespace {

// The second of the newest snapshot before `horizon` (seconds) of the
// merged `f`: follows up to it are inside it for every time from the
// horizon on.
std::optional<int64_t> Covered(const channel_internal::FollowerState& f, int64_t horizon) {
  const FollowerSnapshot* s = f.NewestBefore(horizon * 1000);
  return s != nullptr ? std::optional<int64_t>(SecondOf(s->ms)) : std::nullopt;
}

}  // namespace

void ChannelGrowth::State::PruneFollowers(Partition& part, PartialChannel& channel, bool force) {
  if (const std::optional<int64_t> horizon = Horizon()) {
    MergedChannel& m = Merged(channel.channel);
    const int64_t slack = force ? 0 : kPruneSlackSeconds;
    if (channel.followers.NeedsPrune(*horizon, slack) &&
        channel.followers.Prune(*horizon, Covered(m.followers, *horizon))) {
      MarkDirty(part, channel.channel);
    }
    PruneMerged(m, force);
  }
  part.prune_due[&channel - part.channels.data()] = channel.followers.PruneDue();
}

void ChannelGrowth::State::PruneMerged(MergedChannel& m, bool force) {
  const std::optional<int64_t> horizon = Horizon();
  const int64_t slack = force ? 0 : kPruneSlackSeconds;
  // The sums after the newest snapshot stay as they were (see Prune).
  if (horizon && !m.stale && m.followers.NeedsPrune(*horizon, slack)) {
    m.followers.Prune(*horizon, Covered(m.followers, *horizon));
  }
}

void ChannelGrowth::State::SweepFollowers() {
  const std::optional<int64_t> horizon = Horizon();
  if (!horizon) return;
  const int64_t hour = FloorDiv(*horizon, 3'600);
  if (swept_hour_ == hour) return;
  swept_hour_ = hour;
  for (auto& [id, part] : partitions_) {
    for (size_t local = 0; local < part.channels.size(); ++local) {
      // Skipped, a channel would not have been pruned (NeedsPrune is false).
      if (part.prune_due[local] < *horizon) PruneFollowers(part, part.channels[local], true);
    }
  }
  // Merges are pruned at the same horizon (Covered is the same before and
  // after: a prune keeps the newest snapshot before the horizon).
  for (MergedChannel& m : merged_) PruneMerged(m, true);
}

}  // namespace chorus::ops
