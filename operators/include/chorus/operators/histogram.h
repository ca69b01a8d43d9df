// A fixed-bucket histogram over compile-time bounds, and its stored form.
//
// Operators keep distributions (response times, engagements per post) as
// per-bucket counts with a sum, so partitions' parts merge by addition and
// the exporter turns them into a Prometheus histogram. Bucket i counts
// values <= Bounds[i] and > the bound before it; the last bucket the rest
// (not cumulative).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "chorus/operators/state.h"

namespace chorus::ops {

template <const auto& Bounds>
struct BucketHistogram {
  std::array<uint64_t, Bounds.size() + 1> buckets{};
  double sum = 0;
  uint64_t count = 0;

  void Observe(double v) {
    auto it = std::lower_bound(Bounds.begin(), Bounds.end(), v);
    buckets[it - Bounds.begin()]++;
    sum += v;
    count++;
  }
  void Add(const BucketHistogram& o) {
    // Most partitions' parts of a channel's histograms are empty: merging
    // them is then one compare, not a pass over every bucket.
    if (o.count == 0) return;
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
    sum += o.sum;
    count += o.count;
  }
  bool operator==(const BucketHistogram&) const = default;
};

// Stored form: varint count, then (when nonzero) each bucket as a varint
// and the sum as a double. The bucket count is fixed by the type.
template <const auto& Bounds>
void PutHistogram(std::string& out, const BucketHistogram<Bounds>& h) {
  PutVarint(out, h.count);
  if (h.count == 0) return;
  for (uint64_t b : h.buckets) PutVarint(out, b);
  PutDouble(out, h.sum);
}

template <const auto& Bounds>
bool GetHistogram(Reader& r, BucketHistogram<Bounds>& h) {
  if (!r.Varint(h.count)) return false;
  if (h.count == 0) return true;
  for (uint64_t& b : h.buckets) {
    if (!r.Varint(b)) return false;
  }
  return r.Double(h.sum);
}

}  // namespace chorus::ops
