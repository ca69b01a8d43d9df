// Event builders for the MemberEngagement tests.
#pragma once

#include <string_view>

#include "chorus/operators/event.h"
#include "chorus/operators/time.h"

namespace chorus::ops::member_test {

// 2024-01-01T00:00:00Z, a UTC day boundary.
inline constexpr EventTime kT0 = EventTime::FromMillis(1'704'067'200'000);

// Noon of day `d` after kT0.
inline EventTime Day(int d) { return kT0 + d * kDay + 12 * kHour; }

inline Event MemberEvent(std::string_view member, EventTime t,
                         EventKind kind = EventKind::kComment) {
  Event e;
  e.event_id = "e";
  e.occurred_at = t;
  e.channel_id = "forum:acme";
  e.platform = Platform::kForum;
  e.kind = kind;
  e.member_id = member;
  e.actor_role = ActorRole::kMember;
  return e;
}

inline Event Scored(std::string_view member, EventTime t, float sentiment) {
  Event e = MemberEvent(member, t);
  e.has_sentiment = true;
  e.sentiment = sentiment;
  return e;
}

}  // namespace chorus::ops::member_test
