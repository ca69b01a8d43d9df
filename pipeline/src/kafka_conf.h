// Builds a librdkafka configuration from properties, naming the property
// that librdkafka rejects.
#pragma once

#include <librdkafka/rdkafka.h>

#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/status.h"

namespace chorus {

struct KafkaConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using KafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaConfDeleter>;

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandlePtr = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

// `defaults` first, then `overrides` (the user's -X settings) on top.
Result<KafkaConfPtr> MakeKafkaConf(const KafkaProperties& defaults,
                                   const KafkaProperties& overrides);

// A consumer for short looks at partitions by manual assignment (never a
// group member, never committing): `defaults` then `properties`, as
// MakeKafkaConf. `what` names it in errors.
Result<KafkaHandlePtr> OpenProbeConsumer(const KafkaProperties& defaults,
                                         const KafkaProperties& properties, const char* what);

}  // namespace chorus
