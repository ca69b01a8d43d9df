// The Processor's record of one input partition (shared by its .cc files).
#pragma once

#include "chorus/pipeline/processor.h"
#include "partition_meta.h"

namespace chorus {

struct Processor::Slot {
  PartitionMeta meta;
  bool loaded = false;    // state restored into the operators
  bool assigned = false;  // this instance owns it now
  bool dirty = false;     // meta changed since the last commit
  int64_t last_record_ms = -1;  // Kafka timestamp of the last record read (not state)
};

}  // namespace chorus
