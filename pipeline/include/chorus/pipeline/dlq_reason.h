// Why a record went to the dead-letter queue. The strings are stable: they
// are the `chorus-error-reason` header and the `reason` metric label.
#pragma once

#include <cstdint>
#include <string_view>

namespace chorus {

enum class DlqReason : uint8_t {
  kUndecodable = 0,  // not a protobuf EngagementEvent
  kBadFraming,       // Confluent framing present but broken
  kMissingEventId,
  kMissingOccurredAt,
  kMissingChannelId,
  kUnknownKind,          // EVENT_KIND_UNSPECIFIED or a value this build does not know
  kFieldTooLong,         // a string field or the record is over its limit
  kInvalidSentiment,     // outside -1 … 1, or not a number
  kTimestampOutOfRange,  // before 2000-01-01 or after 2200-01-01
  kFutureTimestamp,      // ahead of the record's Kafka timestamp by more than the limit
  kTooOld,               // behind the partition's newest event by more than the dedup horizon
  kLate,                 // behind the watermark by more than the allowed lateness
  kCount_,
};
inline constexpr int kDlqReasonCount = static_cast<int>(DlqReason::kCount_);

std::string_view Name(DlqReason r);

}  // namespace chorus
