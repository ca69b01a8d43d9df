// Post performance end to end through Kafka and the real binary: a seeded
// two weeks of brand posts (some published twice) and members' engagements
// with them, keyed as producers key them (posts by channel, engagements by
// member, so they travel on different partitions), with the figures each
// post should reach computed here from the records alone and compared with
// the matured counters and the distribution on /metrics.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <tuple>

#include "chorus/v1/engagement.pb.h"
#include "support/http_client.h"
#include "support/mock_cluster.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

constexpr int64_t kMinMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kStartMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
// The newest event: with every partition idle the watermark ends 5 minutes
// (the default out-of-orderness) behind it.
constexpr int64_t kEndMs = kStartMs + 14 * kDayMs;
constexpr int64_t kFinalWatermarkMs = kEndMs - 5 * kMinMs;
constexpr int64_t kAges[] = {kDayMs, 7 * kDayMs};
const char* const kAgeNames[] = {"24h", "7d"};

struct ChannelSpec {
  std::string id;
  v1::Platform platform;
  std::string platform_name;
};
const ChannelSpec kChannels[] = {{"twitter:brand-0", v1::PLATFORM_TWITTER, "twitter"},
                                 {"instagram:brand-1", v1::PLATFORM_INSTAGRAM, "instagram"},
                                 {"youtube:brand-2", v1::PLATFORM_YOUTUBE, "youtube"}};
const std::pair<v1::ContentType, const char*> kTypes[] = {{v1::CONTENT_TYPE_IMAGE, "image"},
                                                          {v1::CONTENT_TYPE_VIDEO, "video"},
                                                          {v1::CONTENT_TYPE_LINK, "link"},
                                                          {v1::CONTENT_TYPE_TEXT, "text"}};

struct Record {
  std::string key, value;
  int64_t order;  // position in the topic and record timestamp: event time, but see the copies
};

struct Post {
  int channel = 0;
  int type = 0;  // index into kTypes
  int64_t published_ms = 0;
  uint64_t figures[2] = {0, 0};
};

// The workload and what chorus must make of it.
struct Expected {
  std::vector<Record> records;
  std::map<std::string, Post> posts;          // by content id
  std::map<std::string, uint64_t> unmatched;  // by channel id
};

class Workload {
 public:
  explicit Workload(uint64_t seed) : rng_(seed) {}

  Expected Build() {
    for (int i = 0; i < 60; ++i) AddPost(i);
    // Comments in forum-like threads: content that is no post.
    for (int i = 0; i < 100; ++i) {
      const int c = Uniform(0, 2);
      const int64_t t =
          kStartMs +
          Uniform(0, static_cast<int>((kEndMs - 2 * kHourMs - kStartMs) / kMinMs)) * kMinMs;
      Member(c, "thread-" + std::to_string(i), t, v1::EVENT_KIND_COMMENT, 0);
      out_.unmatched[kChannels[c].id]++;
    }
    // Engagements without content count for no post and are not unmatched.
    Member(0, "", kStartMs + kDayMs, v1::EVENT_KIND_REACTION, 0);
    // The newest event, which sets where the watermark ends.
    Member(0, "", kEndMs, v1::EVENT_KIND_FOLLOW, 0);
    std::stable_sort(out_.records.begin(), out_.records.end(),
                     [](const Record& a, const Record& b) { return a.order < b.order; });
    return std::move(out_);
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // True if a figure of a post published at `p` is decided right at the
  // end, where the test could not tell whether the watermark got there.
  static bool NearTheEnd(int64_t p) {
    for (int64_t age : kAges) {
      if (std::abs(p + age - kFinalWatermarkMs) < kHourMs) return true;
    }
    return false;
  }

  void AddPost(int i) {
    Post post;
    post.channel = i % 3;
    post.type = Uniform(0, 3);
    do {
      post.published_ms =
          kStartMs + static_cast<int64_t>(Uniform(0, 12 * 24 * 60)) * kMinMs + Uniform(0, 59'999);
    } while (NearTheEnd(post.published_ms));
    const std::string content = "post-" + std::to_string(i);
    const int64_t p = post.published_ms;
    const bool copied = i % 7 == 0;
    if (copied) {
      // A second POST_PUBLISHED for the same post, stamped a few minutes
      // later but written before the first: the earlier one counts.
      Brand(post.channel, content, p + Uniform(1, 4) * kMinMs, v1::EVENT_KIND_POST_PUBLISHED,
            post.type, p - 1);
    }
    Brand(post.channel, content, p, v1::EVENT_KIND_POST_PUBLISHED, post.type, p);
    // What members do, stamped from just before publication to past a week.
    const int n = Uniform(0, 40);
    for (int k = 0; k < n; ++k) {
      int64_t offset = 0;
      const int roll = Uniform(0, 99);
      if (roll < 45) {
        offset = Uniform(0, 24 * 60 - 1) * kMinMs + Uniform(0, 59'999);
      } else if (roll < 70) {
        offset = kDayMs + Uniform(0, 6 * 24 * 60 - 1) * kMinMs;
      } else if (roll < 78) {
        // The edges: the first instant, the day's last and first after.
        const int64_t edges[] = {0, kDayMs - 1, kDayMs, 7 * kDayMs - 1};
        offset = edges[Uniform(0, 3)];
      } else if (roll < 90) {
        offset = 7 * kDayMs + Uniform(0, 24 * 60) * kMinMs;  // past the week
      } else {
        offset = -Uniform(1, 30) * kMinMs;  // stamped before the post
      }
      // Copies are read first: an engagement a day after the earlier copy
      // read before it would stay in the later copy's day (see posts.h).
      if (copied && (std::abs(offset - kDayMs) < 10 * kMinMs ||
                     std::abs(offset - 7 * kDayMs) < 10 * kMinMs)) {
        continue;
      }
      const int64_t t = p + offset;
      if (t > kEndMs - 2 * kHourMs) continue;  // every wait is over by the end
      const v1::EventKind kinds[] = {v1::EVENT_KIND_REACTION, v1::EVENT_KIND_REACTION,
                                     v1::EVENT_KIND_COMMENT, v1::EVENT_KIND_SHARE,
                                     v1::EVENT_KIND_MENTION};
      const uint64_t count = Uniform(0, 9) == 0 ? static_cast<uint64_t>(Uniform(2, 5)) : 0;
      Member(post.channel, content, t, kinds[Uniform(0, 4)], count);
      const uint64_t weight = count == 0 ? 1 : count;
      bool counted = false;
      for (int a = 0; a < 2; ++a) {
        if (t >= p && t < p + kAges[a]) {
          post.figures[a] += weight;
          counted = true;
        }
      }
      if (!counted) out_.unmatched[kChannels[post.channel].id] += weight;
    }
    // Not engagements: the brand's impressions and reactions, a member's follow.
    const int64_t t = p + Uniform(0, 23) * kHourMs;
    Brand(post.channel, content, t, v1::EVENT_KIND_IMPRESSION, post.type, t, 100);
    Brand(post.channel, content, t, v1::EVENT_KIND_REACTION, post.type, t);
    Member(post.channel, content, t, v1::EVENT_KIND_FOLLOW, 0);
    out_.posts[content] = post;
  }

  v1::EngagementEvent Event(int channel, const std::string& content, int64_t t,
                            v1::EventKind kind) {
    v1::EngagementEvent e;
    e.set_event_id("ev-" + std::to_string(out_.records.size()));
    e.mutable_occurred_at()->set_seconds(t / 1000);
    e.mutable_occurred_at()->set_nanos(static_cast<int32_t>(t % 1000) * 1'000'000);
    e.set_channel_id(kChannels[channel].id);
    e.set_platform(kChannels[channel].platform);
    e.set_kind(kind);
    e.set_content_id(content);
    return e;
  }

  void Brand(int channel, const std::string& content, int64_t t, v1::EventKind kind, int type,
             int64_t order, uint64_t count = 0) {
    v1::EngagementEvent e = Event(channel, content, t, kind);
    e.set_actor_role(v1::ACTOR_ROLE_BRAND);
    e.set_content_type(kTypes[type].first);
    e.set_count(count);
    out_.records.push_back({kChannels[channel].id, e.SerializeAsString(), order});
  }

  void Member(int channel, const std::string& content, int64_t t, v1::EventKind kind,
              uint64_t count) {
    v1::EngagementEvent e = Event(channel, content, t, kind);
    const std::string member = "member-" + std::to_string(Uniform(0, 29));
    e.set_actor_role(v1::ACTOR_ROLE_MEMBER);
    e.set_member_id(member);
    e.set_content_type(v1::CONTENT_TYPE_TEXT);  // the post's type is what counts
    e.set_count(count);
    out_.records.push_back({member, e.SerializeAsString(), t});
  }

  std::mt19937_64 rng_;
  Expected out_;
};

TEST(PostsE2E, MaturedFiguresMatchTheRecords) {
  const Expected w = Workload(21).Build();
  MockCluster cluster(1);
  cluster.CreateTopic("posts", 4);
  cluster.CreateTopic("posts-dlq", 1);
  for (const Record& r : w.records) {
    cluster.Produce("posts", -1, r.key, r.value, r.order);
  }
  cluster.Flush();
  TempDir dir;
  auto process = StartChorusRun(CHORUS_BINARY, cluster.bootstrap_servers(), "posts",
                                dir.Sub("state"), dir.Sub("chorus.log"));
  ChildProcess& chorus = *process;
  const int port = WaitForHttpPort(chorus, std::chrono::seconds(60));
  ASSERT_NE(port, 0) << chorus.Log();

  std::map<std::string, double> m;
  const double total = static_cast<double>(w.records.size());
  bool settled = WaitUntilProcessed(port, total, kFinalWatermarkMs, m, std::chrono::seconds(90));
  ASSERT_TRUE(settled) << "processed "
                       << SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"processed\""})
                       << " of " << total << "\n"
                       << chorus.Log();
  ASSERT_EQ(SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"late\""}), 0)
      << "the figures below assume nothing was read behind the watermark";

  // What matured by the final watermark, from the records alone.
  using Cell = std::tuple<std::string, std::string, std::string>;  // label, content type, age
  std::map<Cell, double> matured, engagements;
  std::map<Cell, std::vector<uint64_t>> figures;  // by platform, content type, age
  double all_matured = 0;
  for (const auto& [content, post] : w.posts) {
    for (int a = 0; a < 2; ++a) {
      if (post.published_ms + kAges[a] > kFinalWatermarkMs) continue;
      const std::string type = kTypes[post.type].second;
      matured[{kChannels[post.channel].id, type, kAgeNames[a]}]++;
      engagements[{kChannels[post.channel].id, type, kAgeNames[a]}] += post.figures[a];
      figures[{kChannels[post.channel].platform_name, type, kAgeNames[a]}].push_back(
          post.figures[a]);
      all_matured++;
    }
  }
  ASSERT_GT(matured.size(), 10u);
  auto labels = [](const std::string& key, const Cell& c) {
    return std::vector<std::string>{key + "=\"" + std::get<0>(c) + "\"",
                                    "content_type=\"" + std::get<1>(c) + "\"",
                                    "age=\"" + std::get<2>(c) + "\""};
  };
  for (const auto& [cell, n] : matured) {
    EXPECT_EQ(SumSeries(m, "chorus_channel_posts_matured_total", labels("channel", cell)), n)
        << std::get<0>(cell) << " " << std::get<1>(cell) << " " << std::get<2>(cell);
    EXPECT_EQ(
        SumSeries(m, "chorus_channel_post_engagements_matured_total", labels("channel", cell)),
        engagements[cell])
        << std::get<0>(cell) << " " << std::get<1>(cell) << " " << std::get<2>(cell);
  }
  EXPECT_EQ(SumSeries(m, "chorus_channel_posts_matured_total"), all_matured);

  // The distribution, bucket by bucket.
  const std::vector<double> bounds = HistogramBounds(m, "chorus_channel_post_engagements");
  ASSERT_FALSE(bounds.empty());
  EXPECT_EQ(bounds.front(), 0) << "a post nobody engaged with has a bucket of its own";
  EXPECT_GE(bounds.back(), 10'000);
  for (const auto& [cell, values] : figures) {
    const std::vector<std::string> l = labels("platform", cell);
    double sum = 0;
    for (uint64_t v : values) sum += static_cast<double>(v);
    EXPECT_EQ(SumSeries(m, "chorus_channel_post_engagements_count", l), values.size());
    EXPECT_EQ(SumSeries(m, "chorus_channel_post_engagements_sum", l), sum);
    for (double b : bounds) {
      std::vector<std::string> bucket = l;
      bucket.push_back(LeLabel(b));
      const auto below = std::count_if(values.begin(), values.end(),
                                       [&](uint64_t v) { return static_cast<double>(v) <= b; });
      EXPECT_EQ(SumSeries(m, "chorus_channel_post_engagements_bucket", bucket), below)
          << std::get<0>(cell) << " " << std::get<1>(cell) << " " << std::get<2>(cell) << " le "
          << b;
    }
  }

  for (const ChannelSpec& c : kChannels) {
    auto it = w.unmatched.find(c.id);
    EXPECT_EQ(SumSeries(m, "chorus_channel_post_engagements_unmatched_total",
                        {"channel=\"" + c.id + "\""}),
              it == w.unmatched.end() ? 0 : it->second)
        << c.id;
  }
  chorus.Kill(SIGTERM);
  ASSERT_TRUE(chorus.Wait(std::chrono::seconds(30)));
}

}  // namespace
}  // namespace chorus::testing
