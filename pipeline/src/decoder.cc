#include "chorus/pipeline/decoder.h"

#include <google/protobuf/arena.h>

#include <cstring>
#include <limits>
#include <string_view>

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

// The fields chorus reads, as the wire (or the parsed message) has them.
struct Fields {
  std::string_view event_id, channel_id, member_id, content_id, reply_to_event_id;
  bool has_occurred_at = false;
  int64_t seconds = 0;
  int32_t nanos = 0;
  int32_t platform = 0, kind = 0, actor_role = 0, content_type = 0;
  bool has_sentiment = false;
  float sentiment = 0.0f;
  uint64_t count = 0, member_reach = 0;
};

void ToEvent(const Fields& f, ops::Event& out) {
  out.event_id = f.event_id;
  out.occurred_at = f.has_occurred_at ? ToEventTime(f.seconds, f.nanos) : ops::EventTime::Min();
  out.channel_id = f.channel_id;
  out.platform = ToEnum<ops::Platform>(f.platform, ops::kPlatformCount);
  out.kind = ToEnum<ops::EventKind>(f.kind, ops::kEventKindCount);
  out.member_id = f.member_id;
  out.actor_role = ToEnum<ops::ActorRole>(f.actor_role, ops::kActorRoleCount);
  out.content_id = f.content_id;
  out.content_type = ToEnum<ops::ContentType>(f.content_type, ops::kContentTypeCount);
  out.has_sentiment = f.has_sentiment;
  out.sentiment = f.has_sentiment ? f.sentiment : 0.0f;
  out.reply_to_event_id = f.reply_to_event_id;
  out.count = f.count;
  out.member_reach = f.member_reach;
}

Fields FieldsOf(const v1::EngagementEvent& m) {
  Fields f;
  f.event_id = m.event_id();
  f.has_occurred_at = m.has_occurred_at();
  f.seconds = m.occurred_at().seconds();
  f.nanos = m.occurred_at().nanos();
  f.channel_id = m.channel_id();
  f.platform = m.platform();
  f.kind = m.kind();
  f.member_id = m.member_id();
  f.actor_role = m.actor_role();
  f.content_id = m.content_id();
  f.content_type = m.content_type();
  f.has_sentiment = m.has_sentiment();
  f.sentiment = m.sentiment();
  f.reply_to_event_id = m.reply_to_event_id();
  f.count = m.count();
  f.member_reach = m.member_reach();
  return f;
}

// The scan of the wire format (see decoder.h). Each step returns false to
// hand the record to protobuf's parser: for input it does not decode the
// way protobuf would, and for input protobuf rejects, so that the reason
// comes from one place.
class Scan {
 public:
  Scan(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
  explicit Scan(std::string_view bytes)
      : Scan(reinterpret_cast<const uint8_t*>(bytes.data()),
             reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size()) {}

  bool Message(Fields& f) {
    while (p_ != end_) {
      uint32_t field = 0;
      int wire = 0;
      if (!Tag(field, wire)) return false;
      switch (field) {
        case 1:
          if (!String(wire, f.event_id)) return false;
          break;
        case 2: {
          std::string_view sub;
          if (wire != kLength || !Bytes(sub) || !Timestamp(sub, f)) return false;
          f.has_occurred_at = true;
          break;
        }
        case 3:
          if (!String(wire, f.channel_id)) return false;
          break;
        case 4:
          if (!Int32(wire, f.platform)) return false;
          break;
        case 5:
          if (!Int32(wire, f.kind)) return false;
          break;
        case 6:
          if (!String(wire, f.member_id)) return false;
          break;
        case 7:
          if (!Int32(wire, f.actor_role)) return false;
          break;
        case 8:
          if (!String(wire, f.content_id)) return false;
          break;
        case 9:
          if (!Int32(wire, f.content_type)) return false;
          break;
        case 10: {
          const uint8_t* at = p_;
          if (wire != kFixed32 || !Advance(4)) return false;
          std::memcpy(&f.sentiment, at, 4);
          f.has_sentiment = true;
          break;
        }
        case 11:
          if (!String(wire, f.reply_to_event_id)) return false;
          break;
        case 12:
          if (wire != kVarint || !Varint(f.count)) return false;
          break;
        case 13:
          if (wire != kVarint || !Varint(f.member_reach)) return false;
          break;
        case 14: {
          std::string_view entry;
          if (wire != kLength || !Bytes(entry) || !AttributeEntry(entry)) return false;
          break;
        }
        default:
          if (!Skip(wire)) return false;
      }
    }
    return true;
  }

 private:
  static constexpr int kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5;

  bool Varint(uint64_t& out) {
    // Tags, lengths and enums are nearly always one byte.
    if (p_ != end_ && *p_ < 0x80) {
      out = *p_++;
      return true;
    }
    return ReadVarint(p_, end_, out);
  }
  bool Tag(uint32_t& field, int& wire) {
    uint64_t tag = 0;
    const uint8_t* start = p_;
    // protobuf reads a tag as at most five bytes of a 32-bit value.
    if (!Varint(tag) || p_ - start > 5 || tag > UINT32_MAX || (tag >> 3) == 0) return false;
    field = static_cast<uint32_t>(tag >> 3);
    wire = static_cast<int>(tag & 7);
    return true;
  }
  // An int32 or enum: the low 32 bits of the varint, as protobuf keeps them.
  bool Int32(int wire, int32_t& out) {
    uint64_t v = 0;
    if (wire != kVarint || !Varint(v)) return false;
    out = static_cast<int32_t>(v);
    return true;
  }
  // Steps over `n` bytes; false if fewer are left.
  bool Advance(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) return false;
    p_ += n;
    return true;
  }
  bool Bytes(std::string_view& out) {
    uint64_t n = 0;
    if (!Varint(n)) return false;
    const uint8_t* at = p_;
    if (!Advance(n)) return false;
    out = {reinterpret_cast<const char*>(at), static_cast<size_t>(n)};
    return true;
  }
  // A proto3 string must be UTF-8; ASCII is, and anything else is left to
  // protobuf's check.
  static bool Ascii(std::string_view s) {
    uint64_t high = 0;
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      high |= word;
    }
    for (; i < s.size(); ++i) high |= static_cast<uint8_t>(s[i]);
    return (high & 0x8080808080808080ULL) == 0;
  }
  bool String(int wire, std::string_view& out) {
    return wire == kLength && Bytes(out) && Ascii(out);
  }
  bool Skip(int wire) {
    uint64_t v = 0;
    std::string_view bytes;
    switch (wire) {
      case kVarint:
        return Varint(v);
      case kFixed64:
        return Advance(8);
      case kLength:
        return Bytes(bytes);
      case kFixed32:
        return Advance(4);
      default:  // groups, or no wire type at all
        return false;
    }
  }
  // Fields of a repeated occurrence overwrite the earlier ones, as protobuf
  // merges a submessage that occurs twice.
  static bool Timestamp(std::string_view bytes, Fields& f) {
    Scan s(bytes);
    while (s.p_ != s.end_) {
      uint32_t field = 0;
      int wire = 0;
      uint64_t v = 0;
      if (!s.Tag(field, wire) || wire != kVarint || field > 2 || !s.Varint(v)) return false;
      if (field == 1) {
        f.seconds = static_cast<int64_t>(v);
      } else {
        f.nanos = static_cast<int32_t>(v);
      }
    }
    return true;
  }
  // A map<string, string> entry: checked, not kept (chorus does not read
  // attributes).
  static bool AttributeEntry(std::string_view bytes) {
    Scan s(bytes);
    while (s.p_ != s.end_) {
      uint32_t field = 0;
      int wire = 0;
      std::string_view text;
      if (!s.Tag(field, wire) || field > 2 || !s.String(wire, text)) return false;
    }
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

Decoder::Decoder(bool scan) : scan_(scan), block_(new char[kArenaBlockBytes]) { ResetArena(); }
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
  const uint8_t* data = value.data() + payload;
  const size_t size = value.size() - payload;
  if (scan_) {
    Fields f;
    if (Scan(data, data + size).Message(f)) {
      ToEvent(f, out);
      return std::nullopt;
    }
    ++parsed_by_protobuf_;
  }
  return Parse(data, size, out);
}

std::optional<DlqReason> Decoder::Parse(const uint8_t* data, size_t size, ops::Event& out) {
  // Each parse leaves a dead occurred_at on the arena; once that spills out
  // of the first block, start over (every few thousand records).
  if (arena_->SpaceAllocated() > kArenaBlockBytes) ResetArena();
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !message_->ParseFromArray(data, static_cast<int>(size))) {
    message_->Clear();  // never expose a half-parsed message
    return DlqReason::kUndecodable;
  }
  ToEvent(FieldsOf(*message_), out);
  return std::nullopt;
}

}  // namespace chorus
