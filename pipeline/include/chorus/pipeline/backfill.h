// `chorus replay --backfill FILE`: the replayed past as Prometheus history,
// in event time, with the series names and label sets of the live /metrics
// (so recording rules, alerts and dashboards read history and live alike),
// for `promtool tsdb create-blocks-from openmetrics`.
//
// Samples sit on a grid of steps (multiples of `step` since the epoch); the
// sample at step S is the value as of event time S, that is over the events
// stamped before S. Every series known by S has a sample at every step
// from then on, also when it did not change: Prometheus treats a series
// without a sample for 5 minutes as gone, and rate() would show gaps where
// it should show 0. Counters, whose value before their first event is known
// to be 0, also get a 0 sample the step before, so increase() counts from
// there.
//
// Social view, exact in event time, from CLOSED window results (the newest
// revision of each window once the watermark is past its end + the allowed
// lateness, or once a bounded input has ended):
//   - from minute windows, cumulatively: chorus_channel_events_total,
//     _posts_total and _engagements_total, and the gauge
//     chorus_channel_followers (the newest window's followers_end);
//   - from hour and day windows: the chorus_channel_window_* gauges, showing
//     at S the newest window ending by S, as the live gauges show the newest
//     fired window.
// Events later than the allowed lateness update no window, so they are not
// in the backfill (live lifetime totals count them).
//
// Community view, also in event time: members joining and changing stage,
// each stamped by the member operator with the event time it happened at
// (the creating event; a threshold's exact time for timers), summed into
// chorus_community_members{stage}, chorus_community_new_members_total and
// chorus_community_stage_transitions_total{from,to}. A step's figures are
// final once the watermark is the lateness past it; a change stamped before
// that (only a late event can make one) lands on the first open step. So the
// result does not depend on how partitions interleave in a replay, as
// figures sampled when the watermark passes would.
//
// Memory: the open windows (about lateness / 1 minute + 2 per channel), and
// per series only the steps where it changed; the file itself holds a
// sample per series and step (about 100 bytes each).
//
// Not thread-safe: the HistorySink calls come from the processing thread;
// Finish() and Write() after it has stopped.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chorus/operators/time.h"
#include "chorus/pipeline/history_sink.h"
#include "chorus/pipeline/openmetrics_writer.h"
#include "chorus/pipeline/status.h"

namespace chorus {

struct BackfillOptions {
  ops::Millis step = ops::kMinute;            // REQUIRES: a positive multiple of a minute
  ops::Millis allowed_lateness = ops::kHour;  // the windows' (WindowOptions)
  // (name, value) pairs on every series before its own labels, such as the
  // job and instance Prometheus gives the live series when it scrapes them,
  // so the history continues those series. REQUIRES: valid, distinct names
  // that no chorus series uses (BackfillLabels() checks a flag's).
  std::vector<std::pair<std::string, std::string>> labels;
};

// --backfill-label NAME=VALUE, each: a Prometheus label name (not one
// starting with `__`, nor one of chorus's own: channel, platform, kind,
// content_type, window, stage, from, to), each name once, a non-empty value.
Result<std::vector<std::pair<std::string, std::string>>> BackfillLabels(
    const std::vector<std::string>& flags);

class BackfillHistory final : public HistorySink {
 public:
  explicit BackfillHistory(BackfillOptions options);
  ~BackfillHistory() override;
  BackfillHistory(const BackfillHistory&) = delete;
  BackfillHistory& operator=(const BackfillHistory&) = delete;

  void OnWindow(const ops::WindowResult& w) override;
  void OnMemberJoined(ops::EventTime at) override;
  void OnTransition(const ops::StageTransition& t) override;
  void OnWatermark(ops::EventTime watermark) override;

  // Ends the history at the last step that is final. With `input_ended` (a
  // replay that read all of its input: every window that fired is final)
  // that is the last step at or before the watermark; otherwise (the replay
  // goes on live, and windows within the lateness may still change) the
  // last at or before the watermark − the lateness. Call once, when no more
  // calls will come.
  void Finish(bool input_ended);

  // Writes every series, family by family (see openmetrics_writer.h), and
  // `# EOF`. REQUIRES: Finish() called.
  [[nodiscard]] Status Write(OpenMetricsWriter& out) const;

  // The last step written (Unix ms), nullopt if there is nothing to write.
  // REQUIRES: Finish() called.
  std::optional<int64_t> last_step_ms() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The backfill's file: written as FILE.tmp and renamed to FILE by Commit(),
// so an interrupted or failed replay leaves nothing under FILE (and the
// temporary file is removed when the BackfillFile goes without a commit).
class BackfillFile {
 public:
  // Creates FILE.tmp; an error names the path (exit 2: bad usage).
  static Result<std::unique_ptr<BackfillFile>> Create(const std::string& path);
  ~BackfillFile();
  BackfillFile(const BackfillFile&) = delete;
  BackfillFile& operator=(const BackfillFile&) = delete;

  std::FILE* file() { return file_; }
  // Syncs and closes FILE.tmp and renames it to FILE.
  [[nodiscard]] Status Commit();

 private:
  BackfillFile(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_;
  bool committed_ = false;
};

}  // namespace chorus
