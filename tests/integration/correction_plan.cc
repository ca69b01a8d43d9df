#include "integration/correction_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "chorus/v1/engagement.pb.h"
#include "support/events.h"

namespace chorus::testing {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kMidnightMs = 1'767'225'600'000;           // 2026-01-01T00:00:00Z
constexpr int64_t kStartMs = kMidnightMs - 210 * kMinuteMs;  // 2025-12-31T20:30:00Z
constexpr int64_t kSplitMs = kMidnightMs + 30 * kMinuteMs;
constexpr int64_t kMiddleMs = kMidnightMs + 45 * kMinuteMs;
constexpr int64_t kLatenessMs = 60 * kMinuteMs;  // chorus's default

}  // namespace

std::vector<Straggler> MakeStragglers(uint64_t seed, int64_t watermark_ms) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  struct Kind {
    v1::EventKind kind;
    const char* name;
    bool brand;
  };
  const Kind kinds[] = {{v1::EVENT_KIND_REACTION, "reaction", false},
                        {v1::EVENT_KIND_COMMENT, "comment", false},
                        {v1::EVENT_KIND_SHARE, "share", false},
                        {v1::EVENT_KIND_IMPRESSION, "impression", true},
                        {v1::EVENT_KIND_POST_PUBLISHED, "post_published", true}};
  std::vector<Straggler> out;
  for (int i = 0; i < 80; ++i) {
    Straggler s;
    s.late = i % 4 == 3;
    s.occurred_ms =
        watermark_ms -
        (s.late ? kLatenessMs + uniform(60, 90) * kMinuteMs : uniform(10, 50) * kMinuteMs) +
        uniform(-29'999, 29'999);
    const std::string alone = s.late ? "twitter:brand-late-only" : "twitter:brand-stragglers";
    s.channel = i % 5 == 0 ? alone : "twitter:brand-" + std::to_string(uniform(0, 3));
    const Kind& k = kinds[uniform(0, 4)];
    s.kind = k.name;
    s.count = k.kind == v1::EVENT_KIND_IMPRESSION ? static_cast<uint64_t>(uniform(1, 500)) : 1;
    s.event_id = (s.late ? "late-" : "straggler-") + std::to_string(seed) + "-" + std::to_string(i);
    const std::string member = "member-" + std::to_string(uniform(0, 199));
    v1::EngagementEvent e =
        Event(s.event_id, s.occurred_ms, s.channel, k.kind, k.brand ? "" : member,
              k.brand ? v1::ACTOR_ROLE_BRAND : v1::ACTOR_ROLE_MEMBER,
              k.kind == v1::EVENT_KIND_IMPRESSION ? s.count : 0);
    e.set_platform(v1::PLATFORM_TWITTER);
    s.record = {k.brand ? s.channel : member, e.SerializeAsString(), s.occurred_ms};
    out.push_back(std::move(s));
  }
  return out;
}

size_t Plan::late() const {
  return static_cast<size_t>(
      std::count_if(stragglers.begin(), stragglers.end(), [](auto& s) { return s.late; }));
}

Plan MakePlan(uint64_t seed) {
  Plan p;
  // About four and a half hours of event time over four channels.
  p.on_time = MakeWorkload(seed, 3400, 4, 200, kStartMs, 4800);
  const auto& r = p.on_time.records;
  while (p.split < r.size() && r[p.split].timestamp_ms < kSplitMs) ++p.split;
  p.middle = p.split;
  while (p.middle < r.size() && r[p.middle].timestamp_ms < kMiddleMs) ++p.middle;
  // What follows the first part must be short enough that none of it is
  // ever late, whatever partition it waits on: under 55 minutes.
  EXPECT_LT(r.back().timestamp_ms - kSplitMs, 45 * kMinuteMs);
  EXPECT_GT(r.back().timestamp_ms - kSplitMs, 15 * kMinuteMs);
  return p;
}

Windows ExpectedOf(const Plan& p) {
  Windows w;
  Workload windowed, first;
  windowed.records = p.on_time.records;
  for (const Straggler& s : p.stragglers) {
    if (!s.late) windowed.records.push_back(s.record);
  }
  w.expected = ExpectedWindows(windowed);
  first.records.assign(p.on_time.records.begin(), p.on_time.records.begin() + p.split);
  w.fired_first = ExpectedWindows(first);
  for (const char* size : {"1m", "1h", "1d"}) w.corrected_by_size[size] = 0;
  for (const Straggler& s : p.stragglers) {
    if (s.late) continue;
    for (const WindowId& id : WindowsOf(s.channel, s.occurred_ms)) {
      if (WindowEnd(id) <= p.fired_ms && w.corrected.insert(id).second) {
        ++w.corrected_by_size[std::get<1>(id)];
      }
    }
  }
  return w;
}

}  // namespace chorus::testing
