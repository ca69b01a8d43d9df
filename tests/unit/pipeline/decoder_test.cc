#include "chorus/pipeline/decoder.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <string>
#include <vector>

#include "chorus/pipeline/validator.h"
#include "chorus/v1/engagement.pb.h"

namespace chorus {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

v1::EngagementEvent FullMessage() {
  v1::EngagementEvent m;
  m.set_event_id("evt-1");
  m.mutable_occurred_at()->set_seconds(1'767'225'600);
  m.mutable_occurred_at()->set_nanos(123'456'789);
  m.set_channel_id("twitter:acme");
  m.set_platform(v1::PLATFORM_MASTODON);
  m.set_kind(v1::EVENT_KIND_CONTRIBUTION);
  m.set_member_id("m-000042");
  m.set_actor_role(v1::ACTOR_ROLE_COMMUNITY_TEAM);
  m.set_content_id("twitter:acme/p/7");
  m.set_content_type(v1::CONTENT_TYPE_OTHER);
  m.set_sentiment(-0.25f);
  m.set_reply_to_event_id("evt-0");
  m.set_count(4321);
  m.set_member_reach(98'765);
  (*m.mutable_attributes())["campaign"] = "spring";
  return m;
}

void ExpectFullEvent(const ops::Event& e) {
  EXPECT_EQ(e.event_id, "evt-1");
  EXPECT_EQ(e.occurred_at.millis(), 1'767'225'600'123);
  EXPECT_EQ(e.channel_id, "twitter:acme");
  EXPECT_EQ(e.platform, ops::Platform::kMastodon);
  EXPECT_EQ(e.kind, ops::EventKind::kContribution);
  EXPECT_EQ(e.member_id, "m-000042");
  EXPECT_EQ(e.actor_role, ops::ActorRole::kCommunityTeam);
  EXPECT_EQ(e.content_id, "twitter:acme/p/7");
  EXPECT_EQ(e.content_type, ops::ContentType::kOther);
  EXPECT_TRUE(e.has_sentiment);
  EXPECT_FLOAT_EQ(e.sentiment, -0.25f);
  EXPECT_EQ(e.reply_to_event_id, "evt-0");
  EXPECT_EQ(e.count, 4321u);
  EXPECT_EQ(e.member_reach, 98'765u);
}

std::string Framed(std::vector<uint8_t> index_bytes, const std::string& payload) {
  std::string out = {'\0', '\0', '\0', '\x01', '\x2c'};  // magic, schema id 300
  out.append(index_bytes.begin(), index_bytes.end());
  return out + payload;
}

TEST(Decoder, RoundTripsEveryField) {
  Decoder d;
  ops::Event e;
  std::string bytes = FullMessage().SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  ExpectFullEvent(e);
  // Read by the scan: the views point into the input, nothing was parsed.
  EXPECT_EQ(d.parsed_by_protobuf(), 0u);
  EXPECT_GE(e.event_id.data(), bytes.data());
  EXPECT_LT(e.event_id.data(), bytes.data() + bytes.size());
  Decoder parser(/*scan=*/false);
  ops::Event parsed;
  ASSERT_EQ(parser.Decode(Bytes(bytes), parsed), std::nullopt);
  ExpectFullEvent(parsed);
}

TEST(Decoder, ConfluentFramingWithLoneZeroIndex) {
  Decoder d;
  ops::Event e;
  std::string bytes = Framed({0x00}, FullMessage().SerializeAsString());
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  ExpectFullEvent(e);
}

TEST(Decoder, ConfluentFramingWithExplicitIndexList) {
  Decoder d;
  ops::Event e;
  // Count 3 (zigzag 6), then indexes 1, 200 (zigzag 400: two bytes), 0.
  std::string bytes = Framed({0x06, 0x02, 0x90, 0x03, 0x00}, FullMessage().SerializeAsString());
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  ExpectFullEvent(e);
}

TEST(Decoder, BrokenFramingIsBadFraming) {
  const std::string payload = FullMessage().SerializeAsString();
  const std::vector<std::string> broken = {
      std::string(1, '\0'),              // magic only
      std::string("\0\0\0\x01", 4),      // schema id cut short
      std::string("\0\0\0\x01\x2c", 5),  // no index list
      Framed({0x80}, ""),                // index count varint cut short
      Framed({0x01}, payload),           // count -1
      Framed({0x06, 0x02}, ""),          // count 3, one index present
      Framed({0x02, 0x01}, payload),     // index -1
      Framed({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, payload),
  };
  Decoder d;
  for (const std::string& b : broken) {
    ops::Event e;
    EXPECT_EQ(d.Decode(Bytes(b), e), DlqReason::kBadFraming) << ::testing::PrintToString(b);
  }
}

TEST(Decoder, GarbageIsUndecodable) {
  Decoder d;
  ops::Event e;
  // Wire type 7 does not exist.
  std::string garbage = "\x0f\xde\xad\xbe\xef";
  EXPECT_EQ(d.Decode(Bytes(garbage), e), DlqReason::kUndecodable);
  // A framed record whose payload is garbage is undecodable, not badly framed.
  std::string framed = Framed({0x00}, garbage);
  EXPECT_EQ(d.Decode(Bytes(framed), e), DlqReason::kUndecodable);
}

TEST(Decoder, TruncatedMessageIsUndecodable) {
  Decoder d;
  ops::Event e;
  std::string bytes = FullMessage().SerializeAsString();
  // Cut inside the first field, event_id: its length now overruns the input.
  EXPECT_EQ(d.Decode(Bytes(bytes.substr(0, 4)), e), DlqReason::kUndecodable);
  // Nothing of the half-read message is left in the event.
  EXPECT_EQ(e.event_id, "");
  std::string framed = Framed({0x00}, bytes.substr(0, bytes.size() - 3));
  EXPECT_EQ(d.Decode(Bytes(framed), e), DlqReason::kUndecodable);
}

TEST(Decoder, UnknownEnumValuesBecomeUnspecified) {
  v1::EngagementEvent m = FullMessage();
  const auto* refl = m.GetReflection();
  const auto* desc = m.GetDescriptor();
  refl->SetEnumValue(&m, desc->FindFieldByName("platform"), 77);
  refl->SetEnumValue(&m, desc->FindFieldByName("kind"), 99);
  refl->SetEnumValue(&m, desc->FindFieldByName("actor_role"), 4);
  refl->SetEnumValue(&m, desc->FindFieldByName("content_type"), 1000);
  std::string bytes = m.SerializeAsString();
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.platform, ops::Platform::kUnspecified);
  EXPECT_EQ(e.kind, ops::EventKind::kUnspecified);
  EXPECT_EQ(e.actor_role, ops::ActorRole::kUnspecified);
  EXPECT_EQ(e.content_type, ops::ContentType::kUnspecified);
  EXPECT_EQ(Validate(e, bytes.size(), std::nullopt, {}), DlqReason::kUnknownKind);
}

TEST(Decoder, NegativeEnumOnTheWireBecomesUnspecified) {
  // Hand-encoded: event_id "x", then kind (field 5, varint) = -1, which a
  // varint carries as ten bytes.
  std::string bytes = "\x0a\x01x\x28";
  bytes += std::string(9, '\xff') + "\x01";
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.event_id, "x");
  EXPECT_EQ(e.kind, ops::EventKind::kUnspecified);
}

TEST(Decoder, MissingOccurredAtIsMin) {
  v1::EngagementEvent m = FullMessage();
  m.clear_occurred_at();
  std::string bytes = m.SerializeAsString();
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.occurred_at, ops::EventTime::Min());
  EXPECT_EQ(Validate(e, bytes.size(), std::nullopt, {}), DlqReason::kMissingOccurredAt);
  // Present but zero (the epoch) is a time, not a missing one.
  m.mutable_occurred_at();
  bytes = m.SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.occurred_at.millis(), 0);
}

TEST(Decoder, ExtremeTimestampsSaturateInsteadOfOverflowing) {
  v1::EngagementEvent m = FullMessage();
  m.mutable_occurred_at()->set_seconds(INT64_MAX);
  std::string bytes = m.SerializeAsString();
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(Validate(e, bytes.size(), std::nullopt, {}), DlqReason::kTimestampOutOfRange);
  m.mutable_occurred_at()->set_seconds(INT64_MIN);
  bytes = m.SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_NE(e.occurred_at, ops::EventTime::Min());
  EXPECT_EQ(Validate(e, bytes.size(), std::nullopt, {}), DlqReason::kTimestampOutOfRange);
  // Before the epoch, nanos still add forward.
  m.mutable_occurred_at()->set_seconds(-2);
  m.mutable_occurred_at()->set_nanos(500'000'000);
  bytes = m.SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.occurred_at.millis(), -1500);
}

TEST(Decoder, SentimentPresenceIsKept) {
  v1::EngagementEvent m = FullMessage();
  m.set_sentiment(0.0f);
  std::string bytes = m.SerializeAsString();
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_TRUE(e.has_sentiment);
  EXPECT_EQ(e.sentiment, 0.0f);
  m.clear_sentiment();
  bytes = m.SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_FALSE(e.has_sentiment);
}

TEST(Decoder, ReuseLeavesNothingBehind) {
  Decoder d;
  ops::Event e;
  std::string full = FullMessage().SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(full), e), std::nullopt);
  v1::EngagementEvent small;
  small.set_event_id("evt-2");
  small.set_kind(v1::EVENT_KIND_REACTION);
  std::string bytes = small.SerializeAsString();
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(e.event_id, "evt-2");
  EXPECT_EQ(e.member_id, "");
  EXPECT_EQ(e.channel_id, "");
  EXPECT_FALSE(e.has_sentiment);
  EXPECT_EQ(e.count, 0u);
  EXPECT_EQ(e.occurred_at, ops::EventTime::Min());
}

TEST(Decoder, EmptyValueDecodesToAnEventThatFailsValidation) {
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode({}, e), std::nullopt);
  EXPECT_EQ(Validate(e, 0, std::nullopt, {}), DlqReason::kMissingEventId);
}

void ExpectSameEvent(const ops::Event& a, const ops::Event& b, const std::string& bytes) {
  const std::string what = ::testing::PrintToString(bytes);
  EXPECT_EQ(a.event_id, b.event_id) << what;
  EXPECT_EQ(a.occurred_at, b.occurred_at) << what;
  EXPECT_EQ(a.channel_id, b.channel_id) << what;
  EXPECT_EQ(a.platform, b.platform) << what;
  EXPECT_EQ(a.kind, b.kind) << what;
  EXPECT_EQ(a.member_id, b.member_id) << what;
  EXPECT_EQ(a.actor_role, b.actor_role) << what;
  EXPECT_EQ(a.content_id, b.content_id) << what;
  EXPECT_EQ(a.content_type, b.content_type) << what;
  EXPECT_EQ(a.has_sentiment, b.has_sentiment) << what;
  // Bit for bit: a NaN must come through as the same NaN.
  EXPECT_EQ(std::bit_cast<uint32_t>(a.sentiment), std::bit_cast<uint32_t>(b.sentiment)) << what;
  EXPECT_EQ(a.reply_to_event_id, b.reply_to_event_id) << what;
  EXPECT_EQ(a.count, b.count) << what;
  EXPECT_EQ(a.member_reach, b.member_reach) << what;
}

TEST(Decoder, KnownFieldWithAnotherWireTypeIsLeftToProtobuf) {
  // event_id "x", then kind (field 5) as a length-delimited field: protobuf
  // keeps it as an unknown field, so kind stays unspecified.
  const std::string bytes("\x0a\x01x\x2a\x01\x07", 6);
  Decoder d;
  ops::Event e;
  ASSERT_EQ(d.Decode(Bytes(bytes), e), std::nullopt);
  EXPECT_EQ(d.parsed_by_protobuf(), 1u);
  EXPECT_EQ(e.event_id, "x");
  EXPECT_EQ(e.kind, ops::EventKind::kUnspecified);
}

// Random messages, many of them damaged: the scan must decode every record
// exactly as protobuf's parser does, rejections included.
TEST(Decoder, ScanAgreesWithProtobufOnRandomAndDamagedRecords) {
  std::mt19937_64 rng(20261125);
  auto pick = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
  const std::vector<std::string> texts = {
      "",         "evt-7", "twitter:acme",        "m-000042",       "caf\xc3\xa9",
      "\xff\xfe", "x",     std::string(300, 'a'), "forum:acme/t/12"};
  bool ascii = true;  // every text of the last message is ASCII
  auto text = [&] {
    const std::string& t = texts[pick(texts.size())];
    for (char c : t) ascii &= static_cast<uint8_t>(c) < 0x80;
    return t;
  };
  auto message = [&] {
    ascii = true;
    v1::EngagementEvent m;
    if (pick(8)) m.set_event_id(text());
    if (pick(4)) {
      m.mutable_occurred_at()->set_seconds(static_cast<int64_t>(rng()) >> pick(64));
      m.mutable_occurred_at()->set_nanos(static_cast<int32_t>(pick(2'000'000'000)) - 500'000'000);
    }
    if (pick(4)) m.set_channel_id(text());
    const auto* refl = m.GetReflection();
    const auto* desc = m.GetDescriptor();
    for (const char* name : {"platform", "kind", "actor_role", "content_type"}) {
      if (pick(3)) refl->SetEnumValue(&m, desc->FindFieldByName(name), int(pick(40)) - 3);
    }
    if (pick(2)) m.set_member_id(text());
    if (pick(2)) m.set_content_id(text());
    if (pick(3) == 0) m.set_sentiment(static_cast<float>(pick(2001)) / 1000.0f - 1.0f);
    if (pick(3) == 0) m.set_reply_to_event_id(text());
    if (pick(3) == 0) m.set_count(rng() >> pick(64));
    if (pick(3) == 0) m.set_member_reach(rng() >> pick(64));
    for (uint64_t i = pick(4); i > 0; --i) (*m.mutable_attributes())[text()] = text();
    return m.SerializeAsString();
  };
  // Invalid UTF-8 is meant here: keep protobuf from logging each one.
  google::protobuf::LogSilencer quiet;
  Decoder scan, parser(/*scan=*/false);
  size_t decoded = 0, rejected = 0, clean_ascii = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::string b = message();
    const bool clean_text = ascii;
    bool damaged = true;
    switch (pick(8)) {
      case 0:  // cut short
        b.resize(pick(b.size() + 1));
        break;
      case 1:  // one byte changed
        if (!b.empty()) b[pick(b.size())] = static_cast<char>(rng());
        break;
      case 2:  // random bytes inserted
        b.insert(pick(b.size() + 1), std::string(1 + pick(4), static_cast<char>(rng())));
        break;
      case 3: {  // an unknown field, of any wire type
        const uint64_t tag = (15 + pick(2000)) << 3 | pick(8);
        for (uint64_t v = tag;; v >>= 7) {
          b.push_back(static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
          if (v <= 0x7f) break;
        }
        b.append(std::string(pick(10), static_cast<char>(pick(3))));
        break;
      }
      case 4:  // a known field again: last one wins, submessages merge
        b += message();
        break;
      default:
        damaged = false;
    }
    if (!damaged && clean_text) {
      // Nothing for protobuf: a clean ASCII message is the scan's alone.
      const uint64_t before = scan.parsed_by_protobuf();
      ops::Event e;
      ASSERT_EQ(scan.Decode(Bytes(b), e), std::nullopt);
      ASSERT_EQ(scan.parsed_by_protobuf(), before) << ::testing::PrintToString(b);
      ++clean_ascii;
    }
    ops::Event a, p;
    auto ra = scan.Decode(Bytes(b), a);
    auto rp = parser.Decode(Bytes(b), p);
    ASSERT_EQ(ra, rp) << ::testing::PrintToString(b);
    ExpectSameEvent(a, p, b);
    (ra ? rejected : decoded)++;
  }
  // Both verdicts, and both paths, were exercised in earnest.
  EXPECT_GT(clean_ascii, 1'500u);
  EXPECT_GT(decoded, 4'000u);
  EXPECT_GT(rejected, 1'000u);
  EXPECT_GT(scan.parsed_by_protobuf(), 2'000u);
}

}  // namespace
}  // namespace chorus
