// Post performance: how each brand post does in its first day and week.
//
// A post is a POST_PUBLISHED event with a content_id, keyed by (channel_id,
// content_id); its platform and content type come from that event. Several
// POST_PUBLISHED for one key are copies of one post, published at the
// earliest copy's time whatever order they arrive in (ties go to the lower
// partition, then the lower content type and platform).
//
// Its engagements are what chorus_channel_engagements_total counts
// (IsMemberEngagement), weighted by Multiplicity, on the same channel and
// content: the 24 h figure sums those stamped in [published, published +
// 24h), the 7 d figure those in [published, published + 7d). When the
// watermark reaches published + 24h the 24 h figure is final and recorded
// (per channel and content type, and in the distribution by platform and
// content type); at published + 7d the 7 d figure is, and the post is
// forgotten. An engagement read after a figure was recorded does not
// change it.
//
// Engagements are keyed by member and posts by channel, so an engagement
// can be read before its post (another partition, further ahead). It then
// waits, for `engagement_wait` of event time behind the watermark, and is
// applied as if it had come after if its post arrives meanwhile. So does
// one stamped before its post's publication, in case an earlier copy is
// still to come. Otherwise it expires as unmatched. Unmatched engagements
// are those that count for no post: on forum threads and mentions, on posts
// published before the stream or already forgotten, stamped past a post's
// week. A key's waiting engagements are kept one by one up to
// kExactWaiting entries, then merged per partition and minute of event time
// (kept at the minute's earliest time, so a merged engagement can land on
// the wrong side of a boundary within that minute); past kMaxWaiting
// entries a key's further engagements count as unmatched at once.
//
// Known limit: an earlier copy of a post read after engagements stamped
// past its own 24 h (or 7 d) cannot take them back out of the figure, which
// keeps sums, not engagements; this needs partitions a day apart in event
// time.
//
// State: a post belongs to the partition of its earliest copy, a waiting
// engagement to the partition that carried it; each partition keeps its own
// counters, which merge by addition. While one instance owns every partition
// an engagement finds its post whichever partition it came from (DESIGN.md:
// scale-out re-keys by content through a topic, as for threads).
//
// Not thread-safe: owned by the processing thread.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/hash_map.h"
#include "chorus/operators/histogram.h"
#include "chorus/operators/partition_map.h"
#include "chorus/operators/state.h"
#include "chorus/operators/timer_queue.h"

namespace chorus::ops {

namespace channel_internal {
class ChannelCatalog;
}

// The ages at which a post's figure is recorded, in label order.
enum class PostAge : uint8_t { k24h = 0, k7d };
inline constexpr int kPostAgeCount = 2;
inline constexpr std::array<Millis, kPostAgeCount> kPostAges = {24 * kHour, 7 * kDay};
std::string_view Name(PostAge a);  // "24h", "7d"

// Engagements per post: 0 (nobody engaged) to 10,000 in about 1-2-5 steps.
inline constexpr std::array<double, 13> kPostEngagementBounds = {
    0, 1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
using PostEngagementHistogram = BucketHistogram<kPostEngagementBounds>;

// One channel's matured figures (a partition's part, or merged): posts
// whose figure for an age was recorded, and the engagements those figures
// add up to, by age and content type.
struct ChannelPostStats {
  using ByContentType = std::array<uint64_t, kContentTypeCount>;
  std::array<ByContentType, kPostAgeCount> matured{};
  std::array<ByContentType, kPostAgeCount> engagements{};

  void Add(const ChannelPostStats& o);
  bool operator==(const ChannelPostStats&) const = default;
};

// A series of the distribution of matured figures.
struct PostSeries {
  Platform platform = Platform::kUnspecified;
  ContentType content_type = ContentType::kUnspecified;
  PostAge age = PostAge::k24h;
  auto operator<=>(const PostSeries&) const = default;
};

// Everything recorded, merged over partitions.
struct PostStats {
  std::map<std::string, ChannelPostStats, std::less<>> channels;  // by channel id
  std::map<std::string, uint64_t, std::less<>> unmatched;  // engagements, by their channel id
  std::map<PostSeries, PostEngagementHistogram> distribution;
  bool operator==(const PostStats&) const = default;
};

struct PostOptions {
  // How long an engagement read before its post waits for it, in event
  // time behind the watermark.
  Millis engagement_wait = 1 * kHour;
};

class PostPerformance {
 public:
  // Waiting entries a key keeps one by one (exact whatever its post's
  // time), and at most.
  static constexpr size_t kExactWaiting = 64;
  static constexpr size_t kMaxWaiting = 1024;

  explicit PostPerformance(PostOptions options = {});
  ~PostPerformance();

  // Applies a validated, deduplicated event read from `partition`.
  void Apply(int32_t partition, const Event& e) { Apply(partition, e, HashIds(e)); }
  // The same, with the event's ids hashed already.
  void Apply(int32_t partition, const Event& e, const IdHashes& ids);
  // Starts loading the post Apply(…, e, ids) will look up, if any, and the
  // slot an engagement waits in for it.
  void Prefetch(const Event& e, const IdHashes& ids) const;

  // Records the figures that matured at or before `watermark` and expires
  // engagements that waited long enough.
  void AdvanceWatermark(EventTime watermark);

  PostStats Stats() const;
  size_t posts() const { return posts_.size(); }
  size_t waiting_entries() const { return waiting_count_; }

  // Persistence (see state.h). Keys: partition prefix, then 'p' and the
  // post's key hash (8 BE) for a post, 'w' and the key hash for the
  // engagements of that partition waiting on a key, 's' for the
  // partition's counters. Every value begins with a format version byte.
  // Restore accepts what a drain produced, in any order; false on a
  // malformed entry or an unknown version.
  void DrainDirty(Mutations& out);
  [[nodiscard]] bool Restore(std::string_view key, std::string_view value);
  // Forgets all state of `partition`; emits no mutations.
  void DropPartition(int32_t partition);

 private:
  using ChannelIndex = uint32_t;
  struct Post {
    int64_t published_ms = 0;
    int32_t partition = 0;
    ChannelIndex channel = 0;
    Platform platform = Platform::kUnspecified;
    ContentType content_type = ContentType::kUnspecified;
    bool matured_24h = false;  // its 24 h figure is recorded
    bool stored = false;       // a put of it has been drained
    bool dirty = false;
    std::array<uint64_t, kPostAgeCount> figures{};

    // The copy that wins: earliest, then the deterministic tie-breaks.
    auto Order() const { return std::tie(published_ms, partition, content_type, platform); }
  };
  struct Waiting {
    int64_t at_ms = 0;
    int32_t partition = 0;  // the partition that carried it
    uint64_t count = 0;
  };
  struct WaitingKey {
    ChannelIndex channel = 0;
    bool dirty = false;
    int64_t queued_due_ms = INT64_MAX;  // the expiry queued for it; others are stale
    std::vector<Waiting> entries;
    std::vector<int32_t> stored;  // partitions with a stored value of it
  };
  struct PartitionStats {
    std::unordered_map<ChannelIndex, ChannelPostStats> matured;
    // By channel; 0 for none (an engagement adds at least 1).
    std::vector<uint64_t> unmatched;

    void AddUnmatched(ChannelIndex channel, uint64_t count) {
      if (unmatched.size() <= channel) unmatched.resize(channel + 1);
      unmatched[channel] += count;
    }
    std::unordered_map<uint16_t, PostEngagementHistogram> distribution;  // by SeriesIndex
    bool dirty = false;
  };
  struct Due {
    int64_t due_ms;
    int32_t partition;
    uint64_t key;
    bool operator>(const Due& o) const {
      return std::tie(due_ms, partition, key) > std::tie(o.due_ms, o.partition, o.key);
    }
  };
  using DueQueue = TimerQueue<Due>;

  static int64_t MaturesAt(int64_t published_ms, PostAge age);
  static uint16_t SeriesIndex(Platform p, ContentType c, PostAge a);
  static PostSeries SeriesOf(uint16_t index);
  PartitionStats& StatsOf(int32_t partition);
  void Publish(int32_t partition, uint64_t key, const Event& e);
  // Adds `count` engagements at `at_ms` from `partition` to post `p`'s figures.
  void Count(Post& p, uint64_t key, int32_t partition, int64_t at_ms, uint64_t count);
  void Wait(int32_t partition, uint64_t key, std::string_view channel_id, int64_t at_ms,
            uint64_t count);
  // Applies to post `key` what waited for it and is not before its publication.
  void ApplyWaiting(uint64_t key, Post& p);
  void QueueExpiry(uint64_t key, WaitingKey& w, int64_t due_ms);
  void MarkDirty(uint64_t key, Post& p);
  void MarkDirty(uint64_t key, WaitingKey& w);
  // Drops the waiting entries of `key` (`w`), deleting their stored values.
  void Forget(uint64_t key, WaitingKey& w);
  void Mature(int64_t watermark_ms);
  void Record(const Post& p, PostAge age);
  void Expire(int64_t watermark_ms);

  static std::string PostKey(int32_t partition, uint64_t key);
  static std::string WaitingKeyOf(int32_t partition, uint64_t key);
  std::string EncodePost(const Post& p) const;
  std::string EncodeWaiting(const WaitingKey& w, int32_t partition) const;
  std::string EncodeStats(const PartitionStats& s) const;
  bool RestorePost(int32_t partition, std::string_view key, std::string_view value);
  bool RestoreWaiting(int32_t partition, std::string_view key, std::string_view value);
  bool RestoreStats(int32_t partition, std::string_view value);

  PostOptions options_;
  std::unique_ptr<channel_internal::ChannelCatalog> channels_;
  HashMap<Post> posts_;          // by key hash
  HashMap<WaitingKey> waiting_;  // by key hash
  size_t waiting_count_ = 0;
  DueQueue maturities_;  // posts' 24 h and 7 d; stale entries are skipped
  DueQueue expiries_;    // waiting keys' earliest; stale entries are skipped
  // Expiries popped together by Expire, kept for its capacity.
  std::vector<Due> due_;
  PartitionMap<PartitionStats> stats_;
  std::vector<uint64_t> dirty_posts_;
  std::vector<uint64_t> dirty_waiting_;
  Mutations deletes_;  // of stored posts and waiting values that went away
  int64_t watermark_ms_ = INT64_MIN;
};

}  // namespace chorus::ops
