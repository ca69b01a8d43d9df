// How the processing loop paces itself against its input: the time it
// reports waiting for input, and the commit a pause in the input makes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "chorus/pipeline/file_source.h"
#include "chorus/pipeline/processor.h"
#include "processor_test_util.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace chorus {
namespace {

using processor_test::Comments;
using processor_test::Outcome;
using testing::ManualClock;
using testing::RecordingDlq;
using testing::TempDir;

// A real file source whose every poll takes `wait` of the clock's time, as
// a consumer waiting for the fetcher does.
class WaitingSource final : public EventSource {
 public:
  WaitingSource(EventSource& inner, ManualClock& clock, ops::Millis wait)
      : inner_(inner), clock_(clock), wait_(wait) {}
  void SetListener(PartitionListener* listener) override { inner_.SetListener(listener); }
  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override {
    clock_.Advance(wait_);
    ++polls;
    return inner_.Poll(out, max, timeout);
  }
  Status ReportDurable(const std::vector<SourcePosition>& positions) override {
    return inner_.ReportDurable(positions);
  }
  bool Exhausted() const override { return inner_.Exhausted(); }
  int polls = 0;

 private:
  EventSource& inner_;
  ManualClock& clock_;
  ops::Millis wait_;
};

// The time spent in polls is reported, and only that: the processing
// between polls takes no clock time here, so the total is the polls' own,
// and all the time between two commits was spent waiting.
TEST(Processor, ReportsTheTimeItWaitedForInput) {
  TempDir dir;
  std::string file = dir.Sub("events.bin");
  testing::WriteEventFile(file, Comments(5));
  auto file_source = FileSource::Open(file);
  ASSERT_TRUE(file_source.ok());
  auto store = StateStore::Open(dir.Sub("state"));
  ASSERT_TRUE(store.ok());
  ManualClock clock;
  WaitingSource source(*file_source.value(), clock, ops::Millis(7));
  RecordingDlq dlq;
  ProcessorOptions options;
  options.poll_batch = 2;
  Processor p(options, *store.value(), source, dlq, clock);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(p.Run(stop).ok());
  EXPECT_GE(source.polls, 3);  // 5 records, 2 at a time
  EXPECT_EQ(p.snapshot()->input_wait, ops::Millis(7 * source.polls));
  EXPECT_EQ(p.snapshot()->input_wait_ratio, 1.0);
  EXPECT_EQ(Outcome(*p.snapshot(), Outcome::kProcessed), 5u);
}

// A file source that, once read to its end, behaves as a caught-up
// consumer: each poll waits its whole timeout and finds nothing. It stops
// the run at the first empty poll after the DLQ was flushed, which a
// commit does first.
class PausedAfterFileSource final : public EventSource {
 public:
  // Reading the file takes `reading` of the clock's time.
  PausedAfterFileSource(EventSource& inner, ManualClock& clock, const RecordingDlq& dlq,
                        std::atomic<bool>& stop, std::chrono::milliseconds reading)
      : inner_(inner), clock_(clock), dlq_(dlq), stop_(stop), reading_(reading) {}
  void SetListener(PartitionListener* listener) override { inner_.SetListener(listener); }
  Status Poll(std::vector<SourceRecord>& out, size_t max,
              std::chrono::milliseconds timeout) override {
    if (!inner_.Exhausted()) {
      Status s = inner_.Poll(out, max, timeout);
      if (inner_.Exhausted()) clock_.Advance(reading_);
      return s;
    }
    if (empty_polls == 0) first_empty_timeout = timeout;
    if (!dlq_.flushed().empty() || empty_polls == kMaxEmptyPolls) {
      stop_ = true;
    } else {
      ++empty_polls;
    }
    out.clear();
    clock_.Advance(timeout);
    return Status::Ok();
  }
  Status ReportDurable(const std::vector<SourcePosition>& positions) override {
    return inner_.ReportDurable(positions);
  }
  bool Exhausted() const override { return false; }

  static constexpr int kMaxEmptyPolls = 50;
  int empty_polls = 0;
  std::chrono::milliseconds first_empty_timeout{0};

 private:
  EventSource& inner_;
  ManualClock& clock_;
  const RecordingDlq& dlq_;
  std::atomic<bool>& stop_;
  std::chrono::milliseconds reading_;
};

// Records read before the input paused are committed by the first poll
// that finds nothing in pause_timeout, not an interval (here an hour) later;
// but not sooner than poll_timeout after the last commit, so a trickle of
// records commits at most that often. Returns the empty polls before the
// commit.
int EmptyPollsBeforeThePauseCommits(std::chrono::milliseconds reading) {
  TempDir dir;
  std::string file = dir.Sub("events.bin");
  testing::WriteEventFile(file, Comments(4), {"\xff\xff not an event"});
  auto file_source = FileSource::Open(file);
  EXPECT_TRUE(file_source.ok());
  auto store = StateStore::Open(dir.Sub("state"));
  EXPECT_TRUE(store.ok());
  ManualClock clock;
  RecordingDlq dlq;
  std::atomic<bool> stop{false};
  PausedAfterFileSource source(*file_source.value(), clock, dlq, stop, reading);
  ProcessorOptions options;
  options.commit_interval = std::chrono::hours(1);
  Processor p(options, *store.value(), source, dlq, clock);
  EXPECT_TRUE(p.Run(stop).ok());
  EXPECT_EQ(source.first_empty_timeout, options.pause_timeout) << "records waited: a short poll";
  // The commit flushed the DLQ before the poll that stopped the run.
  EXPECT_EQ(dlq.flushed().size(), 1u);
  EXPECT_EQ(Outcome(*p.snapshot(), Outcome::kProcessed), 4u);
  return source.empty_polls;
}

TEST(Processor, CommitsWhenTheInputPauses) {
  // Long after the start (the last commit): the first empty poll commits.
  EXPECT_EQ(EmptyPollsBeforeThePauseCommits(std::chrono::seconds(1)), 1);
  // Just after it: the poll that ends poll_timeout (100 ms) after it, in
  // 10 ms polls.
  EXPECT_EQ(EmptyPollsBeforeThePauseCommits(std::chrono::milliseconds(0)), 10);
}

}  // namespace
}  // namespace chorus
