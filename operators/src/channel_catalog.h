// Channel ids interned once for all partitions (internal to operators/):
// each id seen gets a dense index, so per-partition state is found by
// indexing instead of hashing strings, and a rank, its position in id order,
// so results come in id order without comparing strings.
//
// Ids are never forgotten: channels are a bounded set (they are metric
// labels), and a partition that returns finds its index again.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/id_index.h"

namespace chorus::ops::channel_internal {

using ChannelIndex = uint32_t;

class ChannelCatalog {
 public:
  // Indexes stay below this: a count-only window keeps a flag in an
  // index's top bit (channel_state.h, kCountedPending).
  static constexpr ChannelIndex kMaxChannels = 0x80000000u;
  // The index of `id`, interning it if new.
  ChannelIndex Intern(std::string_view id);
  // The index of `id`, kAbsent if it was never interned.
  static constexpr ChannelIndex kAbsent = IdIndex::kAbsent;
  ChannelIndex Find(std::string_view id) const { return ids_.Find(id); }
  size_t size() const { return ids_.size(); }
  // Valid as long as the catalog.
  std::string_view id(ChannelIndex c) const { return ids_.id(c); }
  // channel_codec::ChunkOf(id), computed once.
  uint16_t chunk(ChannelIndex c) const { return chunks_[c]; }
  // Every index, in id order.
  const std::vector<ChannelIndex>& in_id_order() const { return by_id_; }
  // Position in id order. REQUIRES: RefreshRanks() since the last Intern().
  uint32_t rank(ChannelIndex c) const { return ranks_[c]; }
  void RefreshRanks();

 private:
  IdIndex ids_;
  std::vector<uint16_t> chunks_;
  std::vector<ChannelIndex> by_id_;
  std::vector<uint32_t> ranks_;
  size_t ranks_stale_from_ = 0;  // positions of by_id_ from here need renumbering
};

}  // namespace chorus::ops::channel_internal
