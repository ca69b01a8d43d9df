// Duplicate detection by event_id within a horizon of event time.
//
// Each partition remembers a 64-bit hash of every event_id it accepted with
// the event's time, for `horizon` of event time behind the partition's
// largest event time seen. A record whose id hash is remembered is a
// duplicate. The hash is stable across builds (state is persisted); with N
// ids in the horizon the chance of any false duplicate is about N² / 2^65
// (10 million ids: 3 in a million).
//
// Persisted form, per partition (all integers big-endian unless varint):
//   key partition(4) + OrderedBits(bucket start ms)(8) + seq(8)
//     value varint count, then count × (varint time delta, hash(8)):
//     the ids accepted in one drain whose times fall in that hour-long
//     bucket, sorted by time; the first delta is from the bucket start.
//     `seq` counts values per partition, so keys never collide and one
//     drain's values all sort after the previous drain's within a bucket.
//   key partition(4)
//     value OrderedBits(bound ms)(8) + seq(8): the latest expiry. Ids in
//     values with a smaller seq and a time below the bound were forgotten.
// A drain writes one value per bucket touched (split past 16,384 ids), not
// one entry per id. Expiry is one range delete per partition over whole
// buckets that end at or before the bound (and lie below every bucket the
// same drain writes, so the runtime may apply it after the puts). Expired
// ids still stored (in the bucket straddling the bound, or in one a range
// had to spare) are dropped by Restore using the expiry entry, so a
// restored index equals the one that drained, ids accepted after an expiry
// with older times included. (If the horizon grows across a restart, up to
// a bucket of such ids may return.)
// Restore returns false for a malformed entry. REQUIRES: a partition's
// entries are restored in key order (as a prefix scan yields them, the
// expiry entry first) into a partition with no state yet.
// Not thread-safe: owned by the processing thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/hash_map.h"
#include "chorus/operators/partition_map.h"
#include "chorus/operators/state.h"
#include "chorus/operators/time.h"

namespace chorus::ops {

struct DedupOptions {
  Millis horizon = 7 * kDay;
};

class DedupIndex {
 public:
  explicit DedupIndex(DedupOptions options = {});

  // True if `event_id` was already accepted on `partition` within the
  // horizon; otherwise remembers it and returns false.
  bool CheckAndInsert(int32_t partition, std::string_view event_id, EventTime t) {
    return CheckAndInsert(partition, StableHash64(event_id), t);
  }
  // The same, by the id's StableHash64 (IdHashes::event_id).
  bool CheckAndInsert(int32_t partition, uint64_t id_hash, EventTime t);
  // Starts loading what CheckAndInsert(partition, id_hash, …) will read.
  void Prefetch(int32_t partition, uint64_t id_hash);

  // Forgets ids older than each partition's max event time − horizon.
  void Expire();

  size_t size() const;
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);
  void DropPartition(int32_t partition);

 private:
  struct Entry {
    uint64_t hash = 0;
    int64_t ms = 0;
  };
  // Open addressing with linear probing over a power-of-two array; hash 0
  // marks an empty slot (an id hashing to 0 is kept as 1, which adds one
  // more 2^-64 chance of a false duplicate). Ids arrive pre-mixed by StableHash64, so the low
  // bits index directly. Allocates only when it grows.
  class Table {
   public:
    const Entry* Find(uint64_t hash) const;
    void Prefetch(uint64_t hash) const {
      if (!slots_.empty()) PrefetchLine(&slots_[hash & (slots_.size() - 1)]);
    }
    // Inserts, or raises the time of a present hash to `ms` if larger.
    void Upsert(uint64_t hash, int64_t ms);
    void Erase(uint64_t hash);
    size_t size() const { return size_; }

   private:
    void Grow();
    std::vector<Entry> slots_;
    size_t size_ = 0;
  };
  struct Partition {
    Table seen;
    // Min-heap on event time: expiry pops from the front instead of scanning.
    std::vector<Entry> by_time;
    std::vector<Entry> added;  // inserted since the last drain
    int64_t max_ms = INT64_MIN;
    // Ids below this were forgotten in memory; the store still needs a
    // range delete up to it at the next drain.
    int64_t expired_below_ms = INT64_MIN;
    bool expiry_pending = false;
    // added[0, added_before_expiry) were present at the last Expire that
    // forgot anything: those below expired_below_ms are gone, every other
    // added id is live. Bounds only grow, so this one rule covers every
    // Expire since the last drain without a table lookup per id.
    size_t added_before_expiry = 0;
    // Sequence number of the next stored value; restored as one past the
    // largest stored, and never below the expiry entry's.
    uint64_t next_seq = 1;
    // The restored expiry entry: stored values with a seq below
    // restored_expiry_seq forgot their ids below restored_expiry_ms.
    uint64_t restored_expiry_seq = 0;  // 0: none
    int64_t restored_expiry_ms = INT64_MIN;
  };
  static void Remember(Partition& p, uint64_t hash, int64_t ms);
  static void DrainPartition(int32_t id, Partition& p, Mutations& out);
  static void DrainExpiry(int32_t id, const Partition& p, Mutations& out);
  static std::string EncodePairs(std::span<const Entry> pairs, int64_t bucket);
  [[nodiscard]] bool RestoreExpiry(int32_t partition, std::string_view value);
  [[nodiscard]] bool RestoreBucket(int32_t partition, std::string_view key, std::string_view value);

  DedupOptions options_;
  PartitionMap<Partition> partitions_;
};

}  // namespace chorus::ops
