// The operators that may run beside the processing thread: ChannelGrowth
// and MemberEngagement, on the processing thread or on a thread of their
// own.
//
// Together they are about half of the per-record work, and they hear from
// the rest of the Processor only through calls made in record order: apply
// an event, a thread's response or change, advance the watermark. On their
// own thread (`chorus replay`, which may use both cores) they execute the
// same calls in the same order as on one thread, so their state and
// results are identical either way. What they hand back (window results,
// and members joining and changing stage for a history sink) reaches the
// processing thread in order when it calls Collect() or Sync(), interleaved
// with whatever it queued with After(): a history sink sees the very
// sequence of calls it would see on one thread. The split (channels and
// members here; dedup, threads and posts on the processing thread) is the
// one that divides the work most evenly, and threads must stay with the
// processing thread: members and channel windows depend on its answers.
//
// The processing thread may use channels() and members() directly (drain,
// restore, snapshot) only between a Sync() and the next call.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/member_engagement.h"
#include "chorus/operators/threads.h"
#include "chorus/pipeline/history_sink.h"

namespace chorus {

class ParallelOperators {
 public:
  using WindowSink = std::function<void(const ops::WindowResult&)>;

  // `sink` receives every window result, on the processing thread.
  ParallelOperators(ops::WindowOptions windows, ops::MemberOptions members, bool own_thread,
                    WindowSink sink);
  ~ParallelOperators();
  ParallelOperators(const ParallelOperators&) = delete;
  ParallelOperators& operator=(const ParallelOperators&) = delete;

  bool threaded() const { return thread_.joinable(); }

  // Members joining and changing stage go to `history` (nullptr: nowhere),
  // on the processing thread. Call before the first Apply().
  void SetHistory(HistorySink* history);

  // How far the operators look ahead in a run of events: an event's
  // indexes are loaded (and its channel found) kIndexAhead events before it
  // is applied, the state they lead to kStateAhead events before, and what
  // that state points to kCountsAhead before (see ChannelGrowth::Locate). A
  // lookup otherwise stalls at each step. The operator thread does it in its
  // batches; on the processing thread, its caller, with Locate(),
  // Prefetch() and PrefetchCounts() below.
  static constexpr size_t kIndexAhead = 8;
  static constexpr size_t kStateAhead = 4;
  static constexpr size_t kCountsAhead = 2;
  using ChannelRef = ops::ChannelGrowth::ChannelRef;
  // When the operators run on this thread (the other one's cache is its
  // own, and it looks ahead itself): the first step, which returns the
  // event's channel for Apply(), and the second and third. Threaded,
  // nothing.
  ChannelRef Locate(int32_t partition, const ops::Event& e) const {
    return threaded() ? ops::ChannelGrowth::kUnknownChannel : LocateAhead(partition, e);
  }
  void Prefetch(int32_t partition, const ops::Event& e, ChannelRef channel) const {
    if (!threaded()) LoadAhead(partition, e, channel);
  }
  void PrefetchCounts(int32_t partition, const ops::Event& e, ChannelRef channel) const {
    if (!threaded()) channels_.PrefetchCounts(partition, e, channel);
  }
  // ChannelGrowth::Apply and MemberEngagement::Apply. REQUIRES: `channel`
  // is Locate(partition, e) or kUnknownChannel.
  void Apply(int32_t partition, const ops::Event& e, bool late,
             ChannelRef channel = ops::ChannelGrowth::kUnknownChannel);
  // ChannelGrowth::ApplyResponse.
  void ApplyResponse(int32_t partition, std::string_view channel_id, ops::EventTime at,
                     ops::ChannelGrowth::ResponseKind kind, ops::Millis waited);
  // MemberEngagement::OnThread.
  void OnThread(const ops::ThreadUpdate& u);
  // On one thread, ApplyResponse() and OnThread() calls from BeginBatch()
  // to EndBatch() are queued and run at the latter, each looked up ahead as
  // the worker does. A watermark step settles threads in bunches, each a
  // cold member and cold channel windows: one at a time, every one stalled
  // (5 % of the processing thread). Nothing else may be called in between.
  // Threaded, nothing: the worker batches everything.
  void BeginBatch();
  void EndBatch();
  // MemberEngagement::AdvanceWatermark, and ChannelGrowth's: apart, because
  // the threads' advance comes between them.
  void AdvanceMembers(ops::EventTime watermark);
  void AdvanceChannels(ops::EventTime watermark);
  // Runs `fn` on the processing thread after the results of every call
  // queued before it (at once when not threaded).
  void After(std::function<void()> fn);
  // Drains both operators' changes, as of every call queued so far, into
  // `channels` and `members` (unordered: the state store orders a commit),
  // then runs `also`. Threaded, the worker does it while the caller drains
  // the rest: the vectors are filled, and `also` has run, at the next
  // Sync(); until then they must be left alone, as must whatever `also`
  // touches. `also` takes a share of the caller's own drains, so that both
  // threads end together. On one thread, where nothing is processed until
  // the commit's drain ends anyway, a helper thread drains the channels
  // while the caller drains the members, runs `also` and its own drains:
  // `channels` is filled at the next Sync().
  void DrainDirty(ops::Mutations& channels, ops::Mutations& members,
                  std::function<void()> also = {});

  // Hands the results finished so far over, without waiting.
  void Collect();
  // Waits for every call queued, then hands over all their results.
  void Sync();

  // REQUIRES: synced (see above).
  ops::ChannelGrowth& channels() { return channels_; }
  const ops::ChannelGrowth& channels() const { return channels_; }
  ops::MemberEngagement& members() { return members_; }
  const ops::MemberEngagement& members() const { return members_; }

 private:
  ChannelRef LocateAhead(int32_t partition, const ops::Event& e) const {
    members_.Prefetch(partition, e);
    return channels_.Locate(partition, e);
  }
  void LoadAhead(int32_t partition, const ops::Event& e, ChannelRef channel) const {
    members_.PrefetchMember(partition, e);
    channels_.Prefetch(partition, e, channel);
  }

  struct Command {
    enum class Kind : uint8_t {
      kApply,
      kResponse,
      kThread,
      kAdvanceMembers,
      kAdvanceChannels,
      kAfter,
      kDrain
    };
    Kind kind = Kind::kApply;
    bool late = false;
    int32_t partition = 0;
    // kApply: the event, its strings in the batch's arena. kAdvance*:
    // occurred_at the watermark. kAfter: count indexes `after`.
    // kResponse: channel_id, occurred_at the response's time, count the
    // wait in ms, and `response`.
    ops::Event event;
    ops::ChannelGrowth::ResponseKind response = ops::ChannelGrowth::ResponseKind::kFirst;
    ops::ThreadUpdate update;  // kThread, its strings in the arena
  };
  struct Batch {
    std::vector<Command> commands;
    // The commands' strings. Reserved up front and never grown while views
    // into it exist: a batch is handed over before it would reallocate.
    std::string arena;
    std::vector<std::function<void()>> after;
  };
  // A window result (its channel id is the operator's, valid as long as
  // it), or a callback.
  struct Output {
    ops::WindowResult result;
    std::function<void()> after;
  };

  // A command with room for `bytes` of strings in the batch being filled.
  Command& Next(size_t bytes);
  std::string_view Keep(std::string_view s);
  void Flush();  // hands the batch being filled to the worker (on one thread: runs it)
  void Work();
  void Execute(Batch& batch);
  void Deliver(std::vector<Output>& outputs);
  void Drain(ops::Mutations& channels, ops::Mutations& members);

  ops::ChannelGrowth channels_;
  ops::MemberEngagement members_;
  std::vector<ops::ChannelGrowth::ChannelRef> located_;  // by command, where a batch runs
  WindowSink sink_;
  HistorySink* history_ = nullptr;
  // Where the operators' outputs go: the sinks when not threaded; on the
  // worker, appended to worker_out_.
  WindowSink on_window_;
  ops::MemberEngagement::TransitionSink on_transition_;
  // A queued DrainDirty's destinations (worker side until the next Sync).
  ops::Mutations* drain_channels_ = nullptr;
  ops::Mutations* drain_members_ = nullptr;
  std::function<void()> drain_also_;
  std::future<void> helper_drain_;  // on one thread: a DrainDirty under way

  std::unique_ptr<Batch> filling_;  // processing thread only
  bool batching_ = false;           // on one thread: between BeginBatch() and EndBatch()
  std::vector<Output> delivering_;  // processing thread only; kept for its capacity
  std::vector<Output> worker_out_;  // worker only: the batch being executed's outputs

  std::mutex mu_;
  std::condition_variable work_cv_;  // a batch queued, or stopping
  std::condition_variable done_cv_;  // a batch done
  std::deque<std::unique_ptr<Batch>> queue_;
  std::vector<std::unique_ptr<Batch>> spare_;
  std::vector<Output> done_;  // outputs of finished batches, in order
  bool busy_ = false;         // the worker holds a batch
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace chorus
