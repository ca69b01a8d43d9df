// Builders for serialized engagement events and the small fakes the
// pipeline's unit tests plug in around the real code: a manual clock and a
// DLQ that remembers what it was sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "chorus/pipeline/clock.h"
#include "chorus/pipeline/dlq.h"
#include "chorus/v1/engagement.pb.h"

namespace chorus::testing {

// A member's event (or the brand's, with role BRAND and no member).
v1::EngagementEvent Event(const std::string& id, int64_t occurred_ms, const std::string& channel,
                          v1::EventKind kind, const std::string& member = "",
                          v1::ActorRole role = v1::ACTOR_ROLE_MEMBER, uint64_t count = 0);

// Writes `events` (serialized) as a length-delimited file at `path`;
// `raw` records are written as given, after the events.
void WriteEventFile(const std::string& path, const std::vector<v1::EngagementEvent>& events,
                    const std::vector<std::string>& raw = {});

// Thread-safe: the processor reads it from its commit-writing thread too.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t ms = 1'000'000) : now_(ms) {}
  ops::ProcessingTime Now() override { return ops::ProcessingTime::FromMillis(now_.load()); }
  void Advance(ops::Millis d) { now_ += d.count(); }

 private:
  std::atomic<int64_t> now_;
};

class RecordingDlq final : public DlqSink {
 public:
  struct Entry {
    std::string topic;
    int32_t partition;
    int64_t offset;
    DlqReason reason;
  };
  void Send(const SourceRecord& r, DlqReason reason) override {
    pending_.push_back({std::string(r.topic), r.partition, r.offset, reason});
  }
  Status Flush() override {
    flushed_.insert(flushed_.end(), pending_.begin(), pending_.end());
    pending_.clear();
    return Status::Ok();
  }
  // Entries made durable by a Flush().
  const std::vector<Entry>& flushed() const { return flushed_; }
  size_t Count(DlqReason reason) const {
    size_t n = 0;
    for (const auto& e : flushed_) n += e.reason == reason;
    return n;
  }

 private:
  std::vector<Entry> pending_, flushed_;
};

}  // namespace chorus::testing
