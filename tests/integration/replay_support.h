// What the replay and backfill integration tests share: running `chorus
// replay` to its end and reading its summary line, and event times as
// RFC 3339 text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "chorus/v1/engagement.pb.h"

namespace chorus::testing {

// The outcome counts of a replay's summary line.
struct Summary {
  uint64_t processed = 0, invalid = 0, duplicates = 0, late = 0, out_of_range = 0;
  bool operator==(const Summary&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Summary& s);
std::optional<Summary> ParseSummary(const std::string& log);

// "2026-01-01T00:00:00Z" for Unix milliseconds (whole seconds).
std::string Rfc3339(int64_t ms);
int64_t EventMillis(const v1::EngagementEvent& e);

// Runs the chorus binary with `args` ("replay", ...) until it exits, within
// `timeout`; expects exit code `expect_code` (a failed expectation fails the
// test). Its output is logged to `log_path`; returns it.
std::string RunChorusToEnd(const std::vector<std::string>& args, const std::string& log_path,
                           std::chrono::milliseconds timeout, int expect_code = 0);

}  // namespace chorus::testing
