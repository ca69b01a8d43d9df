// A member's relationship with the brand and the team: threads they opened,
// their welcome, reach and brand interactions, and the summary fields
// derived from them (influencers, the members' sentiment distribution).

#include <algorithm>
#include <cmath>

#include "chorus/operators/member_engagement.h"
#include "member_internal.h"

namespace chorus::ops {

namespace mi = member_internal;

double MemberState::BrandInteractionsAt(EventTime t, Millis half_life) const {
  if (brand_interactions == 0) return 0;
  return brand_interactions * std::exp2(-static_cast<double>((t - brand_ref).count()) /
                                        static_cast<double>(half_life.count()));
}

void MemberEngagement::AddBrandInteraction(MemberState& s, EventTime t) {
  // Forward decay like love: the reference only moves forward, so the sum
  // does not depend on the order interactions arrive in.
  const double h = static_cast<double>(options_.love_half_life.count());
  if (s.brand_interactions == 0) {
    s.brand_interactions = 1;
    s.brand_ref = t;
  } else if (t > s.brand_ref) {
    s.brand_interactions =
        s.brand_interactions * std::exp2(-static_cast<double>((t - s.brand_ref).count()) / h) + 1;
    s.brand_ref = t;
  } else {
    s.brand_interactions += std::exp2(-static_cast<double>((s.brand_ref - t).count()) / h);
  }
}

void MemberEngagement::CountDerived(MemberSummary& summary, const MemberState& s, int sign,
                                    const MemberOptions& o) {
  if (s.reach >= o.influencer_min_reach && o.influencer_min_reach > 0) {
    summary.influencers_by_stage[static_cast<size_t>(s.stage)] += sign;
  }
  if (auto sentiment = s.SentimentAt(s.evaluated_at, o.sentiment_half_life)) {
    const float v = std::clamp(static_cast<float>(*sentiment), -1.0f, 1.0f);
    summary.member_sentiment_buckets[mi::SentimentBucket(v)] += sign;
    summary.member_sentiment_sum += sign * *sentiment;
  }
}

void MemberEngagement::OnThread(const ThreadUpdate& u) {
  Partition& p = PartitionFor(u.partition);
  Member* found =
      last_member_partition_ == &p && last_member_->id == u.opener ? last_member_ : nullptr;
  if (found == nullptr) found = p.members.Find(u.opener);
  if (found == nullptr) return;
  Member& m = *found;
  MemberState& s = m.state;
  switch (u.kind) {
    case ThreadUpdate::Kind::kOpened:
      ++s.open_threads;
      break;
    case ThreadUpdate::Kind::kExpired:
      s.open_threads = std::max<int64_t>(0, s.open_threads - 1);
      break;
    case ThreadUpdate::Kind::kResponded:
      if (!u.closed) return;  // a peer's answer: nothing changes for the opener
      s.open_threads = std::max<int64_t>(0, s.open_threads - 1);
      AddBrandInteraction(s, u.at);
      if (u.responder == Responder::kCommunityTeam && !s.welcomed) {
        s.welcomed = true;
        // Only a thread opened while the member was new welcomes them.
        if (u.opened_at - s.first_seen < options_.new_period) {
          const Millis wait = std::max(Millis(0), u.at - s.first_seen);
          p.summary.welcome.Observe(static_cast<double>(wait.count()) / 1000.0);
          p.summary_dirty = true;
        }
      }
      break;
  }
  MarkDirty(p, m);
}

}  // namespace chorus::ops
