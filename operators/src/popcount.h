// Counting set bits without a library call.
#pragma once

#include <bit>
#include <cstdint>

namespace chorus::ops {

// std::popcount is one instruction where the target has one, but the x86-64
// baseline Debian builds for has no POPCNT: GCC then calls libgcc's
// table-driven __popcountdi2, ~1 % of the processing thread. The SWAR count
// below is a dozen inline ALU operations instead.
inline int PopCount(uint64_t v) {
#if defined(__x86_64__) && !defined(__POPCNT__)
  v = v - ((v >> 1) & 0x5555555555555555ULL);
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((v * 0x0101010101010101ULL) >> 56);
#else
  return std::popcount(v);
#endif
}

}  // namespace chorus::ops
