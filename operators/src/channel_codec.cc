#include "channel_codec.h"

#include <array>
#include <bit>

#include "chorus/operators/event.h"
#include "popcount.h"

namespace chorus::ops::channel_codec {

// Per group of counters (kinds, posts, engagements): a bitmask of the nonzero
// ones, then each of them as a varint. Most channels use a few kinds and
// content types.
namespace {

using channel_internal::kCounterCount;
using channel_internal::kEngagementBase;
using channel_internal::kPostBase;

struct Group {
  int base;
  int width;
};
constexpr std::array<Group, 3> kGroups = {{{0, kPostBase},
                                           {kPostBase, kEngagementBase - kPostBase},
                                           {kEngagementBase, kCounterCount - kEngagementBase}}};

// `values` holds the counters of `mask`, in order, none zero.
void PutCounterSet(std::string& out, uint64_t mask, const uint64_t* values) {
  for (const Group& g : kGroups) {
    uint64_t group = mask >> g.base & ((uint64_t{1} << g.width) - 1);
    PutVarint(out, group);
    for (int n = PopCount(group); n > 0; --n) PutVarint(out, *values++);
  }
}

// Reads what PutCounterSet wrote; false if truncated, out of range or zero.
bool GetCounterSet(Reader& r, uint64_t& mask, std::array<uint64_t, kCounterCount>& values) {
  mask = 0;
  int n = 0;
  for (const Group& g : kGroups) {
    uint64_t group = 0;
    if (!r.Varint(group) || (group >> g.width) != 0) return false;
    mask |= group << g.base;
    for (int i = PopCount(group); i > 0; --i) {
      if (!r.Varint(values[n]) || values[n] == 0) return false;
      ++n;
    }
  }
  return true;
}

}  // namespace

void PutCounts(std::string& out, const ChannelCounts& c) {
  uint64_t mask = 0;
  std::array<uint64_t, kCounterCount> values;
  int n = 0;
  auto gather = [&](const auto& group, int base) {
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i] == 0) continue;
      mask |= uint64_t{1} << (base + i);
      values[n++] = group[i];
    }
  };
  gather(c.events_by_kind, 0);
  gather(c.posts_by_content_type, kPostBase);
  gather(c.engagements_by_content_type, kEngagementBase);
  PutCounterSet(out, mask, values.data());
}

void PutCounts(std::string& out, const channel_internal::SparseCounts& c) {
  uint64_t mask = 0;
  std::array<uint64_t, kCounterCount> values;
  int n = 0;
  c.ForEach([&](int counter, uint64_t v) {
    if (v == 0) return;  // wrapped around: stored as zero, i.e. not at all
    mask |= uint64_t{1} << counter;
    values[n++] = v;
  });
  PutCounterSet(out, mask, values.data());
}

bool GetCounts(Reader& r, ChannelCounts& c) {
  uint64_t mask = 0;
  std::array<uint64_t, kCounterCount> values;
  if (!GetCounterSet(r, mask, values)) return false;
  c = ChannelCounts{};
  int n = 0;
  for (uint64_t m = mask; m != 0; m &= m - 1) {
    channel_internal::Counter(c, std::countr_zero(m)) = values[n++];
  }
  return true;
}

bool GetCounts(Reader& r, channel_internal::SparseCounts& c) {
  uint64_t mask = 0;
  std::array<uint64_t, kCounterCount> values;
  if (!GetCounterSet(r, mask, values)) return false;
  c.Assign(mask, values.data());
  return true;
}

uint16_t ChunkOf(std::string_view channel_id) {
  return static_cast<uint16_t>(StableHash64(channel_id) % kChunks);
}

namespace {

void PutChunk(std::string& out, uint16_t chunk) {
  out.push_back(static_cast<char>(chunk >> 8));
  out.push_back(static_cast<char>(chunk & 0xff));
}

}  // namespace

std::string ChannelChunkKey(int32_t partition, uint16_t chunk, char tag) {
  std::string key;
  key.reserve(7);
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  PutChunk(key, chunk);
  return key;
}

std::string WindowGroupKey(int32_t partition, int spec_index, int64_t start_ms, char tag) {
  std::string key;
  key.reserve(21);
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  // The size, not the spec's index, so keys keep their meaning if the set
  // of window sizes changes.
  PutFixed64BE(key, static_cast<uint64_t>(kWindowSpecs[spec_index].size.count()));
  PutFixed64BE(key, OrderedBits(start_ms));
  return key;
}

bool GetChunk(Reader& r, uint16_t& chunk) {
  std::string_view rest = r.rest();
  if (rest.size() != 2) return false;
  chunk = static_cast<uint16_t>(static_cast<uint8_t>(rest[0]) << 8 | static_cast<uint8_t>(rest[1]));
  r = Reader(rest.substr(2));
  return chunk < kChunks;
}

bool GetWindowGroup(Reader& r, int& spec_index, int64_t& start_ms) {
  uint64_t size_ms = 0, start = 0;
  if (!r.Fixed64BE(size_ms) || !r.Fixed64BE(start) || !r.empty()) return false;
  spec_index = -1;
  for (int i = 0; i < kWindowSpecCount; ++i) {
    if (static_cast<uint64_t>(kWindowSpecs[i].size.count()) == size_ms) spec_index = i;
  }
  if (spec_index < 0) return false;
  start_ms = FromOrderedBits(start);
  // Not a window boundary, or so far out that its end would overflow: corrupt.
  constexpr int64_t kLimit = int64_t{1} << 62;
  return start_ms % kWindowSpecs[spec_index].size.count() == 0 && start_ms > -kLimit &&
         start_ms < kLimit;
}

}  // namespace chorus::ops::channel_codec
