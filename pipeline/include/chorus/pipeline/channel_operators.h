// The channel-side operators, ChannelGrowth and PostPerformance, on the
// processing thread or on a thread of their own.
//
// They are about half of the per-record work (channels' windows above all)
// and they hear from the rest of the Processor only through commands sent in
// record order: apply an event, add a thread's response, advance the
// watermark. On their own thread (`chorus replay`, which may use both
// cores) they execute the same commands in the same order as on one
// thread, so their state and results are identical either way. Window
// results come back to the processing thread, in order, when it calls
// Collect() or Sync(), interleaved with whatever it queued with After(): a
// history sink fed that way sees the very sequence of calls it would see on
// one thread.
//
// The processing thread may use channels() and posts() directly (drain,
// restore, snapshot) only between a Sync() and the next command.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/posts.h"

namespace chorus {

class ChannelOperators {
 public:
  using WindowSink = std::function<void(const ops::WindowResult&)>;

  // `sink` receives every window result, on the processing thread.
  ChannelOperators(ops::WindowOptions windows, ops::PostOptions posts, bool own_thread,
                   WindowSink sink);
  ~ChannelOperators();
  ChannelOperators(const ChannelOperators&) = delete;
  ChannelOperators& operator=(const ChannelOperators&) = delete;

  bool threaded() const { return thread_.joinable(); }

  // ChannelGrowth::Apply and PostPerformance::Apply.
  void Apply(int32_t partition, const ops::Event& e, bool late);
  void ApplyResponse(int32_t partition, std::string_view channel_id, ops::EventTime at,
                     ops::ChannelGrowth::ResponseKind kind, ops::Millis waited);
  void AdvanceWatermark(ops::EventTime watermark);
  // Runs `fn` on the processing thread after the results of every command
  // queued before it (at once when not threaded).
  void After(std::function<void()> fn);

  // Drains both operators' changes, as of every command queued so far, into
  // `channels` and `posts`, each in OrderForWrite order. Threaded, the worker
  // does it while the caller drains the rest: the vectors are filled at the
  // next Sync(), and must be left alone until then.
  void DrainDirty(ops::Mutations& channels, ops::Mutations& posts);

  // Hands the results finished so far to the sink, without waiting.
  void Collect();
  // Waits for every command queued, then hands over all their results.
  void Sync();

  // REQUIRES: synced (see above).
  ops::ChannelGrowth& channels() { return channels_; }
  const ops::ChannelGrowth& channels() const { return channels_; }
  ops::PostPerformance& posts() { return posts_; }
  const ops::PostPerformance& posts() const { return posts_; }

 private:
  struct Command {
    enum class Kind : uint8_t { kApply, kResponse, kAdvance, kAfter, kDrain };
    Kind kind = Kind::kApply;
    bool late = false;
    ops::ChannelGrowth::ResponseKind response = ops::ChannelGrowth::ResponseKind::kFirst;
    int32_t partition = 0;
    // kApply: the event, its strings in the batch's arena. kResponse: the
    // channel, occurred_at the response's time, count the wait in ms.
    // kAdvance: occurred_at the watermark. kAfter: count indexes `after`.
    // kDrain: into drain_channels_ and drain_posts_.
    ops::Event event;
  };
  struct Batch {
    std::vector<Command> commands;
    // The commands' strings. Reserved up front and never grown while views
    // into it exist: a batch is handed over before it would reallocate.
    std::string arena;
    std::vector<std::function<void()>> after;
  };
  // A window result (its channel id owned) or an After() callback.
  struct Output {
    ops::WindowResult result;
    std::string channel_id;
    std::function<void()> after;
  };

  // A command with room for `bytes` of strings in the batch being filled.
  Command& Next(size_t bytes);
  std::string_view Keep(std::string_view s);
  void Flush();  // hands the batch being filled to the worker
  void Work();
  void Execute(Batch& batch, std::vector<Output>& out);
  void Deliver(std::vector<Output>& outputs);
  void Drain(ops::Mutations& channels, ops::Mutations& posts);

  ops::ChannelGrowth channels_;
  ops::PostPerformance posts_;
  WindowSink sink_;
  // A queued DrainDirty's destinations (worker side until the next Sync).
  ops::Mutations* drain_channels_ = nullptr;
  ops::Mutations* drain_posts_ = nullptr;

  std::unique_ptr<Batch> filling_;  // processing thread only
  std::vector<Output> delivering_;  // processing thread only; kept for its capacity

  std::mutex mu_;
  std::condition_variable work_cv_;  // a batch queued, or stopping
  std::condition_variable done_cv_;  // a batch done
  std::deque<std::unique_ptr<Batch>> queue_;
  std::vector<std::unique_ptr<Batch>> spare_;
  std::vector<Output> done_;  // results of finished batches, in order
  bool busy_ = false;         // the worker holds a batch
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace chorus
