// Where records come from: Kafka, a file of length-delimited records, or the
// built-in generator, behind one interface, so decode → validate → dedup →
// operators is one code path for live runs and replays.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/pipeline/status.h"

namespace chorus {

// One raw record. Views are valid until the next Poll() on the same source.
struct SourceRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::span<const uint8_t> key;
  std::span<const uint8_t> value;
  std::optional<int64_t> timestamp_ms;  // the record's own timestamp, if any
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

// The next offset to read for a partition.
struct SourcePosition {
  TopicPartition tp;
  int64_t next_offset = 0;
};

// Told when partitions are assigned to or taken from this instance. Called
// on the thread that calls Poll(), from inside Poll().
class PartitionListener {
 public:
  virtual ~PartitionListener() = default;
  // Returns where to start each partition (from durable state); partitions
  // not in the answer start from the source's own default position.
  virtual std::vector<SourcePosition> OnAssigned(const std::vector<TopicPartition>& tps) = 0;
  // Called before the partitions go: state for them must be made durable.
  virtual void OnRevoked(const std::vector<TopicPartition>& tps) = 0;
};

class EventSource {
 public:
  virtual ~EventSource() = default;

  // Must be called once before the first Poll().
  virtual void SetListener(PartitionListener* listener) = 0;

  // Appends up to `max` records to `out` (cleared first), waiting at most
  // `timeout` for the first. Records stay valid until the next Poll().
  virtual Status Poll(std::vector<SourceRecord>& out, size_t max,
                      std::chrono::milliseconds timeout) = 0;

  // Reports positions that are durable in chorus's state, for lag
  // monitoring only (Kafka: committed offsets). Never used to resume.
  virtual Status ReportDurable(const std::vector<SourcePosition>& positions) = 0;

  // True once a bounded source has handed out everything it will.
  virtual bool Exhausted() const = 0;

  // The offset after the last record currently in `tp` (Kafka's high
  // watermark as last seen, without a network call), if known. With the
  // next offset to read it gives the consumer lag.
  virtual std::optional<int64_t> EndOffset(const TopicPartition& tp) const {
    (void)tp;
    return std::nullopt;
  }
};

}  // namespace chorus
