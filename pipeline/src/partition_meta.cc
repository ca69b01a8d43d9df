#include "partition_meta.h"

namespace chorus {
namespace {

constexpr char kPartitionTag = 'p';
constexpr char kGlobalTag = 'g';
constexpr int32_t kGlobalPrefix = -1;

void PutCounters(std::string& out, std::span<const uint64_t> values) {
  ops::PutVarint(out, values.size());
  for (uint64_t v : values) ops::PutVarint(out, v);
}

// Reads a counter array written by PutCounters; extra stored entries (from a
// newer build) are ignored and missing ones stay zero.
bool GetCounters(ops::Reader& r, std::span<uint64_t> values) {
  uint64_t n = 0;
  if (!r.Varint(n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    if (!r.Varint(v)) return false;
    if (i < values.size()) values[i] = v;
  }
  return true;
}

}  // namespace

ops::Mutation EncodePartitionMeta(const PartitionMeta& m) {
  ops::Mutation mu;
  ops::AppendPartitionPrefix(mu.key, m.id);
  mu.key.push_back(kPartitionTag);
  ops::PutLengthPrefixed(mu.value, m.tp.topic);
  ops::PutVarint(mu.value, static_cast<uint32_t>(m.tp.partition));
  ops::PutSignedVarint(mu.value, m.next_offset);
  ops::PutSignedVarint(mu.value, m.max_seen.millis());
  PutCounters(mu.value, m.counters.outcomes);
  PutCounters(mu.value, m.counters.dlq);
  return mu;
}

ops::Mutation EncodeGlobalMeta(const GlobalMeta& g) {
  ops::Mutation mu;
  ops::AppendPartitionPrefix(mu.key, kGlobalPrefix);
  mu.key.push_back(kGlobalTag);
  ops::PutSignedVarint(mu.value, g.watermark.millis());
  PutCounters(mu.value, g.windows_closed);
  PutCounters(mu.value, g.window_corrections);
  ops::PutVarint(mu.value, g.next_output_seq);
  ops::PutVarint(mu.value, g.rebalances);
  return mu;
}

std::optional<MetaEntry> DecodeMeta(std::string_view key, std::string_view value) {
  int32_t id = 0;
  if (key.size() != 5 || !ops::ParsePartitionPrefix(key, id)) return std::nullopt;
  ops::Reader r(value);
  MetaEntry entry;
  if (id == kGlobalPrefix && key[4] == kGlobalTag) {
    GlobalMeta g;
    int64_t wm = 0;
    if (!r.SignedVarint(wm) || !GetCounters(r, g.windows_closed)) return std::nullopt;
    // Written since window results are emitted; absent before.
    if (!r.empty() && (!GetCounters(r, g.window_corrections) || !r.Varint(g.next_output_seq))) {
      return std::nullopt;
    }
    if (!r.empty() && !r.Varint(g.rebalances)) return std::nullopt;
    g.watermark = ops::EventTime::FromMillis(wm);
    entry.global = g;
    return entry;
  }
  if (key[4] != kPartitionTag) return std::nullopt;
  PartitionMeta m;
  m.id = id;
  std::string_view topic;
  uint64_t partition = 0;
  int64_t max_seen = 0;
  if (!r.LengthPrefixed(topic) || !r.Varint(partition) || !r.SignedVarint(m.next_offset) ||
      !r.SignedVarint(max_seen) || !GetCounters(r, m.counters.outcomes) ||
      !GetCounters(r, m.counters.dlq)) {
    return std::nullopt;
  }
  m.tp = {std::string(topic), static_cast<int32_t>(partition)};
  m.max_seen = ops::EventTime::FromMillis(max_seen);
  entry.partition = std::move(m);
  return entry;
}

}  // namespace chorus
