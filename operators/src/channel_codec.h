// The stored form of channel growth state (internal to operators/):
// record keys and the compact counter encoding shared by the operator and
// its persistence code.
//
// Keys: partition (4 bytes BE), a record-type tag, then
//   channel: the channel id;
//   window:  size ms (8 BE), OrderedBits(start ms) (8 BE), the channel id.
// Values are varints; counter arrays are a bitmask of nonzero entries
// followed by those entries, so a window of one kind of event takes a few
// bytes. Channel totals sort before windows, windows by (size, start,
// channel).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/state.h"

namespace chorus::ops::channel_codec {

inline constexpr char kChannelTag = 0x01;
inline constexpr char kWindowTag = 0x02;

void PutCounts(std::string& out, const ChannelCounts& c);
bool GetCounts(Reader& r, ChannelCounts& c);
std::string ChannelKey(int32_t partition, std::string_view channel_id);
std::string WindowKey(int32_t partition, int spec_index, int64_t start_ms,
                      std::string_view channel_id);
// The index in kWindowSpecs of the window size `size_ms`, or -1.
int SpecIndexOfSize(uint64_t size_ms);

}  // namespace chorus::ops::channel_codec
