// The stable hashes stored keys hold (event.h): their values must never
// change between builds.
#include <gtest/gtest.h>

#include <utility>

#include "chorus/operators/event.h"

namespace chorus::ops {
namespace {

TEST(StableHash64, IsFnv1aFollowedByFmix64) {
  // Computed independently: FNV-1a 64 ("" = cbf29ce484222325, "a" =
  // af63dc4c8601ec8c, "foobar" = 85944171f73967e8), then murmur3's fmix64.
  EXPECT_EQ(StableHash64(""), 0xefd01f60ba992926ULL);
  EXPECT_EQ(StableHash64("a"), 0x82a2a958a9bece5bULL);
  EXPECT_EQ(StableHash64("foobar"), 0x2c22194922d1672bULL);
  EXPECT_EQ(StableHash64("evt-1"), 0xfb2be2d1a757c1b1ULL);
}

// The processor hashes an event's ids once and hands the hashes to dedup,
// threads and posts. The post's hash is in stored keys, so it is pinned
// like StableHash64's (the value the posts operator computed before the
// hashes moved to event.cc).
TEST(HashIds, AreTheIdsStableHashesAndThePostKey) {
  Event e;
  e.event_id = "evt-1";
  e.reply_to_event_id = "evt-0";
  e.channel_id = "forum:a";
  e.content_id = "post-9";
  const IdHashes ids = HashIds(e);
  EXPECT_EQ(ids.event_id, StableHash64("evt-1"));
  EXPECT_EQ(ids.reply_to, StableHash64("evt-0"));
  EXPECT_EQ(ids.post, 0xa6fd60c4b7eefaa3ULL);
  std::swap(e.channel_id, e.content_id);
  EXPECT_NE(HashIds(e).post, ids.post) << "(channel, content) and (content, channel) differ";
  e.reply_to_event_id = {};
  e.content_id = {};
  EXPECT_EQ(HashIds(e).reply_to, 0u);
  EXPECT_EQ(HashIds(e).post, 0u);
}

}  // namespace
}  // namespace chorus::ops
