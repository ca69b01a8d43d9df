// The dead-letter queue: every record chorus cannot use goes here with the
// reason, so bad input is never silently dropped.
//
// Delivery is at-least-once: a record sent after the last commit is sent
// again after a crash and restart. Its key and headers (source topic,
// partition, offset) identify it, so consumers can drop repeats.
#pragma once

#include <string_view>

#include "chorus/pipeline/dlq_reason.h"
#include "chorus/pipeline/event_source.h"
#include "chorus/pipeline/status.h"

namespace chorus {

class DlqSink {
 public:
  virtual ~DlqSink() = default;
  // Queues `record` for the DLQ. Called on the processing thread.
  virtual void Send(const SourceRecord& record, DlqReason reason) = 0;
  // Blocks until everything queued is durable in the DLQ; an error means
  // some record was not delivered and the commit must not go ahead.
  virtual Status Flush() = 0;
};

// A DLQ that keeps nothing, where there is no Kafka to send to (a file
// replay without --brokers, benchmarks): the processor still counts every
// rejected record by reason.
class DiscardingDlq final : public DlqSink {
 public:
  void Send(const SourceRecord&, DlqReason) override {}
  Status Flush() override { return Status::Ok(); }
};

}  // namespace chorus
