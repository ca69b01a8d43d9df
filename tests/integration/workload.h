// A seeded engagement workload built by the tests themselves, with its
// expected totals computed straight from the events it produced, so the
// integration tests compare chorus against arithmetic that shares no code
// with it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace chorus::testing {

struct WorkloadRecord {
  std::string key;
  std::string value;
  int64_t timestamp_ms = 0;
};

struct Workload {
  std::vector<WorkloadRecord> records;
  // Expected results.
  std::map<std::pair<std::string, std::string>, uint64_t> events_by_channel_kind;
  std::map<std::string, int64_t> followers;  // by channel
  std::set<std::string> members;
  uint64_t valid = 0, duplicates = 0, undecodable = 0, missing_channel = 0;
};

// `n` records over `channels` channels and `members` members, event time
// rising from `start_ms` in steps of about `gap_ms` (never out of order by
// more than a minute), with duplicates, garbage and invalid records mixed in.
Workload MakeWorkload(uint64_t seed, int n, int channels, int members, int64_t start_ms,
                      int64_t gap_ms);

// /metrics (parsed) against a workload's expected totals: the outcomes
// processed, duplicate and invalid, events by channel and kind, followers
// and members. Callers check what their scenario adds (late events, DLQ).
void ExpectWorkloadTotals(const Workload& w, const std::map<std::string, double>& metrics);
// chorus_channel_events_total by channel and kind equals `expected`.
void ExpectChannelEvents(const std::map<std::string, double>& metrics,
                         const std::map<std::pair<std::string, std::string>, uint64_t>& expected);

}  // namespace chorus::testing
