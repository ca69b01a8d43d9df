// Duplicate detection by event_id within a horizon of event time.
//
// Each partition remembers a 64-bit hash of every event_id it accepted with
// the event's time, for `horizon` of event time behind the partition's
// largest event time seen. A record whose id hash is remembered is a
// duplicate. The hash is stable across builds (state is persisted); with N
// ids in the horizon the chance of any false duplicate is about N² / 2^65
// (10 million ids: 3 in a million).
//
// Persisted keys are partition + event time + hash, so expiry is one range
// delete per partition. Not thread-safe: owned by the processing thread.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "chorus/operators/state.h"
#include "chorus/operators/time.h"

namespace chorus::ops {

uint64_t StableHash64(std::string_view s);

struct DedupOptions {
  Millis horizon = 7 * kDay;
};

class DedupIndex {
 public:
  explicit DedupIndex(DedupOptions options = {});

  // True if `event_id` was already accepted on `partition` within the
  // horizon; otherwise remembers it and returns false.
  bool CheckAndInsert(int32_t partition, std::string_view event_id, EventTime t);

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
  };
  static void Remember(Partition& p, uint64_t hash, int64_t ms);

  DedupOptions options_;
  std::map<int32_t, Partition> partitions_;
};

}  // namespace chorus::ops
