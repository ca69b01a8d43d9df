// Record value → ops::Event.
//
// A value is either a serialized chorus.v1.EngagementEvent or the same with
// Confluent Schema Registry framing: magic byte 0, a 4-byte big-endian
// schema id, then the message-index list (a zigzag varint count followed by
// that many zigzag varint indexes; a single 0 byte stands for [0]). Framing
// is detected per record: a plain protobuf message never begins with a zero
// byte (field number 0 is invalid).
//
// Unknown enum values (from a newer schema) are mapped to the enum's
// kUnspecified; validation then rejects an unspecified kind.
//
// Most records are read by a scan of the wire format that takes the fields
// chorus uses as views into the input, without building a message. It
// accepts only what it can decode exactly as protobuf would: known fields
// with their declared wire types, unknown fields of the four plain wire
// types, ASCII strings. Anything else (groups, a known field with another
// wire type, non-ASCII text, a malformed or overlong varint, a cut-off
// field) is handed to protobuf's parser, whose verdict stands, so both
// paths give the same event and the same rejections (tested against each
// other on mutated records).
//
// The Event it produces points into the input or into the Decoder: valid
// while the input is, and until the next Decode call. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "chorus/operators/event.h"
#include "chorus/pipeline/dlq_reason.h"

namespace chorus::v1 {
class EngagementEvent;
}
namespace google::protobuf {
class Arena;
}

namespace chorus {

class Decoder {
 public:
  // `scan` false sends every record through protobuf's parser (for tests
  // and benchmarks that compare the two).
  explicit Decoder(bool scan = true);
  ~Decoder();

  // Decodes `value` into `out`; on failure returns the DLQ reason.
  std::optional<DlqReason> Decode(std::span<const uint8_t> value, ops::Event& out);

  // Records the scan handed to protobuf's parser so far.
  uint64_t parsed_by_protobuf() const { return parsed_by_protobuf_; }

 private:
  std::optional<DlqReason> Parse(const uint8_t* data, size_t size, ops::Event& out);
  // Recreates the message on an emptied arena.
  void ResetArena();

  bool scan_;
  uint64_t parsed_by_protobuf_ = 0;
  // Parsing recreates a message's submessages; on an arena that is a pointer
  // bump instead of a malloc. The arena starts in block_ and is emptied when
  // it outgrows it, which also bounds what an oversized record leaves behind.
  // A reused message keeps its strings' capacity, so a warm decoder does not
  // allocate for string fields either.
  std::unique_ptr<char[]> block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  v1::EngagementEvent* message_ = nullptr;  // owned by arena_
};

}  // namespace chorus
