// chorus's adapters over librdkafka: the consumer source and the DLQ
// producer. librdkafka errors are translated to Status here and nowhere
// else.
#pragma once

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
