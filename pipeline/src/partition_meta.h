// The meta store's records: one per input partition (where it is, what it
// counted, how far its event time got) and one global (the watermark and
// window counts). The partition's record shares the partition's commit
// batch with its state, which is what ties offsets to state.
//
// Keys: partition prefix (see ops::AppendPartitionPrefix) + 'p' for a
// partition; prefix of -1 (0xFFFFFFFF) + 'g' for the global record.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "chorus/pipeline/snapshot.h"
#include "chorus/pipeline/state_store.h"

namespace chorus {

struct PartitionMeta {
  TopicPartition tp;
  int32_t id = 0;            // the state partition: prefix of all its keys
  int64_t next_offset = -1;  // -1: nothing processed yet
  ops::EventTime max_seen = ops::EventTime::Min();
  PartitionCounters counters;
};

struct GlobalMeta {
  ops::EventTime watermark = ops::EventTime::Min();
  std::array<uint64_t, ops::kWindowSpecCount> windows_closed{};  // fired, in fact
  std::array<uint64_t, ops::kWindowSpecCount> window_corrections{};
  uint64_t next_output_seq = 0;  // the outbox's next sequence number
  uint64_t rebalances = 0;       // assignments and revocations, all runs
};

ops::Mutation EncodePartitionMeta(const PartitionMeta& m);
ops::Mutation EncodeGlobalMeta(const GlobalMeta& g);

// What one meta entry holds; nullopt for a key or value that does not parse.
struct MetaEntry {
  std::optional<PartitionMeta> partition;
  std::optional<GlobalMeta> global;
};
std::optional<MetaEntry> DecodeMeta(std::string_view key, std::string_view value);

}  // namespace chorus
