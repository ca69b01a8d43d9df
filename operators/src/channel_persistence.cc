// ChannelGrowth's persistence: draining changed state as mutations and
// restoring it (see channel_codec.h for the stored form).
#include <algorithm>

#include "channel_codec.h"
#include "chorus/operators/channel_growth.h"

namespace chorus::ops {

using channel_codec::ChannelChunkKey;
using channel_codec::ChunkOf;
using channel_codec::GetChunk;
using channel_codec::GetCounts;
using channel_codec::kChannelChunkTag;
using channel_codec::kWindowChunkTag;
using channel_codec::PutCounts;
using channel_codec::SpecIndexOfSize;
using channel_codec::WindowChunkKey;

void ChannelGrowth::EncodeChannel(std::string& out, const PartialChannel& c) {
  PutVarint(out, static_cast<uint64_t>(c.platform));
  PutCounts(out, c.totals);
  const FollowerState& f = c.followers;
  PutVarint(out, f.has_snapshot ? 1 : 0);
  if (f.has_snapshot) {
    PutSignedVarint(out, f.snapshot_value);
    PutSignedVarint(out, f.snapshot_ms);
  }
  PutSignedVarint(out, f.net_follows);
  PutVarint(out, f.deltas.size());
  // Seconds as gaps from the previous one: small numbers, short varints.
  int64_t prev = 0;
  for (const auto& [second, d] : f.deltas) {
    PutSignedVarint(out, second - prev);
    PutSignedVarint(out, d);
    prev = second;
  }
}

bool ChannelGrowth::DecodeChannel(Reader& r, PartialChannel& c) {
  uint64_t platform = 0, flags = 0, n = 0;
  FollowerState& f = c.followers;
  if (!r.Varint(platform) || !GetCounts(r, c.totals) || !r.Varint(flags) || flags > 1) {
    return false;
  }
  c.platform = platform < kPlatformCount ? static_cast<Platform>(platform) : Platform::kUnspecified;
  f.has_snapshot = flags == 1;
  if (f.has_snapshot && (!r.SignedVarint(f.snapshot_value) || !r.SignedVarint(f.snapshot_ms))) {
    return false;
  }
  // Each delta takes at least two bytes, which bounds a corrupt count.
  if (!r.SignedVarint(f.net_follows) || !r.Varint(n) || n > r.rest().size() / 2) return false;
  f.deltas.clear();
  f.deltas.reserve(n);
  int64_t second = 0;
  for (uint64_t i = 0; i < n; ++i) {
    int64_t gap = 0, d = 0;
    if (!r.SignedVarint(gap) || !r.SignedVarint(d)) return false;
    second += gap;
    f.deltas.emplace_back(second, d);
  }
  return true;
}

std::string ChannelGrowth::EncodeWindowChunk(const Partition& part, int spec_index,
                                             uint16_t chunk) const {
  std::string out;
  for (const ChannelEntry* ch : part.chunk_channels[chunk]) {
    const std::vector<OpenWindow>& open = ch->second.windows[spec_index];
    if (open.empty()) continue;
    PutLengthPrefixed(out, ch->first);
    PutVarint(out, open.size());
    int64_t prev = 0;
    for (const OpenWindow& w : open) {
      PutSignedVarint(out, w.start_ms - prev);
      PutCounts(out, window_pool_[w.slot].counts);
      prev = w.start_ms;
    }
  }
  return out;
}

void ChannelGrowth::DrainDirty(Mutations& out) {
  for (auto& [id, part] : partitions_) {
    for (uint16_t chunk : part.dirty_totals) {
      part.totals_dirty[chunk] = false;
      std::string value;
      for (const ChannelEntry* ch : part.chunk_channels[chunk]) {
        PutLengthPrefixed(value, ch->first);
        EncodeChannel(value, ch->second);
      }
      // A chunk marked dirty holds the channel that marked it: never empty.
      out.push_back(Mutation{Mutation::Op::kPut, ChannelChunkKey(id, chunk), std::move(value)});
    }
    part.dirty_totals.clear();
    for (const DirtyWindowChunk& d : part.dirty_windows) {
      part.windows_dirty[d.spec_index][d.chunk] = false;
      bool& persisted = part.windows_persisted[d.spec_index][d.chunk];
      std::string value = EncodeWindowChunk(part, d.spec_index, d.chunk);
      if (value.empty()) {
        // Every window of the chunk closed: delete it if the store has it.
        if (persisted) {
          out.push_back(
              Mutation{Mutation::Op::kDelete, WindowChunkKey(id, d.spec_index, d.chunk), {}});
        }
        persisted = false;
        continue;
      }
      persisted = true;
      out.push_back(Mutation{Mutation::Op::kPut, WindowChunkKey(id, d.spec_index, d.chunk),
                             std::move(value)});
    }
    part.dirty_windows.clear();
  }
}

bool ChannelGrowth::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition) || key.size() < 5) return false;
  char tag = key[4];
  Reader r(key.substr(5));
  uint16_t chunk = 0;
  if (tag == kChannelChunkTag) {
    return GetChunk(r, chunk) && RestoreChannelChunk(partition, chunk, value);
  }
  uint64_t size_ms = 0;
  if (tag != kWindowChunkTag || !r.Fixed64BE(size_ms) || !GetChunk(r, chunk)) return false;
  int spec_index = SpecIndexOfSize(size_ms);
  return spec_index >= 0 && RestoreWindowChunk(partition, spec_index, chunk, value);
}

// Chunk values are decoded in full before any state changes, so a corrupt
// value leaves the operator as it was.
bool ChannelGrowth::RestoreChannelChunk(int32_t partition, uint16_t chunk, std::string_view value) {
  std::vector<std::pair<std::string_view, PartialChannel>> decoded;
  Reader r(value);
  std::string_view id;
  while (!r.empty()) {
    PartialChannel c;
    // Ids in strictly increasing order, each in this chunk.
    if (!r.LengthPrefixed(id) || ChunkOf(id) != chunk ||
        (!decoded.empty() && decoded.back().first >= id) || !DecodeChannel(r, c)) {
      return false;
    }
    decoded.emplace_back(id, std::move(c));
  }
  if (decoded.empty()) return false;  // empty chunks are deleted, not stored
  Partition& part = partitions_[partition];
  for (auto& [channel_id, d] : decoded) {
    PartialChannel& c = FindOrAddChannel(part, channel_id).second;
    c.platform = d.platform;
    c.totals = d.totals;
    c.followers = std::move(d.followers);
  }
  return true;
}

bool ChannelGrowth::RestoreWindowChunk(int32_t partition, int spec_index, uint16_t chunk,
                                       std::string_view value) {
  struct Decoded {
    std::string_view channel_id;
    int64_t start_ms;
    ChannelCounts counts;
  };
  std::vector<Decoded> decoded;
  Millis size = kWindowSpecs[spec_index].size;
  Reader r(value);
  std::string_view id;
  while (!r.empty()) {
    uint64_t n = 0;
    // Ids strictly increasing, each in this chunk, each with a window or more.
    if (!r.LengthPrefixed(id) || ChunkOf(id) != chunk ||
        (!decoded.empty() && decoded.back().channel_id >= id) || !r.Varint(n) || n == 0 ||
        n > r.rest().size()) {
      return false;
    }
    int64_t start_ms = 0;
    for (uint64_t i = 0; i < n; ++i) {
      int64_t gap = 0;
      ChannelCounts counts;
      if (!r.SignedVarint(gap) || (i > 0 && gap <= 0) || !GetCounts(r, counts)) return false;
      start_ms += gap;
      if (WindowStart(EventTime::FromMillis(start_ms), size).millis() != start_ms) {
        return false;  // not a window boundary: corrupt
      }
      decoded.push_back(Decoded{id, start_ms, counts});
    }
  }
  if (decoded.empty()) return false;  // empty chunks are deleted, not stored
  Partition& part = partitions_[partition];
  for (const Decoded& d : decoded) {
    ChannelEntry& channel = FindOrAddChannel(part, d.channel_id);
    FindOrOpenWindow(partition, channel, spec_index, d.start_ms).counts = d.counts;
  }
  part.windows_persisted[spec_index][chunk] = true;
  return true;
}

}  // namespace chorus::ops
