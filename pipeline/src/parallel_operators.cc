#include "chorus/pipeline/parallel_operators.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace chorus {

namespace {

// Commands per hand-over: enough that the lock and wake-up are a small part
// of a batch, few enough that the worker starts soon after a sync.
constexpr size_t kBatchCommands = 1024;
// About 100 bytes of strings per event.
constexpr size_t kArenaBytes = 256 * 1024;
// Batches queued before the processing thread waits: bounds the memory the
// processing thread can run ahead by when the worker is the slower one
// (~0.5 MB a batch). Which one is slower changes within a replay (a
// table growing on one side stalls it for tens of ms); 16 batches, ~25 ms
// of the worker's work, left it waiting 0.5 s of a 4 s replay, 64 absorb
// most of that (replay ~2 % faster; 256 no faster again).
constexpr size_t kMaxQueued = 64;

}  // namespace

ParallelOperators::ParallelOperators(ops::WindowOptions windows, ops::MemberOptions members,
                                     bool own_thread, WindowSink sink)
    : channels_(windows), members_(members), sink_(std::move(sink)) {
  if (!own_thread) {
    on_window_ = sink_;
    on_transition_ = [this](const ops::StageTransition& t) {
      if (history_ != nullptr) history_->OnTransition(t);
    };
    return;
  }
  // On the worker: outputs wait, in order, for the processing thread.
  on_window_ = [this](const ops::WindowResult& w) { worker_out_.emplace_back().result = w; };
  on_transition_ = [this](const ops::StageTransition& t) {
    if (history_ == nullptr) return;
    worker_out_.emplace_back().after = [h = history_, copy = t,
                                        id = std::string(t.member_id)]() mutable {
      copy.member_id = id;
      h->OnTransition(copy);
    };
  };
  filling_ = std::make_unique<Batch>();
  filling_->arena.reserve(kArenaBytes);
  thread_ = std::thread([this] { Work(); });
}

ParallelOperators::~ParallelOperators() {
  if (!threaded()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void ParallelOperators::SetHistory(HistorySink* history) {
  history_ = history;
  if (history == nullptr) return members_.SetJoinSink(nullptr);
  if (!threaded()) {
    return members_.SetJoinSink(
        [history](std::string_view, ops::EventTime at) { history->OnMemberJoined(at); });
  }
  members_.SetJoinSink([this, history](std::string_view, ops::EventTime at) {
    worker_out_.emplace_back().after = [history, at] { history->OnMemberJoined(at); };
  });
}

ParallelOperators::Command& ParallelOperators::Next(size_t bytes) {
  Batch* b = filling_.get();
  if (b->commands.size() >= kBatchCommands || b->arena.size() + bytes > b->arena.capacity()) {
    Flush();
    b = filling_.get();
  }
  // Only an empty batch may grow: no views into its arena exist yet.
  if (bytes > b->arena.capacity()) b->arena.reserve(bytes);
  return b->commands.emplace_back();
}

std::string_view ParallelOperators::Keep(std::string_view s) {
  std::string& arena = filling_->arena;
  const size_t at = arena.size();
  arena.append(s);
  return {arena.data() + at, s.size()};
}

void ParallelOperators::Apply(int32_t partition, const ops::Event& e, bool late,
                              ChannelRef channel) {
  if (!threaded()) {
    channels_.Apply(partition, e, late, channel);
    members_.Apply(partition, e, on_transition_);
    return;
  }
  Command& c = Next(e.event_id.size() + e.channel_id.size() + e.member_id.size() +
                    e.content_id.size() + e.reply_to_event_id.size());
  c.kind = Command::Kind::kApply;
  c.partition = partition;
  c.late = late;
  c.event = e;
  c.event.event_id = Keep(e.event_id);
  c.event.channel_id = Keep(e.channel_id);
  c.event.member_id = Keep(e.member_id);
  c.event.content_id = Keep(e.content_id);
  c.event.reply_to_event_id = Keep(e.reply_to_event_id);
}

void ParallelOperators::ApplyResponse(int32_t partition, std::string_view channel_id,
                                      ops::EventTime at, ops::ChannelGrowth::ResponseKind kind,
                                      ops::Millis waited) {
  if (!threaded() && !batching_) {
    return channels_.ApplyResponse(partition, channel_id, at, kind, waited);
  }
  Command& c = Next(channel_id.size());
  c.kind = Command::Kind::kResponse;
  c.partition = partition;
  c.response = kind;
  c.event.channel_id = Keep(channel_id);
  c.event.occurred_at = at;
  c.event.count = static_cast<uint64_t>(waited.count());
}

void ParallelOperators::OnThread(const ops::ThreadUpdate& u) {
  if (!threaded() && !batching_) return members_.OnThread(u);
  Command& c = Next(u.channel.size() + u.opener.size());
  c.kind = Command::Kind::kThread;
  c.update = u;
  c.update.channel = Keep(u.channel);
  c.update.opener = Keep(u.opener);
}

void ParallelOperators::BeginBatch() {
  if (threaded()) return;
  batching_ = true;
  if (filling_ == nullptr) {
    filling_ = std::make_unique<Batch>();
    filling_->arena.reserve(kArenaBytes);
  }
}

void ParallelOperators::EndBatch() {
  if (threaded()) return;
  Flush();
  batching_ = false;
}

void ParallelOperators::AdvanceMembers(ops::EventTime watermark) {
  if (!threaded()) return members_.AdvanceWatermark(watermark, on_transition_);
  Next(0) = Command{.kind = Command::Kind::kAdvanceMembers, .event = {.occurred_at = watermark}};
}

void ParallelOperators::AdvanceChannels(ops::EventTime watermark) {
  if (!threaded()) return channels_.AdvanceWatermark(watermark, on_window_);
  Next(0) = Command{.kind = Command::Kind::kAdvanceChannels, .event = {.occurred_at = watermark}};
}

void ParallelOperators::After(std::function<void()> fn) {
  if (!threaded()) return fn();
  Command& c = Next(0);
  c.kind = Command::Kind::kAfter;
  c.event.count = filling_->after.size();
  filling_->after.push_back(std::move(fn));
}

void ParallelOperators::DrainDirty(ops::Mutations& channels, ops::Mutations& members,
                                   std::function<void()> also) {
  if (!threaded()) {
    // Channels are ~40 % of a commit's drain in `chorus run`, about what
    // the caller's drains and the members take together, and the other
    // core has little to do meanwhile.
    helper_drain_ =
        std::async(std::launch::async, [this, &channels] { channels_.DrainDirty(channels); });
    members_.DrainDirty(members);
    if (also) also();
    return;
  }
  drain_channels_ = &channels;
  drain_members_ = &members;
  drain_also_ = std::move(also);
  Next(0).kind = Command::Kind::kDrain;
  // Started now rather than when the batch fills: the caller syncs soon.
  Flush();
}

void ParallelOperators::Drain(ops::Mutations& channels, ops::Mutations& members) {
  channels_.DrainDirty(channels);
  members_.DrainDirty(members);
}

void ParallelOperators::Flush() {
  if (filling_->commands.empty()) return;
  if (!threaded()) {
    Execute(*filling_);
    filling_->commands.clear();
    filling_->arena.clear();
    return;
  }
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return queue_.size() < kMaxQueued; });
  queue_.push_back(std::move(filling_));
  if (!spare_.empty()) {
    filling_ = std::move(spare_.back());
    spare_.pop_back();
  }
  lock.unlock();
  work_cv_.notify_one();
  if (filling_ == nullptr) {
    filling_ = std::make_unique<Batch>();
    filling_->arena.reserve(kArenaBytes);
  }
}

void ParallelOperators::Work() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      batch = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    Execute(*batch);
    batch->commands.clear();
    batch->arena.clear();  // keeps its capacity
    batch->after.clear();
    {
      std::lock_guard lock(mu_);
      if (done_.empty()) {
        std::swap(done_, worker_out_);
      } else {
        std::move(worker_out_.begin(), worker_out_.end(), std::back_inserter(done_));
      }
      worker_out_.clear();
      spare_.push_back(std::move(batch));
      busy_ = false;
    }
    done_cv_.notify_all();
  }
}

void ParallelOperators::Execute(Batch& batch) {
  const std::vector<Command>& commands = batch.commands;
  located_.assign(commands.size(), ops::ChannelGrowth::kUnknownChannel);
  // The steps for each kind of command that looks state up: an event,
  // a response (its channel's windows at the response's time) and a
  // thread update (its opener).
  auto index_step = [&](size_t i) {
    const Command& a = commands[i];
    if (a.kind == Command::Kind::kApply) {
      located_[i] = LocateAhead(a.partition, a.event);
    } else if (a.kind == Command::Kind::kResponse) {
      located_[i] = channels_.Locate(a.partition, a.event);
    } else if (a.kind == Command::Kind::kThread) {
      members_.Prefetch(a.update);
    }
  };
  auto state_step = [&](size_t i) {
    const Command& a = commands[i];
    if (a.kind == Command::Kind::kApply) {
      LoadAhead(a.partition, a.event, located_[i]);
    } else if (a.kind == Command::Kind::kResponse) {
      channels_.Prefetch(a.partition, a.event, located_[i]);
    } else if (a.kind == Command::Kind::kThread) {
      members_.PrefetchMember(a.update);
    }
  };
  auto counts_step = [&](size_t i) {
    const Command& a = commands[i];
    if (a.kind == Command::Kind::kApply) {
      channels_.PrefetchCounts(a.partition, a.event, located_[i]);
    }
  };
  // The first commands' steps before any of them runs: a short batch (a
  // watermark step's thread updates, on one thread) is nothing else.
  for (size_t j = 0; j < std::min(kIndexAhead, commands.size()); ++j) index_step(j);
  for (size_t j = 0; j < std::min(kStateAhead, commands.size()); ++j) state_step(j);
  for (size_t j = 0; j < std::min(kCountsAhead, commands.size()); ++j) counts_step(j);
  for (size_t i = 0; i < commands.size(); ++i) {
    if (i + kIndexAhead < commands.size()) index_step(i + kIndexAhead);
    if (i + kStateAhead < commands.size()) state_step(i + kStateAhead);
    if (i + kCountsAhead < commands.size()) counts_step(i + kCountsAhead);

    Command& c = batch.commands[i];
    switch (c.kind) {
      case Command::Kind::kApply:
        channels_.Apply(c.partition, c.event, c.late, located_[i]);
        members_.Apply(c.partition, c.event, on_transition_);
        break;
      case Command::Kind::kResponse:  // located only to look ahead
        channels_.ApplyResponse(c.partition, c.event.channel_id, c.event.occurred_at, c.response,
                                ops::Millis(static_cast<int64_t>(c.event.count)));
        break;
      case Command::Kind::kThread:
        members_.OnThread(c.update);
        break;
      case Command::Kind::kAdvanceMembers:
        members_.AdvanceWatermark(c.event.occurred_at, on_transition_);
        break;
      case Command::Kind::kAdvanceChannels:
        channels_.AdvanceWatermark(c.event.occurred_at, on_window_);
        break;
      case Command::Kind::kAfter:
        worker_out_.emplace_back().after = std::move(batch.after[c.event.count]);
        break;
      case Command::Kind::kDrain:
        Drain(*drain_channels_, *drain_members_);
        if (drain_also_) std::exchange(drain_also_, nullptr)();
        break;
    }
  }
}

void ParallelOperators::Collect() {
  if (!threaded()) return;
  {
    std::lock_guard lock(mu_);
    std::swap(done_, delivering_);
  }
  Deliver(delivering_);
}

void ParallelOperators::Sync() {
  if (!threaded()) {
    if (helper_drain_.valid()) helper_drain_.get();
    return;
  }
  Flush();
  {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    std::swap(done_, delivering_);
  }
  Deliver(delivering_);
}

void ParallelOperators::Deliver(std::vector<Output>& outputs) {
  for (Output& o : outputs) {
    if (o.after) {
      o.after();
    } else {
      sink_(o.result);
    }
  }
  outputs.clear();
}

}  // namespace chorus
