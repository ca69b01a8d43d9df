// The counters of ChannelCounts under one flat index, what one event adds
// to them, and SparseCounts: the same counters kept as the set of nonzero
// ones (internal to operators/).
//
// A per-partition window of a channel usually holds one to three events, so
// it has one to four nonzero counters out of kCounterCount. SparseCounts
// keeps up to kInline values in place and spills to a dense array beyond,
// so opening, adding to, merging and encoding a window cost what it holds,
// not the 288 bytes of a ChannelCounts.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <memory>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/event.h"
#include "chorus/operators/hash_map.h"

namespace chorus::ops::channel_internal {

// Flat counter index: events_by_kind, then posts_by_content_type, then
// engagements_by_content_type. The stored form (channel_codec.h) writes the
// three groups in this order.
inline constexpr int kPostBase = kEventKindCount;
inline constexpr int kEngagementBase = kPostBase + kContentTypeCount;
inline constexpr int kCounterCount = kEngagementBase + kContentTypeCount;
static_assert(kCounterCount <= 64, "a counter set is a 64-bit mask");

// `Counts` is ChannelCounts, const or not.
template <typename Counts>
auto& Counter(Counts& c, int counter) {
  if (counter < kPostBase) return c.events_by_kind[counter];
  if (counter < kEngagementBase) return c.posts_by_content_type[counter - kPostBase];
  return c.engagements_by_content_type[counter - kEngagementBase];
}

// The counters one event adds to: its kind, and for a post or a member's
// engagement its content type. Amounts are never zero.
struct Contribution {
  std::array<int, 2> counter{};
  std::array<uint64_t, 2> amount{};
  int size = 0;
};
Contribution ContributionOf(const Event& e);
inline void Add(ChannelCounts& c, const Contribution& x) {
  for (int i = 0; i < x.size; ++i) Counter(c, x.counter[i]) += x.amount[i];
}

class SparseCounts {
 public:
  SparseCounts() = default;
  SparseCounts(SparseCounts&&) noexcept = default;
  SparseCounts& operator=(SparseCounts&&) noexcept = default;

  void Add(const Contribution& x) {
    for (int i = 0; i < x.size; ++i) Add(x.counter[i], x.amount[i]);
  }
  // REQUIRES: 0 <= counter < kCounterCount.
  void Add(int counter, uint64_t amount);
  // Replaces the contents: `values` holds the counters of `mask`, in order.
  void Assign(uint64_t mask, const uint64_t* values);
  void AddTo(ChannelCounts& out) const;
  bool empty() const { return mask_ == 0; }
  // Starts loading what Add(x) will touch beyond this object: the counters
  // of a spilled set, in their own allocation.
  void Prefetch(const Contribution& x) const {
    if (!dense_) return;
    for (int i = 0; i < x.size; ++i) PrefetchLine(&(*dense_)[x.counter[i]]);
  }

  // Calls fn(counter, value) for each counter held, in counter order. A value
  // is nonzero unless an addition wrapped around.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    int i = 0;
    for (uint64_t m = mask_; m != 0; m &= m - 1, ++i) {
      int counter = std::countr_zero(m);
      fn(counter, dense_ ? (*dense_)[counter] : inline_[i]);
    }
  }

 private:
  static constexpr int kInline = 4;
  void Spill();

  uint64_t mask_ = 0;  // the counters held
  // While at most kInline counters are held: their values in counter order.
  std::array<uint64_t, kInline> inline_{};
  // Beyond that: every counter's value, by counter.
  std::unique_ptr<std::array<uint64_t, kCounterCount>> dense_;
};

}  // namespace chorus::ops::channel_internal
