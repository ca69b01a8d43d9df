// MemberEngagement: members per partition, their event-time timers, the
// per-partition summaries and the love-score distribution. The stage rules
// live in member_lifecycle.cc, state arithmetic in member_state.cc.

#include "chorus/operators/member_engagement.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "chorus/operators/hash_map.h"
#include "member_internal.h"

namespace chorus::ops {

namespace mi = member_internal;

namespace {

constexpr char kMemberTag = 'm';
constexpr char kSummaryTag = 's';
// Love-sum terms are kept relative to a base no more than this many
// half-lives behind the newest reference, so they stay within 2^32·love.
constexpr int kLoveSumRebaseHalfLives = 32;

std::string PartitionKey(int32_t partition, char tag, std::string_view rest) {
  std::string key;
  key.reserve(5 + rest.size());
  AppendPartitionPrefix(key, partition);
  key.push_back(tag);
  key.append(rest);
  return key;
}

bool IsEngagedStage(Stage s) { return s == Stage::kRegular || s == Stage::kChampion; }

}  // namespace

MemberEngagement::Member* MemberEngagement::MemberTable::Find(std::string_view id) const {
  if (slots_.empty()) return nullptr;
  Node* node =
      slots_[Probe(std::hash<std::string_view>{}(id), [&](const Node& n) { return n.id == id; })]
          .node;
  return node == nullptr ? nullptr : &node->member;
}

void MemberEngagement::MemberTable::PrefetchMember(std::string_view id) const {
  if (slots_.empty()) return;
  // The first entry with the id's hash, without comparing ids: that would
  // read the node this is to load.
  const Node* node =
      slots_[Probe(std::hash<std::string_view>{}(id), [](const Node&) { return true; })].node;
  // The id and the state an event updates first span the node's first lines.
  if (node != nullptr) PrefetchNode(reinterpret_cast<const char*>(node), 192);
}

void MemberEngagement::MemberTable::PrefetchHeld(const Member* m) {
  // A drain reads all of it.
  PrefetchNode(reinterpret_cast<const char*>(m) - sizeof(std::string), sizeof(Node));
}

void MemberEngagement::MemberTable::PrefetchNode(const char* node, size_t bytes) {
  PrefetchLines(node, std::min(sizeof(Node), bytes));
}

void MemberEngagement::MemberTable::Prefetch(std::string_view id) const {
  if (slots_.empty()) return;
  PrefetchLine(&slots_[std::hash<std::string_view>{}(id) & (slots_.size() - 1)]);
}

std::pair<MemberEngagement::Member*, bool> MemberEngagement::MemberTable::TryEmplace(
    std::string_view id) {
  if ((nodes_.size() + 1) * 2 > slots_.size()) Grow();
  const size_t hash = std::hash<std::string_view>{}(id);
  const size_t i = Probe(hash, [&](const Node& n) { return n.id == id; });
  if (slots_[i].node != nullptr) return {&slots_[i].node->member, false};
  Node& n = nodes_.emplace_back();
  n.id = std::string(id);
  n.member.id = n.id;
  slots_[i] = Slot{hash, &n};
  return {&n.member, true};
}

void MemberEngagement::MemberTable::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(64, old.size() * 2), Slot{});
  for (const Slot& s : old) {
    // Ids are unique: a moved entry goes to the first empty slot of its probe.
    if (s.node != nullptr) slots_[Probe(s.hash, [](const Node&) { return false; })] = s;
  }
}

MemberEngagement::MemberEngagement(MemberOptions options) : options_(options) {
  if (options_.love_half_life.count() <= 0 || options_.sentiment_half_life.count() <= 0) {
    std::fputs("chorus: MemberOptions half-lives must be positive\n", stderr);
    std::abort();
  }
}

const MemberEngagement::MemberTable* MemberEngagement::TableToPrefetch(int32_t partition,
                                                                       const Event& e) const {
  return mi::IsActivity(e) ? TableToPrefetch(partition) : nullptr;
}

const MemberEngagement::MemberTable* MemberEngagement::TableToPrefetch(int32_t partition) const {
  const Partition* p = last_partition_;
  if (p == nullptr || p->id != partition) {
    auto it = partitions_.find(partition);
    if (it == partitions_.end()) return nullptr;
    p = it->second.get();
  }
  return &p->members;
}

void MemberEngagement::Prefetch(int32_t partition, const Event& e) const {
  if (const MemberTable* t = TableToPrefetch(partition, e)) t->Prefetch(e.member_id);
}

void MemberEngagement::PrefetchMember(int32_t partition, const Event& e) const {
  if (const MemberTable* t = TableToPrefetch(partition, e)) t->PrefetchMember(e.member_id);
}

void MemberEngagement::Prefetch(const ThreadUpdate& u) const {
  if (const MemberTable* t = TableToPrefetch(u.partition)) t->Prefetch(u.opener);
}

void MemberEngagement::PrefetchMember(const ThreadUpdate& u) const {
  if (const MemberTable* t = TableToPrefetch(u.partition)) t->PrefetchMember(u.opener);
}

void MemberEngagement::Apply(int32_t partition, const Event& e, const TransitionSink& sink) {
  if (!mi::IsActivity(e)) return;
  Partition& p = PartitionFor(partition);
  const EventTime t = e.occurred_at;
  Member* m = p.members.Find(e.member_id);
  if (m != nullptr) {
    // Fire what was due up to the event first, as the watermark would have.
    CatchUp(p, *m, t, sink);
  } else {
    m = &Create(p, e.member_id, t);
  }
  last_member_partition_ = &p;
  last_member_ = m;
  mi::RecordActivity(m->state, t);
  CountDerived(p.summary, m->state, -1, options_);
  UpdateScores(p, *m, e);
  CountDerived(p.summary, m->state, +1, options_);
  // A late event is judged at the member's own clock, never before it.
  Evaluate(p, *m, std::max(t, m->state.evaluated_at), /*on_event=*/true, sink);
  Schedule(p, *m);
}

void MemberEngagement::AdvanceWatermark(EventTime watermark, const TransitionSink& sink) {
  while (!timers_.empty() && timers_.front().due <= watermark) {
    const EventTime due = timers_.front().due;
    due_batch_.clear();
    while (!timers_.empty() && timers_.front().due == due) {
      std::pop_heap(timers_.begin(), timers_.end(), DueLater);
      const Timer timer = timers_.back();
      timers_.pop_back();
      if (timer.member->heap_due != due) continue;  // superseded by an earlier entry
      timer.member->heap_due = EventTime::Max();
      due_batch_.push_back(timer);
    }
    std::sort(due_batch_.begin(), due_batch_.end(), KeyBefore);
    for (const Timer& timer : due_batch_) {
      Member& m = *timer.member;
      // An event may have caught the member up past this entry: then it
      // only moves to the member's current due time.
      if (m.state.next_timer == due) Evaluate(*timer.partition, m, due, /*on_event=*/false, sink);
      Schedule(*timer.partition, m);  // always later than `due`
    }
  }
}

const MemberState* MemberEngagement::Find(int32_t partition, std::string_view member_id) const {
  auto p = partitions_.find(partition);
  if (p == partitions_.end()) return nullptr;
  const Member* m = p->second->members.Find(member_id);
  return m == nullptr ? nullptr : &m->state;
}

MemberSummary MemberEngagement::Summary() const {
  MemberSummary merged;
  for (const auto& [id, p] : partitions_) merged.Add(p->summary);
  return merged;
}

size_t MemberEngagement::member_count() const {
  size_t n = 0;
  for (const auto& [id, p] : partitions_) n += p->members.size();
  return n;
}

bool MemberEngagement::KeyBefore(const Timer& a, const Timer& b) {
  if (a.partition->id != b.partition->id) return a.partition->id < b.partition->id;
  return a.member->id < b.member->id;
}

MemberEngagement::Partition& MemberEngagement::PartitionFor(int32_t id) {
  if (last_partition_ != nullptr && last_partition_->id == id) return *last_partition_;
  std::unique_ptr<Partition>& slot = partitions_[id];
  if (!slot) {
    slot = std::make_unique<Partition>();
    slot->id = id;
  }
  last_partition_ = slot.get();
  return *slot;
}

MemberEngagement::Member& MemberEngagement::Create(Partition& p, std::string_view id, EventTime t) {
  Member& m = *p.members.TryEmplace(id).first;
  MemberState& s = m.state;
  s.first_seen = s.last_seen = s.stage_since = s.evaluated_at = t;
  s.active_days_end = DayIndex(t);
  s.stage = Stage::kNew;
  ++p.summary.new_members;
  ++p.summary.members_by_stage[static_cast<size_t>(Stage::kNew)];
  p.summary_dirty = true;
  LoveAdd(s);
  if (on_join_) on_join_(m.id, t);
  return m;
}

void MemberEngagement::UpdateScores(Partition& p, Member& m, const Event& e) {
  MemberState& s = m.state;
  const EventTime t = e.occurred_at;
  const double weight = options_.weights[static_cast<size_t>(e.kind)];
  if (weight != 0) {
    LoveRemove(s);
    mi::AddLove(s, t, weight, options_.love_half_life);
    LoveAdd(s);
  }
  if (e.member_reach > s.reach) s.reach = e.member_reach;
  if (e.kind == EventKind::kMention || e.kind == EventKind::kShare) AddBrandInteraction(s, t);
  if (e.has_sentiment && !std::isnan(e.sentiment)) {
    const float v = std::clamp(e.sentiment, -1.0f, 1.0f);
    mi::AddSentiment(s, t, v, options_.sentiment_half_life);
    ++p.summary.sentiment_buckets[mi::SentimentBucket(v)];
    p.summary.sentiment_sum += v;
    ++p.summary.sentiment_count;
    p.summary_dirty = true;
  }
}

void MemberEngagement::CatchUp(Partition& p, Member& m, EventTime until,
                               const TransitionSink& sink) {
  // NextDue is strictly after each evaluation, so this ends.
  while (m.state.next_timer <= until) {
    Evaluate(p, m, m.state.next_timer, /*on_event=*/false, sink);
  }
}

void MemberEngagement::Evaluate(Partition& p, Member& m, EventTime t, bool on_event,
                                const TransitionSink& sink) {
  MemberState& s = m.state;
  const Stage raw = mi::RawStage(s, t, options_);
  const mi::StageDecision d = mi::Decide(s, raw, t, on_event, options_);
  s.demotion_pending_since = d.demotion_pending_since;
  if (d.stage != s.stage) Transition(p, m, d.stage, t, sink);
  s.evaluated_at = t;
  s.next_timer = mi::NextDue(s, t, options_);
  MarkDirty(p, m);
}

void MemberEngagement::Transition(Partition& p, Member& m, Stage to, EventTime t,
                                  const TransitionSink& sink) {
  MemberState& s = m.state;
  const Stage from = s.stage;
  --p.summary.members_by_stage[static_cast<size_t>(from)];
  ++p.summary.members_by_stage[static_cast<size_t>(to)];
  ++p.summary.transitions[static_cast<size_t>(from)][static_cast<size_t>(to)];
  if (options_.influencer_min_reach > 0 && s.reach >= options_.influencer_min_reach) {
    --p.summary.influencers_by_stage[static_cast<size_t>(from)];
    ++p.summary.influencers_by_stage[static_cast<size_t>(to)];
  }
  p.summary_dirty = true;
  s.stage = to;
  s.stage_since = t;
  s.demotion_pending_since = EventTime::Min();
  if (IsEngagedStage(to)) {
    s.was_engaged = true;
  } else if (to == Stage::kLapsed || to == Stage::kChurned) {
    s.was_engaged = false;  // at_risk is for members who lapse from engagement
  }
  if (sink) sink(StageTransition{m.id, from, to, t});
}

void MemberEngagement::Schedule(Partition& p, Member& m) {
  const EventTime due = m.state.next_timer;
  // The live entry fires no later than `due`; it re-queues itself then.
  if (due == EventTime::Max() || due >= m.heap_due) return;
  m.heap_due = due;
  timers_.push_back(Timer{due, &p, &m});
  std::push_heap(timers_.begin(), timers_.end(), DueLater);
}

void MemberEngagement::MarkDirty(Partition& p, Member& m) {
  if (m.dirty) return;
  m.dirty = true;
  p.dirty.push_back(&m);
}

// ---- Love-score distribution ----

int64_t MemberEngagement::LoveBucket(const MemberState& s) const {
  const double k = std::log2(s.love) + static_cast<double>(s.love_ref.millis()) /
                                           static_cast<double>(options_.love_half_life.count());
  return static_cast<int64_t>(std::floor(k * kLoveBucketsPerOctave));
}

double MemberEngagement::LoveTerm(const MemberState& s) const {
  return s.love * std::exp2(static_cast<double>((s.love_ref - love_sum_base_).count()) /
                            static_cast<double>(options_.love_half_life.count()));
}

void MemberEngagement::LoveAdd(const MemberState& s) {
  if (!(s.love > 0) || !std::isfinite(s.love)) {
    ++zero_love_members_;
    return;
  }
  const int64_t bucket = LoveBucket(s);
  if (love_counts_.empty()) {
    love_first_bucket_ = bucket;
  } else if (bucket < love_first_bucket_) {
    love_counts_.insert(love_counts_.begin(), static_cast<size_t>(love_first_bucket_ - bucket), 0);
    love_first_bucket_ = bucket;
  }
  const auto at = static_cast<size_t>(bucket - love_first_bucket_);
  if (at >= love_counts_.size()) love_counts_.resize(at + 1, 0);
  ++love_counts_[at];
  if (love_sum_base_ == EventTime::Min()) {
    love_sum_base_ = s.love_ref;
  } else if (s.love_ref - love_sum_base_ > kLoveSumRebaseHalfLives * options_.love_half_life) {
    love_sum_ *= std::exp2(-static_cast<double>((s.love_ref - love_sum_base_).count()) /
                           static_cast<double>(options_.love_half_life.count()));
    love_sum_base_ = s.love_ref;
  }
  love_sum_ += LoveTerm(s);
}

void MemberEngagement::LoveRemove(const MemberState& s) {
  if (!(s.love > 0) || !std::isfinite(s.love)) {
    --zero_love_members_;
    return;
  }
  const int64_t at = LoveBucket(s) - love_first_bucket_;
  if (at < 0 || static_cast<size_t>(at) >= love_counts_.size() || love_counts_[at] == 0) {
    std::fputs("chorus: love distribution lost a member\n", stderr);
    std::abort();  // a broken invariant: the bucket is a pure function of the state
  }
  --love_counts_[at];
  love_sum_ -= LoveTerm(s);
}

MemberEngagement::LoveDistribution MemberEngagement::LoveScores(
    EventTime at, const std::vector<double>& bounds) const {
  LoveDistribution d;
  d.bounds = bounds;
  d.cumulative.assign(bounds.size(), 0);
  d.count = member_count();
  const double h = static_cast<double>(options_.love_half_life.count());
  if (love_sum_base_ != EventTime::Min()) {
    d.sum = std::max(0.0,
                     love_sum_ * std::exp2(static_cast<double>((love_sum_base_ - at).count()) / h));
  }
  // A member in bucket j is at or below bound b at `at` when
  // j <= (log2 b + at/h) · kLoveBucketsPerOctave.
  const double shift = static_cast<double>(at.millis()) / h;
  std::vector<std::pair<double, size_t>> limits;
  limits.reserve(bounds.size());
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!(bounds[i] >= 0)) continue;  // no score is negative
    d.cumulative[i] = static_cast<uint64_t>(zero_love_members_);
    if (bounds[i] > 0)
      limits.emplace_back((std::log2(bounds[i]) + shift) * kLoveBucketsPerOctave, i);
  }
  std::sort(limits.begin(), limits.end());
  int64_t below = 0;
  size_t next = 0;  // into love_counts_
  for (const auto& [limit, i] : limits) {
    for (; next < love_counts_.size() &&
           static_cast<double>(love_first_bucket_ + static_cast<int64_t>(next)) <= limit;
         ++next) {
      below += love_counts_[next];
    }
    d.cumulative[i] += static_cast<uint64_t>(below);
  }
  return d;
}

// ---- Persistence ----

void MemberEngagement::DrainDirty(Mutations& out) {
  // A commit's members are spread over memory: each is loaded a few
  // members before its turn, so that the misses overlap.
  constexpr size_t kAhead = 8;
  for (auto& [id, p] : partitions_) {
    for (size_t i = 0; i < p->dirty.size(); ++i) {
      if (i + kAhead < p->dirty.size()) MemberTable::PrefetchHeld(p->dirty[i + kAhead]);
      Member* m = p->dirty[i];
      Mutation put;
      put.key = MemberKey(id, m->id);
      mi::EncodeMember(m->state, put.value);
      out.push_back(std::move(put));
      m->dirty = false;
    }
    p->dirty.clear();
    if (p->summary_dirty) {
      Mutation put;
      put.key = PartitionKey(id, kSummaryTag, {});
      mi::EncodeSummary(p->summary, put.value);
      out.push_back(std::move(put));
      p->summary_dirty = false;
    }
  }
  // Commit time, not the per-event path, is where empty buckets go.
  while (!love_counts_.empty() && love_counts_.back() == 0) love_counts_.pop_back();
  const auto zeros = static_cast<size_t>(
      std::find_if(love_counts_.begin(), love_counts_.end(), [](int64_t n) { return n != 0; }) -
      love_counts_.begin());
  love_counts_.erase(love_counts_.begin(), love_counts_.begin() + static_cast<ptrdiff_t>(zeros));
  love_first_bucket_ += static_cast<int64_t>(zeros);
}

bool MemberEngagement::Restore(std::string_view key, std::string_view value) {
  int32_t id = 0;
  if (!ParsePartitionPrefix(key, id) || key.size() < 5) return false;
  const std::string_view rest = key.substr(5);
  if (key[4] == kMemberTag && !rest.empty()) {
    MemberState s;
    if (!mi::DecodeMember(value, s)) return false;
    RestoreMember(PartitionFor(id), rest, s);
    return true;
  }
  if (key[4] == kSummaryTag && rest.empty()) {
    // Keeps the derived fields the partition's members already gave it.
    return mi::DecodeSummary(value, PartitionFor(id).summary);
  }
  return false;
}

std::string MemberEngagement::MemberKey(int32_t partition, std::string_view member_id) {
  return PartitionKey(partition, kMemberTag, member_id);
}

bool MemberEngagement::ParseMemberKey(std::string_view key, std::string_view& member_id) {
  if (key.size() < 6 || key[4] != kMemberTag) return false;
  member_id = key.substr(5);
  return true;
}

std::optional<MemberState> MemberEngagement::DecodeMember(std::string_view value) {
  MemberState s;
  if (!mi::DecodeMember(value, s)) return std::nullopt;
  return s;
}

void MemberEngagement::RestoreMember(Partition& p, std::string_view id, const MemberState& s) {
  auto [member, inserted] = p.members.TryEmplace(id);
  Member& m = *member;
  if (!inserted) {  // restored twice: the later value wins
    LoveRemove(m.state);
    --p.summary.members_by_stage[static_cast<size_t>(m.state.stage)];
    CountDerived(p.summary, m.state, -1, options_);
  }
  m.state = s;
  m.state.next_timer = mi::NextDue(s, s.evaluated_at, options_);
  ++p.summary.members_by_stage[static_cast<size_t>(s.stage)];
  CountDerived(p.summary, m.state, +1, options_);
  LoveAdd(m.state);
  Schedule(p, m);
}

void MemberEngagement::DropPartition(int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  Partition* p = it->second.get();
  p->members.ForEach([this](const Member& m) { LoveRemove(m.state); });
  std::erase_if(timers_, [p](const Timer& t) { return t.partition == p; });
  std::make_heap(timers_.begin(), timers_.end(), DueLater);
  if (last_partition_ == p) last_partition_ = nullptr;
  if (last_member_partition_ == p) {
    last_member_partition_ = nullptr;
    last_member_ = nullptr;
  }
  partitions_.erase(it);
}

}  // namespace chorus::ops
