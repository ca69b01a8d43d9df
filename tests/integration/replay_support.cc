#include "integration/replay_support.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <ctime>
#include <regex>

#include "support/process.h"

namespace chorus::testing {

std::ostream& operator<<(std::ostream& os, const Summary& s) {
  return os << "processed " << s.processed << ", invalid " << s.invalid << ", duplicates "
            << s.duplicates << ", late " << s.late << ", out of range " << s.out_of_range;
}

std::optional<Summary> ParseSummary(const std::string& log) {
  static const std::regex re(
      "processed (\\d+), invalid (\\d+), duplicates (\\d+), late (\\d+), out of range (\\d+)");
  std::smatch m;
  if (!std::regex_search(log, m, re)) return std::nullopt;
  return Summary{std::stoull(m[1]), std::stoull(m[2]), std::stoull(m[3]), std::stoull(m[4]),
                 std::stoull(m[5])};
}

std::string Rfc3339(int64_t ms) {
  std::time_t secs = ms / 1000;
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&secs));
  return text;
}

int64_t EventMillis(const v1::EngagementEvent& e) {
  return e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1'000'000;
}

std::string RunChorusToEnd(const std::vector<std::string>& args, const std::string& log_path,
                           std::chrono::milliseconds timeout, int expect_code) {
  ChildProcess p(CHORUS_BINARY, args, log_path);
  auto st = p.Wait(timeout);
  EXPECT_TRUE(st) << "chorus did not end\n" << p.Log();
  if (st) {
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == expect_code) << p.Log();
  }
  return p.Log();
}

}  // namespace chorus::testing
