#include "replay_progress.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace chorus {
namespace {

// Redrawn often enough to look alive; logged rarely enough to stay readable.
constexpr auto kTerminalInterval = std::chrono::milliseconds(250);
constexpr auto kLogInterval = std::chrono::seconds(5);
constexpr size_t kSlowestShown = 3;

std::string HoursMinutesSeconds(double seconds) {
  auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace

ProgressSource::ProgressSource(std::unique_ptr<EventSource> inner,
                               std::vector<PartitionRange> ranges)
    : inner_(std::move(inner)),
      ranges_(std::move(ranges)),
      positions_(std::make_unique<std::atomic<int64_t>[]>(ranges_.size())) {
  for (size_t i = 0; i < ranges_.size(); ++i) positions_[i].store(ranges_[i].start);
}

Status ProgressSource::Poll(std::vector<SourceRecord>& out, size_t max,
                            std::chrono::milliseconds timeout) {
  Status s = inner_->Poll(out, max, timeout);
  for (const SourceRecord& r : out) {
    if (last_ >= ranges_.size() || ranges_[last_].tp.partition != r.partition ||
        ranges_[last_].tp.topic != r.topic) {
      auto it = std::find_if(ranges_.begin(), ranges_.end(), [&](const PartitionRange& x) {
        return x.tp.partition == r.partition && x.tp.topic == r.topic;
      });
      last_ = static_cast<size_t>(it - ranges_.begin());
      if (last_ == ranges_.size()) continue;
    }
    positions_[last_].store(r.offset + 1, std::memory_order_relaxed);
  }
  records_.fetch_add(out.size(), std::memory_order_relaxed);
  return s;
}

ProgressReporter::ProgressReporter(const ProgressSource& source, Clock& clock,
                                   bool terminal, std::string unit)
    : source_(source),
      clock_(clock),
      terminal_(terminal),
      unit_(std::move(unit)),
      start_(clock.Now()),
      thread_([this] { Loop(); }) {}

ProgressReporter::~ProgressReporter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (terminal_) std::fprintf(stderr, "\r\033[K%s\n", Line().c_str());
}

void ProgressReporter::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, terminal_ ? kTerminalInterval : kLogInterval,
                       [this] { return stop_; })) {
    if (terminal_) {
      std::fprintf(stderr, "\r\033[K%s", Line().c_str());
      std::fflush(stderr);
    } else {
      spdlog::info("{}", Line());
    }
  }
}

std::string ProgressReporter::Line() const {
  const auto& ranges = source_.ranges();
  int64_t total = 0, done = 0;
  // (share done, index) of each partition with something to read.
  std::vector<std::pair<double, size_t>> shares;
  for (size_t i = 0; i < ranges.size(); ++i) {
    int64_t size = ranges[i].end - ranges[i].start;
    if (size <= 0) continue;
    int64_t read = std::clamp<int64_t>(source_.position(i) - ranges[i].start, 0, size);
    if (source_.Exhausted()) read = size;
    total += size;
    done += read;
    shares.emplace_back(static_cast<double>(read) / static_cast<double>(size), i);
  }
  const double seconds = std::max(0.001, (clock_.Now() - start_).count() / 1000.0);
  const uint64_t records = source_.records();
  const double rate = static_cast<double>(records) / seconds;
  std::string line = fmt::format("replay: {} records, {:.0f}/s", records, rate);
  if (total > 0) {
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    line += fmt::format("; {}/{} {} ({:.1f}%)", done, total, unit_, 100 * fraction);
    if (fraction > 0 && fraction < 1) {
      line += ", ETA " + HoursMinutesSeconds(seconds * (1 - fraction) / fraction);
    }
  }
  std::sort(shares.begin(), shares.end());
  if (shares.size() > 1 && shares.front().first < 1) {
    line += "; slowest";
    for (size_t k = 0; k < std::min(kSlowestShown, shares.size()); ++k) {
      const PartitionRange& r = ranges[shares[k].second];
      line += fmt::format(" {}[{}] {:.0f}%", r.tp.topic, r.tp.partition, 100 * shares[k].first);
    }
  }
  return line;
}

std::string ReplaySummary(const Snapshot& snapshot, double seconds, bool interrupted) {
  const auto& outcomes = snapshot.counters.outcomes;
  const uint64_t records = std::accumulate(outcomes.begin(), outcomes.end(), uint64_t{0});
  std::string out = fmt::format(
      "chorus replay {}: {} records in {:.1f} s ({:.0f}/s): processed {}, invalid {}, "
      "duplicates {}, late {}, out of range {}",
      interrupted ? "interrupted" : "done", records, seconds,
      static_cast<double>(records) / std::max(seconds, 0.001),
      outcomes[static_cast<int>(Outcome::kProcessed)], outcomes[static_cast<int>(Outcome::kInvalid)],
      outcomes[static_cast<int>(Outcome::kDuplicate)], outcomes[static_cast<int>(Outcome::kLate)],
      outcomes[static_cast<int>(Outcome::kOutOfRange)]);
  std::string dlq;
  for (int i = 0; i < kDlqReasonCount; ++i) {
    uint64_t n = snapshot.counters.dlq[static_cast<size_t>(i)];
    if (n > 0) dlq += fmt::format("{}{} {}", dlq.empty() ? "" : ", ", Name(static_cast<DlqReason>(i)), n);
  }
  out += "\n  dead letters: " + (dlq.empty() ? std::string("none") : dlq);
  return out;
}

}  // namespace chorus
