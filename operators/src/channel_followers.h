// One partition's follower state of one channel (internal to operators/):
// the FOLLOWER_COUNT snapshots and per-second follow/unfollow deltas from
// which ChannelGrowth computes followers at any time a window edge can
// still need, and the current count.
//
// The rule (see channel_growth.h): followers at t are the value of the
// newest snapshot, in any partition, stamped before t, plus every
// partition's follows minus unfollows in the seconds after that snapshot's
// second and before t's second; with no snapshot before t, lifetime
// follows − unfollows before t. Only t at or after a *horizon* (watermark −
// allowed lateness − the largest window, in whole seconds) can still be
// asked for, so Prune forgets what no such t needs: snapshots before the
// horizon but the newest one, deltas inside the newest snapshot before the
// horizon of any partition, and sums the other deltas before the horizon
// into one. A channel that never sends snapshots thus keeps one span of
// deltas plus its lifetime sum, like any other.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "chorus/operators/time.h"

namespace chorus::ops::channel_internal {

// Deltas are kept per second of event time, floored.
constexpr int64_t SecondOf(int64_t ms) { return FloorDiv(ms, 1000); }

struct FollowerSnapshot {
  int64_t ms = 0;
  int64_t value = 0;
  // Ties on time go to the larger value, so arrival order cannot matter.
  auto operator<=>(const FollowerSnapshot&) const = default;
};

struct FollowerState {
  static constexpr int64_t kNoLegacy = std::numeric_limits<int64_t>::min();

  // By time, one per millisecond (the largest value): every one stamped at
  // or after the horizon, and the newest before it.
  std::vector<FollowerSnapshot> snapshots;
  int64_t net_follows = 0;  // lifetime follows − unfollows
  // (second, net follows), by second, none zero. A sorted vector: follows
  // mostly arrive in time order, so an insert is usually an append.
  std::vector<std::pair<int64_t, int64_t>> deltas;
  // Restored from the stored form before the snapshot history (tag 0x03),
  // which kept deltas only after the channel's newest snapshot: at times up
  // to this one, the newest snapshot's value stands in, as it did then.
  int64_t legacy_until_ms = kNoLegacy;

  bool has_snapshot() const { return !snapshots.empty(); }
  const FollowerSnapshot& newest() const { return snapshots.back(); }

  // Replaces this with the merge of `parts`: snapshots by time (the larger
  // value on ties), deltas and net follows summed, the latest legacy bound.
  void AssignMerge(const std::vector<const FollowerState*>& parts);
  // Adds the delta `d` at `second`.
  void AddDelta(int64_t second, int64_t d);
  // Keeps the snapshot; false if one at its time is at least as large.
  bool AddSnapshot(FollowerSnapshot s);
  // The newest snapshot stamped before `ms`, or null.
  const FollowerSnapshot* NewestBefore(int64_t ms) const;
  // Deltas with lo < second < hi, summed.
  int64_t SumBetween(int64_t lo, int64_t hi) const;
  // Deltas with second >= from, summed (read from the back: the newest).
  int64_t SumFrom(int64_t from) const;

  // Whether Prune at `horizon` (seconds) would forget something `slack`
  // seconds old or more: prunes run in batches, not on every event.
  bool NeedsPrune(int64_t horizon, int64_t slack) const { return PruneDue() < horizon - slack; }
  // The earliest horizon (seconds) past which Prune forgets something:
  // NeedsPrune(h, 0) exactly when PruneDue() < h. INT64_MAX if never.
  int64_t PruneDue() const;
  // Forgets what no time at or after `horizon` (seconds) needs. `covered`
  // is the second of the newest snapshot before the horizon in any
  // partition, if any: deltas up to it are inside it. The other deltas
  // before the horizon become one at the latest of their seconds, which
  // keeps every sum the rule takes from the horizon on. True if anything
  // changed.
  bool Prune(int64_t horizon, std::optional<int64_t> covered);
};

}  // namespace chorus::ops::channel_internal
