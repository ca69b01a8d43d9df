#include "chorus/pipeline/channel_operators.h"

#include <algorithm>
#include <utility>

#include "chorus/pipeline/state_store.h"

namespace chorus {

namespace {

// Commands per hand-over: enough that the lock and wake-up are a small part
// of a batch, few enough that the worker starts soon after a sync.
constexpr size_t kBatchCommands = 1024;
// About 100 bytes of strings per event.
constexpr size_t kArenaBytes = 256 * 1024;
// Batches queued before the processing thread waits: bounds the memory the
// processing thread can run ahead by when the worker is the slower one.
constexpr size_t kMaxQueued = 16;

}  // namespace

ChannelOperators::ChannelOperators(ops::WindowOptions windows, ops::PostOptions posts,
                                   bool own_thread, WindowSink sink)
    : channels_(windows), posts_(posts), sink_(std::move(sink)) {
  if (!own_thread) return;
  filling_ = std::make_unique<Batch>();
  filling_->arena.reserve(kArenaBytes);
  thread_ = std::thread([this] { Work(); });
}

ChannelOperators::~ChannelOperators() {
  if (!threaded()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

ChannelOperators::Command& ChannelOperators::Next(size_t bytes) {
  Batch* b = filling_.get();
  if (b->commands.size() >= kBatchCommands || b->arena.size() + bytes > b->arena.capacity()) {
    Flush();
    b = filling_.get();
  }
  // Only an empty batch may grow: no views into its arena exist yet.
  if (bytes > b->arena.capacity()) b->arena.reserve(bytes);
  return b->commands.emplace_back();
}

std::string_view ChannelOperators::Keep(std::string_view s) {
  std::string& arena = filling_->arena;
  const size_t at = arena.size();
  arena.append(s);
  return {arena.data() + at, s.size()};
}

void ChannelOperators::Apply(int32_t partition, const ops::Event& e, bool late) {
  if (!threaded()) {
    channels_.Apply(partition, e, late);
    posts_.Apply(partition, e);
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

void ChannelOperators::ApplyResponse(int32_t partition, std::string_view channel_id,
                                     ops::EventTime at, ops::ChannelGrowth::ResponseKind kind,
                                     ops::Millis waited) {
  if (!threaded()) return channels_.ApplyResponse(partition, channel_id, at, kind, waited);
  Command& c = Next(channel_id.size());
  c.kind = Command::Kind::kResponse;
  c.partition = partition;
  c.response = kind;
  c.event = ops::Event{};
  c.event.channel_id = Keep(channel_id);
  c.event.occurred_at = at;
  c.event.count = static_cast<uint64_t>(waited.count());
}

void ChannelOperators::AdvanceWatermark(ops::EventTime watermark) {
  if (!threaded()) {
    channels_.AdvanceWatermark(watermark, sink_);
    posts_.AdvanceWatermark(watermark);
    return;
  }
  Command& c = Next(0);
  c.kind = Command::Kind::kAdvance;
  c.event = ops::Event{};
  c.event.occurred_at = watermark;
}

void ChannelOperators::After(std::function<void()> fn) {
  if (!threaded()) return fn();
  Command& c = Next(0);
  c.kind = Command::Kind::kAfter;
  c.event = ops::Event{};
  c.event.count = filling_->after.size();
  filling_->after.push_back(std::move(fn));
}

void ChannelOperators::DrainDirty(ops::Mutations& channels, ops::Mutations& posts) {
  if (!threaded()) return Drain(channels, posts);
  drain_channels_ = &channels;
  drain_posts_ = &posts;
  Next(0).kind = Command::Kind::kDrain;
  // Started now rather than when the batch fills: the caller syncs soon.
  Flush();
}

void ChannelOperators::Drain(ops::Mutations& channels, ops::Mutations& posts) {
  channels_.DrainDirty(channels);
  OrderForWrite(channels);
  posts_.DrainDirty(posts);
  OrderForWrite(posts);
}

void ChannelOperators::Flush() {
  if (filling_->commands.empty()) return;
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

void ChannelOperators::Work() {
  std::vector<Output> out;
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
    Execute(*batch, out);
    batch->commands.clear();
    batch->arena.clear();  // keeps its capacity
    batch->after.clear();
    {
      std::lock_guard lock(mu_);
      if (done_.empty()) {
        std::swap(done_, out);
      } else {
        std::move(out.begin(), out.end(), std::back_inserter(done_));
      }
      out.clear();
      spare_.push_back(std::move(batch));
      busy_ = false;
    }
    done_cv_.notify_all();
  }
}

void ChannelOperators::Execute(Batch& batch, std::vector<Output>& out) {
  auto keep = [&out](const ops::WindowResult& w) {
    Output& o = out.emplace_back();
    o.result = w;
    o.channel_id = std::string(w.channel_id);
  };
  for (Command& c : batch.commands) {
    switch (c.kind) {
      case Command::Kind::kApply:
        channels_.Apply(c.partition, c.event, c.late);
        posts_.Apply(c.partition, c.event);
        break;
      case Command::Kind::kResponse:
        channels_.ApplyResponse(c.partition, c.event.channel_id, c.event.occurred_at, c.response,
                                ops::Millis(static_cast<int64_t>(c.event.count)));
        break;
      case Command::Kind::kAdvance:
        channels_.AdvanceWatermark(c.event.occurred_at, keep);
        posts_.AdvanceWatermark(c.event.occurred_at);
        break;
      case Command::Kind::kAfter:
        out.emplace_back().after = std::move(batch.after[c.event.count]);
        break;
      case Command::Kind::kDrain:
        Drain(*drain_channels_, *drain_posts_);
        break;
    }
  }
}

void ChannelOperators::Collect() {
  if (!threaded()) return;
  {
    std::lock_guard lock(mu_);
    std::swap(done_, delivering_);
  }
  Deliver(delivering_);
}

void ChannelOperators::Sync() {
  if (!threaded()) return;
  Flush();
  {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    std::swap(done_, delivering_);
  }
  Deliver(delivering_);
}

void ChannelOperators::Deliver(std::vector<Output>& outputs) {
  for (Output& o : outputs) {
    if (o.after) {
      o.after();
    } else {
      o.result.channel_id = o.channel_id;
      sink_(o.result);
    }
  }
  outputs.clear();
}

}  // namespace chorus
