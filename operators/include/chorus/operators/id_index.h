// IdIndex: string ids interned to dense indexes (0, 1, 2, … in the order
// first seen), for the bounded sets of ids that every event looks up, such
// as channels. One probe into a flat table of (hash, index) pairs and one
// comparison of the id; a node-based map would divide by its bucket count
// and chase a node for each lookup, which the look-ahead of the operators
// (see ParallelOperators) found costlier than the state they load.
//
// Ids are never forgotten, and the views id() returns stay valid as long
// as the index. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/hash_map.h"

namespace chorus::ops {

class IdIndex {
 public:
  static constexpr uint32_t kAbsent = ~uint32_t{0};

  // The index of `id`, kAbsent if it was never interned.
  uint32_t Find(std::string_view id) const {
    if (ids_.empty()) return kAbsent;
    return slots_[Probe(id, Hash(id))].index;  // an empty slot's is kAbsent
  }
  // The index of `id`, interned if new.
  uint32_t Intern(std::string_view id) {
    if (2 * (ids_.size() + 1) > slots_.size()) Grow();
    const uint64_t hash = Hash(id);
    Slot& s = slots_[Probe(id, hash)];
    if (s.index != kAbsent) return s.index;
    s = {hash, static_cast<uint32_t>(ids_.size())};
    ids_.emplace_back(id);
    return s.index;
  }
  // Starts loading the slot where a lookup of `id` begins.
  void Prefetch(std::string_view id) const {
    if (!slots_.empty()) PrefetchLine(&slots_[Home(Hash(id))]);
  }
  std::string_view id(uint32_t index) const { return ids_[index]; }
  size_t size() const { return ids_.size(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t index = kAbsent;  // empty
  };

  static uint64_t Hash(std::string_view id) { return std::hash<std::string_view>{}(id); }
  // The slot a probe for `hash` starts at. REQUIRES: slots_ not empty.
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash) & (slots_.size() - 1); }
  // Where a probe for `id` stops: its slot, or the first empty one.
  // REQUIRES: slots_ not empty.
  size_t Probe(std::string_view id, uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    size_t i = Home(hash);
    while (slots_[i].index != kAbsent && !(slots_[i].hash == hash && ids_[slots_[i].index] == id)) {
      i = (i + 1) & mask;
    }
    return i;
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : 2 * old.size(), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.index == kAbsent) continue;
      size_t i = Home(s.hash);
      while (slots_[i].index != kAbsent) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::deque<std::string> ids_;  // a deque: its strings never move
  std::vector<Slot> slots_;      // a power of two, at most half full
};

}  // namespace chorus::ops
