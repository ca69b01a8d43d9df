#include "chorus/pipeline/decoder.h"

#include <google/protobuf/arena.h>

#include <limits>

#include "chorus/v1/engagement.pb.h"

namespace chorus {
namespace {

// Confluent framing: magic byte, 4-byte schema id, then at least one byte of
// message-index list.
constexpr size_t kFramingHeaderBytes = 5;
// The arena's first block: a few thousand records' worth of submessages.
constexpr size_t kArenaBlockBytes = 64 << 10;
// A varint longer than this is not a 64-bit varint.
constexpr int kMaxVarintBytes = 10;

// Reads one base-128 varint from [*p, end); false if truncated or too long.
bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
  uint64_t v = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (p == end) return false;
    uint8_t b = *p++;
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (i == kMaxVarintBytes - 1 && b > 1) return false;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Skips the Confluent header of `value` (which starts with the magic byte)
// and returns the offset of the protobuf payload, or -1 if it is broken.
// The message indexes name a message type inside the registered schema; the
// producer's schema may hold more messages than ours, so they are checked
// for well-formedness only.
int64_t SkipConfluentFraming(std::span<const uint8_t> value) {
  if (value.size() < kFramingHeaderBytes + 1) return -1;
  const uint8_t* p = value.data() + kFramingHeaderBytes;
  const uint8_t* end = value.data() + value.size();
  uint64_t raw = 0;
  if (!ReadVarint(p, end, raw)) return -1;
  int64_t count = ZigZagDecode(raw);
  // Each index takes at least one byte: a larger count cannot be satisfied.
  if (count < 0 || count > end - p) return -1;
  for (int64_t i = 0; i < count; ++i) {
    if (!ReadVarint(p, end, raw)) return -1;
    if (ZigZagDecode(raw) < 0) return -1;
  }
  return p - value.data();
}

// Maps a wire enum number to the operator enum, or kUnspecified for values
// this build does not know (proto3 enums are open).
template <typename E>
E ToEnum(int v, int count) {
  return v > 0 && v < count ? static_cast<E>(v) : E::kUnspecified;
}

// seconds * 1000 + nanos / 1e6, saturating instead of overflowing. Min() is
// reserved for "missing", so saturation stops one short of it; validation
// rejects both ends as out of range.
ops::EventTime ToEventTime(int64_t seconds, int32_t nanos) {
  constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000 - 1;
  if (seconds > kLimit) return ops::EventTime::Max();
  if (seconds < -kLimit) return ops::EventTime::FromMillis(-kLimit * 1000);
  return ops::EventTime::FromMillis(seconds * 1000 + nanos / 1'000'000);
}

void FillEvent(const v1::EngagementEvent& m, ops::Event& out) {
  out.event_id = m.event_id();
  out.occurred_at = m.has_occurred_at()
                        ? ToEventTime(m.occurred_at().seconds(), m.occurred_at().nanos())
                        : ops::EventTime::Min();
  out.channel_id = m.channel_id();
  out.platform = ToEnum<ops::Platform>(m.platform(), ops::kPlatformCount);
  out.kind = ToEnum<ops::EventKind>(m.kind(), ops::kEventKindCount);
  out.member_id = m.member_id();
  out.actor_role = ToEnum<ops::ActorRole>(m.actor_role(), ops::kActorRoleCount);
  out.content_id = m.content_id();
  out.content_type = ToEnum<ops::ContentType>(m.content_type(), ops::kContentTypeCount);
  out.has_sentiment = m.has_sentiment();
  out.sentiment = m.has_sentiment() ? m.sentiment() : 0.0f;
  out.reply_to_event_id = m.reply_to_event_id();
  out.count = m.count();
  out.member_reach = m.member_reach();
}

}  // namespace

Decoder::Decoder() : block_(new char[kArenaBlockBytes]) { ResetArena(); }
Decoder::~Decoder() = default;

void Decoder::ResetArena() {
  if (arena_ == nullptr) {
    arena_ = std::make_unique<google::protobuf::Arena>(block_.get(), kArenaBlockBytes);
  } else {
    arena_->Reset();
  }
  message_ = google::protobuf::Arena::CreateMessage<v1::EngagementEvent>(arena_.get());
}

std::optional<DlqReason> Decoder::Decode(std::span<const uint8_t> value, ops::Event& out) {
  out = ops::Event{};
  size_t payload = 0;
  // A plain message never starts with a zero byte (field number 0 is
  // invalid), so a leading zero can only be the Confluent magic byte.
  if (!value.empty() && value[0] == 0) {
    int64_t skip = SkipConfluentFraming(value);
    if (skip < 0) return DlqReason::kBadFraming;
    payload = static_cast<size_t>(skip);
  }
  // Each parse leaves a dead occurred_at on the arena; once that spills out
  // of the first block, start over (every few thousand records).
  if (arena_->SpaceAllocated() > kArenaBlockBytes) ResetArena();
  // ParseFromArray clears the reused message first, keeping its strings'
  // capacity, so a warm decoder does not allocate for string fields.
  size_t size = value.size() - payload;
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !message_->ParseFromArray(value.data() + payload, static_cast<int>(size))) {
    message_->Clear();  // never expose a half-parsed message
    return DlqReason::kUndecodable;
  }
  FillEvent(*message_, out);
  return std::nullopt;
}

}  // namespace chorus
