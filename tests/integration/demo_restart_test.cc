// `chorus demo` stopped with SIGTERM and started again on the same state
// directory, as a demo pod on its volume is: it exits 0 after its final
// commit, and the second run resumes that state. Its embedded Kafka lives in
// memory, so the second run has a new topic; what it reads must be new live
// input, never the history it already counted (which would come back as
// late events, or be skipped by offset while new events wait behind it).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <regex>

#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

constexpr auto kStart = std::chrono::seconds(90);

// The port the demo printed in its URLs; 0 if it exited or never did.
int DemoPort(ChildProcess& demo) {
  return WaitForLoggedPort(demo, std::regex(R"(metrics +http://127\.0\.0\.1:(\d+)/metrics)"),
                           kStart);
}

std::map<std::string, double> Scrape(int port) {
  return ScrapeMetrics(port).value_or(std::map<std::string, double>{});
}

double Outcome(const std::map<std::string, double>& m, const char* outcome) {
  return SumSeries(m, "chorus_pipeline_events_total", {std::string("outcome=\"") + outcome + "\""});
}

bool Ready(int port) { return Answers200(port, "/readyz"); }

// SIGTERM, then the exit status; fails the test unless it is a clean 0.
void StopCleanly(ChildProcess& demo) {
  demo.Kill(SIGTERM);
  std::optional<int> status = demo.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value()) << "no exit within 30 s of SIGTERM\n" << demo.Log();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << demo.Log();
}

TEST(DemoRestart, ResumesItsCommittedStateAndReadsOnlyNewInput) {
  TempDir dir;
  const std::vector<std::string> args = {"demo",        "--state-dir", dir.Sub("state"),
                                         "--http-addr", "127.0.0.1:0", "--history-events",
                                         "20000",       "--rate",      "200"};
  double final_processed = 0;
  double final_late = 0;  // the live part's jitter can make a straggler late
  {
    ChildProcess first(CHORUS_BINARY, args, dir.Sub("first.log"));
    const int port = DemoPort(first);
    ASSERT_NE(port, 0) << first.Log();
    // The history read, and some of the live part after it.
    std::map<std::string, double> m;
    ASSERT_TRUE(WaitFor(
        [&] {
          m = Scrape(port);
          return Ready(port) && Outcome(m, "processed") > 15000;
        },
        kStart, std::chrono::milliseconds(200)))
        << first.Log();
    const double before = Outcome(m, "processed");
    ASSERT_TRUE(WaitFor([&] { return Outcome(Scrape(port), "processed") > before + 100; },
                        std::chrono::seconds(30), std::chrono::milliseconds(200)));
    StopCleanly(first);
    // The summary is printed after the final commit, from committed state.
    std::smatch s;
    const std::string log = first.Log();
    ASSERT_TRUE(std::regex_search(
        log, s,
        std::regex(R"(chorus demo: processed (\d+), invalid \d+, duplicates \d+, late (\d+))")))
        << log;
    final_processed = std::stod(s[1]);
    final_late = std::stod(s[2]);
    EXPECT_GE(final_processed, before + 100);
  }

  ChildProcess second(CHORUS_BINARY, args, dir.Sub("second.log"));
  const int port = DemoPort(second);
  ASSERT_NE(port, 0) << second.Log();
  ASSERT_TRUE(WaitFor([&] { return Ready(port); }, kStart, std::chrono::milliseconds(100)))
      << second.Log();
  // Metrics come from committed state: at readiness, at least the final commit.
  const std::map<std::string, double> at_ready = Scrape(port);
  EXPECT_GE(Outcome(at_ready, "processed"), final_processed);
  const std::string log = second.Log();
  EXPECT_NE(log.find("resuming the state in"), std::string::npos) << log;
  // Every partition starts at its stored offset, none from the beginning
  // (-2) and none reset by Kafka for lying past the new topic's end.
  EXPECT_EQ(log.find("from offset -"), std::string::npos) << log;
  // New input flows within seconds (not after the old topic's length)...
  std::map<std::string, double> later;
  ASSERT_TRUE(WaitFor(
      [&] {
        later = Scrape(port);
        return Outcome(later, "processed") > Outcome(at_ready, "processed") + 100;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200)))
      << second.Log();
  // ...and none of it is old input counted again: read again, the old
  // records would all be behind the restored watermark, late by thousands.
  EXPECT_LE(Outcome(later, "late"), final_late + 2) << second.Log();
  EXPECT_EQ(second.Log().find("Offset out of range"), std::string::npos) << second.Log();
  StopCleanly(second);
}

}  // namespace
}  // namespace chorus::testing
