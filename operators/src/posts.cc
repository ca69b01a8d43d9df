#include "chorus/operators/posts.h"

#include <algorithm>

#include "channel_catalog.h"
#include "chorus/operators/event.h"

namespace chorus::ops {

std::string_view Name(PostAge a) { return a == PostAge::k24h ? "24h" : "7d"; }

void ChannelPostStats::Add(const ChannelPostStats& o) {
  for (int a = 0; a < kPostAgeCount; ++a) {
    for (int c = 0; c < kContentTypeCount; ++c) {
      matured[a][c] += o.matured[a][c];
      engagements[a][c] += o.engagements[a][c];
    }
  }
}

PostPerformance::PostPerformance(PostOptions options)
    : options_(options), channels_(std::make_unique<channel_internal::ChannelCatalog>()) {}

PostPerformance::~PostPerformance() = default;

int64_t PostPerformance::MaturesAt(int64_t published_ms, PostAge age) {
  return published_ms + kPostAges[static_cast<size_t>(age)].count();
}

uint16_t PostPerformance::SeriesIndex(Platform p, ContentType c, PostAge a) {
  return static_cast<uint16_t>(
      (IndexOf(p, kPlatformCount) * kContentTypeCount + IndexOf(c, kContentTypeCount)) *
          kPostAgeCount +
      static_cast<int>(a));
}

PostSeries PostPerformance::SeriesOf(uint16_t index) {
  return {.platform = static_cast<Platform>(index / kPostAgeCount / kContentTypeCount),
          .content_type = static_cast<ContentType>(index / kPostAgeCount % kContentTypeCount),
          .age = static_cast<PostAge>(index % kPostAgeCount)};
}

PostPerformance::PartitionStats& PostPerformance::StatsOf(int32_t partition) {
  PartitionStats& s = stats_[partition];
  s.dirty = true;
  return s;
}

void PostPerformance::MarkDirty(uint64_t key, Post& p) {
  if (p.dirty) return;
  p.dirty = true;
  dirty_posts_.push_back(key);
}

void PostPerformance::MarkDirty(uint64_t key, WaitingKey& w) {
  if (w.dirty) return;
  w.dirty = true;
  dirty_waiting_.push_back(key);
}

void PostPerformance::Apply(int32_t partition, const Event& e, const IdHashes& ids) {
  if (e.content_id.empty()) return;
  const bool post = e.kind == EventKind::kPostPublished;
  if (!post && !IsMemberEngagement(e)) return;
  const uint64_t key = ids.post;
  if (post) return Publish(partition, key, e);
  const int64_t at = e.occurred_at.millis();
  if (Post* p = posts_.Find(key); p != nullptr && at >= p->published_ms) {
    return Count(*p, key, partition, at, Multiplicity(e));
  }
  Wait(partition, key, e.channel_id, at, Multiplicity(e));
}

void PostPerformance::Prefetch(const Event& e, const IdHashes& ids) const {
  if (e.content_id.empty()) return;
  posts_.Prefetch(ids.post);
  // Where an engagement comes before its post (or for a post never seen),
  // it waits under the post's key: that slot missed in half of Wait's time.
  if (e.kind != EventKind::kPostPublished) waiting_.Prefetch(ids.post);
}

void PostPerformance::Publish(int32_t partition, uint64_t key, const Event& e) {
  Post copy;
  copy.published_ms = e.occurred_at.millis();
  copy.partition = partition;
  copy.platform = static_cast<Platform>(IndexOf(e.platform, kPlatformCount));
  copy.content_type = static_cast<ContentType>(IndexOf(e.content_type, kContentTypeCount));
  auto [slot, inserted] = posts_.TryEmplace(key);
  Post& p = *slot;
  if (inserted) {
    copy.channel = channels_->Intern(e.channel_id);
  } else {
    if (copy.Order() >= p.Order()) return;  // a later copy of a known post
    // An earlier copy: the post moves to it, with what it has counted.
    if (p.stored && p.partition != partition) {
      deletes_.push_back({Mutation::Op::kDelete, PostKey(p.partition, key), {}});
    }
    copy.channel = p.channel;
    copy.matured_24h = p.matured_24h;
    copy.stored = p.stored && p.partition == partition;
    copy.dirty = p.dirty;
    copy.figures = p.figures;
  }
  p = copy;
  MarkDirty(key, p);
  if (!p.matured_24h) maturities_.push({MaturesAt(p.published_ms, PostAge::k24h), partition, key});
  maturities_.push({MaturesAt(p.published_ms, PostAge::k7d), partition, key});
  ApplyWaiting(key, p);
  // A post read behind the watermark matures now, not at the next advance,
  // which may never come at the end of the input.
  if (maturities_.top().due_ms <= watermark_ms_) Mature(watermark_ms_);
}

void PostPerformance::Count(Post& p, uint64_t key, int32_t partition, int64_t at_ms,
                            uint64_t count) {
  if (at_ms >= MaturesAt(p.published_ms, PostAge::k7d)) {
    StatsOf(partition).AddUnmatched(p.channel, count);  // past its week: for no post
    return;
  }
  if (!p.matured_24h && at_ms < MaturesAt(p.published_ms, PostAge::k24h)) {
    p.figures[static_cast<size_t>(PostAge::k24h)] += count;
  }
  p.figures[static_cast<size_t>(PostAge::k7d)] += count;
  MarkDirty(key, p);
}

void PostPerformance::Wait(int32_t partition, uint64_t key, std::string_view channel_id,
                           int64_t at_ms, uint64_t count) {
  const int64_t due = at_ms + options_.engagement_wait.count();
  if (due <= watermark_ms_) {  // its wait is over already
    StatsOf(partition).AddUnmatched(channels_->Intern(channel_id), count);
    return;
  }
  WaitingKey& w = waiting_[key];
  if (w.entries.empty()) w.channel = channels_->Intern(channel_id);
  std::vector<Waiting>& v = w.entries;
  if (v.size() >= kExactWaiting) {
    // Bounded per key: merged per partition and minute, newest minutes first.
    const int64_t minute = FloorDiv(at_ms, kMinute.count());
    auto same = std::find_if(v.rbegin(), v.rend(), [&](const Waiting& x) {
      return x.partition == partition && FloorDiv(x.at_ms, kMinute.count()) == minute;
    });
    if (same != v.rend()) {
      same->count += count;
      same->at_ms = std::min(same->at_ms, at_ms);
      QueueExpiry(key, w, same->at_ms + options_.engagement_wait.count());
      MarkDirty(key, w);
      return;
    }
    if (v.size() >= kMaxWaiting) {
      StatsOf(partition).AddUnmatched(w.channel, count);
      return;
    }
  }
  v.push_back({at_ms, partition, count});
  waiting_count_++;
  QueueExpiry(key, w, due);
  MarkDirty(key, w);
}

void PostPerformance::QueueExpiry(uint64_t key, WaitingKey& w, int64_t due_ms) {
  if (due_ms >= w.queued_due_ms) return;
  w.queued_due_ms = due_ms;
  expiries_.push({due_ms, 0, key});
}

void PostPerformance::ApplyWaiting(uint64_t key, Post& p) {
  WaitingKey* found = waiting_.Find(key);
  if (found == nullptr) return;
  WaitingKey& w = *found;
  const size_t before = w.entries.size();
  std::erase_if(w.entries, [&](const Waiting& x) {
    if (x.at_ms < p.published_ms) return false;  // an earlier copy may still come
    Count(p, key, x.partition, x.at_ms, x.count);
    return true;
  });
  waiting_count_ -= before - w.entries.size();
  if (w.entries.empty()) {
    Forget(key, w);
  } else if (w.entries.size() != before) {
    MarkDirty(key, w);
  }
}

void PostPerformance::Forget(uint64_t key, WaitingKey& w) {
  for (int32_t partition : w.stored) {
    deletes_.push_back({Mutation::Op::kDelete, WaitingKeyOf(partition, key), {}});
  }
  waiting_count_ -= w.entries.size();
  waiting_.Erase(key);
}

void PostPerformance::AdvanceWatermark(EventTime watermark) {
  watermark_ms_ = std::max(watermark_ms_, watermark.millis());
  Mature(watermark_ms_);
  Expire(watermark_ms_);
}

void PostPerformance::Mature(int64_t watermark_ms) {
  while (!maturities_.empty() && maturities_.top().due_ms <= watermark_ms) {
    const Due x = maturities_.top();
    maturities_.pop();
    Post* found = posts_.Find(x.key);
    // Moved to an earlier copy or dropped since: the entry is stale.
    if (found == nullptr || found->partition != x.partition) continue;
    Post& p = *found;
    if (!p.matured_24h && x.due_ms == MaturesAt(p.published_ms, PostAge::k24h)) {
      Record(p, PostAge::k24h);
      p.matured_24h = true;
      MarkDirty(x.key, p);
    } else if (p.matured_24h && x.due_ms == MaturesAt(p.published_ms, PostAge::k7d)) {
      Record(p, PostAge::k7d);
      if (p.stored) deletes_.push_back({Mutation::Op::kDelete, PostKey(p.partition, x.key), {}});
      posts_.Erase(x.key);
    }
  }
}

void PostPerformance::Record(const Post& p, PostAge age) {
  PartitionStats& s = StatsOf(p.partition);
  const auto a = static_cast<size_t>(age);
  const auto c = static_cast<size_t>(p.content_type);
  ChannelPostStats& channel = s.matured[p.channel];
  channel.matured[a][c]++;
  channel.engagements[a][c] += p.figures[a];
  s.distribution[SeriesIndex(p.platform, p.content_type, age)].Observe(
      static_cast<double>(p.figures[a]));
}

void PostPerformance::Expire(int64_t watermark_ms) {
  const int64_t wait = options_.engagement_wait.count();
  // What is queued again below is due after the watermark, as ForEachDue
  // requires.
  auto load = [&](const Due& x) { waiting_.Prefetch(x.key); };
  expiries_.ForEachDue(watermark_ms, due_, load, [&](const Due& x) {
    WaitingKey* found = waiting_.Find(x.key);
    if (found == nullptr || found->queued_due_ms != x.due_ms) return;  // stale
    WaitingKey& w = *found;
    int64_t next_due = INT64_MAX;
    const size_t before = w.entries.size();
    std::erase_if(w.entries, [&](const Waiting& e) {
      if (e.at_ms + wait > watermark_ms) {
        next_due = std::min(next_due, e.at_ms + wait);
        return false;
      }
      StatsOf(e.partition).AddUnmatched(w.channel, e.count);
      return true;
    });
    waiting_count_ -= before - w.entries.size();
    if (w.entries.empty()) {
      Forget(x.key, w);
      return;
    }
    w.queued_due_ms = INT64_MAX;
    QueueExpiry(x.key, w, next_due);
    if (w.entries.size() != before) MarkDirty(x.key, w);
  });
}

PostStats PostPerformance::Stats() const {
  // Merged by channel index first: a string-keyed insert per partition and
  // channel would cost more than the additions.
  std::vector<ChannelPostStats> matured(channels_->size());
  std::vector<uint64_t> unmatched(channels_->size());
  std::vector<bool> has_matured(channels_->size()), has_unmatched(channels_->size());
  std::map<uint16_t, PostEngagementHistogram> distribution;
  for (const auto& [partition, s] : stats_) {
    for (const auto& [channel, m] : s.matured) {
      matured[channel].Add(m);
      has_matured[channel] = true;
    }
    for (ChannelIndex channel = 0; channel < s.unmatched.size(); ++channel) {
      if (s.unmatched[channel] == 0) continue;
      unmatched[channel] += s.unmatched[channel];
      has_unmatched[channel] = true;
    }
    for (const auto& [series, h] : s.distribution) distribution[series].Add(h);
  }
  PostStats out;
  for (size_t c = 0; c < matured.size(); ++c) {
    const std::string id(channels_->id(static_cast<ChannelIndex>(c)));
    if (has_matured[c]) out.channels.emplace(id, matured[c]);
    if (has_unmatched[c]) out.unmatched.emplace(id, unmatched[c]);
  }
  for (const auto& [series, h] : distribution) out.distribution.emplace(SeriesOf(series), h);
  return out;
}

void PostPerformance::DropPartition(int32_t partition) {
  posts_.EraseIf([&](uint64_t, const Post& p) { return p.partition == partition; });
  waiting_.EraseIf([&](uint64_t, WaitingKey& w) {
    waiting_count_ -=
        std::erase_if(w.entries, [&](const Waiting& e) { return e.partition == partition; });
    std::erase(w.stored, partition);
    return w.entries.empty();
  });
  stats_.Erase(partition);
}

}  // namespace chorus::ops
