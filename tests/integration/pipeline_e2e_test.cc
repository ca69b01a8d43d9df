// End to end through the real binary: a workload produced into the mock
// Kafka cluster, `chorus run` consuming it, and /metrics compared with the
// totals the test computed itself. Then the same across a SIGKILL at a
// random moment and across every named crash point: totals exact, and no
// counter ever lower after the restart than before the kill.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "chorus/v1/channel_window.pb.h"
#include "integration/run_fixture.h"
#include "integration/window_expectations.h"
#include "integration/workload.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

using Metrics = std::map<std::string, double>;

constexpr auto kDeadline = std::chrono::seconds(90);
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

class PipelineE2E : public RunFixture {
 protected:
  void SetUp() override { CreateTopics("events", 4); }

  using RunFixture::Produce;
  void Produce(const Workload& w, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) Produce(w.records[i]);
    cluster_->Flush();
  }

  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& env = {}) {
    // A killed member leaves the group sooner.
    return RunFixture::Start({"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"},
                             kDeadline, env);
  }

  static double Outcomes(const Metrics& m) { return SumSeries(m, "chorus_pipeline_events_total"); }

  // Scrapes until every record is accounted for; checks monotonicity on the way.
  Metrics WaitUntilAllCounted(const Workload& w, Metrics& floor) {
    double total = static_cast<double>(w.records.size());
    Metrics last;
    bool done = WaitFor(
        [&] {
          auto m = Scrape();
          if (!m) return false;
          ExpectNotBelow(*m, floor);
          floor = *m;
          last = *m;
          return Outcomes(*m) >= total;
        },
        kDeadline, std::chrono::milliseconds(100));
    EXPECT_TRUE(done) << "counted " << Outcomes(last) << " of " << total << "\n" << ReadFile(log_);
    return last;
  }

  void ExpectTotals(const Workload& w, const Metrics& m) {
    ExpectWorkloadTotals(w, m);
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_dlq_events_total", {"reason=\"undecodable\""}),
              w.undecodable);
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_dlq_events_total", {"reason=\"missing_channel_id\""}),
              w.missing_channel);
    EXPECT_EQ(SumSeries(m, "chorus_community_new_members_total"), w.members.size());
  }

  // The window results topic holds every window that fired by the final
  // watermark, each once (corrections counted apart), with the figures the
  // test computes from the records, whatever crashes happened on the way.
  void ExpectWindowResults(const Workload& w, const Metrics& m) {
    const auto expected = ExpectedWindows(w);
    const auto watermark_ms =
        static_cast<int64_t>(SumSeries(m, "chorus_pipeline_watermark_timestamp_seconds") * 1000);
    size_t due = 0;
    for (const auto& [id, x] : expected) due += WindowEnd(id) <= watermark_ms ? 1 : 0;
    ASSERT_GT(due, 100u) << "the workload spans enough windows";
    WindowResults results;
    // Results are sent once their commit is durable: wait for the last ones.
    bool complete = WaitFor(
        [&] {
          results = ReadWindowResults(*cluster_, windows_);
          size_t fired = 0;
          for (const auto& [id, cw] : results.latest)
            fired += WindowEnd(id) <= watermark_ms ? 1 : 0;
          return fired >= due;
        },
        kDeadline, std::chrono::milliseconds(200));
    const auto& latest = results.latest;
    EXPECT_TRUE(complete) << latest.size() << " windows, " << due << " due";
    EXPECT_EQ(results.repeats, 0u) << "a result emitted twice";
    ExpectWindowFigures(expected, latest, watermark_ms);
    std::cout << "window results: " << latest.size() << " windows, " << results.corrections
              << " corrections\n";
  }

  // The DLQ holds every rejected record with its reason and origin.
  void ExpectDlq(const Workload& w) {
    auto records = cluster_->ReadAll(dlq_);
    std::map<std::string, uint64_t> by_reason;
    for (const auto& r : records) {
      auto reason = r.Header("chorus-error-reason");
      ASSERT_TRUE(reason);
      EXPECT_EQ(r.Header("chorus-source-topic"), topic_);
      EXPECT_TRUE(r.Header("chorus-source-partition"));
      EXPECT_TRUE(r.Header("chorus-source-offset"));
      by_reason[*reason]++;
    }
    // At-least-once across crashes: never fewer than rejected.
    EXPECT_GE(by_reason["undecodable"], w.undecodable);
    EXPECT_GE(by_reason["missing_channel_id"], w.missing_channel);
  }
};

TEST_F(PipelineE2E, MetricsMatchIndependentTotals) {
  Workload w = MakeWorkload(11, 6000, 5, 300, kStartMs, 2000);
  Produce(w, 0, w.records.size());
  auto chorus = Start();
  Metrics floor;
  Metrics m = WaitUntilAllCounted(w, floor);
  ExpectTotals(w, m);
  ExpectWindowResults(w, m);
  auto ready = HttpGet(port_, "/readyz");
  ASSERT_TRUE(ready) << chorus->Log();
  EXPECT_EQ(ready->status, 200);

  // The query API answers from committed state; bad requests get clear errors.
  const std::string member = *w.members.begin();
  auto found = HttpGet(port_, "/api/v1/members/" + member);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->status, 200);
  EXPECT_NE(found->body.find("\"member_id\":\"" + member + "\""), std::string::npos) << found->body;
  auto missing = HttpGet(port_, "/api/v1/members/nobody-at-all");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto garbage = HttpGet(port_, "/api/v1/members/%FF%FE");
  ASSERT_TRUE(garbage) << "a malformed id must not take the server down";
  EXPECT_EQ(garbage->status, 404);
  auto bad_limit = HttpGet(port_, "/api/v1/members?limit=0");
  ASSERT_TRUE(bad_limit);
  EXPECT_EQ(bad_limit->status, 400);
  auto top = HttpGet(port_, "/api/v1/members?sort=love&limit=5");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->status, 200);
  EXPECT_EQ(std::count(top->body.begin(), top->body.end(), '{'), 6) << top->body;  // 5 members
  const auto& [channel, followers] = *w.followers.begin();
  auto ch = HttpGet(port_, "/api/v1/channels/" + channel);
  ASSERT_TRUE(ch);
  EXPECT_EQ(ch->status, 200);
  EXPECT_NE(ch->body.find("\"followers\":" + std::to_string(followers)), std::string::npos)
      << ch->body;
  // The channel's recent hour windows, newest first, with the figures the
  // test computed (the watermark may have moved on since `m`: at least the
  // windows due then are listed).
  auto body = nlohmann::json::parse(ch->body);
  const auto expected = ExpectedWindows(w);
  const auto watermark_ms =
      static_cast<int64_t>(SumSeries(m, "chorus_pipeline_watermark_timestamp_seconds") * 1000);
  std::map<std::string, const ExpectedWindow*> hours;  // by RFC 3339 start
  size_t due = 0;
  for (const auto& [id, x] : expected) {
    const auto& [c, size, start] = id;
    if (c != channel || size != "1h") continue;
    std::time_t secs = start / 1000;
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&secs));
    hours[text] = &x;
    due += WindowEnd(id) <= watermark_ms ? 1 : 0;
  }
  const auto& listed = body["windows"]["1h"];
  ASSERT_GE(listed.size(), std::min<size_t>(due, 48)) << ch->body;
  ASSERT_LE(listed.size(), 48u);
  ASSERT_GE(due, 2u);
  for (size_t i = 0; i < listed.size(); ++i) {
    const std::string start = listed[i]["start"];
    if (i > 0) {
      EXPECT_LT(start, listed[i - 1]["start"].get<std::string>()) << "newest first";
    }
    ASSERT_TRUE(hours.count(start)) << start;
    // Protobuf's JSON mapping writes 64-bit integers as strings, zero as absent.
    EXPECT_EQ(std::stoull(listed[i].value("engagements", std::string("0"))),
              hours[start]->engagements)
        << start;
  }
  EXPECT_EQ(body["latest_windows"]["1h"]["engagements"].get<uint64_t>(),
            hours[listed[0]["start"].get<std::string>()]->engagements);
  ASSERT_TRUE(HttpGet(port_, "/healthz"));
  chorus->Kill(SIGTERM);
  auto st = chorus->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(st) << "did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << chorus->Log();
  ExpectDlq(w);
}

TEST_F(PipelineE2E, SigkillAtRandomMomentLosesAndDoublesNothing) {
  Workload w = MakeWorkload(12, 12000, 5, 400, kStartMs, 2000);
  size_t half = w.records.size() / 2;
  Produce(w, 0, half);
  auto chorus = Start();
  // Kill once a random share of the first half has been committed.
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  double kill_at =
      std::uniform_real_distribution<double>(0.05, 0.9)(rng) * static_cast<double>(half);
  Metrics floor;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto m = Scrape();
        if (m) floor = *m;
        return m && Outcomes(*m) >= kill_at;
      },
      kDeadline));
  chorus->Kill(SIGKILL);
  ASSERT_TRUE(chorus->Wait(std::chrono::seconds(10)));
  Produce(w, half, w.records.size());
  chorus = Start();
  Metrics m = WaitUntilAllCounted(w, floor);
  ExpectTotals(w, m);
  ExpectDlq(w);
  ExpectWindowResults(w, m);
}

// Kubernetes stops a pod with SIGTERM, whatever it is doing. Here the
// signal lands while a commit's batch is held just before its RocksDB write
// (CHORUS_STALL_AT): chorus must finish that commit, stop fetching, make its
// final commit and exit 0 quickly; the restart then resumes exactly there.
TEST_F(PipelineE2E, SigtermDuringCommitFinishesAndLosesNothing) {
  Workload w = MakeWorkload(14, 8000, 4, 300, kStartMs, 2000);
  size_t half = w.records.size() / 2;
  Produce(w, 0, half);
  auto chorus = Start({"CHORUS_STALL_AT=commit.before_write:3"});
  ASSERT_TRUE(WaitFor(
      [&] { return chorus->Log().find("stalled at crash point") != std::string::npos; }, kDeadline))
      << chorus->Log();
  auto signalled = std::chrono::steady_clock::now();
  chorus->Kill(SIGTERM);
  auto st = chorus->Wait(std::chrono::seconds(30));
  ASSERT_TRUE(st) << "did not stop on SIGTERM\n" << chorus->Log();
  auto took = std::chrono::steady_clock::now() - signalled;
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << chorus->Log();
  const std::string log = chorus->Log();
  EXPECT_NE(log.find("released from crash point commit.before_write"), std::string::npos) << log;
  EXPECT_NE(log.find("final commit durable"), std::string::npos) << log;
  // Well inside the StatefulSet's terminationGracePeriodSeconds (60).
  EXPECT_LT(took, std::chrono::seconds(10));
  std::cout << "SIGTERM to exit: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";

  Produce(w, half, w.records.size());
  chorus = Start();
  Metrics floor;
  Metrics m = WaitUntilAllCounted(w, floor);
  // Processed and duplicate counts exact: a record counted before the stop
  // and again after it would show as one duplicate too many.
  ExpectTotals(w, m);
  ExpectDlq(w);
  ExpectWindowResults(w, m);
}

TEST_F(PipelineE2E, EveryCrashPointRecoversExactly) {
  Workload w = MakeWorkload(13, 6000, 4, 200, kStartMs, 2000);
  size_t third = w.records.size() / 3;
  // Each run dies at its first real commit, at a different step of it; the
  // input grows between runs so each restart resumes mid-stream.
  const size_t sixth = third / 2;
  const std::pair<const char*, size_t> runs[] = {{"commit.before_write", sixth},
                                                 {"commit.after_write", sixth},
                                                 {"results.after_send", third},
                                                 {"results.after_flush", third + sixth},
                                                 {"commit.before_report", 2 * third}};
  size_t produced = 0;
  for (const auto& [point, upto] : runs) {
    Produce(w, produced, upto);
    produced = upto;
    auto chorus = Start({std::string("CHORUS_CRASH_AT=") + point});
    auto st = chorus->Wait(kDeadline);
    ASSERT_TRUE(st) << point << " never reached";
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 137) << point << "\n" << chorus->Log();
  }
  Produce(w, produced, w.records.size());
  auto chorus = Start();
  Metrics floor;
  Metrics m = WaitUntilAllCounted(w, floor);
  ExpectTotals(w, m);
  ExpectWindowResults(w, m);
}

}  // namespace
}  // namespace chorus::testing
