#include "channel_counters.h"

#include <cstddef>

#include "popcount.h"

namespace chorus::ops {

void ChannelCounts::Add(const ChannelCounts& o) {
  for (size_t i = 0; i < events_by_kind.size(); ++i) events_by_kind[i] += o.events_by_kind[i];
  for (size_t i = 0; i < posts_by_content_type.size(); ++i) {
    posts_by_content_type[i] += o.posts_by_content_type[i];
    engagements_by_content_type[i] += o.engagements_by_content_type[i];
  }
}

namespace channel_internal {

Contribution ContributionOf(const Event& e) {
  uint64_t n = Multiplicity(e);
  Contribution x;
  // A snapshot's count is a follower total, not a multiplicity.
  x.counter[0] = IndexOf(e.kind, kEventKindCount);
  x.amount[0] = e.kind == EventKind::kFollowerCount ? 1 : n;
  x.size = 1;
  int content = IndexOf(e.content_type, kContentTypeCount);
  if (e.kind == EventKind::kPostPublished) {
    x.counter[1] = kPostBase + content;
  } else if (IsMemberEngagement(e)) {
    x.counter[1] = kEngagementBase + content;
  } else {
    return x;
  }
  x.amount[1] = n;
  x.size = 2;
  return x;
}

void SparseCounts::Add(int counter, uint64_t amount) {
  uint64_t bit = uint64_t{1} << counter;
  if (dense_) {
    (*dense_)[counter] += amount;
    mask_ |= bit;
    return;
  }
  int pos = PopCount(mask_ & (bit - 1));
  if ((mask_ & bit) != 0) {
    inline_[pos] += amount;
    return;
  }
  int size = PopCount(mask_);
  if (size == kInline) {
    Spill();
    (*dense_)[counter] += amount;
    mask_ |= bit;
    return;
  }
  for (int i = size; i > pos; --i) inline_[i] = inline_[i - 1];
  inline_[pos] = amount;
  mask_ |= bit;
}

void SparseCounts::Spill() {
  dense_ = std::make_unique<std::array<uint64_t, kCounterCount>>();
  int i = 0;
  for (uint64_t m = mask_; m != 0; m &= m - 1) (*dense_)[std::countr_zero(m)] = inline_[i++];
}

void SparseCounts::Assign(uint64_t mask, const uint64_t* values) {
  mask_ = 0;
  dense_.reset();
  int i = 0;
  for (uint64_t m = mask; m != 0; m &= m - 1) Add(std::countr_zero(m), values[i++]);
}

void SparseCounts::AddTo(ChannelCounts& out) const {
  ForEach([&](int counter, uint64_t v) { Counter(out, counter) += v; });
}

}  // namespace channel_internal
}  // namespace chorus::ops
