#include "channel_catalog.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "channel_codec.h"

namespace chorus::ops::channel_internal {

ChannelIndex ChannelCatalog::Intern(std::string_view id) {
  const size_t known = ids_.size();
  const ChannelIndex c = ids_.Intern(id);
  if (c < known) return c;
  if (c >= kMaxChannels) {
    // Far past any memory chorus would have by then: a broken invariant.
    std::fputs("chorus: more than 2^31 distinct channel ids\n", stderr);
    std::abort();
  }
  std::string_view stored = ids_.id(c);
  chunks_.push_back(channel_codec::ChunkOf(stored));
  ranks_.push_back(0);
  auto pos = std::lower_bound(by_id_.begin(), by_id_.end(), stored,
                              [&](ChannelIndex x, std::string_view s) { return ids_.id(x) < s; });
  ranks_stale_from_ = std::min(ranks_stale_from_, static_cast<size_t>(pos - by_id_.begin()));
  by_id_.insert(pos, c);
  return c;
}

void ChannelCatalog::RefreshRanks() {
  for (size_t i = ranks_stale_from_; i < by_id_.size(); ++i) {
    ranks_[by_id_[i]] = static_cast<uint32_t>(i);
  }
  ranks_stale_from_ = by_id_.size();
}

}  // namespace chorus::ops::channel_internal
