// One member's state: decayed scores, the active-day bitmap, and the
// per-partition summary arithmetic.

#include <algorithm>
#include <cmath>

#include "chorus/operators/member_engagement.h"
#include "member_internal.h"
#include "popcount.h"

namespace chorus::ops {
namespace {

constexpr int kBitmapDays = 128;

// 2^(−age/half_life); age may be negative (a value projected forward).
double Decay(Millis age, Millis half_life) {
  return std::exp2(-static_cast<double>(age.count()) / static_cast<double>(half_life.count()));
}

// Bits [lo, hi] of one 64-bit word, 0 <= lo <= hi <= 63.
uint64_t BitRange(int lo, int hi) {
  const uint64_t upto = hi == 63 ? ~0ULL : (1ULL << (hi + 1)) - 1;
  return upto & ~((1ULL << lo) - 1);
}

// Ages every day in the bitmap by `days` (bit i moves to bit i + days).
void ShiftDays(std::array<uint64_t, 2>& bits, int64_t days) {
  if (days >= kBitmapDays) {
    bits = {0, 0};
  } else if (days >= 64) {
    bits = {0, bits[0] << (days - 64)};
  } else if (days > 0) {
    bits = {bits[0] << days, (bits[1] << days) | (bits[0] >> (64 - days))};
  }
}

}  // namespace

std::string_view Name(Stage s) {
  static constexpr std::array<std::string_view, kStageCount> kNames = {
      "new", "active", "regular", "champion", "at_risk", "lapsed", "churned"};
  const auto i = static_cast<size_t>(s);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::array<double, kEventKindCount> MemberOptions::DefaultWeights() {
  std::array<double, kEventKindCount> w{};
  w[static_cast<size_t>(EventKind::kForumPost)] = 3;
  w[static_cast<size_t>(EventKind::kComment)] = 2;
  w[static_cast<size_t>(EventKind::kShare)] = 2;
  w[static_cast<size_t>(EventKind::kMention)] = 1.5;
  w[static_cast<size_t>(EventKind::kDirectMessage)] = 1;
  w[static_cast<size_t>(EventKind::kFollow)] = 1;
  w[static_cast<size_t>(EventKind::kReaction)] = 0.5;
  w[static_cast<size_t>(EventKind::kContribution)] = 3;
  w[static_cast<size_t>(EventKind::kEventAttended)] = 5;
  return w;
}

double MemberState::LoveAt(EventTime t, Millis half_life) const {
  return love == 0 ? 0 : love * Decay(t - love_ref, half_life);
}

std::optional<double> MemberState::SentimentAt(EventTime /*t*/, Millis /*half_life*/) const {
  // Numerator and denominator decay by the same factor, so their ratio is
  // the same at every time: the average moves only with new scored events.
  if (sentiment_den <= 0) return std::nullopt;
  return sentiment_num / sentiment_den;
}

int MemberState::ActiveDaysIn(int64_t day, int days) const {
  if (days <= 0) return 0;
  // Bit i is day active_days_end − i: `day` is bit (end − day), the oldest
  // day of the range is `days − 1` bits further.
  const int64_t lo = std::max<int64_t>(active_days_end - day, 0);
  const int64_t hi = std::min<int64_t>(active_days_end - day + days - 1, kBitmapDays - 1);
  int count = 0;
  for (int w = 0; w < 2; ++w) {
    const int64_t wlo = std::max<int64_t>(lo, w * 64);
    const int64_t whi = std::min<int64_t>(hi, w * 64 + 63);
    if (wlo > whi) continue;
    count += PopCount(active_days[w] &
                      BitRange(static_cast<int>(wlo - w * 64), static_cast<int>(whi - w * 64)));
  }
  return count;
}

void MemberSummary::Add(const MemberSummary& o) {
  for (int i = 0; i < kStageCount; ++i) {
    members_by_stage[i] += o.members_by_stage[i];
    for (int j = 0; j < kStageCount; ++j) transitions[i][j] += o.transitions[i][j];
  }
  new_members += o.new_members;
  for (size_t i = 0; i < sentiment_buckets.size(); ++i) {
    sentiment_buckets[i] += o.sentiment_buckets[i];
  }
  sentiment_sum += o.sentiment_sum;
  sentiment_count += o.sentiment_count;
  welcome.Add(o.welcome);
  for (int i = 0; i < kStageCount; ++i) influencers_by_stage[i] += o.influencers_by_stage[i];
  for (size_t i = 0; i < member_sentiment_buckets.size(); ++i) {
    member_sentiment_buckets[i] += o.member_sentiment_buckets[i];
  }
  member_sentiment_sum += o.member_sentiment_sum;
}

namespace member_internal {

bool IsActivity(const Event& e) {
  if (!IsMemberAction(e)) return false;
  switch (e.kind) {
    // Brand-level counts, something done to the member, or a kind this
    // build does not know: none is the member acting.
    case EventKind::kUnspecified:
    case EventKind::kImpression:
    case EventKind::kFollowerCount:
    case EventKind::kModerationAction:
      return false;
    default:
      return static_cast<int>(e.kind) < kEventKindCount;
  }
}

void RecordActivity(MemberState& s, EventTime t) {
  s.first_seen = std::min(s.first_seen, t);
  s.last_seen = std::max(s.last_seen, t);
  const int64_t day = DayIndex(t);
  if (day > s.active_days_end) {
    ShiftDays(s.active_days, day - s.active_days_end);
    s.active_days_end = day;
  }
  const int64_t bit = s.active_days_end - day;
  if (bit < kBitmapDays) s.active_days[bit / 64] |= 1ULL << (bit % 64);
  ++s.events;
}

void AddLove(MemberState& s, EventTime t, double weight, Millis half_life) {
  if (s.love == 0) {
    // No score yet: the reference is this event, whatever came before.
    s.love = weight;
    s.love_ref = t;
  } else if (t >= s.love_ref) {
    s.love = s.love * Decay(t - s.love_ref, half_life) + weight;
    s.love_ref = t;
  } else {
    s.love += weight * Decay(s.love_ref - t, half_life);
  }
}

void AddSentiment(MemberState& s, EventTime t, double sentiment, Millis half_life) {
  if (s.sentiment_den == 0) {
    s.sentiment_num = sentiment;
    s.sentiment_den = 1;
    s.sentiment_ref = t;
  } else if (t >= s.sentiment_ref) {
    const double f = Decay(t - s.sentiment_ref, half_life);
    s.sentiment_num = s.sentiment_num * f + sentiment;
    s.sentiment_den = s.sentiment_den * f + 1;
    s.sentiment_ref = t;
  } else {
    const double f = Decay(s.sentiment_ref - t, half_life);
    s.sentiment_num += sentiment * f;
    s.sentiment_den += f;
  }
}

int SentimentBucket(float sentiment) {
  for (size_t i = 0; i < kSentimentBounds.size(); ++i) {
    // Compared in float: 0.2f is above the double 0.2 but means it.
    if (sentiment <= static_cast<float>(kSentimentBounds[i])) return static_cast<int>(i);
  }
  return static_cast<int>(kSentimentBounds.size());
}

}  // namespace member_internal
}  // namespace chorus::ops
