#include "integration/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "chorus/v1/engagement.pb.h"
#include "integration/window_expectations.h"
#include "support/http_client.h"

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
  std::map<std::string, FollowerHistory> followers;
  int64_t t = start_ms;
  // Each channel opens with a follower snapshot; even-numbered channels send
  // more as they go (see below), out of order among their follows.
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
    followers[channel].Snapshot(e.occurred_at().seconds() * 1000, base);
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
    const int channel_number = uniform(0, channels - 1);
    std::string channel = "twitter:brand-" + std::to_string(channel_number);
    v1::EventKind kind = kinds[uniform(0, 7)];
    // Now and then a snapshot of an even-numbered channel, about every few
    // minutes each: near the count, but off it, as a platform's would be.
    const bool snapshot = channel_number % 2 == 0 && roll >= 35 && roll < 50;
    if (snapshot) kind = v1::EVENT_KIND_FOLLOWER_COUNT;
    e.set_event_id("e-" + std::to_string(seed) + "-" + std::to_string(i));
    // Up to a minute out of order: well inside the default 5 minutes.
    int64_t when = t - uniform(0, 60'000);
    e.mutable_occurred_at()->set_seconds(when / 1000);
    e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(when % 1000) * 1'000'000);
    e.set_platform(v1::PLATFORM_TWITTER);
    e.set_kind(kind);
    e.set_content_type(v1::CONTENT_TYPE_IMAGE);
    bool brand =
        snapshot || kind == v1::EVENT_KIND_IMPRESSION || kind == v1::EVENT_KIND_POST_PUBLISHED;
    e.set_actor_role(brand ? v1::ACTOR_ROLE_BRAND : v1::ACTOR_ROLE_MEMBER);
    if (!brand) e.set_member_id(member);
    const std::string key = brand ? channel : member;
    uint64_t count = kind == v1::EVENT_KIND_IMPRESSION ? static_cast<uint64_t>(uniform(1, 500)) : 0;
    if (snapshot) {
      count =
          static_cast<uint64_t>(std::max<int64_t>(0, followers[channel].At() + uniform(-20, 20)));
    }
    e.set_count(count);
    if (roll < 35) {  // invalid: no channel
      w.records.push_back({key, e.SerializeAsString(), t});
      w.missing_channel++;
      continue;
    }
    e.set_channel_id(channel);
    w.events_by_channel_kind[{channel, KindName(kind)}] += count == 0 || snapshot ? 1 : count;
    if (snapshot) followers[channel].Snapshot(when, static_cast<int64_t>(count));
    if (kind == v1::EVENT_KIND_FOLLOW) followers[channel].Follow(when, 1);
    if (kind == v1::EVENT_KIND_UNFOLLOW) followers[channel].Follow(when, -1);
    if (!brand) w.members.insert(member);
    w.records.push_back({key, e.SerializeAsString(), t});
    w.valid++;
  }
  for (const auto& [channel, f] : followers) w.followers[channel] = f.At();
  return w;
}

void ExpectChannelEvents(const std::map<std::string, double>& metrics,
                         const std::map<std::pair<std::string, std::string>, uint64_t>& expected) {
  for (const auto& [key, count] : expected) {
    const auto& [channel, kind] = key;
    EXPECT_EQ(SumSeries(metrics, "chorus_channel_events_total",
                        {"channel=\"" + channel + "\"", "kind=\"" + kind + "\""}),
              count)
        << channel << " " << kind;
  }
}

void ExpectWorkloadTotals(const Workload& w, const std::map<std::string, double>& metrics) {
  auto outcome = [&](const char* o) {
    return SumSeries(metrics, "chorus_pipeline_events_total",
                     {std::string("outcome=\"") + o + "\""});
  };
  EXPECT_EQ(outcome("processed"), w.valid);
  EXPECT_EQ(outcome("duplicate"), w.duplicates);
  EXPECT_EQ(outcome("invalid"), w.undecodable + w.missing_channel);
  ExpectChannelEvents(metrics, w.events_by_channel_kind);
  for (const auto& [channel, expected] : w.followers) {
    EXPECT_EQ(SumSeries(metrics, "chorus_channel_followers", {"channel=\"" + channel + "\""}),
              expected)
        << channel;
  }
  EXPECT_EQ(SumSeries(metrics, "chorus_community_members"), w.members.size());
}

}  // namespace chorus::testing
