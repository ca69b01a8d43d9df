// The community manager's view: per-member engagement state and lifecycle.
//
// A member is a person acting with actor_role MEMBER and a member_id; brand
// and community-team actors are not members. A member's state lives with the
// input partition that carries the member's records (producers key by
// member). Everything here runs on event time; the watermark fires timers.
//
// Activity is any member action except IMPRESSION, FOLLOWER_COUNT and
// MODERATION_ACTION (the first two are brand-level counts, the last is done
// to a member, not by them).
//
// Love score: Σ weight(kind) · 2^(−age / half_life), kept as a value and its
// reference time (the member's latest scored event time), so the result does
// not depend on arrival order. Sentiment: a decayed average over scored
// events, numerator and denominator decayed alike. Active days: a bitmap of
// the last 128 UTC days.
//
// Stages, evaluated at an event time T (priority order). "Nothing for d"
// means T − last_seen >= d: every threshold is half-open and starts its
// stage at exactly its time, so a member quiet since L is at_risk from
// L + 7 d, lapsed from L + 28 d and churned from L + 180 d.
//   churned  — nothing for more than churned_after (180 d);
//   lapsed   — nothing for more than lapsed_after (28 d);
//   at_risk  — was regular or champion since last lapsing, nothing for at
//              least at_risk_after (7 d);
//   champion — >= champion_active_days (30) active days in the last
//              champion_window_days (90), decayed sentiment >= 0 (or none);
//   regular  — >= regular_days_per_week (2) active days in at least
//              regular_weeks (3) of the last 4 seven-day blocks ending at T;
//   new      — first seen less than new_period (7 d) ago (T − first_seen
//              < 7 d; the member is active from first_seen + 7 d);
//   active   — anything else (activity within the last 30 days).
// Weeks and windows are UTC days ending with T's day: regular counts the
// days [D−6, D], [D−13, D−7], [D−20, D−14], [D−27, D−21] for D = day of T.
// Promotion is immediate at the member's own event; timers only move a
// member down (or out of new), since raising a stage needs new activity.
// A demotion from champion or regular to a lower activity stage (regular,
// active) takes effect only once the member has been below its stage for
// demotion_grace (7 d), measured from the first evaluation that found it
// below; it then takes the stage it qualifies for at that time. Any
// evaluation that finds it back at its stage cancels the pending demotion.
// Inactivity stages (at_risk, lapsed, churned) take effect exactly at their
// thresholds, which are their grace, and a returning member is promoted at
// its event.
//
// Only activity events create a member: other member events are ignored.
// The love weight is per event (count is not a multiplier). A sentiment
// that is NaN counts as unscored; others are clamped to [−1, 1].
//
// Event-time timers: each member has one next-evaluation time (the next
// threshold or day boundary at which its stage could change without a new
// event). AdvanceWatermark fires due timers in (due time, partition, key)
// order; Apply first catches the member up to the event's time, so the
// result is the same whether a timer fired before the event arrived or not.
// Transitions are stamped with the exact threshold time, not the watermark.
// A late event (before the member's evaluated_at) is judged at
// evaluated_at.
//
// Not thread-safe: owned by the processing thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/state.h"
#include "chorus/operators/threads.h"

namespace chorus::ops {

enum class Stage : uint8_t { kNew = 0, kActive, kRegular, kChampion, kAtRisk, kLapsed, kChurned };
inline constexpr int kStageCount = 7;
std::string_view Name(
    Stage s);  // "new", "active", "regular", "champion", "at_risk", "lapsed", "churned"

struct MemberOptions {
  Millis love_half_life = 30 * kDay;
  Millis sentiment_half_life = 14 * kDay;
  // Love weight by EventKind; kinds not listed weigh 0. REQUIRES: >= 0.
  std::array<double, kEventKindCount> weights = DefaultWeights();
  Millis new_period = 7 * kDay;
  Millis at_risk_after = 7 * kDay;
  Millis lapsed_after = 28 * kDay;
  Millis churned_after = 180 * kDay;
  int regular_days_per_week = 2;
  int regular_weeks = 3;
  int champion_active_days = 30;
  int champion_window_days = 90;  // at most 128, the bitmap's length
  double champion_min_sentiment = 0.0;
  Millis demotion_grace = 7 * kDay;
  // A member whose largest member_reach is at least this is an influencer.
  uint64_t influencer_min_reach = 10'000;

  // FORUM_POST 3, COMMENT 2, SHARE 2, MENTION 1.5, DIRECT_MESSAGE 1,
  // FOLLOW 1, REACTION 0.5, CONTRIBUTION 3, EVENT_ATTENDED 5.
  static std::array<double, kEventKindCount> DefaultWeights();
};

// One member's state; encodes to well under 200 bytes.
struct MemberState {
  EventTime first_seen;
  EventTime last_seen;  // latest activity
  double love = 0;      // at love_ref
  EventTime love_ref;
  double sentiment_num = 0;  // decayed Σ sentiment, at sentiment_ref
  double sentiment_den = 0;  // decayed Σ 1, at sentiment_ref
  EventTime sentiment_ref;
  std::array<uint64_t, 2> active_days{};  // bit i: day (active_days_end − i)
  int64_t active_days_end = 0;            // UTC day index of bit 0
  Stage stage = Stage::kNew;
  EventTime stage_since;
  EventTime demotion_pending_since = EventTime::Min();  // Min: none pending
  bool was_engaged = false;                 // reached regular or champion since last lapsing
  EventTime next_timer = EventTime::Max();  // Max: none
  uint64_t events = 0;                      // lifetime member actions
  // The member's own clock: the latest time its stage was evaluated at (an
  // event or a fired timer). A late event is evaluated at this time, so a
  // member's transitions never go back in time.
  EventTime evaluated_at;
  // Relationship with the brand: the member's largest member_reach, and a
  // decayed count of interactions (their mentions and shares, brand or team
  // replies to them) at brand_ref, with the love half-life.
  uint64_t reach = 0;
  double brand_interactions = 0;
  EventTime brand_ref;
  int64_t open_threads = 0;  // threads they opened, not answered or expired yet
  bool welcomed = false;     // a COMMUNITY_TEAM reply reached them

  // Decayed values at event time `t`.
  double LoveAt(EventTime t, Millis half_life) const;
  double BrandInteractionsAt(EventTime t, Millis half_life) const;
  std::optional<double> SentimentAt(EventTime t, Millis half_life) const;
  // Active days within the `days` days ending at (and including) day `day`.
  int ActiveDaysIn(int64_t day, int days) const;
};

struct StageTransition {
  std::string_view member_id;
  Stage from;
  Stage to;
  EventTime at;
};

// Per-partition aggregates, exported as metrics (no member ids).
struct MemberSummary {
  std::array<int64_t, kStageCount> members_by_stage{};
  std::array<std::array<uint64_t, kStageCount>, kStageCount> transitions{};  // [from][to]
  uint64_t new_members = 0;
  // Per-event sentiment histogram over scored member events, not cumulative:
  // bucket i counts sentiments in (kSentimentBounds[i−1], kSentimentBounds[i]]
  // compared in float, the precision events carry; the last bucket is +Inf.
  std::array<uint64_t, 11> sentiment_buckets{};
  double sentiment_sum = 0;
  uint64_t sentiment_count = 0;
  // A new member's first activity to the first COMMUNITY_TEAM reply to a
  // thread they opened while new; once per member.
  ResponseHistogram welcome;

  // Derived from the members (rebuilt on restore, not stored):
  // influencers by stage, and the members' decayed sentiment (constant
  // between their scored events) in kSentimentBounds buckets with its sum.
  std::array<int64_t, kStageCount> influencers_by_stage{};
  std::array<int64_t, 11> member_sentiment_buckets{};
  double member_sentiment_sum = 0;

  void Add(const MemberSummary& o);
};
inline constexpr std::array<double, 10> kSentimentBounds = {-0.8, -0.6, -0.4, -0.2, 0.0,
                                                            0.2,  0.4,  0.6,  0.8,  1.0};

class MemberEngagement {
 public:
  using TransitionSink = std::function<void(const StageTransition&)>;
  // A member seen for the first time (it starts in `new`, and counts in
  // new_members) at event time `at`: the time of the event that created it.
  using JoinSink = std::function<void(std::string_view member_id, EventTime at)>;

  // REQUIRES: positive half-lives (aborts otherwise: a configuration bug).
  explicit MemberEngagement(MemberOptions options = {});

  // Applies a validated, deduplicated event read from `partition`. Events
  // that are not member actions are ignored. Late events update state too.
  void Apply(int32_t partition, const Event& e, const TransitionSink& sink);
  // Starts loading the index slot of the member Apply(partition, e, …) will
  // look up.
  void Prefetch(int32_t partition, const Event& e) const;
  // Starts loading the member itself, through its slot: a step after
  // Prefetch(), once the slot is likely in cache (a lookup misses twice, on
  // the slot and on the member).
  void PrefetchMember(int32_t partition, const Event& e) const;

  // Keeps the opener's open threads, brand interactions and welcome in step
  // with a thread (see threads.h). Unknown members are ignored.
  void OnThread(const ThreadUpdate& u);
  // The same two steps ahead of OnThread(u), for its opener.
  void Prefetch(const ThreadUpdate& u) const;
  void PrefetchMember(const ThreadUpdate& u) const;

  // Called for every member created from here on (none by default).
  void SetJoinSink(JoinSink sink) { on_join_ = std::move(sink); }

  // Fires every member timer due at or before `watermark`.
  void AdvanceWatermark(EventTime watermark, const TransitionSink& sink);

  const MemberState* Find(int32_t partition, std::string_view member_id) const;
  MemberSummary Summary() const;  // merged over partitions
  size_t member_count() const;
  const MemberOptions& options() const { return options_; }

  // Love-score distribution at event time `at`: count of members with a
  // decayed score <= each bound, plus the total count and sum. Costs
  // O(buckets + bounds·log bounds), independent of the number of members:
  // scores are kept in buckets of 1/32 of a power of two, so a member up
  // to ~2.2% above a bound may be counted at or below it (never the
  // reverse). Members who never scored count as 0. The sum is exact up to
  // floating-point rounding.
  struct LoveDistribution {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // same size as bounds
    uint64_t count = 0;
    double sum = 0;
  };
  LoveDistribution LoveScores(EventTime at, const std::vector<double>& bounds) const;

  // Persistence (see state.h). Keys: partition prefix, then 'm' and the
  // member id for a member, or 's' for the partition's summary counters.
  // Drain emits each member changed since the last drain once, and the
  // summary if it changed. Restore accepts what a drain produced, in any
  // order; members_by_stage, the love distribution and timers are rebuilt
  // from the members. False on a malformed entry.
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);

  // Reading stored members without an engine (the query API reads
  // committed state straight from the store). ParseMemberKey is false for
  // keys that are not members (e.g. summaries).
  static std::string MemberKey(int32_t partition, std::string_view member_id);
  static bool ParseMemberKey(std::string_view key, std::string_view& member_id);
  static std::optional<MemberState> DecodeMember(std::string_view value);

  // Forgets all in-memory state of `partition` (it moved to another
  // instance); emits no mutations.
  void DropPartition(int32_t partition);

 private:
  static constexpr int kLoveBucketsPerOctave = 32;

  struct Member {
    MemberState state;
    std::string_view id;  // views the table's copy, which never moves
    // Due time of this member's live entry in timers_ (Max: none). The heap
    // holds at most one live entry per member; an entry is pushed only when
    // next_timer moves earlier than it, so steady traffic does not grow it.
    EventTime heap_due = EventTime::Max();
    bool dirty = false;
  };
  // A partition's members by id: an open-addressing index of (hash, node)
  // over nodes that never move. A lookup costs a probe and the node, where
  // std::unordered_map read a bucket, the node before and the node, each
  // a cache miss with a hundred thousand members (its lookup was the
  // largest single symbol in the profile; this made the processor 3-4 %
  // faster).
  class MemberTable {
   public:
    Member* Find(std::string_view id) const;
    void Prefetch(std::string_view id) const;
    void PrefetchMember(std::string_view id) const;
    // Starts loading `m`, a member of some table, with its id: for a pass
    // over members held by pointer (a commit's drain).
    static void PrefetchHeld(const Member* m);
    // The member with `id`, made (default state, `id` set) if new.
    std::pair<Member*, bool> TryEmplace(std::string_view id);
    size_t size() const { return nodes_.size(); }
    template <typename Fn>
    void ForEach(Fn&& fn) const {
      for (const Node& n : nodes_) fn(n.member);
    }

   private:
    struct Node {
      std::string id;
      Member member;  // right after the id: PrefetchHeld counts on it
    };
    static_assert(sizeof(std::string) % alignof(Member) == 0, "no padding before Node::member");
    // Loads the node's first `bytes`.
    static void PrefetchNode(const char* node, size_t bytes);
    struct Slot {
      size_t hash = 0;
      Node* node = nullptr;  // null: empty
    };
    // Where a probe for `hash` stops: at the entry with that hash for which
    // matches(node) holds, or at the first empty slot. REQUIRES: slots.
    template <typename Match>
    size_t Probe(size_t hash, Match&& matches) const {
      const size_t mask = slots_.size() - 1;
      size_t i = hash & mask;
      while (slots_[i].node != nullptr && !(slots_[i].hash == hash && matches(*slots_[i].node))) {
        i = (i + 1) & mask;
      }
      return i;
    }
    void Grow();
    std::deque<Node> nodes_;
    std::vector<Slot> slots_;  // a power of two, at most half full
  };
  struct Partition {
    int32_t id = 0;
    MemberTable members;
    MemberSummary summary;  // members_by_stage is derived from members
    bool summary_dirty = false;
    std::vector<Member*> dirty;  // members changed since the last drain
  };
  struct Timer {
    EventTime due;
    Partition* partition;
    Member* member;
  };
  // The heap orders by due time alone, so sifting never touches member
  // memory; the timers due at one time are then sorted as a batch by
  // (partition, key), which fixes the firing order.
  static bool DueLater(const Timer& a, const Timer& b) { return a.due > b.due; }
  static bool KeyBefore(const Timer& a, const Timer& b);

  Partition& PartitionFor(int32_t id);
  // The table Apply(partition, e, …) would look e's member up in, if any.
  const MemberTable* TableToPrefetch(int32_t partition, const Event& e) const;
  // The partition's table, if it has one yet.
  const MemberTable* TableToPrefetch(int32_t partition) const;
  Member& Create(Partition& p, std::string_view id, EventTime t);
  void UpdateScores(Partition& p, Member& m, const Event& e);
  void CatchUp(Partition& p, Member& m, EventTime until, const TransitionSink& sink);
  void Evaluate(Partition& p, Member& m, EventTime t, bool on_event, const TransitionSink& sink);
  void Transition(Partition& p, Member& m, Stage to, EventTime t, const TransitionSink& sink);
  void Schedule(Partition& p, Member& m);
  void MarkDirty(Partition& p, Member& m);
  void RestoreMember(Partition& p, std::string_view id, const MemberState& s);
  // Adds (+1) or removes (−1) a member's part of the derived summary fields.
  static void CountDerived(MemberSummary& summary, const MemberState& s, int sign,
                           const MemberOptions& o);
  void AddBrandInteraction(MemberState& s, EventTime t);
  void LoveAdd(const MemberState& s);
  void LoveRemove(const MemberState& s);
  int64_t LoveBucket(const MemberState& s) const;
  double LoveTerm(const MemberState& s) const;

  MemberOptions options_;
  JoinSink on_join_;
  std::map<int32_t, std::unique_ptr<Partition>> partitions_;
  Partition* last_partition_ = nullptr;  // Apply's one-entry lookup cache
  // The member the last Apply updated: a thread an event opens reaches
  // OnThread right after, for the same member, without a second lookup.
  Partition* last_member_partition_ = nullptr;
  Member* last_member_ = nullptr;
  std::vector<Timer> timers_;     // min-heap by DueLater
  std::vector<Timer> due_batch_;  // AdvanceWatermark's scratch, reused
  // Love distribution, order-invariant: a member's decayed score at T is
  // 2^(k − T/h) with k = log2(love) + love_ref/h fixed between its events,
  // so members are counted by floor(k · kLoveBucketsPerOctave). The buckets
  // in use are consecutive numbers a few thousand apart at most (the
  // scores' range in octaves, plus the event time the members' last
  // events span in half-lives, times 32): counts by bucket from
  // love_first_bucket_ on, so an event's two updates index an array rather
  // than walk a tree. Empty buckets at either end go at the next drain.
  std::vector<int64_t> love_counts_;
  int64_t love_first_bucket_ = 0;
  int64_t zero_love_members_ = 0;
  // Σ love · 2^((love_ref − love_sum_base_)/h), rebased forward as
  // references advance so the terms stay within double range.
  double love_sum_ = 0;
  EventTime love_sum_base_ = EventTime::Min();
};

}  // namespace chorus::ops
