#include "chorus/pipeline/generator_source.h"

#include "chorus/operators/event.h"

namespace chorus {

int32_t PartitionForKey(std::string_view key, int partitions, uint64_t sequence) {
  if (key.empty()) return static_cast<int32_t>(sequence % static_cast<uint64_t>(partitions));
  return static_cast<int32_t>(ops::StableHash64(key) % static_cast<uint64_t>(partitions));
}

GeneratorSource::GeneratorSource(GeneratorOptions options, int partitions, uint64_t records,
                                 std::string topic)
    : generator_(options), partitions_(partitions), records_(records), topic_(std::move(topic)) {
  next_offset_.assign(partitions_, 0);
  skip_until_.assign(partitions_, 0);
  // The end of each partition is known only by generating the stream once.
  end_offset_.assign(partitions_, 0);
  Generator counter(options);
  GeneratedRecord r;
  for (uint64_t i = 0; i < records_; ++i) {
    counter.Next(r);
    end_offset_[PartitionForKey(r.key, partitions_, i)]++;
  }
}

void GeneratorSource::Start() {
  started_ = true;
  std::vector<TopicPartition> tps;
  for (int p = 0; p < partitions_; ++p) tps.push_back({topic_, p});
  if (listener_ == nullptr) return;
  for (const SourcePosition& pos : listener_->OnAssigned(tps)) {
    if (pos.tp.topic == topic_ && pos.tp.partition >= 0 && pos.tp.partition < partitions_) {
      skip_until_[pos.tp.partition] = pos.next_offset;
    }
  }
}

Status GeneratorSource::Poll(std::vector<SourceRecord>& out, size_t max,
                             std::chrono::milliseconds) {
  out.clear();
  if (!started_) Start();
  // Records are generated into reused buffers, sized once for the batch so
  // the views handed out stay valid until the next Poll.
  if (batch_.size() < max) batch_.resize(max);
  while (out.size() < max && produced_ < records_) {
    GeneratedRecord& r = batch_[out.size()];
    generator_.Next(r);
    int32_t p = PartitionForKey(r.key, partitions_, produced_++);
    int64_t offset = next_offset_[p]++;
    if (offset < skip_until_[p]) continue;
    SourceRecord rec;
    rec.topic = topic_;
    rec.partition = p;
    rec.offset = offset;
    rec.key = {reinterpret_cast<const uint8_t*>(r.key.data()), r.key.size()};
    rec.value = {reinterpret_cast<const uint8_t*>(r.value.data()), r.value.size()};
    rec.timestamp_ms = r.event_time_ms;
    out.push_back(rec);
  }
  return Status::Ok();
}

std::optional<int64_t> GeneratorSource::EndOffset(const TopicPartition& tp) const {
  if (tp.topic != topic_ || tp.partition < 0 || tp.partition >= partitions_) return std::nullopt;
  return end_offset_[tp.partition];
}

}  // namespace chorus
