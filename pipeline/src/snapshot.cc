#include "chorus/pipeline/snapshot.h"

namespace chorus {

std::string_view Name(Outcome o) {
  switch (o) {
    case Outcome::kProcessed:
      return "processed";
    case Outcome::kInvalid:
      return "invalid";
    case Outcome::kDuplicate:
      return "duplicate";
    case Outcome::kLate:
      return "late";
    case Outcome::kOutOfRange:
      return "out_of_range";
    case Outcome::kCount_:
      break;
  }
  return "unknown";
}

void PartitionCounters::Add(const PartitionCounters& o) {
  for (size_t i = 0; i < outcomes.size(); ++i) outcomes[i] += o.outcomes[i];
  for (size_t i = 0; i < dlq.size(); ++i) dlq[i] += o.dlq[i];
}

const std::vector<double>& LoveScoreBounds() {
  // Roughly doubling: one reaction a month (~0.5) up to a daily top
  // contributor (hundreds).
  static const std::vector<double> kBounds = {0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
  return kBounds;
}

void EventLagHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kEventLagBounds.size() && seconds > kEventLagBounds[i]) ++i;
  buckets[i]++;
  sum += seconds;
}

}  // namespace chorus
