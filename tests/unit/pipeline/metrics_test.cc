// The /metrics exposition: what chorus writes is valid for promtool and
// reads back to the values the snapshot holds.
#include "chorus/pipeline/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "support/http_client.h"
#include "support/temp_dir.h"

namespace chorus {
namespace {

using testing::ParseMetrics;
using testing::SumSeries;

std::shared_ptr<Snapshot> SampleSnapshot() {
  auto s = std::make_shared<Snapshot>();
  s->ready = true;
  ChannelSnapshot c;
  c.channel_id = "forum:a\"b\\c";  // needs escaping
  c.platform = ops::Platform::kForum;
  c.totals.events_by_kind[static_cast<size_t>(ops::EventKind::kImpression)] = 12'000'000;
  c.followers = -3;
  s->channels.push_back(c);
  ops::ChannelThreadStats t;
  t.opened[2] = 5;
  t.open = 2;
  t.response[static_cast<int>(ops::Responder::kBrand)].Observe(45);
  t.response[static_cast<int>(ops::Responder::kBrand)].Observe(7200);
  t.response[static_cast<int>(ops::Responder::kBrand)].Observe(1e7);  // beyond a week
  s->threads["forum:acme"] = t;
  s->members.members_by_stage[static_cast<size_t>(ops::Stage::kChampion)] = 7;
  s->members.sentiment_buckets[3] = 2;
  s->members.sentiment_sum = -0.75;
  s->members.sentiment_count = 2;
  s->watermark = ops::EventTime::FromMillis(1'767'225'600'123);
  s->input_wait_ratio = 0.25;
  const auto video = static_cast<size_t>(ops::ContentType::kVideo);
  ops::ChannelPostStats posts;
  posts.matured[static_cast<size_t>(ops::PostAge::k24h)][video] = 3;
  posts.engagements[static_cast<size_t>(ops::PostAge::k24h)][video] = 40;
  s->posts.channels["twitter:acme"] = posts;
  s->posts.unmatched["forum:acme"] = 9;
  ops::PostEngagementHistogram h;
  for (double v : {0, 7, 33}) h.Observe(v);
  s->posts.distribution[{ops::Platform::kTwitter, ops::ContentType::kVideo, ops::PostAge::k24h}] =
      h;
  return s;
}

TEST(MetricsText, ReadsBackToTheSnapshotsValues) {
  auto snap = SampleSnapshot();
  MetricsExporter exporter([&] { return snap; });
  exporter.ObserveCommit(0.002);
  std::string text = exporter.Render();
  auto m = ParseMetrics(text);
  EXPECT_EQ(m.at("chorus_channel_events_total{channel=\"forum:a\\\"b\\\\c\",platform=\"forum\","
                 "kind=\"impression\"}"),
            12'000'000);
  // Large integers are written as integers, not in exponent form.
  EXPECT_NE(text.find(" 12000000\n"), std::string::npos);
  EXPECT_EQ(SumSeries(m, "chorus_channel_followers"), -3);
  const std::string brand = "chorus_channel_response_seconds_bucket{channel=\"forum:acme\","
                            "responder=\"brand\",le=\"";
  EXPECT_EQ(m.at(brand + "60\"}"), 1);
  EXPECT_EQ(m.at(brand + "3600\"}"), 1);
  EXPECT_EQ(m.at(brand + "7200\"}"), 2);
  EXPECT_EQ(m.at(brand + "604800\"}"), 2);
  EXPECT_EQ(m.at(brand + "+Inf\"}"), 3);
  EXPECT_EQ(SumSeries(m, "chorus_channel_response_seconds_count"), 3);
  EXPECT_EQ(SumSeries(m, "chorus_channel_response_seconds_sum"), 45 + 7200 + 1e7);
  EXPECT_EQ(SumSeries(m, "chorus_community_members", {"stage=\"champion\""}), 7);
  EXPECT_EQ(SumSeries(m, "chorus_community_sentiment_sum"), -0.75);
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_watermark_timestamp_seconds"), 1'767'225'600.123);
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_commit_seconds_count"), 1);
  EXPECT_EQ(SumSeries(m, "chorus_pipeline_input_wait_ratio"), 0.25);

  const std::string posts =
      "chorus_channel_post_engagements_bucket{platform=\"twitter\",content_type=\"video\","
      "age=\"24h\",le=\"";
  EXPECT_EQ(m.at(posts + "0\"}"), 1);
  EXPECT_EQ(m.at(posts + "5\"}"), 1);
  EXPECT_EQ(m.at(posts + "10\"}"), 2);
  EXPECT_EQ(m.at(posts + "50\"}"), 3);
  EXPECT_EQ(m.at(posts + "10000\"}"), 3);
  EXPECT_EQ(m.at(posts + "+Inf\"}"), 3);
  EXPECT_EQ(SumSeries(m, "chorus_channel_post_engagements_sum"), 40);
  const std::string labels = "{channel=\"twitter:acme\",content_type=\"video\",age=\"24h\"}";
  EXPECT_EQ(m.at("chorus_channel_posts_matured_total" + labels), 3);
  EXPECT_EQ(m.at("chorus_channel_post_engagements_matured_total" + labels), 40);
  EXPECT_EQ(SumSeries(m, "chorus_channel_posts_matured_total"), 3);  // nothing that did not mature
  EXPECT_EQ(m.at("chorus_channel_post_engagements_unmatched_total{channel=\"forum:acme\"}"), 9);
}

TEST(MetricsText, PromtoolAcceptsIt) {
  auto snap = SampleSnapshot();
  MetricsExporter exporter([&] { return snap; });
  testing::TempDir dir;
  const std::string path = dir.Sub("metrics.txt");
  std::ofstream(path) << exporter.Render();
  // promtool lints as well as parses; its exit status covers both.
  const std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
}

}  // namespace
}  // namespace chorus
