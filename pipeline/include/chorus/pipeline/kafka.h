// chorus's adapters over librdkafka: the consumer source and the DLQ
// producer. librdkafka errors are translated to Status here and nowhere
// else.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chorus/pipeline/dlq.h"
#include "chorus/pipeline/event_source.h"
#include "chorus/pipeline/window_output.h"

namespace chorus {

// librdkafka properties, e.g. {"bootstrap.servers", "..."}; user -X
// overrides are merged in last so they win.
using KafkaProperties = std::map<std::string, std::string>;

struct KafkaSourceOptions {
  std::vector<std::string> topics;
  std::string group = "chorus";
  KafkaProperties properties;  // must hold bootstrap.servers
};

// Opens a consumer-group member subscribed to `topics` with cooperative-
// sticky assignment. Assigned partitions start where the listener says
// (chorus's durable offsets win over Kafka's committed ones); before
// partitions are revoked the listener is told so state is made durable.
// Fetching is tuned for throughput (batches of records, large fetches).
Result<std::unique_ptr<EventSource>> OpenKafkaSource(const KafkaSourceOptions& options);

// One end of a replay's range, the same for every partition of its topics.
struct ReplayBound {
  enum class Kind : uint8_t {
    kDefault,  // the partition's first offset (from) or its high watermark (to)
    kOffsets,  // `offset` for every partition, or per partition number
    kTime,     // the first record whose timestamp is at or after `time_ms`
  };
  Kind kind = Kind::kDefault;
  int64_t offset = -1;                    // kOffsets: partitions not listed (-1: kDefault)
  std::map<int32_t, int64_t> partitions;  // kOffsets: by partition number
  int64_t time_ms = 0;                    // kTime
};

// The offsets a replay reads from one partition: [start, end).
struct PartitionRange {
  TopicPartition tp;
  int64_t start = 0;
  int64_t end = 0;
};

struct KafkaReplayOptions {
  std::vector<std::string> topics;
  KafkaProperties properties;  // must hold bootstrap.servers
  ReplayBound from, to;
};

// A bounded consumer for replays: every partition of `topics` is assigned
// by hand (no group membership, nothing ever committed, so a live group's
// offsets are untouched) from its `from` offset to its `to` offset, both
// clamped to the watermarks seen at open, so the source is exhausted after
// a finite read. Offsets from times come from the broker's offsets-for-
// times lookup; where it finds nothing below the high watermark (the mock
// cluster never does) a binary search over record timestamps, fetching one
// record per partition and step, finds the first record at or after the
// time. `ranges`, if given, receives the resolved ranges (those with
// nothing to read included).
Result<std::unique_ptr<EventSource>> OpenKafkaReplaySource(
    const KafkaReplayOptions& options, std::vector<PartitionRange>* ranges = nullptr);

// An idempotent producer of DLQ records to `topic`, with headers
// chorus-error-reason, chorus-source-topic, chorus-source-partition and
// chorus-source-offset, and the record's original key and value.
Result<std::unique_ptr<DlqSink>> OpenKafkaDlq(const std::string& topic,
                                              const KafkaProperties& properties);

// An idempotent producer of window results to `topic`, which must exist:
// records keyed by channel, partitioned by murmur2 of the key (as Java
// clients do), stamped with the window's end, with header chorus-seq.
Result<std::unique_ptr<WindowOutput>> OpenKafkaWindowOutput(const std::string& topic,
                                                            const KafkaProperties& properties);

}  // namespace chorus
