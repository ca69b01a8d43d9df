#include "chorus/pipeline/dlq_reason.h"

#include <array>

namespace chorus {

std::string_view Name(DlqReason r) {
  static constexpr std::array<std::string_view, kDlqReasonCount> kNames = {"undecodable",
                                                                           "bad_framing",
                                                                           "missing_event_id",
                                                                           "missing_occurred_at",
                                                                           "missing_channel_id",
                                                                           "unknown_kind",
                                                                           "field_too_long",
                                                                           "invalid_sentiment",
                                                                           "timestamp_out_of_range",
                                                                           "future_timestamp",
                                                                           "too_old",
                                                                           "late"};
  auto i = static_cast<size_t>(r);
  return i < kNames.size() ? kNames[i] : "unknown";
}

}  // namespace chorus
