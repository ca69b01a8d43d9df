// Threads and responsiveness: how fast members get an answer.
//
// A member's COMMENT, MENTION, FORUM_POST or DIRECT_MESSAGE opens a thread
// keyed by its event_id. A later event whose reply_to_event_id names the
// thread is a reply:
//   - the first reply by anyone but the opener (a peer member included) is
//     the thread's first response (CHAOSS's time to first response);
//   - the first reply by BRAND or COMMUNITY_TEAM is its response and
//     closes the thread.
// "First" is by event time, not by arrival: a reply is a candidate until
// the watermark passes it (an earlier reply on another partition may still
// be on its way), and only then is it counted and the thread closed. So the
// result is the same however partitions interleave, except for replies
// that arrive behind the watermark, which can no longer displace a counted
// one.
//
// A thread nobody from the brand or the team answers within `horizon` of
// event time after it opened expires and is counted unanswered; a reply
// stamped at or after that point does not answer it either, so the outcome
// depends on event times alone, not on when the watermark passed.
//
// Replies are not keyed by member, so a reply can be read before the event
// it answers (another partition, further ahead). Such a reply waits, for
// `reply_wait` of event time behind the watermark, for its thread to open;
// it is then applied as if it had come after, so the result does not
// depend on how partitions interleaved within that wait.
//
// Listening: the members' mentions that open threads are also counted by
// sentiment band (negative below −band, positive above band, neutral
// between, or unscored), the signal of how people talk about the brand.
//
// Time measures are in seconds of event time and never negative (a reply
// stamped before its thread counts as 0).
//
// State: a thread belongs to the input partition of the event that opened
// it, a waiting reply to the partition that carried it; each partition keeps
// its own counters, which merge by addition. While one instance owns every
// partition a reply finds its thread whichever partition it came from (see
// DESIGN.md: scale-out re-keys replies by thread through a topic).
//
// Not thread-safe: owned by the processing thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/hash_map.h"
#include "chorus/operators/histogram.h"
#include "chorus/operators/id_index.h"
#include "chorus/operators/partition_map.h"
#include "chorus/operators/state.h"
#include "chorus/operators/timer_queue.h"

namespace chorus::ops {

enum class Responder : uint8_t { kMember = 0, kBrand, kCommunityTeam };
inline constexpr int kResponderCount = 3;
std::string_view Name(Responder r);  // "member", "brand", "community_team"

// The kinds that open a thread, in label order.
inline constexpr std::array<EventKind, 4> kThreadKinds = {
    EventKind::kComment, EventKind::kMention, EventKind::kForumPost, EventKind::kDirectMessage};
inline constexpr int kThreadKindCount = 4;
// The index of `e`'s kind in kThreadKinds if `e` opens a thread, else -1.
int ThreadKindIndex(const Event& e);

// Seconds from a minute to a week: answers on social channels come in
// minutes, forum answers in hours, a neglected thread takes days.
inline constexpr std::array<double, 13> kResponseBounds = {
    60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 345600, 604800};

// A histogram of seconds.
using ResponseHistogram = BucketHistogram<kResponseBounds>;

// One channel's thread counters (a partition's part, or merged).
struct ChannelThreadStats {
  std::array<uint64_t, kThreadKindCount> opened{};      // by opener kind
  std::array<uint64_t, kThreadKindCount> unanswered{};  // expired, by opener kind
  // Expired with no reply from anyone but the opener: on a peer Q&A forum,
  // the questions nobody answered.
  std::array<uint64_t, kThreadKindCount> unresponded{};
  int64_t open = 0;                // open now
  uint64_t unmatched_replies = 0;  // replies whose thread never opened here (by reply channel)
  std::array<uint64_t, 4> mentions_by_band{};  // by SentimentBand
  // Brand or team reply that closed the thread; index kMember stays empty.
  std::array<ResponseHistogram, kResponderCount> response;
  // First responses of threads whose opener started a conversation (it
  // replied to nothing: a question, a mention), and of threads whose opener
  // was itself a reply (an answer, a comment on a post), kept apart so a
  // forum's time to a question's first answer is not mixed with the time to
  // an answer's first comment.
  std::array<ResponseHistogram, kResponderCount> first_response;
  std::array<ResponseHistogram, kResponderCount> reply_first_response;

  void Add(const ChannelThreadStats& o);
  bool operator==(const ChannelThreadStats&) const = default;
};

// What happened to a thread, for the caller (e.g. the member operator,
// which keeps each member's open threads and welcome time).
struct ThreadUpdate {
  enum class Kind : uint8_t { kOpened, kResponded, kExpired };
  Kind kind = Kind::kOpened;
  int32_t partition = 0;  // the opener's
  std::string_view channel;
  std::string_view opener;
  EventTime opened_at;
  EventTime at;                              // the event time of the change
  Responder responder = Responder::kMember;  // kResponded only
  bool closed = false;                       // kResponded: a brand/team reply closed it
  // The first response was counted with this change (kResponded, or
  // kExpired when the watermark passed it and the horizon in one step).
  bool first_response = false;
  EventTime first_at;
  Responder first_by = Responder::kMember;
};

enum class SentimentBand : uint8_t { kNegative = 0, kNeutral, kPositive, kUnscored };
std::string_view Name(SentimentBand b);  // "negative", "neutral", "positive", "unscored"

struct ThreadOptions {
  Millis horizon = 7 * kDay;
  Millis reply_wait = 1 * kHour;
  double sentiment_band = 0.25;
};
SentimentBand BandOf(const Event& e, double band);

class Threads {
 public:
  using Sink = std::function<void(const ThreadUpdate&)>;

  explicit Threads(ThreadOptions options = {});

  // Applies a validated, deduplicated event read from `partition`.
  void Apply(int32_t partition, const Event& e, const Sink& sink) {
    Apply(partition, e, HashIds(e), sink);
  }
  // The same, with the event's ids hashed already.
  void Apply(int32_t partition, const Event& e, const IdHashes& ids, const Sink& sink);
  // Starts loading the thread Apply(partition, e, ids, …) will look up, if
  // any, and the channel counters a thread it opens will count in.
  // Returns what PrefetchStats() takes, some events later: the channel's
  // index for an event that opens a thread, else IdIndex::kAbsent.
  uint32_t Prefetch(int32_t partition, const Event& e, const IdHashes& ids) const;
  // Through the slot Prefetch() loaded: the channel's counters in the
  // partition, which the thread opened will count in.
  void PrefetchStats(int32_t partition, uint32_t channel) const;

  // Expires threads whose horizon ended at or before `watermark` and drops
  // replies that waited long enough, in (time, partition, id) order.
  void AdvanceWatermark(EventTime watermark, const Sink& sink);

  // Counters by channel id, merged over partitions, in channel id order.
  std::map<std::string, ChannelThreadStats, std::less<>> Stats() const;
  size_t open_threads() const { return threads_.size(); }
  size_t waiting_replies() const { return waiting_count_; }

  // Persistence (see state.h). Keys: partition prefix, then 't' with the
  // opening time (OrderedBits, 8 BE) and the id hash (8 BE) for a thread,
  // 'r' with the reply time, the hash of the event it answers and its own
  // for a waiting reply, 'c' with the channel id for one channel's counters
  // (only changed channels are rewritten at a drain; 's', all of a
  // partition's counters in one value, is still read and replaced). Restore
  // accepts what a drain produced, in any order; false on a malformed entry.
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);
  // Forgets all state of `partition`; emits no mutations.
  void DropPartition(int32_t partition);

 private:
  // Open threads are the largest table the processing thread keeps (one
  // per comment, question or message for a week): small fields first, and
  // the opener's id interned rather than a string in each (104 → 72 bytes
  // a slot, 218 → 151 MB for 800,000 threads).
  struct Thread {
    int64_t opened_ms = 0;
    // Earliest reply so far by anyone but the opener, and by brand or team
    // (INT64_MAX: none); final once the watermark passes them.
    int64_t first_ms = INT64_MAX;
    int64_t close_ms = INT64_MAX;
    uint64_t opener_hash = 0;
    int32_t partition = 0;
    uint32_t channel = 0;  // in channels_
    uint32_t opener = 0;   // in openers_
    uint8_t kind = 0;      // index into kThreadKinds
    Responder first_by = Responder::kMember;
    Responder close_by = Responder::kBrand;
    bool first_counted = false;  // the first response is in the histogram
    bool is_reply = false;       // the opener replied to something
    bool stored = false;         // a put of it has been drained
    bool dirty = false;
  };
  struct Reply {
    int64_t at_ms = 0;
    int32_t partition = 0;  // the partition that carried the reply
    Responder responder = Responder::kMember;
    uint64_t self_hash = 0;    // the reply's own event id
    uint64_t member_hash = 0;  // its actor's member id (0: none)
    uint32_t channel = 0;      // the reply's own channel
    bool stored = false;
  };
  struct StoredStats {
    // First: beside the counters a thread event changes, not after the
    // histograms a cache line or twenty further on.
    bool dirty = false;  // listed in dirty_channels
    ChannelThreadStats stats;
  };
  struct PartitionStats {
    // By channel index; null where the partition has no counters for it.
    // Indexed, not hashed: a lookup per thread event, one cache miss less.
    std::vector<std::unique_ptr<StoredStats>> by_channel;
    std::vector<uint32_t> dirty_channels;
    bool legacy_key = false;  // restored from an 's' value, deleted at the next drain

    StoredStats& At(uint32_t channel);  // made if new; never moves
  };
  struct Expiry {
    int64_t due_ms;
    int32_t partition;
    uint64_t hash;
    bool operator>(const Expiry& o) const {
      return std::tie(due_ms, partition, hash) > std::tie(o.due_ms, o.partition, o.hash);
    }
  };
  using ExpiryQueue = TimerQueue<Expiry>;

  ChannelThreadStats& StatsFor(int32_t partition, uint32_t channel);
  // queue.ForEachDue(until, …, handle), loading ahead what handling a
  // thread's timer reads: its slot, then its channel's counters.
  template <typename Handle>
  void ForEachDueThread(ExpiryQueue& queue, int64_t until, Handle&& handle);
  // Time from the thread's opening to `at_ms`, never negative.
  static double SecondsAfterOpening(const Thread& t, int64_t at_ms);
  // Counts the thread's first response in the histogram of its kind of opener.
  static void CountFirstResponse(ChannelThreadStats& s, Thread& t);
  void MarkDirty(uint64_t hash, Thread& t);
  void Open(int32_t partition, const Event& e, uint64_t hash, int kind, const Sink& sink);
  // Applies a reply to thread `hash`; false if no such thread is open.
  bool Answer(uint64_t hash, const Reply& r);
  // Counts the replies the watermark has made final.
  void Finalize(EventTime watermark, const Sink& sink);
  // Forgets thread `hash` (`t`), deleting it from the store if stored.
  void Close(uint64_t hash, const Thread& t);
  void Expire(EventTime watermark, const Sink& sink);
  void DropWaiting(EventTime watermark);
  static std::string ThreadKey(int32_t partition, int64_t opened_ms, uint64_t hash);
  static std::string ReplyKey(int32_t partition, int64_t at_ms, uint64_t target, uint64_t self);
  std::string EncodeThread(const Thread& t) const;
  static std::string EncodeStats(const ChannelThreadStats& s);
  static bool DecodeStats(Reader& r, ChannelThreadStats& s);
  bool RestoreThread(int32_t partition, std::string_view key, std::string_view value);
  bool RestoreReply(int32_t partition, std::string_view key, std::string_view value);
  bool RestoreLegacyStats(int32_t partition, std::string_view value);
  void MarkStatsDirty(PartitionStats& p, uint32_t channel, StoredStats& s);

  ThreadOptions options_;
  IdIndex channels_;
  // Members who opened a thread. Never forgotten, as members are not: a
  // few tens of bytes each beside their member state.
  IdIndex openers_;
  HashMap<Thread> threads_;                                       // by id hash
  // Replies waiting for their thread, by the hash of the event they answer.
  HashMap<std::vector<Reply>> waiting_;
  size_t waiting_count_ = 0;
  ExpiryQueue expiries_;                // thread horizons, lazily skipped once closed
  ExpiryQueue finals_;                  // reply candidates, by reply time; lazily skipped
  ExpiryQueue reply_expiries_;          // waiting replies (hash = target)
  // Timers popped together by Finalize or Expire, kept for its capacity.
  std::vector<Expiry> due_;
  PartitionMap<PartitionStats> stats_;  // values never move: last_stats_ stays valid
  // The last StatsFor lookup: consecutive events mostly share partition and channel.
  int32_t last_stats_partition_ = 0;
  uint32_t last_stats_channel_ = 0;
  StoredStats* last_stats_ = nullptr;
  PartitionStats* last_partition_stats_ = nullptr;
  std::vector<uint64_t> dirty_threads_;
  std::vector<uint64_t> dirty_waiting_;  // targets with replies not yet stored
  Mutations deletes_;                    // of stored threads and replies that went away
  int64_t watermark_ms_ = INT64_MIN;
};

}  // namespace chorus::ops
