// IndexMap: a small open-addressing map from one dense uint32 index to
// another (internal to operators/), for lookups on the per-event path where
// a node-based map would cost a cache miss per probe. Insert-only: entries
// are never erased, so probing needs no tombstones.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "chorus/operators/hash_map.h"

namespace chorus::ops::channel_internal {

class IndexMap {
 public:
  static constexpr uint32_t kNotFound = ~uint32_t{0};

  uint32_t Find(uint32_t key) const {
    if (slots_.empty()) return kNotFound;
    for (size_t i = Home(key);; i = (i + 1) & (slots_.size() - 1)) {
      uint64_t s = slots_[i];
      if (s == 0) return kNotFound;
      if (static_cast<uint32_t>(s >> 32) == key + 1) return static_cast<uint32_t>(s);
    }
  }

  // Starts loading the slot where a probe for `key` begins.
  void Prefetch(uint32_t key) const {
    if (!slots_.empty()) PrefetchLine(&slots_[Home(key)]);
  }

  // REQUIRES: `key` is absent and key + 1 does not wrap.
  void Insert(uint32_t key, uint32_t value) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    Place(Slot(key, value));
    ++size_;
  }

  size_t size() const { return size_; }

  // Empties the map, keeping its capacity.
  void Clear() {
    std::fill(slots_.begin(), slots_.end(), 0);
    size_ = 0;
  }

 private:
  // A slot holds key + 1 (zero marks it empty) above the value.
  static uint64_t Slot(uint32_t key, uint32_t value) {
    return static_cast<uint64_t>(key + 1) << 32 | value;
  }
  size_t Home(uint32_t key) const {
    // Fibonacci hashing: dense keys spread over the table.
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  void Place(uint64_t slot) {
    size_t i = Home(static_cast<uint32_t>(slot >> 32) - 1);
    while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = slot;
  }
  void Grow() {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(old.empty() ? 8 : 2 * old.size(), 0);
    shift_ = 64 - std::countr_zero(slots_.size());
    for (uint64_t s : old) {
      if (s != 0) Place(s);
    }
  }

  std::vector<uint64_t> slots_;  // a power of two in size, at most half full
  size_t size_ = 0;
  int shift_ = 64;
};

}  // namespace chorus::ops::channel_internal
