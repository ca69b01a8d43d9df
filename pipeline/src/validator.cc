#include "chorus/pipeline/validator.h"

#include <cmath>

namespace chorus {
namespace {

// Event times outside [2000-01-01, 2200-01-01) are producer bugs (unset
// clocks, seconds sent as millis), not history worth windowing.
constexpr ops::EventTime kEarliest = ops::EventTime::FromMillis(946'684'800'000);
constexpr ops::EventTime kLatest = ops::EventTime::FromMillis(7'258'118'400'000);

bool AnyFieldTooLong(const ops::Event& e, size_t record_bytes, const ValidationLimits& l) {
  return e.event_id.size() > l.max_id_bytes || e.member_id.size() > l.max_id_bytes ||
         e.content_id.size() > l.max_id_bytes || e.reply_to_event_id.size() > l.max_id_bytes ||
         e.channel_id.size() > l.max_channel_bytes || record_bytes > l.max_record_bytes;
}

// True if `occurred` is more than `skew` after `record`. The record
// timestamp comes from the broker or producer and may be anything, so the
// difference is taken with an overflow check: overflowing means `record` is
// far in the past, which makes the event far ahead of it.
bool IsAhead(ops::EventTime occurred, ops::EventTime record, ops::Millis skew) {
  int64_t ahead = 0;
  if (__builtin_sub_overflow(occurred.millis(), record.millis(), &ahead)) return true;
  return ahead > skew.count();
}

}  // namespace

std::optional<DlqReason> Validate(const ops::Event& e, size_t record_bytes,
                                  std::optional<ops::EventTime> record_timestamp,
                                  const ValidationLimits& limits) {
  // The order is part of the contract: the first failing check names the
  // reason, so a record missing several fields is counted once, stably.
  if (e.event_id.empty()) return DlqReason::kMissingEventId;
  if (e.occurred_at == ops::EventTime::Min()) return DlqReason::kMissingOccurredAt;
  if (e.channel_id.empty()) return DlqReason::kMissingChannelId;
  if (e.kind == ops::EventKind::kUnspecified || static_cast<int>(e.kind) >= ops::kEventKindCount) {
    return DlqReason::kUnknownKind;
  }
  if (AnyFieldTooLong(e, record_bytes, limits)) return DlqReason::kFieldTooLong;
  // The negated range test also catches NaN, for which every comparison is false.
  if (e.has_sentiment && !(e.sentiment >= -1.0f && e.sentiment <= 1.0f)) {
    return DlqReason::kInvalidSentiment;
  }
  if (e.occurred_at < kEarliest || e.occurred_at >= kLatest) {
    return DlqReason::kTimestampOutOfRange;
  }
  if (record_timestamp && IsAhead(e.occurred_at, *record_timestamp, limits.max_future_skew)) {
    return DlqReason::kFutureTimestamp;
  }
  return std::nullopt;
}

}  // namespace chorus
