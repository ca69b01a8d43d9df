#include "integration/window_expectations.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>

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

void FollowerHistory::Follow(int64_t ms, int64_t delta) {
  follows.emplace_back(Floor(ms, 1000), delta);
}

int64_t FollowerHistory::At(std::optional<int64_t> ms) const {
  std::optional<std::pair<int64_t, int64_t>> newest;
  for (const auto& s : snapshots) {
    if ((!ms || s.first < *ms) && (!newest || s > *newest)) newest = s;
  }
  int64_t sum = newest ? newest->second : 0;
  for (const auto& [second, d] : follows) {
    bool after = !newest || second > Floor(newest->first, 1000);
    bool before = !ms || second < Floor(*ms, 1000);
    sum += after && before ? d : 0;
  }
  return sum;
}

int64_t WindowEnd(const WindowId& id) {
  for (const auto& [name, size] : kSizes) {
    if (std::get<1>(id) == name) return std::get<2>(id) + size;
  }
  return 0;
}

std::vector<WindowId> WindowsOf(const std::string& channel, int64_t ms) {
  std::vector<WindowId> out;
  for (const auto& [name, size] : kSizes) out.emplace_back(channel, name, Floor(ms, size) * size);
  return out;
}

std::map<WindowId, ExpectedWindow> ExpectedWindows(const Workload& w) {
  std::map<WindowId, ExpectedWindow> out;
  std::set<std::string> seen;
  std::map<std::string, FollowerHistory> followers;
  for (const WorkloadRecord& r : w.records) {
    v1::EngagementEvent e;
    if (!e.ParseFromString(r.value) || e.channel_id().empty()) continue;
    if (!seen.insert(e.event_id()).second) continue;
    const int64_t t = Millis(e);
    const uint64_t n = e.count() == 0 ? 1 : e.count();
    const bool member = e.actor_role() == v1::ACTOR_ROLE_MEMBER;
    for (const WindowId& id : WindowsOf(e.channel_id(), t)) {
      ExpectedWindow& x = out[id];
      x.events_by_kind[e.kind()] += e.kind() == v1::EVENT_KIND_FOLLOWER_COUNT ? 1 : n;
      switch (e.kind()) {
        case v1::EVENT_KIND_POST_PUBLISHED:
          x.posts += n;
          break;
        case v1::EVENT_KIND_IMPRESSION:
          x.impressions += n;
          break;
        case v1::EVENT_KIND_SHARE:
          x.shares += n;
          x.engagements += member ? n : 0;
          break;
        case v1::EVENT_KIND_REACTION:
        case v1::EVENT_KIND_COMMENT:
        case v1::EVENT_KIND_MENTION:
          x.engagements += member ? n : 0;
          break;
        case v1::EVENT_KIND_FOLLOW:
          x.follows += n;
          break;
        case v1::EVENT_KIND_UNFOLLOW:
          x.unfollows += n;
          break;
        default:
          break;
      }
    }
    if (e.kind() == v1::EVENT_KIND_FOLLOWER_COUNT) {
      followers[e.channel_id()].Snapshot(t, static_cast<int64_t>(e.count()));
    } else if (e.kind() == v1::EVENT_KIND_FOLLOW || e.kind() == v1::EVENT_KIND_UNFOLLOW) {
      auto d = static_cast<int64_t>(n);
      followers[e.channel_id()].Follow(t, e.kind() == v1::EVENT_KIND_FOLLOW ? d : -d);
    }
  }
  // Every event of a window's channel that can move its edges arrives
  // before the window fires: the workload is at most a minute out of order,
  // the watermark five minutes behind.
  for (auto& [id, x] : out) {
    const FollowerHistory& f = followers[std::get<0>(id)];
    x.followers_start = f.At(std::get<2>(id));
    x.followers_end = f.At(WindowEnd(id));
  }
  return out;
}

ExpectedWindow FiguresOf(const v1::ChannelWindow& result) {
  ExpectedWindow x;
  for (const auto& kc : result.events_by_kind()) x.events_by_kind[kc.kind()] = kc.count();
  x.posts = result.posts();
  x.impressions = result.impressions();
  x.engagements = result.engagements();
  x.shares = result.shares();
  x.follows = result.follows();
  x.unfollows = result.unfollows();
  x.followers_start = result.followers_start();
  x.followers_end = result.followers_end();
  return x;
}

std::ostream& operator<<(std::ostream& out, const ExpectedWindow& x) {
  out << "{kinds:";
  for (const auto& [kind, n] : x.events_by_kind) out << " " << kind << "=" << n;
  return out << ", posts " << x.posts << ", impressions " << x.impressions << ", engagements "
             << x.engagements << ", shares " << x.shares << ", follows " << x.follows
             << ", unfollows " << x.unfollows << ", followers " << x.followers_start << " -> "
             << x.followers_end << "}";
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
    EXPECT_EQ(FiguresOf(cw), x);
  }
  for (const auto& [id, cw] : latest) EXPECT_TRUE(expected.count(id)) << "a window from nowhere";
}

}  // namespace chorus::testing
