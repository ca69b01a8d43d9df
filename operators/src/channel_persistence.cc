// ChannelGrowth's persistence: draining changed state as mutations and
// restoring it (see channel_codec.h for the stored form).
#include <algorithm>

#include "channel_codec.h"
#include "channel_state.h"

namespace chorus::ops {

using channel_codec::ChannelChunkKey;
using channel_codec::ChunkOf;
using channel_codec::GetChunk;
using channel_codec::GetCounts;
using channel_codec::GetWindowGroup;
using channel_codec::kChannelChunkTag;
using channel_codec::kWindowGroupTag;
using channel_codec::kWindowGroupV1Tag;
using channel_codec::kWindowGroupV2Tag;
using channel_codec::PutCounts;
using channel_codec::WindowGroupKey;

void ChannelGrowth::State::EncodeChannel(std::string& out, const PartialChannel& c) {
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

bool ChannelGrowth::State::DecodeChannel(Reader& r, PartialChannel& c) {
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

std::string ChannelGrowth::State::EncodeGroup(WindowGroup& group) {
  catalog_.RefreshRanks();
  sorted_.clear();
  AddSorted(group);
  std::sort(sorted_.begin(), sorted_.end(),
            [](const SortedEntry& a, const SortedEntry& b) { return a.key < b.key; });
  std::string out;
  for (const SortedEntry& s : sorted_) {
    const WindowEntry& e = group.entries[s.entry];
    PutLengthPrefixed(out, catalog_.id(e.channel));
    PutCounts(out, e.counts);
    const bool responses = e.responses && !e.responses->empty();
    PutVarint(out, uint64_t{e.corrections} << 2 | (responses ? 2 : 0) | (e.pending ? 1 : 0));
    if (responses) {
      PutVarint(out, e.responses->responses);
      PutVarint(out, e.responses->response_ms);
      PutVarint(out, e.responses->first_responses);
      PutVarint(out, e.responses->first_response_ms);
    }
  }
  return out;
}

void ChannelGrowth::State::DrainDirty(Mutations& out) {
  for (auto& [id, part] : partitions_) {
    for (uint16_t chunk : part.dirty_totals) {
      part.totals_dirty[chunk] = false;
      std::string value;
      for (LocalIndex local : part.chunk_channels[chunk]) {
        const PartialChannel& channel = part.channels[local];
        PutLengthPrefixed(value, catalog_.id(channel.channel));
        EncodeChannel(value, channel);
      }
      // A chunk marked dirty holds the channel that marked it: never empty.
      out.push_back(Mutation{Mutation::Op::kPut, ChannelChunkKey(id, chunk), std::move(value)});
    }
    part.dirty_totals.clear();
    // Deletes first: a group may be stored again in the same drain.
    for (const GroupKey& k : part.deleted_groups) {
      out.push_back(
          Mutation{Mutation::Op::kDelete, WindowGroupKey(id, k.spec_index, k.start_ms), {}});
    }
    part.deleted_groups.clear();
    for (const auto& [k, tag] : part.legacy_groups) {
      out.push_back(
          Mutation{Mutation::Op::kDelete, WindowGroupKey(id, k.spec_index, k.start_ms, tag), {}});
    }
    part.legacy_groups.clear();
    for (const GroupKey& k : part.dirty_groups) {
      auto it = part.groups[k.spec_index].find(k.start_ms);
      if (it == part.groups[k.spec_index].end() || !it->second.dirty) continue;  // closed since
      WindowGroup& group = it->second;
      group.dirty = false;
      group.persisted = true;
      out.push_back(Mutation{Mutation::Op::kPut, WindowGroupKey(id, k.spec_index, k.start_ms),
                             EncodeGroup(group)});
    }
    part.dirty_groups.clear();
  }
}

bool ChannelGrowth::State::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition) || key.size() < 5) return false;
  char tag = key[4];
  Reader r(key.substr(5));
  uint16_t chunk = 0;
  if (tag == kChannelChunkTag) {
    return GetChunk(r, chunk) && RestoreChannelChunk(partition, chunk, value);
  }
  int spec_index = 0;
  int64_t start_ms = 0;
  return (tag == kWindowGroupTag || tag == kWindowGroupV2Tag || tag == kWindowGroupV1Tag) &&
         GetWindowGroup(r, spec_index, start_ms) &&
         RestoreWindowGroup(partition, spec_index, start_ms, value, tag);
}

// Chunk values are decoded in full before any state changes, so a corrupt
// value leaves the operator as it was.
bool ChannelGrowth::State::RestoreChannelChunk(int32_t partition, uint16_t chunk,
                                               std::string_view value) {
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
  Partition& part = PartitionFor(partition);
  for (auto& [channel_id, d] : decoded) {
    ChannelIndex index = catalog_.Intern(channel_id);
    PartialChannel& c = part.channels[FindOrAddChannel(part, index)];
    c.platform = d.platform;
    c.totals = d.totals;
    c.followers = std::move(d.followers);
    merged_[index].stale = true;
  }
  return true;
}

bool ChannelGrowth::State::RestoreWindowGroup(int32_t partition, int spec_index, int64_t start_ms,
                                              std::string_view value, char tag) {
  struct Decoded {
    std::string_view id;
    SparseCounts counts;
    uint64_t corrections = 0;
    bool pending = false;
    std::unique_ptr<WindowResponses> responses;
  };
  std::vector<Decoded> decoded;
  Reader r(value);
  while (!r.empty()) {
    Decoded d;
    uint64_t flags = 0;
    // Ids in strictly increasing order.
    if (!r.LengthPrefixed(d.id) || (!decoded.empty() && decoded.back().id >= d.id) ||
        !GetCounts(r, d.counts) || (tag != kWindowGroupV1Tag && !r.Varint(flags))) {
      return false;
    }
    d.pending = (flags & 1) != 0;
    d.corrections = tag == kWindowGroupV2Tag ? flags >> 1 : flags >> 2;
    if (d.corrections > UINT32_MAX) return false;
    if (tag == kWindowGroupTag && (flags & 2) != 0) {
      d.responses = std::make_unique<WindowResponses>();
      WindowResponses& x = *d.responses;
      if (!r.Varint(x.responses) || !r.Varint(x.response_ms) || !r.Varint(x.first_responses) ||
          !r.Varint(x.first_response_ms)) {
        return false;
      }
    }
    decoded.push_back(std::move(d));
  }
  if (decoded.empty()) return false;  // empty groups are deleted, not stored
  Partition& part = PartitionFor(partition);
  WindowGroup& group = FindOrAddGroup(part, spec_index, start_ms);
  const int64_t end_ms = start_ms + kWindowSpecs[spec_index].size.count();
  for (Decoded& d : decoded) {
    ChannelIndex c = catalog_.Intern(d.id);
    WindowEntry& e = FindOrOpenWindow(group, c, FindOrAddChannel(part, c));
    e.counts = std::move(d.counts);
    e.corrections = static_cast<uint32_t>(d.corrections);
    e.pending = d.pending;
    e.responses = std::move(d.responses);
    if (e.pending) pending_buckets_.emplace(end_ms, spec_index);
  }
  group.persisted = true;
  if (tag != kWindowGroupTag) {
    // Rewritten under the current tag; the old record goes.
    part.legacy_groups.emplace_back(GroupKey{spec_index, start_ms}, tag);
    MarkGroupDirty(group);
  }
  // Stored again: a delete pending from an earlier group of the key must go.
  std::erase_if(part.deleted_groups, [&](const GroupKey& k) {
    return k.spec_index == spec_index && k.start_ms == start_ms;
  });
  return true;
}

}  // namespace chorus::ops
