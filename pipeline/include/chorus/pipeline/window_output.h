// Window results leaving chorus for the window results topic.
//
// Effectively-once without Kafka transactions: the processor stores each
// result in an outbox (a column family) in the same RocksDB batch as the
// state that produced it, and hands it to the WindowOutput only once that
// batch is durable. A crash before the batch is durable loses nothing (the
// input is reprocessed and the same results made again); a crash after it
// leaves the results in the outbox, and on restart Resume() sends those the
// topic does not hold yet. Each record carries its outbox sequence number
// (header chorus-seq); sequence numbers only grow, and a partition receives
// records in sequence order (idempotent producer), so the last record of a
// partition tells which of the outbox's records reached it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "chorus/pipeline/status.h"

namespace chorus {

struct OutputRecord {
  uint64_t seq = 0;          // the outbox position: strictly increasing
  std::string key;           // the channel id
  std::string value;         // a serialized chorus.v1.ChannelWindow
  int64_t timestamp_ms = 0;  // the window's end (event time)
};

class WindowOutput {
 public:
  virtual ~WindowOutput() = default;
  // Queues durable outbox records, in sequence order.
  virtual void Send(std::span<const OutputRecord> records) = 0;
  // Blocks until everything sent so far is delivered; an error means some
  // record may not have been, and its outbox entry must stay.
  virtual Status Flush() = 0;
  // After a restart: the records the outbox still holds, in sequence order.
  // Some may have been delivered before the crash; sends only the others.
  virtual Status Resume(std::span<const OutputRecord> records) = 0;
};

}  // namespace chorus
