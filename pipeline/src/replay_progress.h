// How far a replay has got: a source wrapper that notes each partition's
// position as records pass through, and a reporter that shows it while the
// replay runs (a line redrawn in place on a terminal, a log line every few
// seconds otherwise) and sums it up at the end.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chorus/pipeline/clock.h"
#include "chorus/pipeline/event_source.h"
#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/snapshot.h"

namespace chorus {

// Forwards everything to the wrapped source and counts what it hands out.
// Poll() runs on the processing thread; the readers are safe from any.
class ProgressSource final : public EventSource {
 public:
  // `ranges`: what the replay will read, per partition (offsets; for a file
  // its bytes). A record of a partition not listed is counted only.
  ProgressSource(std::unique_ptr<EventSource> inner, std::vector<PartitionRange> ranges);

  void SetListener(PartitionListener* listener) override { inner_->SetListener(listener); }
  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override;
  Status ReportDurable(const std::vector<SourcePosition>& positions) override {
    return inner_->ReportDurable(positions);
  }
  bool Exhausted() const override { return inner_->Exhausted(); }
  std::optional<int64_t> EndOffset(const TopicPartition& tp) const override {
    return inner_->EndOffset(tp);
  }

  const std::vector<PartitionRange>& ranges() const { return ranges_; }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  // Per range, the offset after the last record read (its start before any).
  int64_t position(size_t range) const { return positions_[range].load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<EventSource> inner_;
  std::vector<PartitionRange> ranges_;
  std::unique_ptr<std::atomic<int64_t>[]> positions_;
  std::atomic<uint64_t> records_{0};
  size_t last_ = 0;  // the range of the previous record, tried first
};

// Shows `source`'s progress from its own thread until destroyed. `unit`
// names what the ranges count ("records" for Kafka offsets, "bytes" for a
// file).
class ProgressReporter {
 public:
  ProgressReporter(const ProgressSource& source, Clock& clock, bool terminal, std::string unit);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // One line: done/total, rate, ETA and the slowest partitions.
  std::string Line() const;

 private:
  void Loop();

  const ProgressSource& source_;
  Clock& clock_;
  const bool terminal_;
  const std::string unit_;
  const ops::ProcessingTime start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The end-of-replay summary from the final committed snapshot: records by
// outcome, seconds and rate, dead letters by reason, out-of-range events.
std::string ReplaySummary(const Snapshot& snapshot, double seconds, bool interrupted);

}  // namespace chorus
