// `chorus replay` through the real binary against the mock cluster: a
// workload spanning days of event time, replayed by time range and checked
// against the test's own arithmetic over the records the range selects;
// replays that agree byte for byte; a full replay whose state a `chorus run`
// exports exactly as a live run's; and a live group's offsets left alone.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "chorus/pipeline/file_source.h"
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

using Metrics = std::map<std::string, double>;
constexpr auto kDeadline = std::chrono::seconds(120);
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;
// chorus's defaults: the replay reads from this much before --from (by
// record time) to this much after --to.
constexpr int64_t kOutOfOrdernessMs = 5 * 60'000;
constexpr int64_t kLatenessMs = kHourMs;

// What a replay of [from, to) must do, worked out from the topic as stored:
// per partition, the records from the first stamped at or after from − the
// out-of-orderness up to the first stamped at or after to + out-of-
// orderness + lateness; of those, the valid ones in [from, to) selected.
struct Expected {
  Summary summary;
  Workload selected;         // the selected valid records, in partition order
  int64_t watermark_ms = 0;  // the newest selected event: the replay's final watermark
};

Expected ExpectReplay(const std::vector<KafkaRecord>& topic, int64_t from, int64_t to) {
  Expected x;
  std::map<int32_t, bool> started, ended;
  std::set<std::string> seen;
  for (const KafkaRecord& r : topic) {
    if (!started[r.partition] && r.timestamp_ms >= from - kOutOfOrdernessMs) {
      started[r.partition] = true;
    }
    if (r.timestamp_ms >= to + kOutOfOrdernessMs + kLatenessMs) ended[r.partition] = true;
    if (!started[r.partition] || ended[r.partition]) continue;
    v1::EngagementEvent e;
    // Garbage, or no channel: the workload's only invalid records.
    if (!r.value || !e.ParseFromString(*r.value) || e.channel_id().empty()) {
      x.summary.invalid++;
      continue;
    }
    const int64_t t = EventMillis(e);
    if (t < from || t >= to) {
      x.summary.out_of_range++;
      continue;
    }
    if (!seen.insert(e.event_id()).second) {
      x.summary.duplicates++;
      continue;
    }
    x.summary.processed++;
    x.watermark_ms = std::max(x.watermark_ms, t);
    x.selected.records.push_back({r.key.value_or(""), *r.value, r.timestamp_ms});
  }
  return x;
}

class ReplayE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new MockCluster(1);
    // About 5.5 days of event time, a record a minute on average.
    workload_ = new Workload(MakeWorkload(21, 8000, 4, 200, kStartMs, 60'000));
    cluster_->CreateTopic(kTopic, 4);
    cluster_->CreateTopic(std::string(kTopic) + "-dlq", 1);
    for (const auto& r : workload_->records) {
      cluster_->Produce(kTopic, -1, r.key, r.value, r.timestamp_ms);
    }
    cluster_->Flush();
    stored_ = new std::vector<KafkaRecord>(cluster_->ReadAll(kTopic));
  }
  static void TearDownTestSuite() {
    delete stored_;
    delete workload_;
    delete cluster_;
  }

  // Runs `chorus replay` to its end; its log. `extra` comes last.
  std::string Replay(const std::string& state, const std::vector<std::string>& extra,
                     int expect_code = 0) {
    std::vector<std::string> args = {"replay",        "--brokers",   cluster_->bootstrap_servers(),
                                     "--topic",       kTopic,        "--state-dir",
                                     dir_.Sub(state), "--dlq-topic", std::string(kTopic) + "-dlq"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunChorusToEnd(args, dir_.Sub(state + ".log"), kDeadline, expect_code);
  }

  // Replays [from, to) to a new output topic; its window results.
  WindowResults ReplayRange(const std::string& name, int64_t from, int64_t to,
                            Summary* summary = nullptr) {
    const std::string output = name + "-windows";
    cluster_->CreateTopic(output, 3);
    std::string log =
        Replay(name, {"--from", Rfc3339(from), "--to", Rfc3339(to), "--output-topic", output});
    auto s = ParseSummary(log);
    EXPECT_TRUE(s) << log;
    if (s && summary != nullptr) *summary = *s;
    // The results of the last commit are flushed before the replay ends.
    return ReadWindowResults(*cluster_, output);
  }

  static constexpr const char* kTopic = "history";
  static MockCluster* cluster_;
  static Workload* workload_;
  static std::vector<KafkaRecord>* stored_;
  TempDir dir_;
};

MockCluster* ReplayE2E::cluster_ = nullptr;
Workload* ReplayE2E::workload_ = nullptr;
std::vector<KafkaRecord>* ReplayE2E::stored_ = nullptr;

TEST_F(ReplayE2E, TwoTimeRangesGiveTheirOwnTotalsAndWindows) {
  const std::pair<int64_t, int64_t> ranges[] = {
      {kStartMs + kDayMs + 6 * kHourMs, kStartMs + 3 * kDayMs},
      {kStartMs + 3 * kDayMs + 12 * kHourMs, kStartMs + 5 * kDayMs}};
  int n = 0;
  for (const auto& [from, to] : ranges) {
    SCOPED_TRACE(Rfc3339(from) + " to " + Rfc3339(to));
    Expected x = ExpectReplay(*stored_, from, to);
    ASSERT_GT(x.summary.processed, 1000u);
    ASSERT_GT(x.summary.out_of_range, 0u) << "the range starts early and ends late";
    Summary got;
    WindowResults results = ReplayRange("range-" + std::to_string(++n), from, to, &got);
    EXPECT_EQ(got, x.summary);
    EXPECT_EQ(results.repeats, 0u);
    const auto expected = ExpectedWindows(x.selected);
    size_t due = 0;
    for (const auto& [id, w] : expected) due += WindowEnd(id) <= x.watermark_ms ? 1 : 0;
    ASSERT_GT(due, 100u);
    ExpectWindowFigures(expected, results.latest, x.watermark_ms);
    for (const auto& [id, cw] : results.latest) {
      EXPECT_GE(std::get<2>(id), from - kDayMs) << "a window before the range";
      EXPECT_LE(WindowEnd(id), x.watermark_ms) << "a window that never fired";
    }
  }
}

TEST_F(ReplayE2E, SameRangeTwiceGivesByteIdenticalResults) {
  const int64_t from = kStartMs + 2 * kDayMs, to = kStartMs + 4 * kDayMs;
  auto a = ReplayRange("twice-a", from, to).records;
  auto b = ReplayRange("twice-b", from, to).records;
  ASSERT_GT(a.size(), 100u);
  // Partitions interleave differently from run to run; each record is the same.
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_TRUE(a == b) << a.size() << " and " << b.size() << " results";
}

// The families whose values depend only on the records, not on where the
// final watermark stops (a live run stays the out-of-orderness behind the
// newest event; a finished replay moves to it).
const char* const kCompared[] = {"chorus_channel_events_total",
                                 "chorus_channel_followers",
                                 "chorus_channel_posts_total",
                                 "chorus_channel_engagements_total",
                                 "chorus_community_members",
                                 "chorus_community_new_members_total",
                                 "chorus_community_stage_transitions_total",
                                 "chorus_community_sentiment",
                                 "chorus_pipeline_events_total",
                                 "chorus_pipeline_dlq_events_total"};

Metrics Compared(const Metrics& m) {
  Metrics out;
  for (const auto& [series, value] : m) {
    for (const char* name : kCompared) {
      std::string n(name);
      if (series.rfind(n, 0) == 0 &&
          (series.size() == n.size() || series[n.size()] == '{' || series[n.size()] == '_')) {
        out[series] = value;
      }
    }
  }
  return out;
}

TEST_F(ReplayE2E, FullReplayExportsWhatALiveRunDoesAndLeavesItsGroupAlone) {
  const double total = static_cast<double>(workload_->records.size());
  auto scrape_when = [&](ChildProcess& p, const std::function<bool(const Metrics&)>& done) {
    int port = WaitForHttpPort(p, kDeadline);
    EXPECT_NE(port, 0) << p.Log();
    Metrics m;
    EXPECT_TRUE(WaitForMetrics(port, done, m, kDeadline)) << p.Log();
    return m;
  };
  auto counted = [&](const Metrics& m) {
    return SumSeries(m, "chorus_pipeline_events_total") >= total;
  };
  auto live = StartChorusRun(CHORUS_BINARY, cluster_->bootstrap_servers(), kTopic, dir_.Sub("live"),
                             dir_.Sub("live.log"), {"--group", "live"});
  Metrics live_metrics = scrape_when(*live, counted);
  // Kafka's committed offsets trail the durable ones (lag monitoring only).
  std::vector<int64_t> highs = cluster_->HighWatermarks(kTopic);
  ASSERT_TRUE(
      WaitFor([&] { return cluster_->CommittedOffsets("live", kTopic) == highs; }, kDeadline));
  live->Kill(SIGTERM);
  ASSERT_TRUE(live->Wait(std::chrono::seconds(30)));

  std::string log = Replay("replayed", {});
  auto summary = ParseSummary(log);
  ASSERT_TRUE(summary) << log;
  EXPECT_EQ(summary->processed, workload_->valid);
  EXPECT_EQ(summary->duplicates, workload_->duplicates);
  EXPECT_EQ(summary->out_of_range, 0u);
  EXPECT_EQ(cluster_->CommittedOffsets("live", kTopic), highs) << "the replay moved the live group";

  // The rebuilt state, served by the service: it starts from the replay's
  // offsets (the ends), so it only exports what the replay committed.
  auto served =
      StartChorusRun(CHORUS_BINARY, cluster_->bootstrap_servers(), kTopic, dir_.Sub("replayed"),
                     dir_.Sub("served.log"), {"--group", "after-replay"});
  Metrics replay_metrics = scrape_when(*served, counted);
  EXPECT_EQ(Compared(replay_metrics), Compared(live_metrics));
  EXPECT_GT(Compared(live_metrics).size(), 40u);
}

// --then-follow: half a workload is in the topic when the replay starts, the
// rest is produced once it has fixed its end offsets; the replay rebuilds
// the first half, then joins the group and consumes the rest live from
// exactly where it ended. Every record is counted once, with the test's own
// totals, and replay_in_progress is 0 once following.
TEST_F(ReplayE2E, ThenFollowContinuesLiveFromTheReplaysEnd) {
  const std::string topic = "follow";
  cluster_->CreateTopic(topic, 4);
  cluster_->CreateTopic(topic + "-dlq", 1);
  const Workload w = MakeWorkload(31, 6000, 5, 300, kStartMs, 2000);
  auto produce = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const auto& r = w.records[i];
      cluster_->Produce(topic, -1, r.key, r.value, r.timestamp_ms);
    }
    cluster_->Flush();
  };
  const size_t half = w.records.size() / 2;
  produce(0, half);
  ChildProcess p(CHORUS_BINARY,
                 {"replay", "--then-follow", "--brokers", cluster_->bootstrap_servers(), "--topic",
                  topic, "--group", "follow-group", "--state-dir", dir_.Sub("follow"),
                  "--dlq-topic", topic + "-dlq", "--http-addr", "127.0.0.1:0", "--commit-interval",
                  "200ms", "--backfill", dir_.Sub("follow.om")},
                 dir_.Sub("follow.log"));
  // The port is logged once the replay has fixed its end offsets: what is
  // produced from here on is for the live part.
  const int port = WaitForHttpPort(p, kDeadline);
  ASSERT_NE(port, 0) << p.Log();
  produce(half, w.records.size());
  const std::vector<int64_t> highs = cluster_->HighWatermarks(topic);

  ASSERT_TRUE(
      WaitFor([&] { return p.Log().find("following live") != std::string::npos; }, kDeadline))
      << p.Log();
  // The backfill is written when the replay part ends, up to where its
  // windows are final: the lateness before its watermark, which is itself
  // the out-of-orderness behind the newest event read.
  int64_t newest = 0;
  for (size_t i = 0; i < half; ++i) {
    v1::EngagementEvent e;
    if (e.ParseFromString(w.records[i].value)) newest = std::max(newest, EventMillis(e));
  }
  const std::string backfill = ReadFile(dir_.Sub("follow.om"));
  ASSERT_TRUE(backfill.ends_with("\n# EOF\n")) << p.Log();
  int64_t last_sample_s = 0;
  std::istringstream lines(backfill);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    last_sample_s = std::max<int64_t>(last_sample_s, std::stoll(line.substr(line.rfind(' ') + 1)));
  }
  EXPECT_GT(last_sample_s, 0) << "an empty backfill";
  EXPECT_LE(last_sample_s * 1000, newest - kOutOfOrdernessMs - kLatenessMs);
  auto summary = ParseSummary(p.Log());
  ASSERT_TRUE(summary) << p.Log();
  EXPECT_GT(summary->processed, 0u);
  EXPECT_LT(summary->processed, w.valid) << "the replay read past the end it fixed";

  // Everything read and committed by the group, then the totals, exactly.
  ASSERT_TRUE(WaitFor([&] { return cluster_->CommittedOffsets("follow-group", topic) == highs; },
                      kDeadline))
      << p.Log();
  Metrics m;
  ASSERT_TRUE(WaitForMetrics(
      port,
      [&](const Metrics& now) {
        return SumSeries(now, "chorus_pipeline_events_total") >=
               static_cast<double>(w.records.size());
      },
      m, kDeadline))
      << p.Log();
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_events_total"), w.records.size());
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"late\""}), 0);
  ExpectWorkloadTotals(w, m);
  ASSERT_EQ(m.count("chorus_pipeline_replay_in_progress"), 1u);
  EXPECT_EQ(m["chorus_pipeline_replay_in_progress"], 0);

  p.Kill(SIGTERM);
  auto st = p.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(st) << p.Log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p.Log();
}

// Writes all of `data` to `fd` (non-blocking) while the reader keeps up,
// within `timeout`; false if it did not.
bool WriteAll(int fd, const std::string& data, std::chrono::milliseconds timeout) {
  size_t done = 0;
  return WaitFor(
      [&] {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n > 0) done += static_cast<size_t>(n);
        return done == data.size();
      },
      timeout, std::chrono::milliseconds(1));
}

// chorus_pipeline_replay_in_progress is 1 on the replay's /metrics from the
// first scrape while it runs. Its input is a pipe the test holds open, so
// the replay cannot end before the test has looked; closing it ends it.
TEST_F(ReplayE2E, ReplayInProgressIsOneWhileTheReplayRuns) {
  const std::string pipe = dir_.Sub("input.pipe");
  ASSERT_EQ(mkfifo(pipe.c_str(), 0600), 0);
  // Read-write, so this open does not wait for the reader (Linux); the
  // replay sees the end of its input once this, the only writer, closes
  // (close-on-exec: the child must not hold a copy).
  int fd = open(pipe.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ChildProcess p(
      CHORUS_BINARY,
      {"replay", "--input", pipe, "--state-dir", dir_.Sub("piped"), "--http-addr", "127.0.0.1:0"},
      dir_.Sub("piped.log"));
  const int port = WaitForHttpPort(p, kDeadline);
  ASSERT_NE(port, 0) << p.Log();
  std::string data;
  for (const auto& r : workload_->records) AppendDelimited(data, r.value);
  const size_t half = data.size() / 2;
  auto scrape = [&] {
    auto m = ScrapeMetrics(port);
    EXPECT_TRUE(m) << p.Log();
    return m.value_or(Metrics{});
  };
  Metrics m = scrape();
  ASSERT_EQ(m.count("chorus_pipeline_replay_in_progress"), 1u);
  EXPECT_EQ(m["chorus_pipeline_replay_in_progress"], 1);
  // Half the input: still replaying.
  ASSERT_TRUE(WriteAll(fd, data.substr(0, half), kDeadline)) << p.Log();
  EXPECT_TRUE(p.Running()) << p.Log();
  EXPECT_EQ(scrape()["chorus_pipeline_replay_in_progress"], 1);
  ASSERT_TRUE(WriteAll(fd, data.substr(half), kDeadline)) << p.Log();
  close(fd);
  auto st = p.Wait(kDeadline);
  ASSERT_TRUE(st) << p.Log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p.Log();
  auto s = ParseSummary(p.Log());
  ASSERT_TRUE(s) << p.Log();
  EXPECT_EQ(s->processed, workload_->valid);
}

TEST_F(ReplayE2E, FileReplayCountsLikeKafka) {
  std::string data;
  for (const auto& r : workload_->records) AppendDelimited(data, r.value);
  const std::string file = dir_.Sub("history.bin");
  std::ofstream(file, std::ios::binary) << data;
  const std::string log =
      RunChorusToEnd({"replay", "--input", file, "--state-dir", dir_.Sub("from-file")},
                     dir_.Sub("file.log"), kDeadline);
  auto s = ParseSummary(log);
  ASSERT_TRUE(s) << log;
  EXPECT_EQ(s->processed, workload_->valid);
  EXPECT_EQ(s->duplicates, workload_->duplicates);
  EXPECT_EQ(s->invalid, workload_->undecodable + workload_->missing_channel);
}

}  // namespace
}  // namespace chorus::testing
