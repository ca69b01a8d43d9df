#include "chorus/pipeline/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chorus/pipeline/decoder.h"
#include "chorus/pipeline/validator.h"

namespace chorus {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<GeneratedRecord> Generate(const GeneratorOptions& options, int n) {
  Generator g(options);
  std::vector<GeneratedRecord> out(n);
  for (auto& r : out) g.Next(r);
  return out;
}

// What a clean 50k-record stream looks like once decoded.
struct StreamStats {
  std::map<ops::EventKind, int> kinds;
  std::map<ops::ActorRole, int> roles;
  int sentiment_scored = 0, sentiment_negative = 0, member_events = 0;
  double sentiment_sum = 0;
  int replies_to_earlier = 0, reach_set = 0;
  std::unordered_map<std::string, int> events_per_member;
};

TEST(Generator, SameSeedSameBytesDifferentSeedDifferentBytes) {
  GeneratorOptions a;
  a.seed = 7;
  a.duplicate_rate = 0.02;
  a.malformed_rate = 0.02;
  GeneratorOptions b = a;
  b.seed = 8;
  auto first = Generate(a, 20'000), second = Generate(a, 20'000), other = Generate(b, 20'000);
  int differing = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    ASSERT_EQ(first[i].value, second[i].value) << i;
    ASSERT_EQ(first[i].key, second[i].key) << i;
    ASSERT_EQ(first[i].event_time_ms, second[i].event_time_ms) << i;
    differing += first[i].value != other[i].value;
  }
  EXPECT_GT(differing, 19'000);
}

TEST(Generator, CleanStreamDecodesValidatesAndLooksReal) {
  GeneratorOptions options;
  options.seed = 3;
  auto records = Generate(options, 50'000);
  Decoder decoder;
  StreamStats st;
  std::unordered_set<std::string> ids;
  std::set<std::string> joined;
  int64_t last_time = 0;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    ASSERT_EQ(decoder.Decode(Bytes(r.value), e), std::nullopt);
    ASSERT_EQ(Validate(e, r.value.size(), std::nullopt, {}), std::nullopt) << e.event_id;
    ASSERT_TRUE(ids.insert(std::string(e.event_id)).second) << "repeated id " << e.event_id;
    ASSERT_GE(e.occurred_at.millis(), last_time) << "event time went backwards";
    last_time = e.occurred_at.millis();
    EXPECT_EQ(r.event_time_ms, e.occurred_at.millis());
    EXPECT_EQ(r.key, e.member_id);
    // Channel ids name their platform: "twitter:brand-3" is on Twitter.
    EXPECT_EQ(e.channel_id.substr(0, e.channel_id.find(':')), ops::Name(e.platform));
    ++st.kinds[e.kind];
    ++st.roles[e.actor_role];
    if (!e.reply_to_event_id.empty()) {
      ASSERT_TRUE(ids.count(std::string(e.reply_to_event_id))) << "reply to a future event";
      ++st.replies_to_earlier;
    }
    if (e.actor_role == ops::ActorRole::kMember) {
      ++st.member_events;
      ASSERT_EQ(e.member_id.size(), 8u);
      EXPECT_EQ(e.member_id.substr(0, 2), "m-");
      ++st.events_per_member[std::string(e.member_id)];
      // A member's first event is joining.
      bool first = joined.insert(std::string(e.member_id)).second;
      EXPECT_EQ(first, e.kind == ops::EventKind::kMemberJoined) << e.member_id;
      st.reach_set += e.member_reach > 0;
      if (e.has_sentiment) {
        ++st.sentiment_scored;
        st.sentiment_sum += e.sentiment;
        st.sentiment_negative += e.sentiment < 0;
      }
    } else {
      EXPECT_FALSE(e.has_sentiment);
      EXPECT_EQ(e.member_id.empty(), e.actor_role == ops::ActorRole::kBrand);
    }
    if (e.kind == ops::EventKind::kImpression) {
      EXPECT_GE(e.count, 50u);
      EXPECT_LE(e.count, 5000u);
    }
    if (e.kind == ops::EventKind::kFollowerCount) {
      EXPECT_GT(e.count, 1000u);
    }
  }
  for (int k = 1; k < ops::kEventKindCount; ++k) {
    EXPECT_GT(st.kinds[static_cast<ops::EventKind>(k)], 0)
        << "no " << ops::Name(static_cast<ops::EventKind>(k));
  }
  // Reactions are the most common kind; follows outnumber unfollows.
  for (auto [kind, n] : st.kinds) {
    if (kind != ops::EventKind::kReaction) {
      EXPECT_GT(st.kinds[ops::EventKind::kReaction], n) << ops::Name(kind);
    }
  }
  EXPECT_GT(st.kinds[ops::EventKind::kFollow], 2 * st.kinds[ops::EventKind::kUnfollow]);
  EXPECT_GT(st.roles[ops::ActorRole::kBrand], 0);
  EXPECT_GT(st.roles[ops::ActorRole::kCommunityTeam], 0);
  EXPECT_GT(st.replies_to_earlier, 1000);
  // Sentiment: a fraction scored, leaning positive, with some negatives.
  EXPECT_GT(st.sentiment_scored, st.member_events / 10);
  EXPECT_LT(st.sentiment_scored, st.member_events / 2);
  EXPECT_GT(st.sentiment_sum / st.sentiment_scored, 0.05);
  EXPECT_GT(st.sentiment_negative, st.sentiment_scored / 20);
  EXPECT_GT(st.reach_set, st.member_events / 20);
  // Skew: the busiest 1% of members seen produce far more than 1% of events.
  std::vector<int> counts;
  for (const auto& [m, n] : st.events_per_member) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  int top = 0;
  for (size_t i = 0; i < counts.size() / 100; ++i) top += counts[i];
  EXPECT_GT(top, st.member_events / 8);
  EXPECT_GT(counts.size(), 2000u);  // and a long tail
}

TEST(Generator, DuplicatesAreExactCopiesAtTheRequestedRate) {
  GeneratorOptions options;
  options.seed = 11;
  options.duplicate_rate = 0.05;
  auto records = Generate(options, 50'000);
  Decoder decoder;
  std::unordered_map<std::string, std::string> first_bytes;
  int duplicates = 0;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    ASSERT_EQ(decoder.Decode(Bytes(r.value), e), std::nullopt);
    auto [it, fresh] = first_bytes.emplace(std::string(e.event_id), r.value);
    if (!fresh) {
      ++duplicates;
      EXPECT_EQ(it->second, r.value);
    }
  }
  EXPECT_NEAR(duplicates / 50'000.0, 0.05, 0.01);
}

TEST(Generator, MalformedRecordsFailToDecodeAtTheRequestedRate) {
  GeneratorOptions options;
  options.seed = 12;
  options.malformed_rate = 0.04;
  auto records = Generate(options, 50'000);
  Decoder decoder;
  std::map<DlqReason, int> failures;
  int total = 0;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    auto reason = decoder.Decode(Bytes(r.value), e);
    if (!reason) reason = Validate(e, r.value.size(), std::nullopt, {});
    if (reason) {
      ++failures[*reason];
      ++total;
    }
  }
  EXPECT_NEAR(total / 50'000.0, 0.04, 0.008);
  EXPECT_GT(failures[DlqReason::kUndecodable], 0);
  EXPECT_GT(failures[DlqReason::kBadFraming], 0);
  EXPECT_EQ(failures.size(), 2u);  // garbage never passes as an invalid event
}

int MemberEventsBetween(const std::vector<GeneratedRecord>& records, int64_t from, int64_t to) {
  Decoder decoder;
  int n = 0;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    if (decoder.Decode(Bytes(r.value), e)) continue;
    const int64_t t = e.occurred_at.millis();
    n += t >= from && t < to && e.actor_role == ops::ActorRole::kMember;
  }
  return n;
}

TEST(Generator, DropWindowReducesMemberEngagement) {
  GeneratorOptions normal;
  normal.seed = 5;
  GeneratorOptions dropped = normal;
  const int64_t start = normal.start.millis();
  dropped.drop_start = ops::EventTime::FromMillis(start + 3'600'000);
  dropped.drop_end = ops::EventTime::FromMillis(start + 2 * 3'600'000);
  dropped.drop_factor = 0.3;
  // Three hours of event time at the default 200 ms mean gap.
  const int without =
      MemberEventsBetween(Generate(normal, 60'000), start + 3'600'000, start + 2 * 3'600'000);
  const int with =
      MemberEventsBetween(Generate(dropped, 60'000), start + 3'600'000, start + 2 * 3'600'000);
  ASSERT_GT(without, 5'000);
  EXPECT_NEAR(static_cast<double>(with) / without, 0.3, 0.05);
}

TEST(Generator, FollowerSnapshotsTrackFollows) {
  GeneratorOptions options;
  options.seed = 9;
  options.channels = 3;
  auto records = Generate(options, 50'000);
  Decoder decoder;
  std::map<std::string, std::vector<uint64_t>> snapshots;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    ASSERT_EQ(decoder.Decode(Bytes(r.value), e), std::nullopt);
    if (e.kind == ops::EventKind::kFollowerCount) {
      snapshots[std::string(e.channel_id)].push_back(e.count);
    }
  }
  ASSERT_EQ(snapshots.size(), 3u);
  for (const auto& [channel, counts] : snapshots) {
    ASSERT_GE(counts.size(), 2u) << channel;
    EXPECT_GT(counts.back(), counts.front()) << channel << " did not grow";
  }
}

// Post performance needs posts with content ids and members engaging with
// those ids soon after.
TEST(Generator, EngagementsReferenceRecentlyPublishedPosts) {
  GeneratorOptions options;
  options.seed = 13;
  auto records = Generate(options, 50'000);
  Decoder decoder;
  std::map<std::pair<std::string, std::string>, ops::ContentType> published;
  int posts = 0, on_posts = 0, on_published = 0;
  for (const GeneratedRecord& r : records) {
    ops::Event e;
    ASSERT_EQ(decoder.Decode(Bytes(r.value), e), std::nullopt);
    const std::pair<std::string, std::string> key{e.channel_id, e.content_id};
    if (e.kind == ops::EventKind::kPostPublished) {
      ASSERT_FALSE(e.content_id.empty());
      EXPECT_TRUE(published.emplace(key, e.content_type).second) << "post published twice";
      ++posts;
    } else if (ops::IsMemberEngagement(e) && e.content_id.find("/p/") != std::string::npos) {
      ++on_posts;
      auto it = published.find(key);
      if (it == published.end()) continue;  // post 0 of each channel predates the stream
      ++on_published;
      // A reply in a post's thread is text; an engagement with the post is of its type.
      if (e.reply_to_event_id.empty()) {
        EXPECT_EQ(e.content_type, it->second) << e.content_id;
      }
    }
  }
  EXPECT_GT(posts, 100);
  EXPECT_GT(on_posts, 10'000);
  // Fewer at the start of a stream, while a channel's post 0 is its newest.
  EXPECT_GT(on_published, on_posts * 3 / 4);
}

TEST(Generator, DegenerateOptionsStillProduceValidEvents) {
  GeneratorOptions options;
  options.channels = 0;  // treated as 1
  options.members = 1;
  options.mean_gap = ops::Millis(0);
  options.drop_start = options.start;
  options.drop_end = options.start + ops::kDay;
  options.drop_factor = 0;  // no member events at all
  Generator g(options);
  Decoder decoder;
  GeneratedRecord r;
  for (int i = 0; i < 5'000; ++i) {
    g.Next(r);
    ops::Event e;
    ASSERT_EQ(decoder.Decode(Bytes(r.value), e), std::nullopt);
    ASSERT_EQ(Validate(e, r.value.size(), std::nullopt, {}), std::nullopt);
    EXPECT_NE(e.actor_role, ops::ActorRole::kMember);
    EXPECT_EQ(e.occurred_at, options.start);
  }
}

}  // namespace
}  // namespace chorus
