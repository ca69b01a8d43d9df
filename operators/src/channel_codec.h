// The stored form of channel growth state (internal to operators/):
// record keys and the compact counter encoding shared by the operator and
// its persistence code.
//
// State is stored in chunks so a commit writes one key per chunk changed,
// not one per channel and window. A channel belongs to chunk
// StableHash64(id) % kChunks; kChunks = 64 is part of the keys' meaning
// (the tags below say "64 chunks") and must never change for a store.
//
// Keys: partition (4 bytes BE), a record-type tag, then
//   channel chunk: the chunk (2 BE);
//   window chunk:  size ms (8 BE), the chunk (2 BE).
// Values (varints; counter arrays are a bitmask of nonzero entries followed
// by those entries, so a window of one kind of event takes a few bytes):
//   channel chunk: per channel, by id: the length-prefixed id, then the
//     channel (platform, totals, followers);
//   window chunk: per channel with open windows of that size, by id: the
//     length-prefixed id, the number of windows, then per window by start
//     the start ms (signed, as a gap from the previous start) and counts.
// A chunk left with no open windows is deleted. Tags 0x01 and 0x02 were the
// unchunked per-channel and per-window records; they are rejected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/state.h"

namespace chorus::ops::channel_codec {

inline constexpr char kChannelChunkTag = 0x03;
inline constexpr char kWindowChunkTag = 0x04;
inline constexpr uint32_t kChunks = 64;

// The chunk that stores `channel_id`.
uint16_t ChunkOf(std::string_view channel_id);
void PutCounts(std::string& out, const ChannelCounts& c);
bool GetCounts(Reader& r, ChannelCounts& c);
std::string ChannelChunkKey(int32_t partition, uint16_t chunk);
std::string WindowChunkKey(int32_t partition, int spec_index, uint16_t chunk);
// Reads a chunk (2 BE) that must end the key; false if out of range.
bool GetChunk(Reader& r, uint16_t& chunk);
// The index in kWindowSpecs of the window size `size_ms`, or -1.
int SpecIndexOfSize(uint64_t size_ms);

}  // namespace chorus::ops::channel_codec
