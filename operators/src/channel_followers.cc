#include "channel_followers.h"

#include <algorithm>

namespace chorus::ops::channel_internal {

namespace {

using Deltas = std::vector<std::pair<int64_t, int64_t>>;

// The first delta at or after `second`.
Deltas::const_iterator FirstFrom(const Deltas& deltas, int64_t second) {
  return std::lower_bound(deltas.begin(), deltas.end(), second,
                          [](const auto& d, int64_t s) { return d.first < s; });
}

}  // namespace

void FollowerState::AssignMerge(const std::vector<const FollowerState*>& parts) {
  snapshots.clear();
  deltas.clear();
  net_follows = 0;
  legacy_until_ms = kNoLegacy;
  for (const FollowerState* p : parts) {
    net_follows += p->net_follows;
    legacy_until_ms = std::max(legacy_until_ms, p->legacy_until_ms);
    snapshots.insert(snapshots.end(), p->snapshots.begin(), p->snapshots.end());
    deltas.insert(deltas.end(), p->deltas.begin(), p->deltas.end());
  }
  // One snapshot per time, the largest value: the last of its time once sorted.
  std::sort(snapshots.begin(), snapshots.end());
  auto last_of_time = [](const FollowerSnapshot& a, const FollowerSnapshot& b) {
    return a.ms == b.ms;
  };
  std::reverse(snapshots.begin(), snapshots.end());
  snapshots.erase(std::unique(snapshots.begin(), snapshots.end(), last_of_time), snapshots.end());
  std::reverse(snapshots.begin(), snapshots.end());
  // One delta per second, none zero.
  std::sort(deltas.begin(), deltas.end());
  size_t kept = 0;
  for (size_t i = 0; i < deltas.size();) {
    std::pair<int64_t, int64_t> d{deltas[i].first, 0};
    for (; i < deltas.size() && deltas[i].first == d.first; ++i) d.second += deltas[i].second;
    if (d.second != 0) deltas[kept++] = d;
  }
  deltas.resize(kept);
}

void FollowerState::AddDelta(int64_t second, int64_t d) {
  if (deltas.empty() || deltas.back().first < second) {
    if (d != 0) deltas.emplace_back(second, d);
    return;
  }
  auto it = deltas.begin() + (FirstFrom(deltas, second) - deltas.cbegin());
  if (it != deltas.end() && it->first == second) {
    it->second += d;
    if (it->second == 0) deltas.erase(it);
  } else if (d != 0) {
    deltas.emplace(it, second, d);
  }
}

bool FollowerState::AddSnapshot(FollowerSnapshot s) {
  auto it = std::lower_bound(snapshots.begin(), snapshots.end(), s.ms,
                             [](const FollowerSnapshot& x, int64_t ms) { return x.ms < ms; });
  if (it == snapshots.end() || it->ms != s.ms) {
    snapshots.insert(it, s);
    return true;
  }
  if (it->value >= s.value) return false;
  it->value = s.value;
  return true;
}

const FollowerSnapshot* FollowerState::NewestBefore(int64_t ms) const {
  // Window edges are mostly after the newest snapshot.
  if (snapshots.empty() || snapshots.front().ms >= ms) return nullptr;
  if (snapshots.back().ms < ms) return &snapshots.back();
  auto it = std::lower_bound(snapshots.begin(), snapshots.end(), ms,
                             [](const FollowerSnapshot& x, int64_t t) { return x.ms < t; });
  return &*(it - 1);
}

int64_t FollowerState::SumBetween(int64_t lo, int64_t hi) const {
  int64_t sum = 0;
  for (auto it = FirstFrom(deltas, lo + 1); it != deltas.end() && it->first < hi; ++it) {
    sum += it->second;
  }
  return sum;
}

int64_t FollowerState::SumFrom(int64_t from) const {
  int64_t sum = 0;
  for (auto it = deltas.rbegin(); it != deltas.rend() && it->first >= from; ++it) sum += it->second;
  return sum;
}

int64_t FollowerState::PruneDue() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  if (deltas.size() >= 2) due = deltas[1].first;
  if (snapshots.size() >= 2) due = std::min(due, SecondOf(snapshots[1].ms));
  if (legacy_until_ms != kNoLegacy) due = std::min(due, SecondOf(legacy_until_ms));
  return due;
}

bool FollowerState::Prune(int64_t horizon, std::optional<int64_t> covered) {
  bool changed = false;
  const int64_t horizon_ms = horizon * 1000;
  // Snapshots before the horizon but the newest.
  auto first_kept =
      std::lower_bound(snapshots.begin(), snapshots.end(), horizon_ms,
                       [](const FollowerSnapshot& x, int64_t ms) { return x.ms < ms; });
  if (first_kept - snapshots.begin() > 1) {
    snapshots.erase(snapshots.begin(), first_kept - 1);
    changed = true;
  }
  if (legacy_until_ms != kNoLegacy && legacy_until_ms < horizon_ms) {
    legacy_until_ms = kNoLegacy;
    changed = true;
  }
  // Deltas before the horizon: those inside the covering snapshot go, the
  // rest become one.
  auto end = deltas.begin() + (FirstFrom(deltas, horizon) - deltas.cbegin());
  auto begin = deltas.begin();
  if (covered) {
    begin = std::min(end, deltas.begin() + (FirstFrom(deltas, *covered + 1) - deltas.cbegin()));
  }
  if (begin == deltas.begin() && end - begin <= 1) return changed;
  int64_t sum = 0;
  for (auto it = begin; it != end; ++it) sum += it->second;
  const int64_t last = begin != end ? (end - 1)->first : 0;
  auto kept = deltas.erase(deltas.begin(), end);
  if (sum != 0) deltas.emplace(kept, last, sum);
  return true;
}

}  // namespace chorus::ops::channel_internal
