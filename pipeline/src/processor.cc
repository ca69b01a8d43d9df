#include "chorus/pipeline/processor.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "chorus/operators/hash_map.h"
#include "chorus/pipeline/crash_point.h"
#include "processor_slot.h"
#include "window_results.h"

namespace chorus {

Processor::Processor(ProcessorOptions options, StateStore& store, EventSource& source, DlqSink& dlq,
                     Clock& clock)
    : options_(std::move(options)),
      store_(store),
      source_(source),
      dlq_(dlq),
      clock_(clock),
      watermark_(options_.watermark),
      dedup_(options_.dedup),
      threads_(options_.threads),
      posts_(options_.posts),
      recent_(std::make_unique<RecentWindows>()),
      window_msg_(std::make_unique<v1::ChannelWindow>()),
      snapshot_(std::make_shared<Snapshot>()),
      parallel_(options_.windows, options_.members, options_.operator_thread,
                [this](const ops::WindowResult& w) { OnWindow(w); }) {
  on_thread_ = [this](const ops::ThreadUpdate& u) {
    parallel_.OnThread(u);
    using Kind = ops::ChannelGrowth::ResponseKind;
    if (u.first_response) {
      parallel_.ApplyResponse(u.partition, u.channel, u.first_at, Kind::kFirst,
                              u.first_at - u.opened_at);
    }
    if (u.closed) {
      parallel_.ApplyResponse(u.partition, u.channel, u.at, Kind::kClosing, u.at - u.opened_at);
    }
  };
  last_commit_ = clock_.Now();
  source_.SetListener(this);
  CountOnlyUnread();
}

Processor::~Processor() {
  source_.SetListener(nullptr);
  if (write_.valid()) write_.wait();  // never abandon a write in progress
}

Status Processor::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed) && !source_.Exhausted()) {
    if (Status s = Step(); !s.ok()) return s;
  }
  if (source_.Exhausted() && options_.close_at_end) {
    // A bounded input has been read to its end: nothing older can arrive,
    // so event time moves to the newest event seen and windows before it close.
    ops::EventTime end = ops::EventTime::Min();
    for (const auto& [tp, slot] : slots_) {
      if (slot->assigned) end = std::max(end, watermark_.max_seen(slot->meta.id));
    }
    if (end != ops::EventTime::Min()) {
      watermark_.Restore(end);
      FireUpTo(end);
    }
  }
  if (Status s = Commit(); !s.ok()) return s;
  if (output_ == nullptr || sent_ == delivered_) return Status::Ok();
  // Delivered results leave the outbox now rather than at the next start.
  return Commit();
}

void Processor::SetHistory(HistorySink* history) {
  history_ = history;
  parallel_.SetHistory(history);
  CountOnlyUnread();
}

void Processor::SetOutput(WindowOutput* output) {
  output_ = output;
  CountOnlyUnread();
}

// Minute results are the bulk (a replay fires thousands a second) and too
// fine for the API and the gauges: only the output topic and a backfill
// read them. Without either, minute windows only count what opens and
// fires, at a fraction of the cost (see ChannelGrowth::CountOnly).
void Processor::CountOnlyUnread() {
  for (int spec = 0; spec < ops::kWindowSpecCount; ++spec) {
    parallel_.channels().CountOnly(
        spec, RecentWindows::kKept[spec] == 0 && output_ == nullptr && history_ == nullptr);
  }
}

void Processor::OnWindow(const ops::WindowResult& w) {
  auto spec = static_cast<int>(w.spec - ops::kWindowSpecs.data());
  (w.revision == 0 ? windows_closed_ : window_corrections_)[spec] += w.windows;
  if (w.count_only) {
    // Opened count-only before a reader came (restored from a run without
    // one): counted, with nothing to hand out.
    if (!count_only_warned_ && (output_ != nullptr || history_ != nullptr)) {
      count_only_warned_ = true;
      const std::chrono::sys_seconds end{std::chrono::seconds(w.end.millis() / 1000)};
      spdlog::warn(
          "{} windows ending {:%FT%TZ} were opened while nothing read them: they are counted, not "
          "published (as are the others of this size still open from then)",
          w.spec->name, end);
    }
    return;
  }
  if (history_ != nullptr) history_->OnWindow(w);
  const bool keep = RecentWindows::kKept[spec] > 0;
  if (!keep && output_ == nullptr) return;
  FillChannelWindow(w, *window_msg_);
  std::string value = SerializeDeterministic(*window_msg_);
  if (keep) recent_->Add(*window_msg_, spec, value, window_writes_);
  if (output_ != nullptr) {
    fresh_results_.push_back(
        {next_output_seq_++, std::string(w.channel_id), std::move(value), w.end.millis()});
  }
}

Status Processor::Step() {
  if (Status s = Restore(); !s.ok()) return s;
  poll_started_ = clock_.Now();
  polling_ = true;
  const std::chrono::milliseconds timeout =
      records_since_commit_ > 0 ? std::min(options_.poll_timeout, options_.pause_timeout)
                                : options_.poll_timeout;
  Status polled = source_.Poll(batch_, options_.poll_batch, timeout);
  polling_ = false;
  ops::ProcessingTime now = clock_.Now();
  // Whole milliseconds: over many polls the truncations average out.
  input_wait_ += now - poll_started_;
  if (!polled.ok()) return polled;
  if (!deferred_error_.ok()) return deferred_error_;
  constexpr size_t kAhead = ParallelOperators::kIndexAhead;
  constexpr size_t kState = ParallelOperators::kStateAhead;
  constexpr size_t kCounts = ParallelOperators::kCountsAhead;
  Slot* ahead_slot = nullptr;  // the slot of the record decoded last
  auto decode_ahead = [&](size_t j) {
    // The record decoded kAhead from now: its bytes come from the fetch
    // buffers librdkafka's broker thread filled, on the other core.
    if (j + kAhead < batch_.size()) {
      const std::span<const uint8_t> next = batch_[j + kAhead].value;
      ops::PrefetchLines(next.data(), next.size());
    }
    const SourceRecord& r = batch_[j];
    // Records come in runs from one partition: most often the same slot.
    if (ahead_slot == nullptr || ahead_slot->meta.tp.partition != r.partition ||
        ahead_slot->meta.tp.topic != r.topic) {
      ahead_slot = FindSlot(r);
    }
    DecodeAhead(r, decoded_[j % kAhead], ahead_slot);
  };
  for (size_t j = 0; j < std::min(kAhead, batch_.size()); ++j) decode_ahead(j);
  for (size_t i = 0; i < batch_.size(); ++i) {
    const SourceRecord& r = batch_[i];
    Decoded& d = decoded_[i % kAhead];
    if (i + kState < batch_.size()) {
      const Decoded& s = decoded_[(i + kState) % kAhead];
      if (!s.error && s.slot != nullptr) {
        parallel_.Prefetch(s.slot->meta.id, s.event, s.channel);
        threads_.PrefetchStats(s.slot->meta.id, s.thread_channel);
      }
    }
    if (i + kCounts < batch_.size()) {
      const Decoded& s = decoded_[(i + kCounts) % kAhead];
      if (!s.error && s.slot != nullptr) {
        parallel_.PrefetchCounts(s.slot->meta.id, s.event, s.channel);
      }
    }
    // Records of a partition revoked inside this very poll belong to its
    // next owner; records before our position are redeliveries around a
    // rebalance (librdkafka 2.0 can return them) and were already counted.
    Slot* slot = d.slot;
    if (slot != nullptr && slot->assigned &&
        (slot->meta.next_offset < 0 || r.offset >= slot->meta.next_offset)) {
      Process(r, *slot, d, now);
      slot->meta.next_offset = r.offset + 1;
      if (r.timestamp_ms) slot->last_record_ms = *r.timestamp_ms;
      slot->dirty = true;
    }
    // Into the decoder just used.
    if (i + kAhead < batch_.size()) decode_ahead(i + kAhead);
  }
  records_since_commit_ += batch_.size();
  AdvanceTime(now);
  parallel_.Collect();
  // Input that pauses (a caught-up consumer, the end of a burst) leaves
  // nothing to gain by waiting out the interval: what was read becomes
  // durable and visible now, at most once per poll_timeout.
  const bool paused =
      batch_.empty() && records_since_commit_ > 0 && now - last_commit_ >= options_.poll_timeout;
  if (paused || now - last_commit_ >= options_.commit_interval ||
      records_since_commit_ >= options_.commit_max_records) {
    return StartCommit();
  }
  return Status::Ok();
}

void Processor::DecodeAhead(const SourceRecord& r, Decoded& d, Slot* slot) {
  d.slot = slot;
  d.channel = ops::ChannelGrowth::kUnknownChannel;
  d.thread_channel = ops::IdIndex::kAbsent;
  if (r.value.size() > options_.limits.max_record_bytes) {
    d.error = DlqReason::kFieldTooLong;
    return;
  }
  d.error = d.decoder.Decode(r.value, d.event);
  if (d.error) return;
  d.ids = ops::HashIds(d.event);
  if (slot == nullptr) return;
  const int32_t id = slot->meta.id;
  dedup_.Prefetch(id, d.ids.event_id);
  d.thread_channel = threads_.Prefetch(id, d.event, d.ids);
  posts_.Prefetch(d.event, d.ids);
  d.channel = parallel_.Locate(id, d.event);
}

void Processor::Process(const SourceRecord& r, Slot& slot, Decoded& d, ops::ProcessingTime now) {
  const ValidationLimits& limits = options_.limits;
  if (d.error) return Reject(r, slot, *d.error, Outcome::kInvalid);
  ops::Event& e = d.event;
  std::optional<ops::EventTime> record_time;
  if (r.timestamp_ms) record_time = ops::EventTime::FromMillis(*r.timestamp_ms);
  if (auto reason = Validate(e, r.value.size(), record_time, limits)) {
    return Reject(r, slot, *reason, Outcome::kInvalid);
  }
  if (e.occurred_at < options_.select_from || e.occurred_at >= options_.select_to) {
    slot.meta.counters.outcomes[static_cast<int>(Outcome::kOutOfRange)]++;
    return;
  }
  int32_t id = slot.meta.id;
  ops::EventTime newest = watermark_.max_seen(id);
  // Older than the dedup horizon: a duplicate could no longer be recognised.
  if (newest != ops::EventTime::Min() && e.occurred_at < newest - options_.dedup.horizon) {
    return Reject(r, slot, DlqReason::kTooOld, Outcome::kInvalid);
  }
  if (dedup_.CheckAndInsert(id, d.ids.event_id, e.occurred_at)) {
    slot.meta.counters.outcomes[static_cast<int>(Outcome::kDuplicate)]++;
    return;
  }
  // The watermark moves per record, so whether an event is late does not
  // depend on how records happened to be batched.
  if (watermark_.Observe(id, e.occurred_at, now)) AdvanceTime(now);
  bool late = ops::IsLate(e.occurred_at, watermark_.current(), options_.windows.allowed_lateness);
  parallel_.Apply(id, e, late, d.channel);  // located when decoded, for this slot
  threads_.Apply(id, e, d.ids, on_thread_);
  posts_.Apply(id, e, d.ids);
  if (late) {
    // Still in lifetime totals above; only the windows missed it.
    Reject(r, slot, DlqReason::kLate, Outcome::kLate);
  } else {
    slot.meta.counters.outcomes[static_cast<int>(Outcome::kProcessed)]++;
  }
  // One event in 64 is enough for a distribution, at a negligible cost.
  if ((++lag_sample_ & 63) == 0) {
    event_lag_.Observe(static_cast<double>(now.millis() - e.occurred_at.millis()) / 1000.0);
  }
}

void Processor::Reject(const SourceRecord& r, Slot& slot, DlqReason reason, Outcome outcome) {
  dlq_.Send(r, reason);
  slot.meta.counters.dlq[static_cast<int>(reason)]++;
  slot.meta.counters.outcomes[static_cast<int>(outcome)]++;
}

Processor::Slot* Processor::FindSlot(const SourceRecord& r) {
  auto it = slots_.find(TopicPartition{std::string(r.topic), r.partition});
  return it == slots_.end() ? nullptr : it->second.get();
}

void Processor::AdvanceTime(ops::ProcessingTime now) {
  ops::EventTime before = watermark_.current();
  ops::EventTime wm = watermark_.Advance(now);
  if (wm > before) FireUpTo(wm);
}

void Processor::FireUpTo(ops::EventTime watermark) {
  parallel_.AdvanceMembers(watermark);
  // Threads before windows: answers the watermark settles now are in the
  // windows that fire now, not in corrections.
  parallel_.BeginBatch();
  threads_.AdvanceWatermark(watermark, on_thread_);
  parallel_.EndBatch();
  parallel_.AdvanceChannels(watermark);
  posts_.AdvanceWatermark(watermark);
  global_dirty_ = true;
  if (history_ != nullptr) {
    parallel_.After([h = history_, watermark] { h->OnWatermark(watermark); });
  }
}

Status Processor::Commit() {
  if (Status s = StartCommit(); !s.ok()) return s;
  return FinishWrite();
}

Status Processor::FinishWrite() {
  if (!write_.valid()) return Status::Ok();
  if (Status s = write_.get(); !s.ok()) return s;
  SendWritten();
  CrashPoint("results.after_send");
  CrashPoint("commit.before_report");
  return source_.ReportDurable(written_positions_);
}

void Processor::SendWritten() {
  if (output_ != nullptr && !written_results_.empty()) {
    output_->Send(written_results_);
    sent_ = written_results_.back().seq + 1;
  }
  written_results_.clear();
}

Status Processor::StartCommit() {
  // One write at a time, in order: the previous batch must be durable (and
  // its offsets reported) before the next is drained.
  if (Status s = FinishWrite(); !s.ok()) return s;
  ops::ProcessingTime start = clock_.Now();
  if (Status s = dlq_.Flush(); !s.ok()) return s;
  // Results sent at earlier commits: delivered by now, or this waits.
  if (output_ != nullptr && sent_ > delivered_) {
    if (Status s = output_->Flush(); !s.ok()) return s;
    delivered_ = sent_;
    CrashPoint("results.after_flush");  // delivered, still in the outbox
  }
  dedup_.Expire();

  // On the operator thread, if there is one, while this one drains the
  // rest; complete at the Sync() below (no return in between: the worker
  // writes into these). The worker drains dedup too: a replay's last
  // commit left it idle a third of the time otherwise.
  CommitChanges changes;
  auto of = [&](Store store) -> ops::Mutations& { return changes[static_cast<size_t>(store)]; };
  parallel_.DrainDirty(of(Store::kChannels), of(Store::kMembers),
                       [&] { dedup_.DrainDirty(of(Store::kDedup)); });
  threads_.DrainDirty(of(Store::kThreads));
  posts_.DrainDirty(of(Store::kPosts));
  // The operator thread's drain, and the window results made before it,
  // which update window_writes_ and fresh_results_ below.
  parallel_.Sync();
  for (auto& [key, value] : window_writes_) {
    of(Store::kWindows)
        .push_back(value ? ops::Mutation{ops::Mutation::Op::kPut, key, std::move(*value)}
                         : ops::Mutation{ops::Mutation::Op::kDelete, key, {}});
  }
  window_writes_.clear();
  // The outbox: results made since the last commit join the state that made
  // them; entries known delivered go.
  for (const OutputRecord& r : fresh_results_) of(Store::kOutbox).push_back(EncodeOutbox(r));
  if (delivered_ > outbox_cleared_) {
    of(Store::kOutbox)
        .push_back(
            {ops::Mutation::Op::kDeleteRange, OutboxKey(outbox_cleared_), OutboxKey(delivered_)});
    outbox_cleared_ = delivered_;
  }
  CollectMeta(of(Store::kMeta));
  records_since_commit_ = 0;
  MeasureInputWait(start);
  last_commit_ = start;
  if (std::all_of(changes.begin(), changes.end(), [](const auto& c) { return c.empty(); })) {
    // Nothing changed: no write, no fsync.
    Publish();
    return Status::Ok();
  }

  written_positions_.clear();
  for (const auto& [tp, slot] : slots_) {
    if (slot->assigned && slot->meta.next_offset >= 0) {
      written_positions_.push_back({tp, slot->meta.next_offset});
    }
  }
  commits_++;
  written_results_ = std::move(fresh_results_);
  fresh_results_.clear();
  // The view this batch makes durable, built now and shown once written.
  std::shared_ptr<const Snapshot> snap = BuildSnapshot();
  // The write overlaps further processing; only its result is awaited, at
  // the next commit. A crash meanwhile restarts from the previous batch.
  write_ = std::async(std::launch::async,
                      [this, c = std::move(changes), snap = std::move(snap), start]() {
                        if (Status s = store_.Commit(c); !s.ok()) return s;
                        Install(snap);
                        if (on_commit_) on_commit_(*snap, (clock_.Now() - start).count() / 1000.0);
                        return Status::Ok();
                      });
  return Status::Ok();
}

// The share of the time since the last commit spent waiting for input.
void Processor::MeasureInputWait(ops::ProcessingTime start) {
  if (polling_) {  // a commit inside a poll, by the source's listener (assignment, revocation)
    input_wait_ += start - poll_started_;
    poll_started_ = start;
  }
  if (start > last_commit_) {
    input_wait_ratio_ = static_cast<double>((input_wait_ - input_wait_at_commit_).count()) /
                        static_cast<double>((start - last_commit_).count());
  }
  input_wait_at_commit_ = input_wait_;
}

void Processor::CollectMeta(ops::Mutations& out) {
  for (auto& [tp, slot] : slots_) {
    if (!slot->dirty) continue;
    slot->meta.max_seen = watermark_.max_seen(slot->meta.id);
    out.push_back(EncodePartitionMeta(slot->meta));
    slot->dirty = false;
  }
  if (global_dirty_) {
    GlobalMeta g{watermark_.current(), windows_closed_, window_corrections_, next_output_seq_,
                 rebalances_};
    out.push_back(EncodeGlobalMeta(g));
    global_dirty_ = false;
  }
}

std::shared_ptr<const Snapshot> Processor::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

void Processor::OnCommit(std::function<void(const Snapshot&, double)> fn) {
  on_commit_ = std::move(fn);
}

}  // namespace chorus
