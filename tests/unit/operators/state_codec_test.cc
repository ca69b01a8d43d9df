#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "chorus/operators/event.h"
#include "chorus/operators/state.h"

namespace chorus::ops {
namespace {

TEST(StateCodec, RoundTripsEveryFieldKind) {
  std::string out;
  AppendPartitionPrefix(out, 7);
  PutVarint(out, 300);
  PutSignedVarint(out, -5);
  PutSignedVarint(out, std::numeric_limits<int64_t>::min());
  PutDouble(out, 0.25);
  PutLengthPrefixed(out, "twitter:acme");
  PutFixed64BE(out, 0x0102030405060708ULL);

  int32_t partition = -1;
  ASSERT_TRUE(ParsePartitionPrefix(out, partition));
  EXPECT_EQ(partition, 7);
  Reader r(std::string_view(out).substr(4));
  uint64_t u = 0;
  int64_t s = 0;
  double d = 0;
  std::string_view str;
  ASSERT_TRUE(r.Varint(u));
  EXPECT_EQ(u, 300u);
  ASSERT_TRUE(r.SignedVarint(s));
  EXPECT_EQ(s, -5);
  ASSERT_TRUE(r.SignedVarint(s));
  EXPECT_EQ(s, std::numeric_limits<int64_t>::min());
  ASSERT_TRUE(r.Double(d));
  EXPECT_EQ(d, 0.25);
  ASSERT_TRUE(r.LengthPrefixed(str));
  EXPECT_EQ(str, "twitter:acme");
  ASSERT_TRUE(r.Fixed64BE(u));
  EXPECT_EQ(u, 0x0102030405060708ULL);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.Varint(u)) << "reading past the end must fail";
}

TEST(StateCodec, PartitionPrefixSortsNumerically) {
  std::string a, b;
  AppendPartitionPrefix(a, 2);
  AppendPartitionPrefix(b, 10);
  EXPECT_LT(a, b);
  EXPECT_LT(OrderedBits(-1), OrderedBits(0));
  EXPECT_EQ(FromOrderedBits(OrderedBits(-123456789)), -123456789);
}

TEST(StateCodec, TruncatedLengthPrefixIsRejected) {
  std::string out;
  PutVarint(out, 10);
  out += "abc";
  Reader r(out);
  std::string_view s;
  EXPECT_FALSE(r.LengthPrefixed(s));
}

TEST(EventNames, AreLowerCaseWithoutPrefix) {
  EXPECT_EQ(Name(EventKind::kDirectMessage), "direct_message");
  EXPECT_EQ(Name(ActorRole::kCommunityTeam), "community_team");
  EXPECT_EQ(Name(Platform::kMastodon), "mastodon");
  EXPECT_EQ(Name(ContentType::kUnspecified), "unspecified");
  EXPECT_EQ(Name(static_cast<EventKind>(200)), "unspecified");
}

TEST(Multiplicity, ZeroCountMeansOne) {
  Event e;
  EXPECT_EQ(Multiplicity(e), 1u);
  e.count = 42;
  EXPECT_EQ(Multiplicity(e), 42u);
}

}  // namespace
}  // namespace chorus::ops
