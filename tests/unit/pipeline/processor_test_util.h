// Helpers shared by the processor tests: times, outcome counts and a
// simple workload.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/pipeline/processor.h"
#include "support/events.h"

namespace chorus::processor_test {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMin = 60'000;

inline uint64_t Outcome(const Snapshot& s, chorus::Outcome o) {
  return s.counters.outcomes[static_cast<int>(o)];
}

inline const ChannelSnapshot* FindChannel(const Snapshot& s, const std::string& id) {
  for (const auto& c : s.channels) {
    if (c.channel_id == id) return &c;
  }
  return nullptr;
}

// `n` comments by one member, a minute apart.
inline std::vector<v1::EngagementEvent> Comments(int n) {
  std::vector<v1::EngagementEvent> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(testing::Event("e" + std::to_string(i), kT0 + i * kMin, "forum:acme",
                                    v1::EVENT_KIND_COMMENT, "ann"));
  }
  return events;
}

}  // namespace chorus::processor_test
