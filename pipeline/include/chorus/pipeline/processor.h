// The processing loop: source → decode → validate → dedup → lateness →
// operators, and the commit that makes it all durable.
//
// One thread runs it. Each record is decoded and checked in the order the
// design fixes (decode, validate, dedup, then lateness); anything unusable
// goes to the DLQ with its reason and is counted. Every commit interval the
// DLQ is flushed, then the operators' changed state, the per-partition
// counters and watermark inputs, and the next offset of every partition are
// written in one RocksDB WriteBatch. A crash at any point restarts from the
// last such batch and reprocesses exactly what followed it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/dedup.h"
#include "chorus/operators/member_engagement.h"
#include "chorus/operators/posts.h"
#include "chorus/operators/threads.h"
#include "chorus/operators/watermark.h"
#include "chorus/pipeline/clock.h"
#include "chorus/pipeline/decoder.h"
#include "chorus/pipeline/dlq.h"
#include "chorus/pipeline/event_source.h"
#include "chorus/pipeline/history_sink.h"
#include "chorus/pipeline/parallel_operators.h"
#include "chorus/pipeline/snapshot.h"
#include "chorus/pipeline/state_store.h"
#include "chorus/pipeline/validator.h"
#include "chorus/pipeline/window_output.h"

namespace chorus {

namespace v1 {
class ChannelWindow;
}
class RecentWindows;

// `chorus replay`'s default commit interval: a replay is not resumed after
// a crash, and at replay speed commits dominate (see replay.cc).
inline constexpr std::chrono::milliseconds kReplayCommitInterval{10'000};

struct ProcessorOptions {
  ops::WatermarkOptions watermark;
  ops::WindowOptions windows;
  ops::MemberOptions members;
  ops::DedupOptions dedup;
  ops::ThreadOptions threads;
  ops::PostOptions posts;
  ValidationLimits limits;
  // A commit is made every commit_interval or commit_max_records records,
  // and as soon as the input pauses: while records wait for a commit, a
  // poll waits at most pause_timeout, and one that finds nothing commits
  // them, unless the last commit began less than poll_timeout ago (which
  // bounds how often a trickle of records commits).
  std::chrono::milliseconds commit_interval{1000};
  size_t commit_max_records = 2'000'000;
  size_t poll_batch = 10'000;
  std::chrono::milliseconds poll_timeout{100};
  std::chrono::milliseconds pause_timeout{10};
  // A replay's selection: valid events with occurred_at outside
  // [select_from, select_to) are counted as out of range and go no further
  // (before dedup, so they leave no trace in state).
  ops::EventTime select_from = ops::EventTime::Min();
  ops::EventTime select_to = ops::EventTime::Max();
  // When a bounded source is exhausted, move event time to the newest event
  // read and fire the windows before it. Off for `replay --then-follow`,
  // whose live part must not find the records it reads next already late.
  bool close_at_end = true;
  // Run channel growth and member engagement on a second thread (see
  // parallel_operators.h): same results, for `chorus replay`, which may use
  // both cores. The live service processes on one thread.
  bool operator_thread = false;
};

class Processor final : public PartitionListener {
 public:
  // `store`, `source`, `dlq` and `clock` must outlive the Processor.
  Processor(ProcessorOptions options, StateStore& store, EventSource& source, DlqSink& dlq,
            Clock& clock);
  ~Processor() override;

  // Window results go to `output` (see window_output.h); without one they
  // are kept for the API and the gauges only. Call before Restore().
  void SetOutput(WindowOutput* output);
  // Window results (minute windows too), members joining and changing stage
  // and the watermark also go to `history` (see history_sink.h), which must
  // outlive the Processor; nullptr stops it. Call before Run().
  void SetHistory(HistorySink* history);

  // Loads every partition found in the store and publishes its committed
  // view, so a restarted instance exports its totals before Kafka assigns
  // it anything (counters never drop to zero across a restart). Called by
  // Run() if not called before.
  Status Restore();

  // Runs until `stop` is set or a bounded source is exhausted, then makes a
  // final commit. Returns the first runtime failure.
  Status Run(const std::atomic<bool>& stop);

  // One poll-and-process step; Run() is a loop of these. For tests.
  Status Step();
  // Makes everything processed so far durable now (and waits for it).
  Status Commit();

  // The view as of the last commit; safe from any thread.
  std::shared_ptr<const Snapshot> snapshot() const;
  // Called after each commit with the new snapshot (e.g. commit latency).
  void OnCommit(std::function<void(const Snapshot&, double commit_seconds)> fn);

  const ops::MemberOptions& member_options() const { return options_.members; }

  // PartitionListener (called from inside source.Poll()).
  std::vector<SourcePosition> OnAssigned(const std::vector<TopicPartition>& tps) override;
  void OnRevoked(const std::vector<TopicPartition>& tps) override;

 private:
  struct Slot;
  // Records are decoded ParallelOperators::kIndexAhead ahead of processing,
  // into a ring of decoders (an event may point into its decoder's
  // message): the events' ids are known before they are applied, so the
  // state they lead to is on its way into the cache by the time it is
  // needed.
  struct Decoded {
    Decoder decoder;
    ops::Event event;
    ops::IdHashes ids;  // hashed once, for dedup, threads and posts
    std::optional<DlqReason> error;
    Slot* slot = nullptr;  // the record's, if it has one
    ParallelOperators::ChannelRef channel = ops::ChannelGrowth::kUnknownChannel;
    uint32_t thread_channel = ops::IdIndex::kAbsent;  // for Threads::PrefetchStats
  };
  // Decodes `r` into `d` and prefetches what processing it will read;
  // `slot` is the record's slot, if it has one (nothing is prefetched
  // otherwise).
  void DecodeAhead(const SourceRecord& r, Decoded& d, Slot* slot);
  void Process(const SourceRecord& r, Slot& slot, Decoded& d, ops::ProcessingTime now);
  void Reject(const SourceRecord& r, Slot& slot, DlqReason reason, Outcome outcome);
  Slot* FindSlot(const SourceRecord& r);
  Status LoadPartition(Slot& slot);
  Status LoadDirectory();
  void AdvanceTime(ops::ProcessingTime now);
  // Closes the windows and fires the member timers due at `watermark`.
  void FireUpTo(ops::EventTime watermark);
  void CollectMeta(ops::Mutations& out);
  void MeasureInputWait(ops::ProcessingTime start);  // at a commit started at `start`
  void OnWindow(const ops::WindowResult& w);
  // Tells channel growth which window sizes' results nobody reads.
  void CountOnlyUnread();
  // Restores the recent windows and hands the outbox to the output.
  Status LoadResults();
  // Sends the results of the batch just made durable; see StartCommit.
  void SendWritten();
  // Drains the changes into a batch and starts writing it on another
  // thread; the processing thread goes on meanwhile.
  Status StartCommit();
  // Waits for the write in flight, then reports its offsets to the source.
  Status FinishWrite();
  std::shared_ptr<const Snapshot> BuildSnapshot() const;
  void Install(std::shared_ptr<const Snapshot> snapshot);
  void Publish();

  ProcessorOptions options_;
  StateStore& store_;
  EventSource& source_;
  DlqSink& dlq_;
  Clock& clock_;

  std::array<Decoded, ParallelOperators::kIndexAhead> decoded_;
  ops::WatermarkTracker watermark_;
  ops::DedupIndex dedup_;
  ops::Threads threads_;
  ops::PostPerformance posts_;
  ops::Threads::Sink on_thread_;

  std::map<TopicPartition, std::unique_ptr<Slot>> slots_;
  int32_t next_slot_id_ = 0;
  bool directory_loaded_ = false;
  Status deferred_error_;  // a failure inside a listener callback
  std::array<uint64_t, ops::kWindowSpecCount> windows_closed_{};
  std::array<uint64_t, ops::kWindowSpecCount> window_corrections_{};
  bool count_only_warned_ = false;  // about windows counted only under a reader

  // Window results (see window_output.h). Made since the last commit: their
  // outbox entries and recent-window mutations join the next batch.
  WindowOutput* output_ = nullptr;
  HistorySink* history_ = nullptr;
  std::unique_ptr<RecentWindows> recent_;
  std::unique_ptr<v1::ChannelWindow> window_msg_;  // reused for every result
  std::vector<OutputRecord> fresh_results_;
  std::map<std::string, std::optional<std::string>> window_writes_;  // see RecentWindows
  uint64_t next_output_seq_ = 0;
  std::vector<OutputRecord> written_results_;  // in the batch being written
  uint64_t sent_ = 0;                          // results sent: seqs below this
  uint64_t delivered_ = 0;                     // results known delivered: seqs below this
  uint64_t outbox_cleared_ = 0;                // outbox entries below this are deleted
  bool global_dirty_ = false;
  std::vector<SourceRecord> batch_;
  size_t records_since_commit_ = 0;
  ops::ProcessingTime last_commit_;
  uint64_t commits_ = 0;
  uint64_t rebalances_ = 0;
  EventLagHistogram event_lag_;  // sampled, see Process
  ops::Millis input_wait_{0};    // in Poll, see Snapshot::input_wait
  ops::Millis input_wait_at_commit_{0};
  ops::ProcessingTime poll_started_;
  bool polling_ = false;         // in source_.Poll(), whose listener may commit
  double input_wait_ratio_ = 0;  // between the last two commits
  uint32_t lag_sample_ = 0;

  std::future<Status> write_;                      // the batch being written, if any
  std::vector<SourcePosition> written_positions_;  // its offsets

  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::function<void(const Snapshot&, double)> on_commit_;
  // ChannelGrowth and MemberEngagement. Last: made once everything its
  // results go to exists, and its worker thread, if any, stops first.
  ParallelOperators parallel_;
};

}  // namespace chorus
