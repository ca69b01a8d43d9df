#include "channel_codec.h"

#include "chorus/operators/dedup.h"

namespace chorus::ops::channel_codec {

// A bitmask of the nonzero counters, then each nonzero counter as a varint:
// most channels use a few kinds and content types.
namespace {

template <size_t N>
void PutCounters(std::string& out, const std::array<uint64_t, N>& a) {
  uint64_t mask = 0;
  for (size_t i = 0; i < N; ++i) mask |= a[i] != 0 ? 1ULL << i : 0;
  PutVarint(out, mask);
  for (uint64_t v : a) {
    if (v != 0) PutVarint(out, v);
  }
}

template <size_t N>
bool GetCounters(Reader& r, std::array<uint64_t, N>& a) {
  static_assert(N < 64);
  uint64_t mask = 0;
  if (!r.Varint(mask) || (mask >> N) != 0) return false;
  for (size_t i = 0; i < N; ++i) {
    a[i] = 0;
    if ((mask >> i & 1) != 0 && (!r.Varint(a[i]) || a[i] == 0)) return false;
  }
  return true;
}

}  // namespace

void PutCounts(std::string& out, const ChannelCounts& c) {
  PutCounters(out, c.events_by_kind);
  PutCounters(out, c.posts_by_content_type);
  PutCounters(out, c.engagements_by_content_type);
}

bool GetCounts(Reader& r, ChannelCounts& c) {
  return GetCounters(r, c.events_by_kind) && GetCounters(r, c.posts_by_content_type) &&
         GetCounters(r, c.engagements_by_content_type);
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

std::string ChannelChunkKey(int32_t partition, uint16_t chunk) {
  std::string key;
  key.reserve(7);
  AppendPartitionPrefix(key, partition);
  key.push_back(kChannelChunkTag);
  PutChunk(key, chunk);
  return key;
}

std::string WindowChunkKey(int32_t partition, int spec_index, uint16_t chunk) {
  std::string key;
  key.reserve(15);
  AppendPartitionPrefix(key, partition);
  key.push_back(kWindowChunkTag);
  // The size, not the spec's index, so keys keep their meaning if the set
  // of window sizes changes.
  PutFixed64BE(key, static_cast<uint64_t>(kWindowSpecs[spec_index].size.count()));
  PutChunk(key, chunk);
  return key;
}

bool GetChunk(Reader& r, uint16_t& chunk) {
  std::string_view rest = r.rest();
  if (rest.size() != 2) return false;
  chunk = static_cast<uint16_t>(static_cast<uint8_t>(rest[0]) << 8 | static_cast<uint8_t>(rest[1]));
  r = Reader(rest.substr(2));
  return chunk < kChunks;
}

int SpecIndexOfSize(uint64_t size_ms) {
  for (int i = 0; i < kWindowSpecCount; ++i) {
    if (static_cast<uint64_t>(kWindowSpecs[i].size.count()) == size_ms) return i;
  }
  return -1;
}

}  // namespace chorus::ops::channel_codec
