#include "integration/workload.h"

#include <random>

#include "chorus/v1/engagement.pb.h"

namespace chorus::testing {
namespace {

using v1::EngagementEvent;

const char* KindName(v1::EventKind k) {
  switch (k) {
    case v1::EVENT_KIND_POST_PUBLISHED:
      return "post_published";
    case v1::EVENT_KIND_IMPRESSION:
      return "impression";
    case v1::EVENT_KIND_FOLLOW:
      return "follow";
    case v1::EVENT_KIND_UNFOLLOW:
      return "unfollow";
    case v1::EVENT_KIND_REACTION:
      return "reaction";
    case v1::EVENT_KIND_COMMENT:
      return "comment";
    case v1::EVENT_KIND_SHARE:
      return "share";
    case v1::EVENT_KIND_FOLLOWER_COUNT:
      return "follower_count";
    default:
      return "other";
  }
}

}  // namespace

Workload MakeWorkload(uint64_t seed, int n, int channels, int members, int64_t start_ms,
                      int64_t gap_ms) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Workload w;
  std::map<std::string, int64_t> net_follows;
  std::map<std::string, int64_t> snapshot;
  int64_t t = start_ms;
  // Each channel opens with a follower snapshot, so followers = snapshot +
  // follows − unfollows after it.
  for (int c = 0; c < channels; ++c) {
    EngagementEvent e;
    std::string channel = "twitter:brand-" + std::to_string(c);
    e.set_event_id("snap-" + std::to_string(seed) + "-" + std::to_string(c));
    // Two minutes before any other event, so no follow falls at or before it.
    e.mutable_occurred_at()->set_seconds((t - 120'000) / 1000);
    e.set_channel_id(channel);
    e.set_platform(v1::PLATFORM_TWITTER);
    e.set_kind(v1::EVENT_KIND_FOLLOWER_COUNT);
    e.set_actor_role(v1::ACTOR_ROLE_BRAND);
    int64_t base = 1000 * (c + 1);
    e.set_count(static_cast<uint64_t>(base));
    snapshot[channel] = base;
    w.events_by_channel_kind[{channel, "follower_count"}] += 1;
    // Brand events are keyed by channel, member events by member: a stable
    // key puts every copy of an event on one partition, where dedup sees it.
    w.records.push_back({channel, e.SerializeAsString(), t});
    w.valid++;
  }
  const v1::EventKind kinds[] = {v1::EVENT_KIND_REACTION,   v1::EVENT_KIND_REACTION,
                                 v1::EVENT_KIND_COMMENT,    v1::EVENT_KIND_SHARE,
                                 v1::EVENT_KIND_FOLLOW,     v1::EVENT_KIND_UNFOLLOW,
                                 v1::EVENT_KIND_IMPRESSION, v1::EVENT_KIND_POST_PUBLISHED};
  for (int i = 0; i < n; ++i) {
    t += uniform(0, static_cast<int>(2 * gap_ms));
    int roll = uniform(0, 999);
    if (roll < 10) {  // garbage: starts with a byte no protobuf message starts with
      w.records.push_back({"junk", std::string("\x07\xff\xfe garbage ") + std::to_string(i), t});
      w.undecodable++;
      continue;
    }
    if (roll < 30 && !w.records.empty()) {  // an exact re-send of an earlier valid event
      const WorkloadRecord& prev =
          w.records[static_cast<size_t>(uniform(0, static_cast<int>(w.records.size()) - 1))];
      EngagementEvent probe;
      if (probe.ParseFromString(prev.value) && !probe.channel_id().empty()) {
        w.records.push_back({prev.key, prev.value, t});
        w.duplicates++;
        continue;
      }
    }
    EngagementEvent e;
    std::string member = "member-" + std::to_string(uniform(0, members - 1));
    std::string channel = "twitter:brand-" + std::to_string(uniform(0, channels - 1));
    v1::EventKind kind = kinds[uniform(0, 7)];
    e.set_event_id("e-" + std::to_string(seed) + "-" + std::to_string(i));
    // Up to a minute out of order: well inside the default 5 minutes.
    int64_t when = t - uniform(0, 60'000);
    e.mutable_occurred_at()->set_seconds(when / 1000);
    e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(when % 1000) * 1'000'000);
    e.set_platform(v1::PLATFORM_TWITTER);
    e.set_kind(kind);
    e.set_content_type(v1::CONTENT_TYPE_IMAGE);
    bool brand = kind == v1::EVENT_KIND_IMPRESSION || kind == v1::EVENT_KIND_POST_PUBLISHED;
    e.set_actor_role(brand ? v1::ACTOR_ROLE_BRAND : v1::ACTOR_ROLE_MEMBER);
    if (!brand) e.set_member_id(member);
    const std::string key = brand ? channel : member;
    uint64_t count = kind == v1::EVENT_KIND_IMPRESSION ? static_cast<uint64_t>(uniform(1, 500)) : 0;
    e.set_count(count);
    if (roll < 35) {  // invalid: no channel
      w.records.push_back({key, e.SerializeAsString(), t});
      w.missing_channel++;
      continue;
    }
    e.set_channel_id(channel);
    w.events_by_channel_kind[{channel, KindName(kind)}] += count == 0 ? 1 : count;
    if (kind == v1::EVENT_KIND_FOLLOW) net_follows[channel]++;
    if (kind == v1::EVENT_KIND_UNFOLLOW) net_follows[channel]--;
    if (!brand) w.members.insert(member);
    w.records.push_back({key, e.SerializeAsString(), t});
    w.valid++;
  }
  for (const auto& [channel, base] : snapshot) w.followers[channel] = base + net_follows[channel];
  return w;
}

}  // namespace chorus::testing
