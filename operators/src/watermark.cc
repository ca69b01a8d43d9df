#include "chorus/operators/watermark.h"

#include <algorithm>

namespace chorus::ops {

WatermarkTracker::WatermarkTracker(WatermarkOptions options) : options_(options) {}

void WatermarkTracker::AddPartition(int32_t partition, EventTime max_seen, ProcessingTime now) {
  auto [it, inserted] = partitions_.try_emplace(partition);
  PartitionClock& c = it->second;
  c.max_seen = std::max(c.max_seen, max_seen);
  c.last_activity = inserted ? now : std::max(c.last_activity, now);
}

void WatermarkTracker::RemovePartition(int32_t partition) { partitions_.erase(partition); }

void WatermarkTracker::Restore(EventTime watermark) { current_ = std::max(current_, watermark); }

bool WatermarkTracker::Observe(int32_t partition, EventTime t, ProcessingTime now) {
  PartitionClock& c = partitions_[partition];
  c.last_activity = std::max(c.last_activity, now);
  if (t <= c.max_seen) return false;
  c.max_seen = t;
  return !holder_ || *holder_ == partition;
}

EventTime WatermarkTracker::Candidate(const PartitionClock& c) const {
  // Saturate so that an event near the minimum time cannot wrap around.
  if (c.max_seen < EventTime::Min() + options_.out_of_orderness) return EventTime::Min();
  return c.max_seen - options_.out_of_orderness;
}

EventTime WatermarkTracker::Advance(ProcessingTime now) {
  bool any_active = false;
  EventTime min_active = EventTime::Max();
  EventTime max_all = EventTime::Min();
  holder_.reset();
  for (const auto& [partition, clock] : partitions_) {
    EventTime candidate = Candidate(clock);
    max_all = std::max(max_all, candidate);
    if (now - clock.last_activity < options_.idle_timeout) {
      any_active = true;
      if (candidate < min_active) holder_ = partition;
      min_active = std::min(min_active, candidate);
    }
  }
  // With every partition idle, all that was sent has been seen: the largest
  // candidate is safe and lets the last windows close.
  EventTime next = any_active ? min_active : max_all;
  current_ = std::max(current_, next);
  return current_;
}

EventTime WatermarkTracker::max_seen(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? EventTime::Min() : it->second.max_seen;
}

}  // namespace chorus::ops
