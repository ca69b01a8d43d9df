// Building Prometheus metric families from a Snapshot (internal to the
// exporter): the sample helpers and the family builders of each view.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

#include "chorus/pipeline/snapshot.h"

namespace chorus::metric_family {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type);
void AddSample(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
               double v);
// A histogram sample from cumulative counts per upper bound (+Inf added).
prometheus::ClientMetric Histogram(const std::vector<double>& bounds,
                                   const std::vector<uint64_t>& cumulative, uint64_t count,
                                   double sum);
// The same from per-bucket counts whose last entry is the +Inf bucket.
template <typename Bounds, typename Buckets>
prometheus::ClientMetric HistogramFromBuckets(const Bounds& bounds, const Buckets& buckets,
                                              double sum) {
  std::vector<double> b(bounds.begin(), bounds.end());
  std::vector<uint64_t> cumulative;
  uint64_t running = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    running += static_cast<uint64_t>(buckets[i]);
    cumulative.push_back(running);
  }
  running += static_cast<uint64_t>(buckets[b.size()]);
  return Histogram(b, cumulative, running, sum);
}

// A sample value as the text formats write it: integers without a decimal
// point, NaN, +Inf, -Inf, otherwise the shortest form that reads back exact.
void AppendNumber(std::string& out, double v);
// `s` with backslash and newline escaped, and with `quote` the double quote
// too (label values; OpenMetrics help texts).
void AppendEscaped(std::string& out, std::string_view s, bool quote);

// Appends `families` in the Prometheus text format (0.0.4).
void AppendText(const std::vector<prometheus::MetricFamily>& families, std::string& out);

// Threads: response and first-response times, open and unanswered threads.
void ResponsivenessFamilies(const Snapshot& s, std::vector<prometheus::MetricFamily>& out);
// Members' relationship: welcome time, influencers, members' sentiment.
void RelationshipFamilies(const Snapshot& s, std::vector<prometheus::MetricFamily>& out);
// Window results: the newest hour and day windows per channel, corrections.
void WindowFamilies(const Snapshot& s, std::vector<prometheus::MetricFamily>& out);
// Post performance: matured posts' engagements, unmatched engagements.
void PostFamilies(const Snapshot& s, std::vector<prometheus::MetricFamily>& out);

}  // namespace chorus::metric_family
