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
using channel_codec::kChannelChunkV1Tag;
using channel_codec::kCountedGroupTag;
using channel_codec::kWindowGroupTag;
using channel_codec::kWindowGroupV1Tag;
using channel_codec::kWindowGroupV2Tag;
using channel_codec::PutCounts;
using channel_codec::WindowGroupKey;
using channel_internal::FollowerSnapshot;
using channel_internal::FollowerState;

void ChannelGrowth::State::EncodeChannel(std::string& out, Platform platform,
                                         const PartialChannel& c) {
  PutVarint(out, static_cast<uint64_t>(platform));
  PutCounts(out, c.totals);
  const FollowerState& f = c.followers;
  const bool legacy = f.legacy_until_ms != FollowerState::kNoLegacy;
  PutVarint(out, uint64_t{f.snapshots.size()} << 1 | (legacy ? 1 : 0));
  // Times as gaps from the previous one: small numbers, short varints.
  int64_t prev = 0;
  for (const FollowerSnapshot& s : f.snapshots) {
    PutSignedVarint(out, s.ms - prev);
    PutSignedVarint(out, s.value);
    prev = s.ms;
  }
  if (legacy) PutSignedVarint(out, f.legacy_until_ms);
  PutSignedVarint(out, f.net_follows);
  PutVarint(out, f.deltas.size());
  prev = 0;
  for (const auto& [second, d] : f.deltas) {
    PutSignedVarint(out, second - prev);
    PutSignedVarint(out, d);
    prev = second;
  }
}

namespace {

// The snapshots of a tag-0x03 chunk: at most the newest, with its value
// first. Its deltas lie after the channel's newest snapshot only.
bool GetV1Snapshots(Reader& r, channel_internal::FollowerState& f) {
  uint64_t flags = 0;
  if (!r.Varint(flags) || flags > 1) return false;
  f.snapshots.clear();
  if (flags == 0) return true;
  FollowerSnapshot s;
  if (!r.SignedVarint(s.value) || !r.SignedVarint(s.ms)) return false;
  f.snapshots.push_back(s);
  f.legacy_until_ms = s.ms;
  return true;
}

bool GetSnapshots(Reader& r, channel_internal::FollowerState& f) {
  uint64_t header = 0;
  // Each snapshot takes at least two bytes, which bounds a corrupt count.
  if (!r.Varint(header) || (header >> 1) > r.rest().size() / 2) return false;
  f.snapshots.clear();
  f.snapshots.reserve(header >> 1);
  int64_t ms = 0;
  for (uint64_t i = 0; i < header >> 1; ++i) {
    int64_t gap = 0, value = 0;
    // Strictly by time.
    if (!r.SignedVarint(gap) || !r.SignedVarint(value) || (i > 0 && gap <= 0)) return false;
    ms += gap;
    f.snapshots.push_back(FollowerSnapshot{ms, value});
  }
  f.legacy_until_ms = FollowerState::kNoLegacy;
  return (header & 1) == 0 || r.SignedVarint(f.legacy_until_ms);
}

}  // namespace

bool ChannelGrowth::State::DecodeChannel(Reader& r, Platform& platform, PartialChannel& c,
                                         char tag) {
  uint64_t stored = 0, n = 0;
  FollowerState& f = c.followers;
  if (!r.Varint(stored) || !GetCounts(r, c.totals) ||
      !(tag == kChannelChunkV1Tag ? GetV1Snapshots(r, f) : GetSnapshots(r, f))) {
    return false;
  }
  platform = stored < kPlatformCount ? static_cast<Platform>(stored) : Platform::kUnspecified;
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
  SortEntries();
  std::string out;
  for (const SortedEntry& s : sorted_) {
    PutLengthPrefixed(out, catalog_.id(group.channel(s.entry)));
    if (group.count_only) {
      PutVarint(out, (group.counted[s.entry] & kCountedPending) != 0 ? 1 : 0);
      continue;
    }
    const WindowEntry& e = group.entries[s.entry];
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
        EncodeChannel(value, part.platforms[local], channel);
      }
      // A chunk marked dirty holds the channel that marked it: never empty.
      out.push_back(Mutation{Mutation::Op::kPut, ChannelChunkKey(id, chunk), std::move(value)});
    }
    part.dirty_totals.clear();
    for (uint16_t chunk : part.legacy_chunks) {
      out.push_back(
          Mutation{Mutation::Op::kDelete, ChannelChunkKey(id, chunk, kChannelChunkV1Tag), {}});
    }
    part.legacy_chunks.clear();
    // Deletes first: a group may be stored again in the same drain.
    for (const GroupKey& k : part.deleted_groups) {
      out.push_back(Mutation{Mutation::Op::kDelete,
                             WindowGroupKey(id, k.spec_index, k.start_ms,
                                            k.count_only ? kCountedGroupTag : kWindowGroupTag),
                             {}});
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
      const char tag = group.count_only ? kCountedGroupTag : kWindowGroupTag;
      out.push_back(Mutation{Mutation::Op::kPut, WindowGroupKey(id, k.spec_index, k.start_ms, tag),
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
  if (tag == kChannelChunkTag || tag == kChannelChunkV1Tag) {
    return GetChunk(r, chunk) && RestoreChannelChunk(partition, chunk, value, tag);
  }
  int spec_index = 0;
  int64_t start_ms = 0;
  if (tag == kCountedGroupTag) {
    return GetWindowGroup(r, spec_index, start_ms) &&
           RestoreCountedGroup(partition, spec_index, start_ms, value);
  }
  return (tag == kWindowGroupTag || tag == kWindowGroupV2Tag || tag == kWindowGroupV1Tag) &&
         GetWindowGroup(r, spec_index, start_ms) &&
         RestoreWindowGroup(partition, spec_index, start_ms, value, tag);
}

// Chunk values are decoded in full before any state changes, so a corrupt
// value leaves the operator as it was.
bool ChannelGrowth::State::RestoreChannelChunk(int32_t partition, uint16_t chunk,
                                               std::string_view value, char tag) {
  struct Decoded {
    std::string_view id;
    Platform platform = Platform::kUnspecified;
    PartialChannel channel;
  };
  std::vector<Decoded> decoded;
  Reader r(value);
  while (!r.empty()) {
    Decoded d;
    // Ids in strictly increasing order, each in this chunk.
    if (!r.LengthPrefixed(d.id) || ChunkOf(d.id) != chunk ||
        (!decoded.empty() && decoded.back().id >= d.id) ||
        !DecodeChannel(r, d.platform, d.channel, tag)) {
      return false;
    }
    decoded.push_back(std::move(d));
  }
  if (decoded.empty()) return false;  // empty chunks are deleted, not stored
  Partition& part = PartitionFor(partition);
  for (Decoded& d : decoded) {
    ChannelIndex index = catalog_.Intern(d.id);
    const LocalIndex local = FindOrAddChannel(part, index);
    PartialChannel& c = part.channels[local];
    part.platforms[local] = d.platform;
    c.totals = d.channel.totals;
    c.followers = std::move(d.channel.followers);
    part.prune_due[local] = c.followers.PruneDue();
    merged_[index].stale = true;
    if (tag == kChannelChunkV1Tag) MarkDirty(part, index);  // rewritten under the current tag
  }
  if (tag == kChannelChunkV1Tag) part.legacy_chunks.push_back(chunk);
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
  WindowGroup* restored = GroupToRestore(partition, spec_index, start_ms, false);
  if (restored == nullptr) return false;
  WindowGroup& group = *restored;
  Partition& part = *group.partition;
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
  if (tag != kWindowGroupTag) {
    // Rewritten under the current tag; the old record goes.
    part.legacy_groups.emplace_back(GroupKey{spec_index, start_ms}, tag);
    MarkGroupDirty(group);
  }
  return true;
}

bool ChannelGrowth::State::RestoreCountedGroup(int32_t partition, int spec_index, int64_t start_ms,
                                               std::string_view value) {
  std::vector<std::pair<std::string_view, bool>> decoded;  // (id, pending)
  Reader r(value);
  while (!r.empty()) {
    std::string_view id;
    uint64_t pending = 0;
    // Ids in strictly increasing order.
    if (!r.LengthPrefixed(id) || (!decoded.empty() && decoded.back().first >= id) ||
        !r.Varint(pending) || pending > 1) {
      return false;
    }
    decoded.emplace_back(id, pending == 1);
  }
  if (decoded.empty()) return false;  // empty groups are deleted, not stored
  WindowGroup* group = GroupToRestore(partition, spec_index, start_ms, true);
  if (group == nullptr) return false;
  const int64_t end_ms = start_ms + kWindowSpecs[spec_index].size.count();
  for (const auto& [id, pending] : decoded) {
    ChannelIndex c = catalog_.Intern(id);
    FindOrAddChannel(*group->partition, c);  // a channel with a window is held
    CountedWindow& w = FindOrOpenCounted(*group, c);
    if (!pending) continue;
    w |= kCountedPending;
    pending_buckets_.emplace(end_ms, spec_index);
  }
  return true;
}

ChannelGrowth::State::WindowGroup* ChannelGrowth::State::GroupToRestore(int32_t partition,
                                                                        int spec_index,
                                                                        int64_t start_ms,
                                                                        bool count_only) {
  WindowGroup& group = FindOrAddGroup(PartitionFor(partition), spec_index, start_ms);
  // A new group takes the form of its size's new groups; a restored one
  // keeps the form it was stored in.
  if (group.windows() == 0) group.count_only = count_only;
  if (group.count_only != count_only) return nullptr;
  group.persisted = true;
  // Stored again: a delete pending from an earlier group of the key must go.
  std::erase_if(group.partition->deleted_groups, [&](const GroupKey& k) {
    return k.spec_index == spec_index && k.start_ms == start_ms && k.count_only == count_only;
  });
  return &group;
}

}  // namespace chorus::ops
