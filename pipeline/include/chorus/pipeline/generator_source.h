// The generator as an EventSource: a bounded synthetic stream split over
// `partitions` partitions by a hash of the record key, as a keyed Kafka
// producer would, without Kafka in between. Offsets count records per
// partition; the stream is deterministic, so resuming at stored offsets
// regenerates and skips what was already handed out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/pipeline/event_source.h"
#include "chorus/pipeline/generator.h"

namespace chorus {

class GeneratorSource final : public EventSource {
 public:
  GeneratorSource(GeneratorOptions options, int partitions, uint64_t records,
                  std::string topic = "generator");

  void SetListener(PartitionListener* listener) override { listener_ = listener; }
  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override;
  Status ReportDurable(const std::vector<SourcePosition>&) override { return Status::Ok(); }
  bool Exhausted() const override { return produced_ >= records_ && started_; }
  std::optional<int64_t> EndOffset(const TopicPartition& tp) const override;

 private:
  void Start();

  Generator generator_;
  int partitions_;
  uint64_t records_;
  std::string topic_;
  PartitionListener* listener_ = nullptr;
  bool started_ = false;
  uint64_t produced_ = 0;
  std::vector<int64_t> next_offset_;    // per partition: offset of the next record made
  std::vector<int64_t> skip_until_;     // per partition: stored position to resume from
  std::vector<int64_t> end_offset_;     // per partition, computed up front
  std::vector<GeneratedRecord> batch_;  // storage behind the records of one Poll
};

// The partition a keyed producer would pick for `key` (by the stable id
// hash; empty keys go round-robin by `sequence`).
int32_t PartitionForKey(std::string_view key, int partitions, uint64_t sequence);

}  // namespace chorus
