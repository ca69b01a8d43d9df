// Event-time watermark over the input partitions.
//
// Watermark = min over active partitions of (max event time seen − allowed
// out-of-orderness). A partition is active until it has been idle (no event
// observed) for `idle_timeout` of processing time; an idle partition stops
// holding the watermark back, and becomes active again with its next event.
// A newly added partition with no events holds the watermark back until its
// idle timeout runs out, so a slow start does not make everything late.
// When every partition is idle the watermark is the largest per-partition
// candidate: all that was sent has been seen, and windows may close.
//
// The watermark never decreases. Processing time is passed in, never read.
// Not thread-safe: owned by the processing thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "chorus/operators/time.h"

namespace chorus::ops {

struct WatermarkOptions {
  Millis out_of_orderness = std::chrono::minutes(5);
  Millis idle_timeout = std::chrono::seconds(30);
};

class WatermarkTracker {
 public:
  explicit WatermarkTracker(WatermarkOptions options);

  // Starts tracking `partition`; `max_seen` is its restored maximum event
  // time (EventTime::Min() if none). Re-adding keeps the larger maximum.
  void AddPartition(int32_t partition, EventTime max_seen, ProcessingTime now);
  void RemovePartition(int32_t partition);

  // Restores the watermark from durable state; it will not go below it.
  void Restore(EventTime watermark);

  // Records an event of `partition` (added implicitly if unknown). Returns
  // true when the watermark may now rise: the partition that held it at the
  // last Advance() moved on. Calling Advance() only then keeps a per-record
  // watermark at amortised O(1) per record.
  bool Observe(int32_t partition, EventTime t, ProcessingTime now);

  // Recomputes the watermark for processing time `now` and returns it.
  EventTime Advance(ProcessingTime now);

  EventTime current() const { return current_; }
  // Largest event time seen on `partition`, EventTime::Min() if none.
  EventTime max_seen(int32_t partition) const;
  const WatermarkOptions& options() const { return options_; }

 private:
  struct PartitionClock {
    EventTime max_seen = EventTime::Min();
    // Last event, or when the partition was added: the idle timeout counts
    // from here, so a partition without events holds back until it runs out.
    ProcessingTime last_activity;
  };
  // max_seen − out_of_orderness, saturating at EventTime::Min().
  EventTime Candidate(const PartitionClock& c) const;
  WatermarkOptions options_;
  std::map<int32_t, PartitionClock> partitions_;
  EventTime current_ = EventTime::Min();
  // The active partition whose candidate set the watermark at the last
  // Advance(); none when every partition was idle.
  std::optional<int32_t> holder_;
};

}  // namespace chorus::ops
