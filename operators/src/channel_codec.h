// The stored form of channel growth state (internal to operators/):
// record keys and the compact counter encoding shared by the operator and
// its persistence code.
//
// Totals are stored in chunks so a commit writes one key per chunk changed,
// not one per channel. A channel belongs to chunk StableHash64(id) % kChunks;
// kChunks = 64 is part of the keys' meaning and must never change for a
// store. Windows are stored per (partition, size, start): the windows that
// close together, so a commit rewrites only the groups that changed and a
// closed group is one delete.
//
// Keys: partition (4 bytes BE), a record-type tag, then
//   channel chunk: the chunk (2 BE);
//   window group:  size ms (8 BE), start ms (8 BE, sign bit flipped so keys
//                  sort by time).
// Values (varints; counts are, per group of counters — kinds, posts,
// engagements — a bitmask of the nonzero ones followed by those values, so a
// window of one kind of event takes a few bytes):
//   channel chunk: per channel, by id: the length-prefixed id, then the
//     channel: platform, totals, then followers (channel_followers.h):
//     snapshot count << 1 | has legacy bound, each snapshot by time as
//     (ms gap from the previous one, or from 0, value), the legacy bound
//     (ms) if any, net follows, delta count, each delta as (second gap from
//     the previous one, or from 0, net follows);
//   window group: per channel with a window in the group, by id: the
//     length-prefixed id, its counts, then corrections made << 2 |
//     has responses << 1 | pending, then if it has responses the four
//     WindowResponses fields;
//   counted group (tag 0x09, a group opened count-only): per channel with a
//     window in the group, by id: the length-prefixed id, then pending.
// A group whose windows closed is deleted; an empty one is never stored.
// Tags 0x01 and 0x02 were the unchunked per-channel and per-window records,
// 0x04 the windows chunked by channel; they are rejected. Tag 0x03 channel
// chunks kept one snapshot per channel (has snapshot, then value and ms)
// and deltas only after the channel's newest snapshot; they are read, with
// that snapshot's time as the legacy bound, and rewritten under 0x08. Tag 0x05 window
// groups had no corrections field, tag 0x06 ones corrections << 1 | pending
// and no responses; both are read and rewritten under 0x07.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "channel_counters.h"
#include "chorus/operators/channel_growth.h"
#include "chorus/operators/state.h"

namespace chorus::ops::channel_codec {

inline constexpr char kChannelChunkTag = 0x08;
inline constexpr char kChannelChunkV1Tag = 0x03;
inline constexpr char kWindowGroupTag = 0x07;
inline constexpr char kWindowGroupV2Tag = 0x06;
inline constexpr char kWindowGroupV1Tag = 0x05;
inline constexpr char kCountedGroupTag = 0x09;
inline constexpr uint32_t kChunks = 64;

// The chunk that stores `channel_id`.
uint16_t ChunkOf(std::string_view channel_id);
void PutCounts(std::string& out, const ChannelCounts& c);
void PutCounts(std::string& out, const channel_internal::SparseCounts& c);
bool GetCounts(Reader& r, ChannelCounts& c);
bool GetCounts(Reader& r, channel_internal::SparseCounts& c);
std::string ChannelChunkKey(int32_t partition, uint16_t chunk, char tag = kChannelChunkTag);
std::string WindowGroupKey(int32_t partition, int spec_index, int64_t start_ms,
                           char tag = kWindowGroupTag);
// Reads a chunk (2 BE) that must end the key; false if out of range.
bool GetChunk(Reader& r, uint16_t& chunk);
// Reads what follows the tag of a window group key, which it must end:
// false unless the size is one of kWindowSpecs and the start one of its
// window boundaries.
bool GetWindowGroup(Reader& r, int& spec_index, int64_t& start_ms);

}  // namespace chorus::ops::channel_codec
