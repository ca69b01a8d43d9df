// `chorus replay`: reprocesses a range of a topic (or a file) into a fresh
// state directory through the same Processor as `chorus run`, then stops.
#include <fmt/chrono.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <ctime>
#include <filesystem>

#include "chorus/pipeline/backfill.h"
#include "chorus/pipeline/file_source.h"
#include "chorus/pipeline/state_store.h"
#include "cli_support.h"
#include "commands.h"
#include "replay_progress.h"

namespace chorus {
namespace {

constexpr std::string_view kWho = "chorus";

std::optional<int64_t> ParseOffset(std::string_view text) {
  int64_t v = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

// "earliest" (--from) or "latest" (--to), an RFC 3339 time, an offset for
// every partition, or "P:OFFSET,..." per partition (the others as the
// default).
Result<ReplayBound> ParseBound(const std::string& text, const char* flag, bool is_end) {
  ReplayBound b;
  if (text == (is_end ? "latest" : "earliest")) return b;
  if (auto t = ParseRfc3339(text)) {
    b.kind = ReplayBound::Kind::kTime;
    b.time_ms = t->millis();
    return b;
  }
  b.kind = ReplayBound::Kind::kOffsets;
  if (auto o = ParseOffset(text)) {
    b.offset = *o;
    return b;
  }
  for (size_t pos = 0; pos <= text.size();) {
    size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view item(text.data() + pos, comma - pos);
    size_t colon = item.find(':');
    auto p = colon == std::string_view::npos ? std::nullopt : ParseOffset(item.substr(0, colon));
    auto o = p ? ParseOffset(item.substr(colon + 1)) : std::nullopt;
    if (!o || *p > INT32_MAX) {
      return Status::Error(std::string(flag) + " " + text + ": expected " +
                           (is_end ? "latest" : "earliest") +
                           ", an RFC 3339 time (2026-01-01T00:00:00Z), an offset, or "
                           "partition:offset,...");
    }
    b.partitions[static_cast<int32_t>(*p)] = *o;
    pos = comma + 1;
  }
  return b;
}

// A replay builds state from nothing: a directory with something in it is
// refused, or with --force its chorus state is deleted first (never a
// directory that holds no RocksDB database, nor one a running chorus holds).
Status PrepareStateDir(const std::string& dir, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec) || (fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    return Status::Ok();
  }
  if (!fs::is_directory(dir, ec)) return Status::Error("--state-dir " + dir + ": not a directory");
  if (!force) {
    return Status::Error("--state-dir " + dir +
                         " is not empty: a replay builds state in a fresh directory "
                         "(--force deletes the chorus state in it first)");
  }
  if (!fs::exists(fs::path(dir) / "CURRENT", ec)) {
    return Status::Error("--state-dir " + dir +
                         " is not empty and holds no chorus state: not deleting it");
  }
  {
    auto store = StateStore::Open(dir);  // fails while another process holds it
    if (!store.ok()) return Status::Error("--state-dir " + dir + ": " + store.status().message());
  }
  fs::remove_all(dir, ec);
  if (ec) return Status::Error("--state-dir " + dir + ": cannot delete: " + ec.message());
  return Status::Ok();
}

// `addr` (host:port) with the port the replay's server bound: with port 0
// the live part serves where the replay did.
std::string WithPort(const std::string& addr, int port) {
  size_t colon = addr.rfind(':');
  return (colon == std::string::npos ? addr : addr.substr(0, colon)) + ":" + std::to_string(port);
}

// --backfill-step: a multiple of a minute, the windows the counters come from.
Result<ops::Millis> BackfillStep(const std::string& text) {
  auto step = ParseDuration(text);
  if (!step || *step < ops::kMinute || step->count() % ops::kMinute.count() != 0) {
    return Status::Error("--backfill-step " + text + ": expected a multiple of a minute (1m, 5m)");
  }
  // Prometheus looks back 5 minutes for a series' latest sample.
  if (*step > 5 * ops::kMinute) {
    spdlog::warn(
        "--backfill-step {}: queries between samples find nothing unless Prometheus' "
        "--query.lookback-delta is at least that long",
        text);
  }
  return *step;
}

// --backfill's history and file (none without --backfill).
struct Backfill {
  std::unique_ptr<BackfillHistory> history;
  std::unique_ptr<BackfillFile> file;
};

// Checks --backfill-step and creates FILE.tmp: before anything else, so a
// bad path is a usage error and nothing is deleted or read first.
Result<Backfill> OpenBackfill(const ReplayConfig& c, ops::Millis allowed_lateness) {
  Backfill b;
  if (c.backfill.empty()) return b;
  auto step = BackfillStep(c.backfill_step);
  if (!step.ok()) return step.status();
  auto labels = BackfillLabels(c.backfill_labels);
  if (!labels.ok()) return labels.status();
  auto file = BackfillFile::Create(c.backfill);
  if (!file.ok()) return file.status();
  b.file = std::move(file.value());
  b.history = std::make_unique<BackfillHistory>(
      BackfillOptions{step.value(), allowed_lateness, std::move(labels.value())});
  return b;
}

// Writes the history as the file and logs what it holds.
Status WriteBackfill(Backfill& b, bool input_ended, const std::string& path) {
  const ops::ProcessingTime start = SystemClock().Now();
  b.history->Finish(input_ended);
  OpenMetricsWriter out(b.file->file());
  if (Status s = b.history->Write(out); !s.ok()) {
    return Status::Error("--backfill " + path + ": " + s.message());
  }
  if (Status s = b.file->Commit(); !s.ok()) return s;
  const auto last = b.history->last_step_ms();
  spdlog::info("chorus replay: backfill {}: {} series, {} samples, {} bytes, up to {} ({:.1f} s)",
               path, out.series(), out.samples(), out.bytes(),
               last ? fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                                  fmt::gmtime(static_cast<std::time_t>(*last / 1000)))
                    : std::string("nothing"),
               (SystemClock().Now() - start).count() / 1000.0);
  return Status::Ok();
}

Status Check(const ReplayConfig& c) {
  if (c.backfill.empty() && c.backfill_step != "1m") {
    return Status::Error("--backfill-step " + c.backfill_step + " without --backfill");
  }
  if (c.backfill.empty() && !c.backfill_labels.empty()) {
    return Status::Error("--backfill-label " + c.backfill_labels.front() + " without --backfill");
  }
  if (c.then_follow && !c.input.empty()) {
    return Status::Error("--then-follow with --input " + c.input + ": there is no topic to follow");
  }
  if (c.then_follow && c.to != "latest") {
    return Status::Error("--then-follow with --to " + c.to +
                         ": following continues from the end offsets, so --to must be latest");
  }
  if (c.input.empty()) {
    if (c.run.brokers.empty()) return Status::Error("--brokers is required (or --input FILE)");
    if (c.run.topics.empty()) return Status::Error("--topic is required (or --input FILE)");
  } else if (!c.run.topics.empty()) {
    return Status::Error("--input " + c.input + " and --topic: replay one or the other");
  }
  return Status::Ok();
}

}  // namespace

void AddReplayFlags(CLI::App* replay, ReplayConfig& c) {
  replay
      ->add_option("--from", c.from,
                   "first record: earliest, an RFC 3339 time (by event time), an offset, or "
                   "partition:offset,...")
      ->envname("CHORUS_FROM")
      ->capture_default_str();
  replay
      ->add_option("--to", c.to,
                   "end, exclusive: latest (the high watermarks at start), an RFC 3339 time, an "
                   "offset, or partition:offset,...")
      ->envname("CHORUS_TO")
      ->capture_default_str();
  replay->add_flag("--force", c.force, "delete the chorus state in a non-empty --state-dir first");
  replay->add_option("--input", c.input, "a file of length-delimited records instead of Kafka");
  replay
      ->add_option("--backfill", c.backfill,
                   "write the replayed history to this file (OpenMetrics with event-time "
                   "timestamps, for promtool tsdb create-blocks-from openmetrics)")
      ->envname("CHORUS_BACKFILL");
  replay
      ->add_option("--backfill-step", c.backfill_step,
                   "the backfill's sample spacing, a multiple of a minute")
      ->envname("CHORUS_BACKFILL_STEP")
      ->capture_default_str();
  replay
      ->add_option("--backfill-label", c.backfill_labels,
                   "NAME=VALUE on every backfilled series, such as the job and instance "
                   "Prometheus gives the live ones (repeatable, or comma-separated)")
      ->delimiter(',')
      ->envname("CHORUS_BACKFILL_LABELS");
  replay
      ->add_flag("--then-follow", c.then_follow,
                 "when the replay ends, continue live as --group from where it ended")
      ->envname("CHORUS_THEN_FOLLOW");
  replay->add_option("--group", c.run.group, "consumer group joined by --then-follow")
      ->envname("CHORUS_GROUP")
      ->capture_default_str();
}

int RunReplay(ReplayConfig c) {
  if (Status s = Check(c); !s.ok()) return Fail(kWho, 2, s.message());
  auto from = ParseBound(c.from, "--from", false);
  if (!from.ok()) return Fail(kWho, 2, from.status().message());
  auto to = ParseBound(c.to, "--to", true);
  if (!to.ok()) return Fail(kWho, 2, to.status().message());
  using Kind = ReplayBound::Kind;
  if (!c.input.empty() &&
      (from.value().kind == Kind::kOffsets || to.value().kind == Kind::kOffsets)) {
    return Fail(kWho, 2, "--from/--to with --input: expected RFC 3339 times");
  }
  ProcessorOptions& p = c.run.processor;
  // Event time selects; offsets found by record time start early by the
  // out-of-orderness and read on past the end by that and the lateness, so
  // every event of the range that a live run would have counted is read.
  if (from.value().kind == Kind::kTime) {
    p.select_from = ops::EventTime::FromMillis(from.value().time_ms);
    from.value().time_ms -= p.watermark.out_of_orderness.count();
  }
  if (to.value().kind == Kind::kTime) {
    p.select_to = ops::EventTime::FromMillis(to.value().time_ms);
    to.value().time_ms += p.watermark.out_of_orderness.count() + p.windows.allowed_lateness.count();
  }
  // Following live afterwards, event time stays where a live run would have
  // it: the end of input is not the end of the stream.
  p.close_at_end = !c.then_follow;
  // A replay is not resumed after a crash (it starts over in a fresh state
  // dir), so it commits far less often than a live service: most of a commit
  // is re-encoding the same hot channels and windows, and at replay speed a
  // commit a second cost more than half the throughput. The live part of
  // --then-follow goes back to the service's interval.
  const auto live_commit_interval =
      p.commit_interval.count() > 0 ? p.commit_interval : ProcessorOptions{}.commit_interval;
  if (p.commit_interval.count() == 0) p.commit_interval = kReplayCommitInterval;
  // Nothing live waits on a replay: it may take the second core.
  p.operator_thread = true;
  if (p.select_from >= p.select_to) {
    return Fail(kWho, 2, "--from " + c.from + " is not before --to " + c.to);
  }
  auto backfill = OpenBackfill(c, p.windows.allowed_lateness);
  if (!backfill.ok()) return Fail(kWho, 2, backfill.status().message());
  if (Status s = PrepareStateDir(c.run.state_dir, c.force); !s.ok()) {
    return Fail(kWho, 2, s.message());
  }

  ProgressSource* progress = nullptr;
  SourceOpener open = [&](const KafkaProperties& props) -> Result<std::unique_ptr<EventSource>> {
    std::vector<PartitionRange> ranges;
    Result<std::unique_ptr<EventSource>> source = Status::Error("no source");
    if (c.input.empty()) {
      source = OpenKafkaReplaySource({c.run.topics, props, from.value(), to.value()}, &ranges);
    } else {
      auto file = FileSource::Open(c.input);
      if (!file.ok()) return Status::Error("--input " + file.status().message());
      std::error_code ec;
      auto size = c.input == "-" ? 0 : std::filesystem::file_size(c.input, ec);
      ranges.push_back({{"file:" + std::filesystem::path(c.input).filename().string(), 0},
                        0,
                        ec ? 0 : static_cast<int64_t>(size)});
      source = std::unique_ptr<EventSource>(std::move(file.value()));
    }
    if (!source.ok()) return source;
    auto wrapped = std::make_unique<ProgressSource>(std::move(source.value()), std::move(ranges));
    progress = wrapped.get();
    return std::unique_ptr<EventSource>(std::move(wrapped));
  };
  c.run.replaying = true;
  auto app = Application::Start(c.run, open);
  if (!app.ok()) return Fail(kWho, 2, app.status().message());
  Application& a = *app.value();
  BackfillHistory* history = backfill.value().history.get();
  if (history != nullptr) a.SetHistory(history);
  const int http_port = a.http_port();
  if (http_port != 0) spdlog::info("chorus replay: http port {}", http_port);
  const ops::ProcessingTime start = SystemClock().Now();
  Status s;
  {
    ProgressReporter reporter(*progress, SystemClock(), isatty(fileno(stderr)) != 0,
                              c.input.empty() ? "records" : "bytes");
    s = a.Run(StopRequested());
  }
  if (!s.ok()) return Fail(kWho, 1, s.message());
  const double seconds = (SystemClock().Now() - start).count() / 1000.0;
  const bool interrupted = StopRequested().load();
  std::fprintf(stderr, "%s\n", ReplaySummary(*a.snapshot(), seconds, interrupted).c_str());
  if (history != nullptr && interrupted) {
    spdlog::warn("chorus replay: interrupted, no backfill written to {}", c.backfill);
  } else if (history != nullptr) {
    Status b = WriteBackfill(backfill.value(), !c.then_follow, c.backfill);
    if (!b.ok()) return Fail(kWho, 1, b.message());
  }
  if (!c.then_follow || interrupted) {
    a.SetReplayInProgress(false);
    return 0;
  }
  // The replay has made its final commit: its state ends exactly at the end
  // offsets. It is closed, and the service starts on the same state as a
  // member of --group; on assignment the Processor seeks to the offsets in
  // its state, so the live part resumes right after what the replay read.
  app.value().reset();
  if (http_port != 0) c.run.http_addr = WithPort(c.run.http_addr, http_port);
  c.run.processor.commit_interval = live_commit_interval;
  c.run.processor.operator_thread = false;
  c.run.replaying = false;
  auto live = Application::Start(c.run);
  if (!live.ok()) return Fail(kWho, 1, "--then-follow: " + live.status().message());
  spdlog::info("chorus replay: following live as group {}, http port {}", c.run.group,
               live.value()->http_port());
  if (Status f = live.value()->Run(StopRequested()); !f.ok()) return Fail(kWho, 1, f.message());
  return 0;
}

}  // namespace chorus
