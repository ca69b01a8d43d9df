#include "chorus/operators/threads.h"

#include <algorithm>
#include <cmath>

#include "chorus/operators/event.h"

namespace chorus::ops {

std::string_view Name(Responder r) {
  switch (r) {
    case Responder::kMember:
      return "member";
    case Responder::kBrand:
      return "brand";
    case Responder::kCommunityTeam:
      return "community_team";
  }
  return "member";
}

std::string_view Name(SentimentBand b) {
  static constexpr std::array<std::string_view, 4> kNames = {"negative", "neutral", "positive",
                                                             "unscored"};
  return kNames[static_cast<size_t>(b) & 3];
}

SentimentBand BandOf(const Event& e, double band) {
  if (!e.has_sentiment || std::isnan(e.sentiment)) return SentimentBand::kUnscored;
  if (e.sentiment < -band) return SentimentBand::kNegative;
  if (e.sentiment > band) return SentimentBand::kPositive;
  return SentimentBand::kNeutral;
}

int ThreadKindIndex(const Event& e) {
  if (!IsMemberAction(e)) return -1;
  for (int i = 0; i < kThreadKindCount; ++i) {
    if (kThreadKinds[i] == e.kind) return i;
  }
  return -1;
}

void ChannelThreadStats::Add(const ChannelThreadStats& o) {
  for (int i = 0; i < kThreadKindCount; ++i) {
    opened[i] += o.opened[i];
    unanswered[i] += o.unanswered[i];
    unresponded[i] += o.unresponded[i];
  }
  open += o.open;
  unmatched_replies += o.unmatched_replies;
  for (size_t i = 0; i < mentions_by_band.size(); ++i) mentions_by_band[i] += o.mentions_by_band[i];
  for (int i = 0; i < kResponderCount; ++i) {
    response[i].Add(o.response[i]);
    first_response[i].Add(o.first_response[i]);
    reply_first_response[i].Add(o.reply_first_response[i]);
  }
}

double Threads::SecondsAfterOpening(const Thread& t, int64_t at_ms) {
  return static_cast<double>(std::max<int64_t>(0, at_ms - t.opened_ms)) / 1000.0;
}

void Threads::CountFirstResponse(ChannelThreadStats& s, Thread& t) {
  auto& histograms = t.is_reply ? s.reply_first_response : s.first_response;
  histograms[static_cast<int>(t.first_by)].Observe(SecondsAfterOpening(t, t.first_ms));
  t.first_counted = true;
}

void Threads::MarkDirty(uint64_t hash, Thread& t) {
  if (t.dirty) return;
  t.dirty = true;
  dirty_threads_.push_back(hash);
}

Threads::Threads(ThreadOptions options) : options_(options) {}

ChannelThreadStats& Threads::StatsFor(int32_t partition, uint32_t channel) {
  if (last_stats_ == nullptr || last_stats_partition_ != partition ||
      last_stats_channel_ != channel) {
    last_partition_stats_ = &stats_[partition];
    last_stats_ = &last_partition_stats_->At(channel);
    last_stats_partition_ = partition;
    last_stats_channel_ = channel;
  }
  MarkStatsDirty(*last_partition_stats_, channel, *last_stats_);
  return last_stats_->stats;
}

Threads::StoredStats& Threads::PartitionStats::At(uint32_t channel) {
  if (channel >= by_channel.size()) by_channel.resize(channel + 1);
  std::unique_ptr<StoredStats>& s = by_channel[channel];
  if (!s) s = std::make_unique<StoredStats>();
  return *s;
}

void Threads::MarkStatsDirty(PartitionStats& p, uint32_t channel, StoredStats& s) {
  if (s.dirty) return;
  s.dirty = true;
  p.dirty_channels.push_back(channel);
}

void Threads::Apply(int32_t partition, const Event& e, const IdHashes& ids, const Sink& sink) {
  const int kind = ThreadKindIndex(e);
  // Most events neither reply nor open a thread: they change nothing here,
  // and make nothing due.
  if (e.reply_to_event_id.empty() && kind < 0) return;
  const uint64_t self_hash = ids.event_id;
  if (!e.reply_to_event_id.empty()) {
    Reply r;
    r.at_ms = e.occurred_at.millis();
    r.partition = partition;
    r.self_hash = self_hash;
    r.channel = channels_.Intern(e.channel_id);
    bool replies = true;
    if (IsMemberAction(e)) {
      r.responder = Responder::kMember;
      r.member_hash = StableHash64(e.member_id);
    } else if (e.actor_role == ActorRole::kBrand) {
      r.responder = Responder::kBrand;
    } else if (e.actor_role == ActorRole::kCommunityTeam) {
      r.responder = Responder::kCommunityTeam;
    } else {
      replies = false;  // nobody in particular: answers nothing
    }
    uint64_t target = ids.reply_to;
    if (replies && !Answer(target, r)) {
      // Waiting would outlast the reply's own wait: its thread is not coming.
      if (r.at_ms + options_.reply_wait.count() <= watermark_ms_) {
        StatsFor(partition, r.channel).unmatched_replies++;
      } else {
        std::vector<Reply>& w = waiting_[target];
        if (w.empty()) reply_expiries_.push({r.at_ms + options_.reply_wait.count(), 0, target});
        w.push_back(r);
        waiting_count_++;
        dirty_waiting_.push_back(target);
      }
    }
  }
  if (kind >= 0) Open(partition, e, self_hash, kind, sink);
  // What this event made due behind the watermark (a late reply, a waiting
  // reply matched, a thread opened past its horizon) is settled now, not
  // at the next advance, which may never come at the end of the input.
  if ((!finals_.empty() && finals_.top().due_ms <= watermark_ms_) ||
      (!expiries_.empty() && expiries_.top().due_ms <= watermark_ms_)) {
    AdvanceWatermark(EventTime::FromMillis(watermark_ms_), sink);
  }
}

uint32_t Threads::Prefetch(int32_t partition, const Event& e, const IdHashes& ids) const {
  if (!e.reply_to_event_id.empty()) threads_.Prefetch(ids.reply_to);
  if (ThreadKindIndex(e) < 0) return IdIndex::kAbsent;
  // Opening: the thread's slot, the replies that may wait for it, its opener.
  threads_.Prefetch(ids.event_id);
  waiting_.Prefetch(ids.event_id);
  openers_.Prefetch(e.member_id);
  // And where its channel's counters are: reading that pointer here missed
  // in half of this function's time.
  const uint32_t c = channels_.Find(e.channel_id);
  const PartitionStats* p = stats_.Find(partition);
  if (c == IdIndex::kAbsent || p == nullptr || c >= p->by_channel.size()) return IdIndex::kAbsent;
  PrefetchLine(&p->by_channel[c]);
  return c;
}

void Threads::PrefetchStats(int32_t partition, uint32_t channel) const {
  if (channel == IdIndex::kAbsent) return;
  const PartitionStats* p = stats_.Find(partition);
  if (p == nullptr || channel >= p->by_channel.size()) return;
  if (const StoredStats* s = p->by_channel[channel].get()) PrefetchLine(s);
}

void Threads::Open(int32_t partition, const Event& e, uint64_t hash, int kind, const Sink& sink) {
  auto [slot, inserted] = threads_.TryEmplace(hash);
  if (!inserted) return;  // the same id again: dedup let a 2^-64 collision through
  Thread& t = *slot;
  t.opened_ms = e.occurred_at.millis();
  t.partition = partition;
  t.channel = channels_.Intern(e.channel_id);
  t.kind = static_cast<uint8_t>(kind);
  t.opener = openers_.Intern(e.member_id);
  t.is_reply = !e.reply_to_event_id.empty();
  t.opener_hash = StableHash64(e.member_id);
  MarkDirty(hash, t);
  ChannelThreadStats& stats = StatsFor(partition, t.channel);
  stats.opened[kind]++;
  stats.open++;
  if (e.kind == EventKind::kMention) {
    stats.mentions_by_band[static_cast<size_t>(BandOf(e, options_.sentiment_band))]++;
  }
  expiries_.push({t.opened_ms + options_.horizon.count(), partition, hash});
  sink(ThreadUpdate{.kind = ThreadUpdate::Kind::kOpened,
                    .partition = partition,
                    .channel = channels_.id(t.channel),
                    .opener = openers_.id(t.opener),
                    .opened_at = e.occurred_at,
                    .at = e.occurred_at});

  // Replies that were read before the thread: in event-time order now.
  std::vector<Reply>* w = waiting_.Find(hash);
  if (w == nullptr) return;
  std::vector<Reply> replies = std::move(*w);
  waiting_.Erase(hash);
  waiting_count_ -= replies.size();
  std::sort(replies.begin(), replies.end(), [](const Reply& a, const Reply& b) {
    return std::tie(a.at_ms, a.partition, a.self_hash) <
           std::tie(b.at_ms, b.partition, b.self_hash);
  });
  for (const Reply& r : replies) {
    if (r.stored) {
      deletes_.push_back(
          {Mutation::Op::kDelete, ReplyKey(r.partition, r.at_ms, hash, r.self_hash), {}});
    }
    Answer(hash, r);
  }
}

bool Threads::Answer(uint64_t hash, const Reply& r) {
  Thread* found = threads_.Find(hash);
  if (found == nullptr) return false;
  Thread& t = *found;
  // Past the horizon the thread counts as unanswered, whenever it expires.
  if (r.at_ms >= t.opened_ms + options_.horizon.count()) return true;
  // The opener following up on their own thread answers nothing.
  if (r.responder == Responder::kMember && r.member_hash == t.opener_hash) return true;
  bool changed = false;
  if (!t.first_counted && r.at_ms < t.first_ms) {
    t.first_ms = r.at_ms;
    t.first_by = r.responder;
    changed = true;
  }
  if (r.responder != Responder::kMember && r.at_ms < t.close_ms) {
    t.close_ms = r.at_ms;
    t.close_by = r.responder;
    changed = true;
  }
  if (changed) {
    // Whichever candidate moved, it moved to this reply's time.
    finals_.push({r.at_ms, t.partition, hash});
    MarkDirty(hash, t);
  }
  return true;
}

template <typename Handle>
void Threads::ForEachDueThread(ExpiryQueue& queue, int64_t until, Handle&& handle) {
  queue.ForEachDue(
      until, due_, [&](const Expiry& x) { threads_.Prefetch(x.hash); },
      [&](const Expiry& x) {
        if (const Thread* t = threads_.Find(x.hash)) PrefetchStats(t->partition, t->channel);
      },
      handle);
}

void Threads::Finalize(EventTime watermark, const Sink& sink) {
  const int64_t wm = watermark.millis();
  // Nothing below queues a final reply, as ForEachDue requires.
  ForEachDueThread(finals_, wm, [&](const Expiry& x) {
    Thread* found = threads_.Find(x.hash);
    if (found == nullptr || found->partition != x.partition) return;
    Thread& t = *found;
    const bool first_due = !t.first_counted && t.first_ms <= wm;
    const bool close_due = t.close_ms <= wm;
    if (!first_due && !close_due) return;  // done already, or superseded
    ChannelThreadStats& stats = StatsFor(t.partition, t.channel);
    ThreadUpdate u{.kind = ThreadUpdate::Kind::kResponded,
                   .partition = t.partition,
                   .channel = channels_.id(t.channel),
                   .opener = openers_.id(t.opener),
                   .opened_at = EventTime::FromMillis(t.opened_ms)};
    if (first_due) {
      CountFirstResponse(stats, t);
      u.first_response = true;
      u.responder = u.first_by = t.first_by;
      u.at = u.first_at = EventTime::FromMillis(t.first_ms);
    }
    if (!close_due) {
      MarkDirty(x.hash, t);
      sink(u);
      return;
    }
    stats.response[static_cast<int>(t.close_by)].Observe(SecondsAfterOpening(t, t.close_ms));
    stats.open--;
    u.closed = true;
    u.responder = t.close_by;
    u.at = EventTime::FromMillis(t.close_ms);
    Close(x.hash, t);
    sink(u);
  });
}

void Threads::Close(uint64_t hash, const Thread& t) {
  if (t.stored) {
    deletes_.push_back({Mutation::Op::kDelete, ThreadKey(t.partition, t.opened_ms, hash), {}});
  }
  threads_.Erase(hash);
}

void Threads::AdvanceWatermark(EventTime watermark, const Sink& sink) {
  watermark_ms_ = std::max(watermark_ms_, watermark.millis());
  // Replies before expiries: a counted reply is always before its horizon.
  Finalize(watermark, sink);
  Expire(watermark, sink);
  DropWaiting(watermark);
}

void Threads::Expire(EventTime watermark, const Sink& sink) {
  // As in Finalize: nothing below queues a horizon.
  ForEachDueThread(expiries_, watermark.millis(), [&](const Expiry& x) {
    Thread* found = threads_.Find(x.hash);
    // Closed or dropped since: the entry is stale.
    if (found == nullptr || found->partition != x.partition ||
        found->opened_ms + options_.horizon.count() != x.due_ms) {
      return;
    }
    Thread& t = *found;
    ChannelThreadStats& stats = StatsFor(t.partition, t.channel);
    // A peer's answer the watermark passed in the same step as the horizon.
    const bool first_due = !t.first_counted && t.first_ms != INT64_MAX;
    if (first_due) CountFirstResponse(stats, t);
    stats.unanswered[t.kind]++;
    if (t.first_ms == INT64_MAX) stats.unresponded[t.kind]++;
    stats.open--;
    ThreadUpdate u{.kind = ThreadUpdate::Kind::kExpired,
                   .partition = t.partition,
                   .channel = channels_.id(t.channel),
                   .opener = openers_.id(t.opener),
                   .opened_at = EventTime::FromMillis(t.opened_ms),
                   .at = EventTime::FromMillis(x.due_ms),
                   .first_response = first_due,
                   .first_at = EventTime::FromMillis(t.first_ms),
                   .first_by = t.first_by};
    Close(x.hash, t);
    sink(u);
  });
}

void Threads::DropWaiting(EventTime watermark) {
  int64_t wm = watermark.millis();
  while (!reply_expiries_.empty() && reply_expiries_.top().due_ms <= wm) {
    uint64_t target = reply_expiries_.top().hash;
    reply_expiries_.pop();
    std::vector<Reply>* w = waiting_.Find(target);
    if (w == nullptr) continue;
    std::vector<Reply>& replies = *w;
    int64_t next_due = INT64_MAX;
    std::erase_if(replies, [&](const Reply& r) {
      int64_t due = r.at_ms + options_.reply_wait.count();
      if (due > wm) {
        next_due = std::min(next_due, due);
        return false;
      }
      StatsFor(r.partition, r.channel).unmatched_replies++;
      if (r.stored) {
        deletes_.push_back(
            {Mutation::Op::kDelete, ReplyKey(r.partition, r.at_ms, target, r.self_hash), {}});
      }
      waiting_count_--;
      return true;
    });
    if (replies.empty()) {
      waiting_.Erase(target);
    } else {
      reply_expiries_.push({next_due, 0, target});
    }
  }
}

std::map<std::string, ChannelThreadStats, std::less<>> Threads::Stats() const {
  std::map<std::string, ChannelThreadStats, std::less<>> out;
  // Merged by channel index first: a string-keyed insert per partition and
  // channel would cost more than the additions.
  std::vector<ChannelThreadStats> merged(channels_.size());
  std::vector<bool> seen(channels_.size());
  for (const auto& [partition, p] : stats_) {
    for (size_t channel = 0; channel < p.by_channel.size(); ++channel) {
      if (!p.by_channel[channel]) continue;
      merged[channel].Add(p.by_channel[channel]->stats);
      seen[channel] = true;
    }
  }
  for (size_t c = 0; c < merged.size(); ++c) {
    if (seen[c]) out.emplace(channels_.id(c), merged[c]);
  }
  return out;
}

void Threads::DropPartition(int32_t partition) {
  threads_.EraseIf([&](uint64_t, const Thread& t) { return t.partition == partition; });
  waiting_.EraseIf([&](uint64_t, std::vector<Reply>& replies) {
    waiting_count_ -=
        std::erase_if(replies, [&](const Reply& r) { return r.partition == partition; });
    return replies.empty();
  });
  stats_.Erase(partition);
  last_stats_ = nullptr;
}

}  // namespace chorus::ops
