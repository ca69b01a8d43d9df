// Where a replay reads: the partitions of its topics, their watermarks, and
// the offsets its --from and --to bounds name, by offset or by time; and the
// partition count the Kafka adapters check topics with. Private to the
// adapters (kafka_*.cc).
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>
#include <vector>

#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/status.h"

namespace chorus {

// The number of partitions of `topic`: 0 if the brokers do not know it, an
// error if they gave no metadata within `timeout_ms`.
Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms);

// For every partition of options.topics, [start, end) as options.from and
// options.to name them, clamped to the low and high watermarks queried now
// (start <= end). `rk` is a consumer; time lookups that find nothing are
// searched with a short-lived second consumer built from options.properties.
Result<std::vector<PartitionRange>> ResolveReplayRanges(rd_kafka_t* rk,
                                                        const KafkaReplayOptions& options);

}  // namespace chorus
