#include "channel_catalog.h"

#include <algorithm>

#include "channel_codec.h"

namespace chorus::ops::channel_internal {

ChannelIndex ChannelCatalog::Intern(std::string_view id) {
  auto it = index_.find(id);
  if (it != index_.end()) return it->second;
  auto c = static_cast<ChannelIndex>(ids_.size());
  std::string_view stored = ids_.emplace_back(id);
  index_.emplace(stored, c);
  chunks_.push_back(channel_codec::ChunkOf(stored));
  ranks_.push_back(0);
  auto pos = std::lower_bound(by_id_.begin(), by_id_.end(), stored,
                              [&](ChannelIndex x, std::string_view s) { return ids_[x] < s; });
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
