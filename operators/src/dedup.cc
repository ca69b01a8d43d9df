#include "chorus/operators/dedup.h"

#include <algorithm>

namespace chorus::ops {
namespace {

constexpr size_t kDedupKeySize = 4 + 8 + 8;
constexpr size_t kInitialSlots = 64;

// Orders the expiry heap so that the earliest event time is at the front.
constexpr auto kLaterFirst = [](const auto& a, const auto& b) { return a.ms > b.ms; };

std::string DedupKey(int32_t partition, int64_t ms, uint64_t hash) {
  std::string key;
  key.reserve(kDedupKeySize);
  AppendPartitionPrefix(key, partition);
  PutFixed64BE(key, OrderedBits(ms));
  PutFixed64BE(key, hash);
  return key;
}

// Empty slots hold hash 0, so a real 0 is folded onto 1.
uint64_t SlotHash(std::string_view event_id) {
  uint64_t h = StableHash64(event_id);
  return h == 0 ? 1 : h;
}

}  // namespace

uint64_t StableHash64(std::string_view s) {
  // FNV-1a is fixed by its spec (stable across builds and platforms); the
  // murmur3 fmix64 finalizer spreads it over all 64 bits, so the hash
  // table may index by its low bits.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

const DedupIndex::Entry* DedupIndex::Table::Find(uint64_t hash) const {
  if (slots_.empty()) return nullptr;
  size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i].hash == hash) return &slots_[i];
    if (slots_[i].hash == 0) return nullptr;
  }
}

void DedupIndex::Table::Upsert(uint64_t hash, int64_t ms) {
  // Keep the load factor at or below 1/2 so probe runs stay short.
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].hash != 0 && slots_[i].hash != hash) i = (i + 1) & mask;
  if (slots_[i].hash == hash) {
    slots_[i].ms = std::max(slots_[i].ms, ms);
    return;
  }
  slots_[i] = Entry{hash, ms};
  ++size_;
}

void DedupIndex::Table::Erase(uint64_t hash) {
  if (slots_.empty()) return;
  size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].hash != hash) {
    if (slots_[i].hash == 0) return;
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move later members of the probe run into the
  // hole so lookups never need tombstones.
  for (size_t j = (i + 1) & mask; slots_[j].hash != 0; j = (j + 1) & mask) {
    size_t home = slots_[j].hash & mask;
    // Move j into the hole at i unless j's home lies cyclically in (i, j].
    bool home_after_hole = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (!home_after_hole) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Entry{};
  --size_;
}

void DedupIndex::Table::Grow() {
  std::vector<Entry> old = std::move(slots_);
  slots_.assign(old.empty() ? kInitialSlots : old.size() * 2, Entry{});
  size_ = 0;
  for (const Entry& e : old) {
    if (e.hash != 0) Upsert(e.hash, e.ms);
  }
}

DedupIndex::DedupIndex(DedupOptions options) : options_(options) {}

void DedupIndex::Remember(Partition& p, uint64_t hash, int64_t ms) {
  p.seen.Upsert(hash, ms);
  p.by_time.push_back(Entry{hash, ms});
  std::push_heap(p.by_time.begin(), p.by_time.end(), kLaterFirst);
  p.max_ms = std::max(p.max_ms, ms);
}

bool DedupIndex::CheckAndInsert(int32_t partition, std::string_view event_id, EventTime t) {
  uint64_t hash = SlotHash(event_id);
  Partition& p = partitions_[partition];
  if (p.seen.Find(hash) != nullptr) return true;
  Remember(p, hash, t.millis());
  p.added.push_back(Entry{hash, t.millis()});
  return false;
}

void DedupIndex::Expire() {
  for (auto& [id, p] : partitions_) {
    if (p.max_ms == INT64_MIN) continue;
    int64_t horizon = options_.horizon.count();
    int64_t bound = p.max_ms < INT64_MIN + horizon ? INT64_MIN : p.max_ms - horizon;
    bool popped = false;
    while (!p.by_time.empty() && p.by_time.front().ms < bound) {
      Entry e = p.by_time.front();
      std::pop_heap(p.by_time.begin(), p.by_time.end(), kLaterFirst);
      p.by_time.pop_back();
      // A restored duplicate key may have left an older heap entry behind
      // the live one; only the live time owns the table slot.
      const Entry* live = p.seen.Find(e.hash);
      if (live != nullptr && live->ms == e.ms) p.seen.Erase(e.hash);
      popped = true;
    }
    if (popped) {
      p.expired_below_ms = std::max(p.expired_below_ms, bound);
      p.expiry_pending = true;
      p.added_before_expiry = p.added.size();
    }
  }
}

size_t DedupIndex::size() const {
  size_t n = 0;
  for (const auto& [id, p] : partitions_) n += p.seen.size();
  return n;
}

void DedupIndex::DrainDirty(Mutations& out) {
  for (auto& [id, p] : partitions_) {
    // The range delete goes first: ids inserted after the expiry with an
    // older time are still live and their puts must survive it.
    if (p.expiry_pending) {
      Mutation m{Mutation::Op::kDeleteRange, {}, {}};
      AppendPartitionPrefix(m.key, id);
      PutFixed64BE(m.key, OrderedBits(INT64_MIN));
      AppendPartitionPrefix(m.value, id);
      PutFixed64BE(m.value, OrderedBits(p.expired_below_ms));
      out.push_back(std::move(m));
      p.expiry_pending = false;
    }
    for (size_t i = 0; i < p.added.size(); ++i) {
      const Entry& e = p.added[i];
      if (i < p.added_before_expiry && e.ms < p.expired_below_ms) continue;  // expired undrained
      out.push_back(Mutation{Mutation::Op::kPut, DedupKey(id, e.ms, e.hash), {}});
    }
    p.added.clear();
    p.added_before_expiry = 0;
  }
}

bool DedupIndex::Restore(std::string_view key, std::string_view value) {
  if (key.size() != kDedupKeySize || !value.empty()) return false;
  uint32_t partition = 0;
  uint64_t ordered_ms = 0;
  uint64_t hash = 0;
  Reader r(key);
  if (!r.Fixed32BE(partition) || !r.Fixed64BE(ordered_ms) || !r.Fixed64BE(hash) || hash == 0) {
    return false;
  }
  Remember(partitions_[static_cast<int32_t>(partition)], hash, FromOrderedBits(ordered_ms));
  return true;
}

void DedupIndex::DropPartition(int32_t partition) { partitions_.erase(partition); }

}  // namespace chorus::ops
