// `chorus replay --backfill` end to end with the real Prometheus tools from
// Debian: more than two weeks of event time in the mock cluster, replayed
// with a backfill; the real `promtool tsdb create-blocks-from openmetrics`
// turns the file into blocks, holding every sample the file has; the real
// `prometheus` serves those blocks, and its HTTP API answers queries at
// historical times with what the test works out from the records itself:
// events and engagements before each time (a week before too, with `offset
// 1w`, as the week-over-week rules ask), a sample at every step, followers,
// the hour window gauges, and the members seen and their stages.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "chorus/v1/engagement.pb.h"
#include "integration/replay_support.h"
#include "integration/window_expectations.h"
#include "integration/workload.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

constexpr auto kDeadline = std::chrono::seconds(300);
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kWeekMs = 7 * kDayMs;
constexpr int64_t kStepMs = 5 * kMinuteMs;  // --backfill-step
// --backfill-label: the job and instance Prometheus would give the live series.
constexpr char kJob[] = "job=chorus";
constexpr char kInstance[] = "instance=chorus-0:9464";
constexpr int64_t kNewPeriodMs = kWeekMs;  // chorus's default

// One valid, first-seen event as the test reads it from the topic.
struct Seen {
  std::string channel;
  v1::EventKind kind;
  uint64_t count;  // sum of count: 0 means 1, a follower snapshot counts once
  bool by_member;
  int64_t ms;
};

// The test's own arithmetic over the topic as stored, sharing no code with
// chorus: decode, drop what has no channel, keep the first copy of each
// event id (copies share a partition: they share a key), in partition order.
struct History {
  std::vector<Seen> events;
  std::map<std::string, FollowerHistory> followers;
  // Per member: the time of its first activity read (chorus creates it
  // then) and of its earliest activity (its first_seen once all are read).
  std::map<std::string, std::pair<int64_t, int64_t>> members;

  explicit History(const std::vector<KafkaRecord>& topic) {
    std::set<std::string> ids;
    for (const KafkaRecord& r : topic) {
      v1::EngagementEvent e;
      if (!r.value || !e.ParseFromString(*r.value) || e.channel_id().empty()) continue;
      if (!ids.insert(e.event_id()).second) continue;
      const int64_t t = EventMillis(e);
      const bool snapshot = e.kind() == v1::EVENT_KIND_FOLLOWER_COUNT;
      const uint64_t n = snapshot || e.count() == 0 ? 1 : e.count();
      const bool by_member = e.actor_role() == v1::ACTOR_ROLE_MEMBER && !e.member_id().empty();
      events.push_back({e.channel_id(), e.kind(), n, by_member, t});
      if (snapshot) followers[e.channel_id()].Snapshot(t, static_cast<int64_t>(e.count()));
      if (e.kind() == v1::EVENT_KIND_FOLLOW) followers[e.channel_id()].Follow(t, 1);
      if (e.kind() == v1::EVENT_KIND_UNFOLLOW) followers[e.channel_id()].Follow(t, -1);
      // Activity: what a member does, bar impressions, snapshots, moderation.
      const bool activity = by_member && e.kind() != v1::EVENT_KIND_IMPRESSION && !snapshot &&
                            e.kind() != v1::EVENT_KIND_MODERATION_ACTION &&
                            e.kind() != v1::EVENT_KIND_UNSPECIFIED;
      if (!activity) continue;
      auto [it, first] = members.try_emplace(e.member_id(), t, t);
      it->second.second = std::min(it->second.second, t);
    }
  }

  uint64_t Count(const std::string& channel, v1::EventKind kind, int64_t before) const {
    uint64_t n = 0;
    for (const Seen& s : events)
      n += s.channel == channel && s.kind == kind && s.ms < before ? s.count : 0;
    return n;
  }
  static bool Engagement(const Seen& s) {
    return s.by_member && (s.kind == v1::EVENT_KIND_REACTION || s.kind == v1::EVENT_KIND_COMMENT ||
                           s.kind == v1::EVENT_KIND_SHARE || s.kind == v1::EVENT_KIND_MENTION);
  }
  uint64_t Engagements(const std::string& channel, int64_t from, int64_t before) const {
    uint64_t n = 0;
    for (const Seen& s : events) {
      n += s.channel == channel && Engagement(s) && s.ms >= from && s.ms < before ? s.count : 0;
    }
    return n;
  }
  // The engagements of the channel's newest hour window that ends by `t`.
  uint64_t NewestHourEngagements(const std::string& channel, int64_t t) const {
    const int64_t hour_before = t / kHourMs * kHourMs;
    int64_t newest = -1;
    for (const Seen& s : events) {
      if (s.channel == channel && s.ms < hour_before) newest = std::max(newest, s.ms);
    }
    const int64_t start = newest / kHourMs * kHourMs;
    return Engagements(channel, start, start + kHourMs);
  }
  // Members created before `t`, and of those the ones out of `new` by then.
  std::pair<uint64_t, uint64_t> Members(int64_t t) const {
    uint64_t created = 0, left_new = 0;
    for (const auto& [id, times] : members) {
      created += times.first < t ? 1 : 0;
      left_new += times.second + kNewPeriodMs < t ? 1 : 0;
    }
    return {created, left_new};
  }
};

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Prometheus' answer to an instant query at `at_ms`: the value when it is a
// single sample, nullopt otherwise (`body` holds the reply).
std::optional<double> Query(int port, const std::string& promql, int64_t at_ms, std::string& body) {
  auto r = HttpGet(
      port, "/api/v1/query?query=" + UrlEncode(promql) + "&time=" + std::to_string(at_ms / 1000));
  body = r ? std::to_string(r->status) + " " + r->body : "no reply";
  if (!r || r->status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || j["status"] != "success") return std::nullopt;
  const auto& result = j["data"]["result"];
  if (!result.is_array() || result.size() != 1) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Sums the NUM SAMPLES column of promtool's block table.
uint64_t BlockSamples(const std::string& promtool_output, int* blocks) {
  std::istringstream in(promtool_output);
  uint64_t samples = 0;
  *blocks = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream cols(line);
    std::string ulid, mint, maxt, duration;
    uint64_t n = 0;
    if (!(cols >> ulid >> mint >> maxt >> duration >> n) || ulid.size() != 26) continue;
    samples += n;
    ++*blocks;
  }
  return samples;
}

class BackfillE2E : public ::testing::Test {
 protected:
  double Seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }
  TempDir dir_;
};

TEST_F(BackfillE2E, PrometheusAnswersHistoricalQueriesFromTheBackfill) {
  MockCluster cluster(1);
  const std::string topic = "history";
  cluster.CreateTopic(topic, 4);
  cluster.CreateTopic(topic + "-dlq", 1);
  // About 16.7 days of event time, a record every two minutes on average.
  const Workload w = MakeWorkload(51, 12'000, 3, 150, kStartMs, 2 * kMinuteMs);
  for (const auto& r : w.records) cluster.Produce(topic, -1, r.key, r.value, r.timestamp_ms);
  cluster.Flush();
  const History h(cluster.ReadAll(topic));
  int64_t newest = 0;
  for (const Seen& s : h.events) newest = std::max(newest, s.ms);
  ASSERT_GE(newest - kStartMs, 2 * kWeekMs + kDayMs) << "less than two weeks of history";

  const std::string file = dir_.Sub("history.om");
  auto started = std::chrono::steady_clock::now();
  std::string log = RunChorusToEnd(
      {"replay", "--brokers", cluster.bootstrap_servers(), "--topic", topic, "--state-dir",
       dir_.Sub("state"), "--dlq-topic", topic + "-dlq", "--backfill", file, "--backfill-step",
       "5m", "--backfill-label", kJob, "--backfill-label", kInstance},
      dir_.Sub("replay.log"), kDeadline);
  const double replay_seconds = Seconds(started);
  auto summary = ParseSummary(log);
  ASSERT_TRUE(summary) << log;
  EXPECT_EQ(summary->processed, w.valid);
  EXPECT_EQ(summary->late, 0u);
  ASSERT_TRUE(std::filesystem::exists(file)) << log;
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
  const std::string text = ReadFile(file);
  ASSERT_TRUE(text.ends_with("\n# EOF\n"));
  uint64_t sample_lines = 0;
  for (size_t at = 0; at < text.size(); at = text.find('\n', at) + 1) {
    sample_lines += text[at] != '#';
  }
  // The same records give the same file, however the partitions interleave.
  RunChorusToEnd(
      {"replay", "--brokers", cluster.bootstrap_servers(), "--topic", topic, "--state-dir",
       dir_.Sub("again"), "--dlq-topic", topic + "-dlq", "--backfill", dir_.Sub("again.om"),
       "--backfill-step", "5m", "--backfill-label", std::string(kJob) + "," + kInstance},
      dir_.Sub("again.log"), kDeadline);
  EXPECT_TRUE(ReadFile(dir_.Sub("again.om")) == text) << "two replays, two backfills";

  // Blocks as the README says, with a block length that suits weeks of
  // history (promtool reads the whole file again for every block).
  started = std::chrono::steady_clock::now();
  const std::string tsdb = dir_.Sub("tsdb");
  ChildProcess promtool(
      "/usr/bin/promtool",
      {"tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=504h", file, tsdb},
      dir_.Sub("promtool.log"));
  auto st = promtool.Wait(kDeadline);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << promtool.Log();
  const double promtool_seconds = Seconds(started);
  int blocks = 0;
  // promtool drops out-of-order samples without a word: the blocks must
  // hold every sample of the file.
  EXPECT_EQ(BlockSamples(promtool.Log(), &blocks), sample_lines) << promtool.Log();
  EXPECT_GT(blocks, 0);
  std::printf("backfill: %zu bytes, %llu samples; replay %.1f s, promtool %.1f s, %d blocks\n",
              text.size(), static_cast<unsigned long long>(sample_lines), replay_seconds,
              promtool_seconds, blocks);
  RecordProperty("backfill_bytes", std::to_string(text.size()));

  std::ofstream(dir_.Sub("prometheus.yml")) << "global:\n  scrape_interval: 15s\n";
  const int port = FreeLoopbackPort();
  ChildProcess prometheus("/usr/bin/prometheus",
                          {"--config.file=" + dir_.Sub("prometheus.yml"),
                           "--storage.tsdb.path=" + tsdb, "--storage.tsdb.retention.time=100y",
                           "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                          dir_.Sub("prometheus.log"));
  ASSERT_TRUE(WaitFor([&] { return Answers200(port, "/-/ready"); }, std::chrono::seconds(60)))
      << prometheus.Log();

  std::string body;
  auto expect_query = [&](const std::string& promql, int64_t at, double expected) {
    auto v = Query(port, promql, at, body);
    EXPECT_TRUE(v) << promql << " at " << Rfc3339(at) << ": " << body;
    if (v) {
      EXPECT_EQ(*v, expected) << promql << " at " << Rfc3339(at);
    }
  };
  const int64_t times[] = {kStartMs + 2 * kDayMs + 7 * kHourMs + 35 * kMinuteMs,
                           kStartMs + 8 * kDayMs + 13 * kHourMs + 10 * kMinuteMs,
                           kStartMs + 13 * kDayMs + 20 * kHourMs,
                           kStartMs + 15 * kDayMs + 2 * kHourMs + 5 * kMinuteMs};
  for (int64_t t : times) {
    ASSERT_EQ(t % kStepMs, 0);
    ASSERT_LT(t, newest - kHourMs);
    SCOPED_TRACE(Rfc3339(t));
    for (int c = 0; c < 3; ++c) {
      const std::string channel = "twitter:brand-" + std::to_string(c);
      // The labels given lead every series: selecting by them finds it.
      const std::string sel =
          "{job=\"chorus\",instance=\"chorus-0:9464\",channel=\"" + channel + "\"";
      expect_query("chorus_channel_events_total" + sel + ",kind=\"reaction\"}", t,
                   h.Count(channel, v1::EVENT_KIND_REACTION, t));
      expect_query("chorus_channel_events_total" + sel + ",kind=\"impression\"}", t,
                   h.Count(channel, v1::EVENT_KIND_IMPRESSION, t));
      expect_query("sum(chorus_channel_engagements_total" + sel + "})", t,
                   h.Engagements(channel, 0, t));
      expect_query("chorus_channel_followers" + sel + "}", t, h.followers.at(channel).At(t));
      expect_query("chorus_channel_window_engagements" + sel + ",window=\"1h\"}", t,
                   h.NewestHourEngagements(channel, t));
      // A sample every 5 minutes, so rate() sees no gaps: 12 in 59 minutes
      // (not an hour: Prometheus 2 counts both ends of a range, 3 does not).
      expect_query("count_over_time(chorus_channel_engagements_total" + sel + "}[59m])", t, 12);
      if (t - kWeekMs > kStartMs) {
        expect_query("sum(chorus_channel_engagements_total" + sel + "} offset 1w)", t,
                     h.Engagements(channel, 0, t - kWeekMs));
      }
    }
    const auto [created, left_new] = h.Members(t);
    ASSERT_GT(created, 100u);
    expect_query("sum(chorus_community_members)", t, created);
    expect_query("chorus_community_new_members_total{job=\"chorus\"}", t, created);
    if (t < kStartMs + 2 * kWeekMs) {
      // Nobody can be a regular before a third week: members are new for
      // their first week, active after it.
      expect_query("chorus_community_members{stage=\"new\"}", t, created - left_new);
      expect_query("chorus_community_members{stage=\"active\"}", t, left_new);
      if (left_new > 0) {
        expect_query("chorus_community_stage_transitions_total{from=\"new\",to=\"active\"}", t,
                     left_new);
      }
    }
  }
  // The week-over-week engagement rule's expression has both weeks here.
  auto wow = Query(port,
                   "sum(rate(chorus_channel_engagements_total[1h])) / "
                   "sum(rate(chorus_channel_engagements_total[1h] offset 1w))",
                   times[3], body);
  ASSERT_TRUE(wow) << body;
  EXPECT_GT(*wow, 0.2);
  EXPECT_LT(*wow, 5);

  prometheus.Kill(SIGTERM);
  EXPECT_TRUE(prometheus.Wait(std::chrono::seconds(30))) << prometheus.Log();
}

}  // namespace
}  // namespace chorus::testing
