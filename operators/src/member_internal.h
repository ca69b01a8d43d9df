// Internals of MemberEngagement shared by its source files: the pure state
// updates, the stage rules and the state encoding. Nothing here touches the
// timers, the summaries or the love distribution; member_engagement.cc does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/operators/event.h"
#include "chorus/operators/member_engagement.h"

namespace chorus::ops::member_internal {

// True for a member action that counts as activity (see the header).
bool IsActivity(const Event& e);

// Records activity at `t`: first/last seen, the active-day bitmap, events.
void RecordActivity(MemberState& s, EventTime t);
// Forward-decayed updates (order-invariant, see the header).
void AddLove(MemberState& s, EventTime t, double weight, Millis half_life);
void AddSentiment(MemberState& s, EventTime t, double sentiment, Millis half_life);
// Index into MemberSummary::sentiment_buckets for a clamped sentiment.
int SentimentBucket(float sentiment);

// The stage `s` qualifies for at `t`, ignoring the demotion grace.
Stage RawStage(const MemberState& s, EventTime t, const MemberOptions& o);

struct StageDecision {
  Stage stage;
  EventTime demotion_pending_since;
};
// Applies promotion, demotion-grace and timer rules to a raw stage.
// `on_event`: evaluated at the member's own event (promotion allowed).
StageDecision Decide(const MemberState& s, Stage raw, EventTime t, bool on_event,
                     const MemberOptions& o);

// The earliest time strictly after `t` at which the stage of `s` can change
// without a new event; EventTime::Max() if none.
EventTime NextDue(const MemberState& s, EventTime t, const MemberOptions& o);

// Compact value encodings; Decode returns false on malformed input.
void EncodeMember(const MemberState& s, std::string& out);
[[nodiscard]] bool DecodeMember(std::string_view in, MemberState& s);
// Counters only: the derived fields (members and influencers by stage, the
// members' sentiment) are rebuilt from the members, and kept from `s`.
void EncodeSummary(const MemberSummary& s, std::string& out);
[[nodiscard]] bool DecodeSummary(std::string_view in, MemberSummary& s);

}  // namespace chorus::ops::member_internal
