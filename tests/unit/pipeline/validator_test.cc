#include "chorus/pipeline/validator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace chorus {
namespace {

constexpr int64_t k2000 = 946'684'800'000;    // 2000-01-01T00:00:00Z
constexpr int64_t k2200 = 7'258'118'400'000;  // 2200-01-01T00:00:00Z

ops::Event ValidEvent() {
  ops::Event e;
  e.event_id = "evt-1";
  e.occurred_at = ops::EventTime::FromMillis(1'767'225'600'000);
  e.channel_id = "twitter:acme";
  e.platform = ops::Platform::kTwitter;
  e.kind = ops::EventKind::kComment;
  e.member_id = "m-1";
  e.actor_role = ops::ActorRole::kMember;
  e.has_sentiment = true;
  e.sentiment = 0.5f;
  return e;
}

std::optional<DlqReason> Check(const ops::Event& e, size_t bytes = 100,
                               std::optional<ops::EventTime> ts = std::nullopt,
                               ValidationLimits limits = {}) {
  return Validate(e, bytes, ts, limits);
}

TEST(Validator, AcceptsAValidEvent) { EXPECT_EQ(Check(ValidEvent()), std::nullopt); }

TEST(Validator, RequiredFields) {
  ops::Event e = ValidEvent();
  e.event_id = "";
  EXPECT_EQ(Check(e), DlqReason::kMissingEventId);
  e = ValidEvent();
  e.occurred_at = ops::EventTime::Min();
  EXPECT_EQ(Check(e), DlqReason::kMissingOccurredAt);
  e = ValidEvent();
  e.channel_id = "";
  EXPECT_EQ(Check(e), DlqReason::kMissingChannelId);
  e = ValidEvent();
  e.kind = ops::EventKind::kUnspecified;
  EXPECT_EQ(Check(e), DlqReason::kUnknownKind);
  e.kind = static_cast<ops::EventKind>(ops::kEventKindCount);
  EXPECT_EQ(Check(e), DlqReason::kUnknownKind);
}

TEST(Validator, MemberIdAndOtherOptionalFieldsMayBeEmpty) {
  ops::Event e = ValidEvent();
  e.member_id = "";
  e.actor_role = ops::ActorRole::kUnspecified;
  e.platform = ops::Platform::kUnspecified;
  e.has_sentiment = false;
  EXPECT_EQ(Check(e), std::nullopt);
}

TEST(Validator, FieldLengthsAtAndOverTheLimit) {
  ValidationLimits limits;
  limits.max_id_bytes = 8;
  limits.max_channel_bytes = 12;
  limits.max_record_bytes = 50;
  const std::string at(8, 'a'), over(9, 'a');
  using Field = std::string_view ops::Event::*;
  for (Field f : {&ops::Event::event_id, &ops::Event::member_id, &ops::Event::content_id,
                  &ops::Event::reply_to_event_id}) {
    ops::Event e = ValidEvent();
    e.*f = at;
    EXPECT_EQ(Check(e, 50, std::nullopt, limits), std::nullopt);
    e.*f = over;
    EXPECT_EQ(Check(e, 50, std::nullopt, limits), DlqReason::kFieldTooLong);
  }
  ops::Event e = ValidEvent();  // channel "twitter:acme" is exactly 12 bytes
  EXPECT_EQ(Check(e, 50, std::nullopt, limits), std::nullopt);
  e.channel_id = "twitter:acme2";
  EXPECT_EQ(Check(e, 50, std::nullopt, limits), DlqReason::kFieldTooLong);
  EXPECT_EQ(Check(ValidEvent(), 51, std::nullopt, limits), DlqReason::kFieldTooLong);
}

TEST(Validator, Sentiment) {
  ops::Event e = ValidEvent();
  for (float ok : {-1.0f, 0.0f, 1.0f}) {
    e.sentiment = ok;
    EXPECT_EQ(Check(e), std::nullopt) << ok;
  }
  for (float bad : {std::nextafter(1.0f, 2.0f), -1.5f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    e.sentiment = bad;
    EXPECT_EQ(Check(e), DlqReason::kInvalidSentiment) << bad;
  }
  // Without a score, the stored value means nothing.
  e.has_sentiment = false;
  EXPECT_EQ(Check(e), std::nullopt);
}

TEST(Validator, TimestampRange) {
  ops::Event e = ValidEvent();
  e.occurred_at = ops::EventTime::FromMillis(k2000);
  EXPECT_EQ(Check(e), std::nullopt);
  e.occurred_at = ops::EventTime::FromMillis(k2000 - 1);
  EXPECT_EQ(Check(e), DlqReason::kTimestampOutOfRange);
  e.occurred_at = ops::EventTime::FromMillis(k2200 - 1);
  EXPECT_EQ(Check(e), std::nullopt);
  e.occurred_at = ops::EventTime::FromMillis(k2200);
  EXPECT_EQ(Check(e), DlqReason::kTimestampOutOfRange);
  e.occurred_at = ops::EventTime::Max();
  EXPECT_EQ(Check(e), DlqReason::kTimestampOutOfRange);
}

TEST(Validator, FutureTimestampAgainstTheRecordTimestamp) {
  ops::Event e = ValidEvent();
  ValidationLimits limits;
  limits.max_future_skew = ops::kMinute;
  const ops::EventTime at = e.occurred_at;
  EXPECT_EQ(Check(e, 100, at - ops::kMinute, limits), std::nullopt);
  EXPECT_EQ(Check(e, 100, at - ops::kMinute - ops::Millis(1), limits), DlqReason::kFutureTimestamp);
  EXPECT_EQ(Check(e, 100, at + ops::kDay, limits), std::nullopt);  // the past is fine
  EXPECT_EQ(Check(e, 100, std::nullopt, limits), std::nullopt);    // no timestamp, no check
  // Absurd record timestamps do not overflow.
  EXPECT_EQ(Check(e, 100, ops::EventTime::Min(), limits), DlqReason::kFutureTimestamp);
  EXPECT_EQ(Check(e, 100, ops::EventTime::Max(), limits), std::nullopt);
}

// Each step breaks one more check, earlier in the order than the last: the
// reason reported is always the earliest failing check.
TEST(Validator, FirstFailureInOrderWins) {
  ValidationLimits limits;
  limits.max_id_bytes = 4;
  ops::Event e = ValidEvent();
  const ops::EventTime record_ts = e.occurred_at;
  const std::vector<std::pair<std::function<void(ops::Event&)>, DlqReason>> steps = {
      {[](ops::Event& x) { x.occurred_at = ops::EventTime::FromMillis(k2200 - 1); },
       DlqReason::kFutureTimestamp},
      {[](ops::Event& x) { x.occurred_at = ops::EventTime::FromMillis(k2200); },
       DlqReason::kTimestampOutOfRange},
      {[](ops::Event& x) { x.sentiment = 7.0f; }, DlqReason::kInvalidSentiment},
      {[](ops::Event& x) { x.member_id = "too-long"; }, DlqReason::kFieldTooLong},
      {[](ops::Event& x) { x.kind = ops::EventKind::kUnspecified; }, DlqReason::kUnknownKind},
      {[](ops::Event& x) { x.channel_id = ""; }, DlqReason::kMissingChannelId},
      {[](ops::Event& x) { x.occurred_at = ops::EventTime::Min(); }, DlqReason::kMissingOccurredAt},
      {[](ops::Event& x) { x.event_id = ""; }, DlqReason::kMissingEventId},
  };
  e.event_id = "e-1";  // within the 4-byte id limit
  e.member_id = "m-1";
  EXPECT_EQ(Check(e, 100, record_ts, limits), std::nullopt);
  for (const auto& [mutate, reason] : steps) {
    mutate(e);
    EXPECT_EQ(Check(e, 100, record_ts, limits), reason) << Name(reason);
  }
}

}  // namespace
}  // namespace chorus
