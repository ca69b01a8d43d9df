// Field checks for decoded events. Limits are configurable and documented in
// the README; every failure names a DlqReason.
#pragma once

#include <cstdint>
#include <optional>

#include "chorus/operators/event.h"
#include "chorus/pipeline/dlq_reason.h"

namespace chorus {

struct ValidationLimits {
  size_t max_id_bytes = 256;          // event_id, member_id, content_id, reply_to_event_id
  size_t max_channel_bytes = 256;     // channel_id
  size_t max_record_bytes = 1 << 20;  // the whole record value
  // occurred_at may be ahead of the record's Kafka timestamp by at most this
  // (producer clock skew). Checked only when the record has a timestamp.
  ops::Millis max_future_skew = ops::kHour;
};

// Checks `e`; `record_timestamp` is the Kafka record timestamp if any.
// Does not check lateness or age: those depend on the watermark.
std::optional<DlqReason> Validate(const ops::Event& e, size_t record_bytes,
                                  std::optional<ops::EventTime> record_timestamp,
                                  const ValidationLimits& limits);

}  // namespace chorus
