#include "integration/window_expectations.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "chorus/v1/engagement.pb.h"

namespace chorus::testing {
namespace {

constexpr int64_t kMinuteMs = 60'000;
const std::pair<const char*, int64_t> kSizes[] = {
    {"1m", kMinuteMs}, {"1h", 60 * kMinuteMs}, {"1d", 24 * 60 * kMinuteMs}};

int64_t Floor(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int64_t Millis(const v1::EngagementEvent& e) {
  return e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1'000'000;
}

}  // namespace

int64_t WindowEnd(const WindowId& id) {
  for (const auto& [name, size] : kSizes) {
    if (std::get<1>(id) == name) return std::get<2>(id) + size;
  }
  return 0;
}

std::map<WindowId, ExpectedWindow> ExpectedWindows(const Workload& w) {
  std::map<WindowId, ExpectedWindow> out;
  std::set<std::string> seen;
  // Per channel: the snapshot (time, value) and the follows by second.
  std::map<std::string, std::pair<int64_t, int64_t>> snapshot;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> follows;
  for (const WorkloadRecord& r : w.records) {
    v1::EngagementEvent e;
    if (!e.ParseFromString(r.value) || e.channel_id().empty()) continue;
    if (!seen.insert(e.event_id()).second) continue;
    const int64_t t = Millis(e);
    const uint64_t n = e.count() == 0 ? 1 : e.count();
    const bool member = e.actor_role() == v1::ACTOR_ROLE_MEMBER;
    for (const auto& [name, size] : kSizes) {
      ExpectedWindow& x = out[{e.channel_id(), name, Floor(t, size) * size}];
      x.events_by_kind[e.kind()] += e.kind() == v1::EVENT_KIND_FOLLOWER_COUNT ? 1 : n;
      switch (e.kind()) {
        case v1::EVENT_KIND_POST_PUBLISHED: x.posts += n; break;
        case v1::EVENT_KIND_IMPRESSION: x.impressions += n; break;
        case v1::EVENT_KIND_SHARE:
          x.shares += n;
          x.engagements += member ? n : 0;
          break;
        case v1::EVENT_KIND_REACTION:
        case v1::EVENT_KIND_COMMENT:
        case v1::EVENT_KIND_MENTION: x.engagements += member ? n : 0; break;
        case v1::EVENT_KIND_FOLLOW: x.follows += n; break;
        case v1::EVENT_KIND_UNFOLLOW: x.unfollows += n; break;
        default: break;
      }
    }
    if (e.kind() == v1::EVENT_KIND_FOLLOWER_COUNT) {
      snapshot[e.channel_id()] = {t, static_cast<int64_t>(e.count())};
    } else if (e.kind() == v1::EVENT_KIND_FOLLOW || e.kind() == v1::EVENT_KIND_UNFOLLOW) {
      int64_t d = e.kind() == v1::EVENT_KIND_FOLLOW ? static_cast<int64_t>(n) : -static_cast<int64_t>(n);
      follows[e.channel_id()].emplace_back(Floor(t, 1000), d);
    }
  }
  // Followers at a time: the snapshot (the workload sends one per channel,
  // before everything else) plus the follows in seconds before that time;
  // at or before the snapshot, the snapshot itself.
  auto followers_at = [&](const std::string& channel, int64_t ms) {
    const auto& [snap_ms, value] = snapshot[channel];
    if (snap_ms >= ms) return value;
    int64_t sum = value;
    for (const auto& [second, d] : follows[channel]) sum += second < Floor(ms, 1000) ? d : 0;
    return sum;
  };
  for (auto& [id, x] : out) {
    x.followers_start = followers_at(std::get<0>(id), std::get<2>(id));
    x.followers_end = followers_at(std::get<0>(id), WindowEnd(id));
  }
  return out;
}

WindowResults ReadWindowResults(MockCluster& cluster, const std::string& topic) {
  WindowResults out;
  std::set<std::pair<WindowId, uint32_t>> revisions;
  std::set<std::string> seqs;
  for (const KafkaRecord& r : cluster.ReadAll(topic)) {
    v1::ChannelWindow cw;
    if (!r.value || !cw.ParseFromString(*r.value)) {
      ADD_FAILURE() << "unreadable result at offset " << r.offset;
      continue;
    }
    out.records.emplace_back(r.key.value_or(""), *r.value);
    EXPECT_EQ(r.key, cw.channel_id());
    auto seq = r.Header("chorus-seq");
    EXPECT_TRUE(seq);
    if (seq && !seqs.insert(*seq).second) ++out.repeats;
    WindowId id{cw.channel_id(), cw.window(), cw.start().seconds() * 1000};
    if (!revisions.emplace(id, cw.revision()).second) ++out.repeats;
    out.corrections += cw.correction() ? 1 : 0;
    auto& slot = out.latest[id];
    if (cw.revision() >= slot.revision()) slot = cw;
  }
  return out;
}

void ExpectWindowFigures(const std::map<WindowId, ExpectedWindow>& expected,
                         const std::map<WindowId, v1::ChannelWindow>& latest, int64_t watermark_ms) {
  for (const auto& [id, x] : expected) {
    if (WindowEnd(id) > watermark_ms) continue;
    const auto& [channel, size, start] = id;
    SCOPED_TRACE(channel + " " + size + " " + std::to_string(start));
    auto it = latest.find(id);
    ASSERT_NE(it, latest.end()) << "a window lost";
    const v1::ChannelWindow& cw = it->second;
    EXPECT_EQ(cw.end().seconds() * 1000, WindowEnd(id));
    std::map<int, uint64_t> kinds;
    for (const auto& kc : cw.events_by_kind()) kinds[kc.kind()] = kc.count();
    EXPECT_EQ(kinds, x.events_by_kind);
    EXPECT_EQ(cw.posts(), x.posts);
    EXPECT_EQ(cw.impressions(), x.impressions);
    EXPECT_EQ(cw.engagements(), x.engagements);
    EXPECT_EQ(cw.shares(), x.shares);
    EXPECT_EQ(cw.follows(), x.follows);
    EXPECT_EQ(cw.unfollows(), x.unfollows);
    EXPECT_EQ(cw.followers_start(), x.followers_start);
    EXPECT_EQ(cw.followers_end(), x.followers_end);
  }
  for (const auto& [id, cw] : latest) EXPECT_TRUE(expected.count(id)) << "a window from nowhere";
}

}  // namespace chorus::testing
