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
#include <unordered_map>
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
  struct Partition {
    std::unordered_map<uint64_t, int64_t> seen;  // hash -> event time ms
    std::vector<std::pair<int64_t, uint64_t>> added;  // pending drain
    int64_t max_ms = INT64_MIN;
    int64_t expired_below_ms = INT64_MIN;  // pending range delete bound
    bool expiry_pending = false;
  };
  DedupOptions options_;
  std::map<int32_t, Partition> partitions_;
};

}  // namespace chorus::ops
