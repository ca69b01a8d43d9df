// HashMap: an open-addressing map from a 64-bit hash (StableHash64 of an
// id) to a value, for the lookups every event makes, where a node-based
// map costs a cache miss for the bucket and another for the node, and an
// allocation per insert. Values sit in the table itself, so a lookup at
// this load touches one or two cache lines.
//
// Linear probing, at most half full; erasing moves the entries after the
// gap back instead of leaving tombstones, so lookups never slow down with
// churn. Inserting may move every value and erasing may move others:
// hold no pointer or reference into the map across either. Iteration
// order is the table's: nothing may depend on it.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace chorus::ops {

// Starts loading the cache line holding `p`, for a lookup soon after.
inline void PrefetchLine(const void* p) {
#if defined(__x86_64__)
  // GCC 12 drops a __builtin_prefetch that sits under a branch, as the
  // lookups' empty-table checks put it.
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

// Starts loading every cache line [p, p + bytes) touches.
inline void PrefetchLines(const void* p, size_t bytes) {
  if (bytes == 0) return;
  const char* begin = static_cast<const char*>(p);
  const char* end = begin + bytes;
  for (const char* at = begin; at < end; at += 64) PrefetchLine(at);
  PrefetchLine(end - 1);  // the last line, where the range is not line-aligned
}

template <typename T>
class HashMap {
 public:
  T* Find(uint64_t key) {
    if (size_ == 0) return nullptr;
    for (size_t i = Home(key);; i = Next(i)) {
      Slot& s = slots_[i];
      if (!s.full) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  const T* Find(uint64_t key) const { return const_cast<HashMap*>(this)->Find(key); }

  // The value of `key`, value-initialized if new; true if it was inserted.
  std::pair<T*, bool> TryEmplace(uint64_t key) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    size_t i = Home(key);
    for (; slots_[i].full; i = Next(i)) {
      if (slots_[i].key == key) return {&slots_[i].value, false};
    }
    slots_[i].full = true;
    slots_[i].key = key;
    slots_[i].value = T{};
    ++size_;
    return {&slots_[i].value, true};
  }
  T& operator[](uint64_t key) { return *TryEmplace(key).first; }

  // Returns whether `key` was present.
  bool Erase(uint64_t key) {
    if (size_ == 0) return false;
    for (size_t i = Home(key);; i = Next(i)) {
      if (!slots_[i].full) return false;
      if (slots_[i].key == key) {
        EraseAt(i);
        return true;
      }
    }
  }

  // Erases every entry for which pred(key, value) holds; returns how many.
  template <typename Pred>
  size_t EraseIf(Pred pred) {
    // Collected first: erasing shifts entries, which a sweep could skip.
    std::vector<uint64_t> doomed;
    for (Slot& s : slots_) {
      if (s.full && pred(s.key, s.value)) doomed.push_back(s.key);
    }
    for (uint64_t key : doomed) Erase(key);
    return doomed.size();
  }

  // Calls fn(key, value) for every entry, in table order: one sequential
  // pass, cheaper than finding most of the entries one by one.
  template <typename Fn>
  void ForEach(Fn fn) {
    for (Slot& s : slots_) {
      if (s.full) fn(s.key, s.value);
    }
  }

  // Calls fn(key, value) for each of `keys` that is present, in their
  // order, each slot loaded kFindAhead keys before: a commit's drain finds
  // ~100,000 changed entries in tables of up to ~100 MB, where one lookup
  // after another would miss every time.
  static constexpr size_t kFindAhead = 8;
  template <typename Fn>
  void ForEachFound(const std::vector<uint64_t>& keys, Fn fn) {
    for (size_t i = 0; i < std::min(kFindAhead, keys.size()); ++i) Prefetch(keys[i]);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i + kFindAhead < keys.size()) Prefetch(keys[i + kFindAhead]);
      if (T* found = Find(keys[i])) fn(keys[i], *found);
    }
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Starts loading the slot where `key` would be and the one after it, for
  // a lookup soon after. At most half full, the table's runs are short: a
  // lookup, or an insert's walk to a free slot, mostly ends within the two;
  // with the first alone, inserting a thread stalled on the second.
  void Prefetch(uint64_t key) const {
    if (slots_.empty()) return;
    const size_t home = Home(key);
    PrefetchLines(slots_.data() + home, (std::min(home + 2, slots_.size()) - home) * sizeof(Slot));
  }

 private:
  struct Slot {
    uint64_t key = 0;
    bool full = false;
    T value{};
  };

  size_t Home(uint64_t key) const {
    // Keys are hashes already; the multiply only guards against ones that
    // differ in their high bits alone.
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  // Backward-shift deletion: each later entry of the run whose home does
  // not lie strictly between the gap and itself moves into the gap.
  void EraseAt(size_t gap) {
    for (size_t i = Next(gap);; i = Next(i)) {
      Slot& s = slots_[i];
      if (!s.full) break;
      const size_t home = Home(s.key);
      // Cyclic: can the entry at i be found if it moves to gap?
      const bool stays = gap <= i ? (gap < home && home <= i) : (gap < home || home <= i);
      if (stays) continue;
      slots_[gap] = std::move(s);
      gap = i;
    }
    slots_[gap].full = false;
    slots_[gap].value = T{};  // frees what the value held
    --size_;
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_ = std::vector<Slot>(old.empty() ? 16 : 2 * old.size());
    shift_ = 64 - std::countr_zero(slots_.size());
    for (Slot& s : old) {
      if (!s.full) continue;
      size_t i = Home(s.key);
      while (slots_[i].full) i = Next(i);
      slots_[i] = std::move(s);
    }
  }

  std::vector<Slot> slots_;  // a power of two in size, at most half full
  size_t size_ = 0;
  int shift_ = 64;
};

}  // namespace chorus::ops
