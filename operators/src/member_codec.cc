// Compact encodings of member state and partition summaries.
//
// A member value stores last_seen once and every other time as a signed
// delta from it (a few bytes each); doubles are kept whole so a restart
// continues from exactly the state an uninterrupted run would have (the
// effectively-once rule), and scores a member never had are left out.
// next_timer is not stored: it is NextDue(state, evaluated_at), recomputed
// on restore. A typical busy member takes about 90 bytes. Relationship
// fields (reach, brand interactions, open threads, welcomed) follow only
// when a member has any, flagged by kHasRelations.

#include "chorus/operators/state.h"
#include "member_internal.h"

namespace chorus::ops::member_internal {
namespace {

constexpr uint8_t kMemberVersion = 1;
// Version 2 added the welcome histogram; version 1 is still read.
constexpr uint8_t kSummaryVersion = 2;

// Flag byte: the stage in bits 0-2, then presence and boolean bits.
constexpr uint8_t kStageMask = 0x07;
constexpr uint8_t kWasEngaged = 0x08;
constexpr uint8_t kHasPending = 0x10;
constexpr uint8_t kHasLove = 0x20;
constexpr uint8_t kHasSentiment = 0x40;
constexpr uint8_t kHasRelations = 0x80;
// Bits of the relations byte.
constexpr uint8_t kWelcomed = 0x01;
constexpr uint8_t kHasInteractions = 0x02;

void PutDelta(std::string& out, EventTime t, EventTime base) {
  PutSignedVarint(out, (t - base).count());
}

bool GetDelta(Reader& r, EventTime base, EventTime& t) {
  int64_t d = 0;
  if (!r.SignedVarint(d)) return false;
  t = base + Millis(d);
  return true;
}

bool GetByte(Reader& r, uint8_t& b) {
  uint64_t v = 0;
  if (!r.Varint(v) || v > 0xff) return false;
  b = static_cast<uint8_t>(v);
  return true;
}

uint8_t Flags(const MemberState& s) {
  uint8_t f = static_cast<uint8_t>(s.stage) & kStageMask;
  if (s.was_engaged) f |= kWasEngaged;
  if (s.demotion_pending_since != EventTime::Min()) f |= kHasPending;
  if (s.love != 0) f |= kHasLove;
  if (s.sentiment_den != 0) f |= kHasSentiment;
  if (s.reach != 0 || s.brand_interactions != 0 || s.open_threads != 0 || s.welcomed) {
    f |= kHasRelations;
  }
  return f;
}

}  // namespace

void EncodeMember(const MemberState& s, std::string& out) {
  const uint8_t flags = Flags(s);
  PutVarint(out, kMemberVersion);
  PutVarint(out, flags);
  const EventTime base = s.last_seen;
  PutSignedVarint(out, base.millis());
  PutDelta(out, s.first_seen, base);
  PutDelta(out, s.evaluated_at, base);
  PutDelta(out, s.stage_since, base);
  if (flags & kHasPending) PutDelta(out, s.demotion_pending_since, base);
  PutVarint(out, s.events);
  PutSignedVarint(out, s.active_days_end - DayIndex(base));
  PutVarint(out, s.active_days[0]);
  PutVarint(out, s.active_days[1]);
  if (flags & kHasLove) {
    PutDouble(out, s.love);
    PutDelta(out, s.love_ref, base);
  }
  if (flags & kHasSentiment) {
    PutDouble(out, s.sentiment_num);
    PutDouble(out, s.sentiment_den);
    PutDelta(out, s.sentiment_ref, base);
  }
  if (flags & kHasRelations) {
    const uint8_t rel =
        (s.welcomed ? kWelcomed : 0) | (s.brand_interactions != 0 ? kHasInteractions : 0);
    PutVarint(out, rel);
    PutVarint(out, s.reach);
    PutSignedVarint(out, s.open_threads);
    if (rel & kHasInteractions) {
      PutDouble(out, s.brand_interactions);
      PutDelta(out, s.brand_ref, base);
    }
  }
}

bool DecodeMember(std::string_view in, MemberState& s) {
  Reader r(in);
  uint8_t version = 0, flags = 0;
  int64_t base_ms = 0, day_delta = 0;
  if (!GetByte(r, version) || version != kMemberVersion || !GetByte(r, flags)) return false;
  if ((flags & kStageMask) >= kStageCount || !r.SignedVarint(base_ms)) return false;
  s = MemberState{};
  s.stage = static_cast<Stage>(flags & kStageMask);
  s.was_engaged = (flags & kWasEngaged) != 0;
  const EventTime base = EventTime::FromMillis(base_ms);
  s.last_seen = base;
  if (!GetDelta(r, base, s.first_seen) || !GetDelta(r, base, s.evaluated_at) ||
      !GetDelta(r, base, s.stage_since)) {
    return false;
  }
  if ((flags & kHasPending) && !GetDelta(r, base, s.demotion_pending_since)) return false;
  if (!r.Varint(s.events) || !r.SignedVarint(day_delta) || !r.Varint(s.active_days[0]) ||
      !r.Varint(s.active_days[1])) {
    return false;
  }
  s.active_days_end = DayIndex(base) + day_delta;
  if ((flags & kHasLove) && (!r.Double(s.love) || !GetDelta(r, base, s.love_ref))) return false;
  if ((flags & kHasSentiment) && (!r.Double(s.sentiment_num) || !r.Double(s.sentiment_den) ||
                                  !GetDelta(r, base, s.sentiment_ref))) {
    return false;
  }
  if (flags & kHasRelations) {
    uint8_t rel = 0;
    if (!GetByte(r, rel) || rel > (kWelcomed | kHasInteractions) || !r.Varint(s.reach) ||
        !r.SignedVarint(s.open_threads)) {
      return false;
    }
    s.welcomed = (rel & kWelcomed) != 0;
    if ((rel & kHasInteractions) &&
        (!r.Double(s.brand_interactions) || !GetDelta(r, base, s.brand_ref))) {
      return false;
    }
  }
  return r.empty();
}

void EncodeSummary(const MemberSummary& s, std::string& out) {
  PutVarint(out, kSummaryVersion);
  PutVarint(out, s.new_members);
  for (const auto& row : s.transitions) {
    for (uint64_t n : row) PutVarint(out, n);
  }
  for (uint64_t n : s.sentiment_buckets) PutVarint(out, n);
  PutDouble(out, s.sentiment_sum);
  PutVarint(out, s.sentiment_count);
  PutVarint(out, s.welcome.count);
  for (uint64_t n : s.welcome.buckets) PutVarint(out, n);
  PutDouble(out, s.welcome.sum);
}

bool DecodeSummary(std::string_view in, MemberSummary& s) {
  Reader r(in);
  uint8_t version = 0;
  if (!GetByte(r, version) || version < 1 || version > kSummaryVersion) return false;
  MemberSummary decoded;
  if (!r.Varint(decoded.new_members)) return false;
  for (auto& row : decoded.transitions) {
    for (uint64_t& n : row) {
      if (!r.Varint(n)) return false;
    }
  }
  for (uint64_t& n : decoded.sentiment_buckets) {
    if (!r.Varint(n)) return false;
  }
  if (!r.Double(decoded.sentiment_sum) || !r.Varint(decoded.sentiment_count)) return false;
  if (version >= 2) {
    if (!r.Varint(decoded.welcome.count)) return false;
    for (uint64_t& n : decoded.welcome.buckets) {
      if (!r.Varint(n)) return false;
    }
    if (!r.Double(decoded.welcome.sum)) return false;
  }
  if (!r.empty()) return false;
  decoded.members_by_stage = s.members_by_stage;
  decoded.influencers_by_stage = s.influencers_by_stage;
  decoded.member_sentiment_buckets = s.member_sentiment_buckets;
  decoded.member_sentiment_sum = s.member_sentiment_sum;
  s = decoded;
  return true;
}

}  // namespace chorus::ops::member_internal
