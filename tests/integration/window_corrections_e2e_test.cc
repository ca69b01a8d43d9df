// Corrections and lateness end to end through the real binary and the mock
// cluster. A workload is produced in three parts (integration/
// correction_plan.h). The first fires its windows. Then come stragglers
// made from the watermark chorus reports: some within the allowed lateness,
// which must make corrections, and some beyond it, which must go to the DLQ
// as `late`, count in lifetime totals and change no window. Then the second
// part moves the watermark on, which hands out the corrections, and the
// third moves it once more, which must hand out none again (a correction
// still marked pending would go out twice then). The output topic is
// checked against arithmetic on the records alone: every window's newest
// revision, which windows were corrected and how often, each revision once
// and in order, and the counts and gauges /metrics gives. Then the same
// across a SIGKILL with the stragglers in flight, and across crash points
// on the corrections' way out of the outbox.
//
// Every partition carries events of each part and the idle timeout is far
// longer than a test, so the watermark is min over partitions of (newest
// event time − 5 minutes) at every moment, whatever the timing: the test
// computes it from the input topic and waits for it. No straggler moves a
// partition's newest event time, so the watermark stays put while they are
// read, and nothing of the second or third part can reach a window that
// has fired.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <set>

#include "chorus/v1/channel_window.pb.h"
#include "chorus/v1/engagement.pb.h"
#include "integration/correction_plan.h"
#include "integration/run_fixture.h"
#include "integration/window_expectations.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

using Metrics = std::map<std::string, double>;

constexpr auto kDeadline = std::chrono::seconds(60);
constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kOutOfOrdernessMs = 5 * kMinuteMs;  // chorus's default
constexpr int kPartitions = 4;

int64_t WatermarkMs(const Metrics& m) {
  return std::llround(SumSeries(m, "chorus_pipeline_watermark_timestamp_seconds") * 1000);
}

class WindowCorrectionsE2E : public RunFixture {
 protected:
  void SetUp() override { CreateTopics("corrections", kPartitions); }

  using RunFixture::Produce;
  void Produce(const Plan& p, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) Produce(p.on_time.records[i]);
    cluster_->Flush();
  }

  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& env = {}) {
    return RunFixture::Start(
        {// No partition goes idle during a test (see the top of the file).
         "--idle-timeout", "10m",
         // A killed member leaves the group sooner.
         "-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=300"},
        kDeadline, env);
  }

  // The watermark the input topic makes: min over its partitions of the
  // newest valid event time, less the out-of-orderness.
  int64_t ExpectedWatermark() {
    std::map<int32_t, int64_t> newest;
    for (const KafkaRecord& r : cluster_->ReadAll(topic_)) {
      v1::EngagementEvent e;
      if (!r.value || !e.ParseFromString(*r.value) || e.channel_id().empty()) continue;
      int64_t ms = e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1'000'000;
      auto [it, added] = newest.emplace(r.partition, ms);
      if (!added) it->second = std::max(it->second, ms);
    }
    EXPECT_EQ(newest.size(), static_cast<size_t>(kPartitions)) << "every partition holds events";
    int64_t low = INT64_MAX;
    for (const auto& [partition, ms] : newest) low = std::min(low, ms);
    return low - kOutOfOrdernessMs;
  }

  // Scrapes until `records` are accounted for and the watermark reached
  // `watermark_ms`; checks on the way that no counter goes backwards.
  Metrics WaitUntilCounted(size_t records, int64_t watermark_ms, Metrics& floor) {
    Metrics last;
    bool done = WaitFor(
        [&] {
          auto m = Scrape();
          if (!m) return false;
          ExpectNotBelow(*m, floor);
          floor = last = *m;
          return SumSeries(*m, "chorus_pipeline_events_total") >= static_cast<double>(records) &&
                 WatermarkMs(*m) >= watermark_ms;
        },
        kDeadline, std::chrono::milliseconds(100));
    EXPECT_TRUE(done) << "counted " << SumSeries(last, "chorus_pipeline_events_total") << " of "
                      << records << ", watermark " << WatermarkMs(last) << " of " << watermark_ms
                      << "\n"
                      << ReadFile(log_);
    EXPECT_EQ(WatermarkMs(last), watermark_ms);
    return last;
  }

  // What every test begins with: the first part produced, counted and its
  // windows fired, then the stragglers, made from the watermark it reached,
  // produced.
  std::unique_ptr<ChildProcess> FireFirstPartThenStraggle(Plan& p, uint64_t seed, Metrics& floor) {
    p = MakePlan(seed);
    Produce(p, 0, p.split);
    auto chorus = Start();
    Metrics m = WaitUntilCounted(p.split, ExpectedWatermark(), floor);
    EXPECT_GT(SumSeries(m, "chorus_pipeline_windows_closed_total"), 500);
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_window_corrections_total"), 0) << "nothing was late";
    p.fired_ms = WatermarkMs(m);
    p.stragglers = MakeStragglers(seed, p.fired_ms);
    for (const Straggler& s : p.stragglers) Produce(s.record);
    cluster_->Flush();
    return chorus;
  }

  // The stragglers are counted, the late ones as late, and no correction is
  // made before the watermark moves on.
  void ExpectStragglersPending(const Plan& p, Metrics& floor) {
    Metrics m = WaitUntilCounted(p.split + p.stragglers.size(), p.fired_ms, floor);
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"late\""}), p.late());
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_window_corrections_total"), 0)
        << "corrections come with the next watermark advance";
  }

  // Once on-time records up to `end` are in the topic: the watermark moves
  // on to where they put it, and the corrections go out.
  Metrics MoveOn(const Plan& p, size_t end, Metrics& floor) {
    const int64_t watermark_ms = ExpectedWatermark();
    EXPECT_GT(watermark_ms, p.fired_ms + 5 * kMinuteMs);
    return WaitUntilCounted(end + p.stragglers.size(), watermark_ms, floor);
  }

  void ExpectTotals(const Plan& p, const Metrics& m) {
    const Workload& w = p.on_time;
    const size_t late = p.late();
    auto outcome = [&](const char* o) {
      return SumSeries(m, "chorus_pipeline_events_total", {std::string("outcome=\"") + o + "\""});
    };
    EXPECT_EQ(outcome("processed"), w.valid + p.stragglers.size() - late);
    EXPECT_EQ(outcome("late"), late);
    EXPECT_EQ(outcome("duplicate"), w.duplicates);
    EXPECT_EQ(outcome("invalid"), w.undecodable + w.missing_channel);
    EXPECT_EQ(SumSeries(m, "chorus_pipeline_dlq_events_total", {"reason=\"late\""}), late);
    // Late events still count in lifetime totals.
    auto totals = w.events_by_channel_kind;
    for (const Straggler& s : p.stragglers) totals[{s.channel, s.kind}] += s.count;
    ExpectChannelEvents(m, totals);
  }

  // Each late event is in the DLQ with reason `late` and its origin; across
  // a crash the DLQ is at-least-once, so copies are allowed there.
  void ExpectLateInDlq(const Plan& p, bool exactly_once) {
    std::set<std::string> expected, ids;
    for (const Straggler& s : p.stragglers) {
      if (s.late) expected.insert(s.event_id);
    }
    std::set<std::pair<std::string, std::string>> origins;
    size_t records = 0;
    for (const KafkaRecord& r : cluster_->ReadAll(dlq_)) {
      if (r.Header("chorus-error-reason") != "late") continue;
      ++records;
      EXPECT_EQ(r.Header("chorus-source-topic"), topic_);
      auto partition = r.Header("chorus-source-partition");
      auto offset = r.Header("chorus-source-offset");
      ASSERT_TRUE(partition && offset);
      origins.emplace(*partition, *offset);
      v1::EngagementEvent e;
      ASSERT_TRUE(r.value && e.ParseFromString(*r.value));
      ids.insert(e.event_id());
    }
    EXPECT_EQ(ids, expected);
    EXPECT_EQ(origins.size(), expected.size());
    if (exactly_once) {
      EXPECT_EQ(records, expected.size());
    } else {
      EXPECT_GE(records, expected.size());
    }
  }

  // The output topic as it stands: each window's results in topic order.
  struct Results {
    std::map<WindowId, std::vector<v1::ChannelWindow>> by_window;
    size_t repeats = 0;  // chorus-seq values seen before
    size_t firsts = 0, corrections = 0;
  };

  Results ReadResults() {
    Results out;
    std::set<std::string> seqs;
    for (const KafkaRecord& r : cluster_->ReadAll(windows_)) {
      v1::ChannelWindow cw;
      if (!r.value || !cw.ParseFromString(*r.value)) {
        ADD_FAILURE() << "unreadable result at " << r.partition << ":" << r.offset;
        continue;
      }
      EXPECT_EQ(r.key, cw.channel_id());
      EXPECT_EQ(r.timestamp_ms, cw.end().seconds() * 1000) << "stamped with its end";
      EXPECT_EQ(cw.correction(), cw.revision() > 0);
      auto seq = r.Header("chorus-seq");
      EXPECT_TRUE(seq);
      if (seq && !seqs.insert(*seq).second) ++out.repeats;
      (cw.revision() == 0 ? out.firsts : out.corrections)++;
      out.by_window[{cw.channel_id(), cw.window(), cw.start().seconds() * 1000}].push_back(cw);
    }
    return out;
  }

  void ExpectWindowResults(const Plan& p, const Metrics& m) {
    const int64_t watermark_ms = WatermarkMs(m);
    const Windows w = ExpectedOf(p);
    EXPECT_GT(w.corrected_by_size.at("1m"), 20u);
    EXPECT_GT(w.corrected_by_size.at("1h"), 0u);
    EXPECT_GT(w.corrected_by_size.at("1d"), 0u);
    size_t due = 0;
    for (const auto& [id, x] : w.expected) due += WindowEnd(id) <= watermark_ms ? 1 : 0;
    Results results;
    // Results go out once their commit is durable: wait for the last ones.
    bool complete = WaitFor(
        [&] {
          results = ReadResults();
          size_t fired = 0;
          for (const auto& [id, list] : results.by_window) {
            fired += WindowEnd(id) <= watermark_ms ? 1 : 0;
          }
          return fired >= due && results.corrections >= w.corrected.size();
        },
        kDeadline, std::chrono::milliseconds(200));
    EXPECT_TRUE(complete) << results.by_window.size() << " windows of " << due << ", "
                          << results.corrections << " corrections of " << w.corrected.size();
    EXPECT_EQ(results.repeats, 0u) << "a result sent twice";
    EXPECT_EQ(results.corrections, w.corrected.size());
    EXPECT_EQ(results.corrections, SumSeries(m, "chorus_pipeline_window_corrections_total"));
    for (const auto& [size, n] : w.corrected_by_size) {
      EXPECT_EQ(
          SumSeries(m, "chorus_pipeline_window_corrections_total", {"window=\"" + size + "\""}), n)
          << size;
    }
    EXPECT_EQ(results.firsts, SumSeries(m, "chorus_pipeline_windows_closed_total"));
    ExpectEachWindow(p, w, results, watermark_ms);
    ExpectWindowGauges(results.by_window, m);
    std::cout << "window results: " << results.by_window.size() << " windows, "
              << results.corrections << " corrections (" << w.corrected_by_size.at("1m") << " 1m, "
              << w.corrected_by_size.at("1h") << " 1h, " << w.corrected_by_size.at("1d") << " 1d), "
              << p.late() << " late; watermark " << p.fired_ms << " -> " << watermark_ms << "\n";
  }

  // Every window due is on the topic with its revisions once each, in
  // order, and its newest revision has the expected figures; nothing else is.
  static void ExpectEachWindow(const Plan& p, const Windows& w, const Results& results,
                               int64_t watermark_ms) {
    for (const auto& [id, x] : w.expected) {
      if (WindowEnd(id) > watermark_ms) continue;
      const auto& [channel, size, start] = id;
      SCOPED_TRACE(channel + " " + size + " " + std::to_string(start));
      auto it = results.by_window.find(id);
      ASSERT_NE(it, results.by_window.end()) << "a window lost";
      // From 0, but a window that had nothing when it fired (so no result)
      // is first reported by its correction.
      const uint32_t from = w.fired_first.count(id) || WindowEnd(id) > p.fired_ms ? 0 : 1;
      const uint32_t to = w.corrected.count(id) ? 1 : 0;
      std::vector<uint32_t> revisions, want;
      for (const v1::ChannelWindow& cw : it->second) revisions.push_back(cw.revision());
      for (uint32_t r = from; r <= to; ++r) want.push_back(r);
      EXPECT_EQ(revisions, want);
      const v1::ChannelWindow& newest = it->second.back();
      EXPECT_EQ(newest.end().seconds() * 1000, WindowEnd(id));
      EXPECT_EQ(FiguresOf(newest), x);
    }
    for (const auto& [id, list] : results.by_window) {
      EXPECT_TRUE(w.expected.count(id) && WindowEnd(id) <= watermark_ms)
          << "a window from nowhere: " << std::get<0>(id) << " " << std::get<1>(id) << " "
          << std::get<2>(id);
    }
  }

  // The window gauges show each channel's newest fired 1 h and 1 d window
  // at its newest revision: here, corrections of the windows before
  // midnight, made after the windows fired.
  static void ExpectWindowGauges(const std::map<WindowId, std::vector<v1::ChannelWindow>>& results,
                                 const Metrics& m) {
    std::map<std::pair<std::string, std::string>, const v1::ChannelWindow*> newest;
    for (const auto& [id, list] : results) {
      const auto& [channel, size, start] = id;
      if (size == "1m") continue;
      const v1::ChannelWindow*& slot = newest[{channel, size}];
      if (slot == nullptr || slot->start().seconds() < list.back().start().seconds()) {
        slot = &list.back();
      }
    }
    size_t corrected = 0;
    for (const auto& [key, cw] : newest) {
      const auto& [channel, size] = key;
      SCOPED_TRACE(channel + " " + size);
      const std::vector<std::string> labels = {"channel=\"" + channel + "\"",
                                               "window=\"" + size + "\""};
      auto gauge = [&](const std::string& name) {
        return SumSeries(m, "chorus_channel_window_" + name, labels);
      };
      EXPECT_EQ(gauge("end_timestamp_seconds"), static_cast<double>(cw->end().seconds()));
      const ExpectedWindow x = FiguresOf(*cw);
      EXPECT_EQ(gauge("posts"), x.posts);
      EXPECT_EQ(gauge("impressions"), x.impressions);
      EXPECT_EQ(gauge("engagements"), x.engagements);
      EXPECT_EQ(gauge("shares"), x.shares);
      EXPECT_EQ(gauge("follows"), x.follows);
      EXPECT_EQ(gauge("unfollows"), x.unfollows);
      EXPECT_EQ(gauge("followers_start"), x.followers_start);
      EXPECT_EQ(gauge("followers_end"), x.followers_end);
      corrected += cw->revision() > 0 ? 1 : 0;
    }
    EXPECT_GT(corrected, 0u) << "a gauge shows a correction";
  }

  // What every test ends with: the third part moves the watermark once
  // more, then everything is checked.
  void FinishAndCheck(const Plan& p, Metrics& floor, bool crashed) {
    Produce(p, p.middle, p.on_time.records.size());
    Metrics m = MoveOn(p, p.on_time.records.size(), floor);
    ExpectTotals(p, m);
    ExpectLateInDlq(p, !crashed);
    ExpectWindowResults(p, m);
  }
};

TEST_F(WindowCorrectionsE2E, StragglersCorrectFiredWindowsAndLateOnesChangeNone) {
  Plan p;
  Metrics floor;
  auto chorus = FireFirstPartThenStraggle(p, 21, floor);
  ExpectStragglersPending(p, floor);
  Produce(p, p.split, p.middle);
  MoveOn(p, p.middle, floor);
  FinishAndCheck(p, floor, false);
}

TEST_F(WindowCorrectionsE2E, SigkillWithStragglersInFlightLosesAndDoublesNoCorrection) {
  Plan p;
  Metrics floor;
  auto chorus = FireFirstPartThenStraggle(p, 22, floor);
  // Killed as soon as the stragglers are in the topic: read, committed or
  // neither, the restart must end the same.
  chorus->Kill(SIGKILL);
  ASSERT_TRUE(chorus->Wait(std::chrono::seconds(10)));
  chorus = Start();
  ExpectStragglersPending(p, floor);
  Produce(p, p.split, p.middle);
  MoveOn(p, p.middle, floor);
  FinishAndCheck(p, floor, true);
}

TEST_F(WindowCorrectionsE2E, CrashPointsAroundCorrectionsRecoverExactly) {
  Plan p;
  Metrics floor;
  auto chorus = FireFirstPartThenStraggle(p, 23, floor);
  ExpectStragglersPending(p, floor);
  // The corrections are owed by state in RocksDB alone now.
  chorus->Kill(SIGKILL);
  ASSERT_TRUE(chorus->Wait(std::chrono::seconds(10)));
  Produce(p, p.split, p.middle);
  // The restart reads the second part at once and makes the corrections in
  // its first commit: die once they are durable in the outbox but not sent,
  // then once they are delivered but still in the outbox. The next start
  // must send none of them again, and mark none pending again: the third
  // part moves the watermark after it.
  for (const char* point : {"commit.after_write", "results.after_flush"}) {
    chorus = Start({std::string("CHORUS_CRASH_AT=") + point});
    auto st = chorus->Wait(kDeadline);
    ASSERT_TRUE(st) << point << " never reached";
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 137) << point << "\n" << chorus->Log();
  }
  chorus = Start();
  MoveOn(p, p.middle, floor);
  FinishAndCheck(p, floor, true);
}

}  // namespace
}  // namespace chorus::testing
