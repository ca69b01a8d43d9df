// OpenMetrics text with sample timestamps, in the shape `promtool tsdb
// create-blocks-from openmetrics` loads: each family once, its TYPE and
// HELP lines first (a counter's family name without `_total`, its samples
// with it), each series' samples together in strictly increasing time,
// timestamps in seconds, and `# EOF` at the end.
//
// The order is not a nicety: promtool 2.42 keeps a sample older than the
// last one of its series without complaint and then silently drops it. So
// the writer checks it, and aborts on a caller's mistake (a bug): families
// must not repeat, series within a family must come in ascending order of
// their label text (which also makes the output deterministic), and a
// series' timestamps must increase.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chorus/pipeline/status.h"

namespace chorus {

class OpenMetricsWriter {
 public:
  enum class Type { kCounter, kGauge };

  // Text collects in memory; with `file` (not owned, open for writing) it is
  // moved there in chunks of about 1 MiB.
  explicit OpenMetricsWriter(std::FILE* file = nullptr) : file_(file) {}

  // Starts a family. `name` is the samples' name (REQUIRES: a counter's ends
  // in _total), `help` any text.
  void Family(std::string_view name, Type type, std::string_view help);
  // Starts a series of the current family; `labels` as Labels() writes them.
  void Series(std::string labels);
  // A sample of the current series at `timestamp_ms` (Unix milliseconds).
  void Sample(double value, int64_t timestamp_ms);
  // Writes `# EOF` and what is left to the file; the first write error.
  [[nodiscard]] Status Finish();

  // `{name="value",...}` with the values escaped; empty for no labels.
  static std::string Labels(
      std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
  // `labels` with `extra` (name, value) pairs before their own, braces and
  // all: extra labels on every series keep the series' order.
  static std::string WithLabels(const std::vector<std::pair<std::string, std::string>>& extra,
                                std::string_view labels);

  // The text not yet moved to the file (all of it without a file).
  const std::string& text() const { return out_; }
  uint64_t bytes() const { return bytes_ + out_.size(); }
  uint64_t samples() const { return samples_; }
  uint64_t series() const { return series_count_; }

 private:
  void MaybeFlush();

  std::FILE* file_;
  std::string out_;
  uint64_t bytes_ = 0;  // moved to the file
  bool failed_ = false;
  std::set<std::string, std::less<>> families_;
  std::string name_;  // the current family's sample name
  bool in_family_ = false;
  std::string labels_;  // the current series'
  bool in_series_ = false;
  int64_t last_ms_ = 0;
  bool has_sample_ = false;
  uint64_t samples_ = 0;
  uint64_t series_count_ = 0;
};

}  // namespace chorus
