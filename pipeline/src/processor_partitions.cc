// The Processor's partition lifecycle: loading state when a partition is
// assigned, making it durable and dropping it when revoked, and publishing
// the committed view.
#include <spdlog/spdlog.h>

#include "chorus/pipeline/processor.h"
#include "processor_slot.h"
#include "window_results.h"

namespace chorus {

Status Processor::LoadDirectory() {
  Status failed;
  Status s = store_.Scan(Store::kMeta, "", [&](std::string_view key, std::string_view value) {
    auto entry = DecodeMeta(key, value);
    if (!entry) {
      failed = Status::Error("state store: unreadable meta entry");
      return false;
    }
    if (entry->global) {
      watermark_.Restore(entry->global->watermark);
      parallel_.channels().RestoreWatermark(entry->global->watermark);
      windows_closed_ = entry->global->windows_closed;
      window_corrections_ = entry->global->window_corrections;
      next_output_seq_ = entry->global->next_output_seq;
      rebalances_ = entry->global->rebalances;
    }
    if (entry->partition) {
      auto slot = std::make_unique<Slot>();
      slot->meta = std::move(*entry->partition);
      next_slot_id_ = std::max(next_slot_id_, slot->meta.id + 1);
      TopicPartition tp = slot->meta.tp;
      slots_[tp] = std::move(slot);
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!failed.ok()) return failed;
  directory_loaded_ = true;
  return Status::Ok();
}

Status Processor::Restore() {
  if (directory_loaded_) return Status::Ok();
  if (Status s = LoadDirectory(); !s.ok()) return s;
  for (auto& [tp, slot] : slots_) {
    if (Status s = LoadPartition(*slot); !s.ok()) return s;
  }
  if (Status s = LoadResults(); !s.ok()) return s;
  Publish();
  return Status::Ok();
}

Status Processor::LoadResults() {
  bool corrupt = false;
  Status s = store_.Scan(Store::kWindows, "", [&](std::string_view k, std::string_view v) {
    corrupt = !recent_->Restore(k, v);
    return !corrupt;
  });
  if (!s.ok()) return s;
  if (corrupt) return Status::Error("state store: unreadable entry in windows");
  std::vector<OutputRecord> outbox;
  s = store_.Scan(Store::kOutbox, "", [&](std::string_view k, std::string_view v) {
    auto r = DecodeOutbox(k, v);
    if (r) outbox.push_back(std::move(*r));
    corrupt = !r;
    return !corrupt;
  });
  if (!s.ok()) return s;
  if (corrupt) return Status::Error("state store: unreadable entry in outbox");
  sent_ = delivered_ = outbox_cleared_ = next_output_seq_;
  if (outbox.empty()) return Status::Ok();
  next_output_seq_ = std::max(next_output_seq_, outbox.back().seq + 1);
  outbox_cleared_ = delivered_ = outbox.front().seq;
  sent_ = next_output_seq_;
  if (output_ == nullptr) {
    spdlog::warn("{} window results were never delivered and no --output-topic is set: dropped",
                 outbox.size());
    delivered_ = sent_;  // the next commit deletes them
    return Status::Ok();
  }
  spdlog::info("resending up to {} window results not known delivered", outbox.size());
  return output_->Resume(outbox);
}

Status Processor::LoadPartition(Slot& slot) {
  parallel_.Sync();
  std::string prefix;
  ops::AppendPartitionPrefix(prefix, slot.meta.id);
  struct Target {
    Store store;
    std::function<bool(std::string_view, std::string_view)> restore;
  };
  const Target targets[] = {
      {Store::kChannels, [&](auto k, auto v) { return parallel_.channels().Restore(k, v); }},
      {Store::kMembers, [&](auto k, auto v) { return parallel_.members().Restore(k, v); }},
      {Store::kDedup, [&](auto k, auto v) { return dedup_.Restore(k, v); }},
      {Store::kThreads, [&](auto k, auto v) { return threads_.Restore(k, v); }},
      {Store::kPosts, [&](auto k, auto v) { return posts_.Restore(k, v); }},
  };
  for (const Target& t : targets) {
    bool corrupt = false;
    Status s = store_.Scan(t.store, prefix, [&](std::string_view k, std::string_view v) {
      corrupt = !t.restore(k, v);
      return !corrupt;
    });
    if (!s.ok()) return s;
    if (corrupt) {
      return Status::Error("state store: unreadable entry in " + std::string(Name(t.store)) +
                           " for " + slot.meta.tp.topic + "[" +
                           std::to_string(slot.meta.tp.partition) + "]");
    }
  }
  slot.loaded = true;
  return Status::Ok();
}

std::vector<SourcePosition> Processor::OnAssigned(const std::vector<TopicPartition>& tps) {
  std::vector<SourcePosition> starts;
  if (Status s = Restore(); !s.ok()) {
    deferred_error_ = s;
    return starts;
  }
  // Counted in the commit below, so it never goes back across a crash.
  ++rebalances_;
  global_dirty_ = true;
  // Commit first: the Publish() below must export committed state only,
  // and a rebalance can come in the middle of a commit interval.
  if (Status s = Commit(); !s.ok()) {
    deferred_error_ = s;
    return starts;
  }
  ops::ProcessingTime now = clock_.Now();
  for (const TopicPartition& tp : tps) {
    auto& slot = slots_[tp];
    if (!slot) {
      slot = std::make_unique<Slot>();
      slot->meta.tp = tp;
      // Persisted with its first processed record, in the same batch as its state.
      slot->meta.id = next_slot_id_++;
    }
    if (!slot->loaded) {
      if (Status s = LoadPartition(*slot); !s.ok()) {
        deferred_error_ = s;
        return {};
      }
    }
    slot->assigned = true;
    watermark_.AddPartition(slot->meta.id, slot->meta.max_seen, now);
    if (slot->meta.next_offset >= 0) starts.push_back({tp, slot->meta.next_offset});
  }
  Publish();
  return starts;
}

void Processor::OnRevoked(const std::vector<TopicPartition>& tps) {
  ++rebalances_;
  global_dirty_ = true;
  // Whatever was processed for these partitions must be durable before
  // another instance starts from our stored offsets.
  if (Status s = Commit(); !s.ok()) {
    deferred_error_ = s;
    return;
  }
  for (const TopicPartition& tp : tps) {
    auto it = slots_.find(tp);
    if (it == slots_.end()) continue;
    Slot& slot = *it->second;
    parallel_.channels().DropPartition(slot.meta.id);
    parallel_.members().DropPartition(slot.meta.id);
    dedup_.DropPartition(slot.meta.id);
    threads_.DropPartition(slot.meta.id);
    posts_.DropPartition(slot.meta.id);
    watermark_.RemovePartition(slot.meta.id);
    slot.assigned = false;
    slot.loaded = false;
  }
  Publish();
}

void Processor::Publish() {
  parallel_.Sync();
  Install(BuildSnapshot());
}

void Processor::Install(std::shared_ptr<const Snapshot> snap) {
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(snap);
}

std::shared_ptr<const Snapshot> Processor::BuildSnapshot() const {
  auto snap = std::make_shared<Snapshot>();
  snap->commits = commits_;
  snap->rebalances = rebalances_;
  snap->event_lag = event_lag_;
  snap->input_wait = input_wait_;
  snap->input_wait_ratio = input_wait_ratio_;
  const int64_t now_ms = clock_.Now().millis();
  snap->watermark = watermark_.current();
  snap->windows_closed = windows_closed_;
  snap->window_corrections = window_corrections_;
  snap->latest_windows = recent_->latest();
  for (const auto& [tp, slot] : slots_) {
    // Loaded state is exported whether or not Kafka has assigned it yet.
    if (!slot->loaded) continue;
    snap->counters.Add(slot->meta.counters);
    if (!slot->assigned) continue;
    PartitionSnapshot p{tp, slot->meta.id, slot->meta.next_offset, -1};
    if (auto end = source_.EndOffset(tp); end && slot->meta.next_offset >= 0) {
      p.lag = std::max<int64_t>(0, *end - slot->meta.next_offset);
    }
    p.max_event = watermark_.max_seen(slot->meta.id);
    if (p.lag == 0) {
      p.lag_seconds = 0;
    } else if (p.lag > 0 && slot->last_record_ms >= 0) {
      p.lag_seconds =
          std::max<double>(0, static_cast<double>(now_ms - slot->last_record_ms) / 1000);
    }
    snap->partitions.push_back(std::move(p));
  }
  parallel_.channels().ForEachChannel([&](const ops::ChannelView& v) {
    snap->channels.push_back({std::string(v.channel_id), v.platform, v.totals, v.followers});
  });
  snap->threads = threads_.Stats();
  snap->posts = posts_.Stats();
  snap->members = parallel_.members().Summary();
  snap->member_count = parallel_.members().member_count();
  if (snap->watermark != ops::EventTime::Min()) {
    snap->love = parallel_.members().LoveScores(snap->watermark, LoveScoreBounds());
  }
  snap->ready = !snap->partitions.empty();
  snap->not_ready_reason = snap->ready ? "" : "state loaded, waiting for partition assignment";
  return snap;
}

}  // namespace chorus
