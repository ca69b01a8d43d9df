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
// A Decoder reuses one message and its strings across calls, so decoding
// does not allocate once warm (the message lives on an arena, so even its
// occurred_at submessage costs no malloc). The Event it produces points into the
// Decoder and is valid until the next Decode call. Not thread-safe.
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
  Decoder();
  ~Decoder();

  // Decodes `value` into `out`; on failure returns the DLQ reason.
  std::optional<DlqReason> Decode(std::span<const uint8_t> value, ops::Event& out);

  // The last decoded message (attributes and all), for the DLQ and the API.
  const v1::EngagementEvent& message() const { return *message_; }

 private:
  // Recreates the message on an emptied arena.
  void ResetArena();

  // Parsing recreates a message's submessages; on an arena that is a pointer
  // bump instead of a malloc. The arena starts in block_ and is emptied when
  // it outgrows it, which also bounds what an oversized record leaves behind.
  std::unique_ptr<char[]> block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  v1::EngagementEvent* message_ = nullptr;  // owned by arena_
};

}  // namespace chorus
