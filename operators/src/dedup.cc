#include "chorus/operators/dedup.h"

#include <algorithm>
#include <cstddef>

namespace chorus::ops {
namespace {

constexpr size_t kBucketKeySize = 4 + 8 + 8;
constexpr size_t kExpiryKeySize = 4;
constexpr size_t kExpiryValueSize = 8 + 8;
constexpr size_t kInitialSlots = 64;
// Event time per stored bucket. An hour keeps a 7-day horizon at 168
// buckets, and what expiry leaves behind in the straddling bucket to an
// hour of ids. Changing it changes the stored format.
constexpr int64_t kBucketMs = 3'600'000;
constexpr uint64_t kBucketSpan = kBucketMs;
// About 10 bytes an id: values stay near 160 KB when a drain holds many
// ids of one bucket.
constexpr size_t kMaxPairsPerValue = 16'384;

// Orders the expiry heap so that the earliest event time is at the front.
constexpr auto kLaterFirst = [](const auto& a, const auto& b) { return a.ms > b.ms; };

// Start of the bucket holding `ms`; the lowest bucket is cut off at
// INT64_MIN rather than overflow.
int64_t BucketStart(int64_t ms) {
  int64_t r = ms % kBucketMs;
  if (r < 0) r += kBucketMs;
  return ms < INT64_MIN + r ? INT64_MIN : ms - r;
}

// Distance from `from` to `to` >= from, exact even across the whole range.
uint64_t Distance(int64_t from, int64_t to) {
  return static_cast<uint64_t>(to) - static_cast<uint64_t>(from);
}

std::string BucketKey(int32_t partition, int64_t bucket, uint64_t seq) {
  std::string key;
  key.reserve(kBucketKeySize);
  AppendPartitionPrefix(key, partition);
  PutFixed64BE(key, OrderedBits(bucket));
  PutFixed64BE(key, seq);
  return key;
}

// Calls fn(ms, hash) for each id of a bucket value; false if the value is
// malformed (fn may have been called for a prefix of it).
template <typename Fn>
bool ForEachPair(std::string_view value, int64_t bucket, Fn&& fn) {
  Reader r(value);
  uint64_t count = 0;
  if (!r.Varint(count) || count == 0) return false;
  uint64_t offset = 0;  // from the bucket start
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t delta = 0;
    uint64_t hash = 0;
    if (!r.Varint(delta) || !r.Fixed64BE(hash) || hash == 0) return false;
    if (delta >= kBucketSpan || (offset += delta) >= kBucketSpan) return false;
    auto ms = static_cast<int64_t>(static_cast<uint64_t>(bucket) + offset);
    if (BucketStart(ms) != bucket) return false;  // a misaligned or wrapped bucket
    fn(ms, hash);
  }
  return r.empty();
}

// Empty slots hold hash 0, so a real 0 is folded onto 1.
uint64_t SlotHash(uint64_t id_hash) { return id_hash == 0 ? 1 : id_hash; }

}  // namespace

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

bool DedupIndex::CheckAndInsert(int32_t partition, uint64_t id_hash, EventTime t) {
  uint64_t hash = SlotHash(id_hash);
  Partition& p = partitions_[partition];
  if (p.seen.Find(hash) != nullptr) return true;
  Remember(p, hash, t.millis());
  p.added.push_back(Entry{hash, t.millis()});
  return false;
}

void DedupIndex::Prefetch(int32_t partition, uint64_t id_hash) {
  if (const Partition* p = partitions_.Find(partition)) p->seen.Prefetch(SlotHash(id_hash));
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
  for (auto& [id, p] : partitions_) DrainPartition(id, p, out);
}

void DedupIndex::DrainPartition(int32_t id, Partition& p, Mutations& out) {
  std::vector<Entry>& added = p.added;
  size_t live = 0;
  for (size_t i = 0; i < added.size(); ++i) {
    // Forgotten by an Expire before it was ever drained.
    if (i < p.added_before_expiry && added[i].ms < p.expired_below_ms) continue;
    added[live++] = added[i];
  }
  added.resize(live);
  // By time for small deltas; by hash among equal times so the bytes do not
  // depend on arrival order.
  auto earlier = [](const Entry& a, const Entry& b) {
    return a.ms != b.ms ? a.ms < b.ms : a.hash < b.hash;
  };
  if (!std::is_sorted(added.begin(), added.end(), earlier)) {
    std::sort(added.begin(), added.end(), earlier);
  }
  if (p.expiry_pending) {
    DrainExpiry(id, p, out);
    p.expiry_pending = false;
  }
  for (auto run = added.begin(); run != added.end();) {
    int64_t bucket = BucketStart(run->ms);
    auto limit = run + std::min<std::ptrdiff_t>(added.end() - run, kMaxPairsPerValue);
    auto end = std::find_if(run, limit,
                            [&](const Entry& e) { return Distance(bucket, e.ms) >= kBucketSpan; });
    out.push_back(Mutation{Mutation::Op::kPut, BucketKey(id, bucket, p.next_seq++),
                           EncodePairs(std::span<const Entry>(run, end), bucket)});
    run = end;
  }
  added.clear();
  p.added_before_expiry = 0;
}

// Writes the expiry entry, then deletes whole buckets below the bound. Both
// precede this drain's values. The range stops short of any bucket this
// drain writes (an id accepted after the expiry may be older than the
// bound), so the runtime may order it after the puts of the same batch.
void DedupIndex::DrainExpiry(int32_t id, const Partition& p, Mutations& out) {
  Mutation marker{Mutation::Op::kPut, {}, {}};
  AppendPartitionPrefix(marker.key, id);
  PutFixed64BE(marker.value, OrderedBits(p.expired_below_ms));
  PutFixed64BE(marker.value, p.next_seq);
  out.push_back(std::move(marker));

  int64_t end = BucketStart(p.expired_below_ms);
  if (!p.added.empty()) end = std::min(end, BucketStart(p.added.front().ms));
  if (end == INT64_MIN) return;  // nothing whole below the bound
  Mutation m{Mutation::Op::kDeleteRange, {}, {}};
  AppendPartitionPrefix(m.key, id);
  PutFixed64BE(m.key, OrderedBits(INT64_MIN));
  AppendPartitionPrefix(m.value, id);
  PutFixed64BE(m.value, OrderedBits(end));
  out.push_back(std::move(m));
}

std::string DedupIndex::EncodePairs(std::span<const Entry> pairs, int64_t bucket) {
  std::string value;
  value.reserve(10 + pairs.size() * (3 + 8));
  PutVarint(value, pairs.size());
  int64_t prev = bucket;
  for (const Entry& e : pairs) {
    PutVarint(value, Distance(prev, e.ms));
    PutFixed64BE(value, e.hash);
    prev = e.ms;
  }
  return value;
}

bool DedupIndex::Restore(std::string_view key, std::string_view value) {
  int32_t partition = 0;
  if (!ParsePartitionPrefix(key, partition)) return false;
  if (key.size() == kExpiryKeySize) return RestoreExpiry(partition, value);
  if (key.size() == kBucketKeySize) return RestoreBucket(partition, key, value);
  return false;
}

bool DedupIndex::RestoreExpiry(int32_t partition, std::string_view value) {
  uint64_t ordered_ms = 0;
  uint64_t seq = 0;
  Reader r(value);
  if (value.size() != kExpiryValueSize || !r.Fixed64BE(ordered_ms) || !r.Fixed64BE(seq) ||
      seq == 0) {
    return false;
  }
  // It sorts first in its partition; after values it could not filter them.
  if (const Partition* known = partitions_.Find(partition);
      known != nullptr && (known->next_seq != 1 || known->restored_expiry_seq != 0)) {
    return false;
  }
  Partition& p = partitions_[partition];
  p.restored_expiry_seq = seq;
  p.restored_expiry_ms = FromOrderedBits(ordered_ms);
  // Values written after this expiry, all deleted since, still count: a
  // new value must not take a seq below it.
  p.next_seq = seq;
  return true;
}

bool DedupIndex::RestoreBucket(int32_t partition, std::string_view key, std::string_view value) {
  uint64_t ordered_bucket = 0;
  uint64_t seq = 0;
  Reader r(key.substr(4));
  if (!r.Fixed64BE(ordered_bucket) || !r.Fixed64BE(seq) || seq == 0 || seq == UINT64_MAX) {
    return false;
  }
  int64_t bucket = FromOrderedBits(ordered_bucket);
  // Validate the whole value before remembering any of it.
  if (!ForEachPair(value, bucket, [](int64_t, uint64_t) {})) return false;
  Partition& p = partitions_[partition];
  bool before_expiry = seq < p.restored_expiry_seq;
  (void)ForEachPair(value, bucket, [&](int64_t ms, uint64_t hash) {
    if (before_expiry && ms < p.restored_expiry_ms) return;  // forgotten before the drain
    Remember(p, hash, ms);
  });
  p.next_seq = std::max(p.next_seq, seq + 1);
  return true;
}

void DedupIndex::DropPartition(int32_t partition) { partitions_.Erase(partition); }

}  // namespace chorus::ops
