// The synthetic workload: brand channels and members with skewed activity,
// sentiment, follower trends, brand posts and replies, and an optional
// injected engagement drop. Deterministic for a seed, so tests, the demo and
// benchmarks can rebuild the same stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "chorus/operators/time.h"

namespace chorus::v1 {
class EngagementEvent;
}

namespace chorus {

struct GeneratorOptions {
  uint64_t seed = 1;
  int channels = 20;
  int members = 10'000;
  ops::EventTime start = ops::EventTime::FromMillis(1'767'225'600'000);  // 2026-01-01T00:00:00Z
  // Mean event-time gap between consecutive events.
  ops::Millis mean_gap{200};
  // Fraction of records re-sent as exact duplicates, and of records that are
  // garbage bytes instead of an event.
  double duplicate_rate = 0.0;
  double malformed_rate = 0.0;
  // Between drop_start and drop_end, member engagement falls to drop_factor
  // of its normal rate.
  std::optional<ops::EventTime> drop_start;
  std::optional<ops::EventTime> drop_end;
  double drop_factor = 0.3;
};

struct GeneratedRecord {
  std::string key;    // member_id, empty for brand events
  std::string value;  // serialized EngagementEvent (or garbage)
  int64_t event_time_ms = 0;
};

class Generator {
 public:
  explicit Generator(GeneratorOptions options);
  ~Generator();

  // Produces the next record into `out`, reusing its buffers.
  void Next(GeneratedRecord& out);

  const GeneratorOptions& options() const { return options_; }

 private:
  struct Model;
  GeneratorOptions options_;
  std::unique_ptr<Model> model_;
};

}  // namespace chorus
