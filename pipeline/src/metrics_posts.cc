// The metric families of post performance: what a post gathers in its first
// day and week, by content type, for "which content works".
#include "chorus/operators/posts.h"
#include "metric_family.h"

namespace chorus::metric_family {

using prometheus::MetricFamily;
using prometheus::MetricType;

void PostFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto distribution = Family("chorus_channel_post_engagements",
                             "Engagements a post gathered in its first 24h or 7d, observed when "
                             "the watermark reaches that age.",
                             MetricType::Histogram);
  auto matured =
      Family("chorus_channel_posts_matured_total",
             "Posts whose 24h or 7d engagement figure has been recorded.", MetricType::Counter);
  auto engagements =
      Family("chorus_channel_post_engagements_matured_total",
             "Engagements in the recorded 24h or 7d figures of posts.", MetricType::Counter);
  auto unmatched = Family("chorus_channel_post_engagements_unmatched_total",
                          "Engagements on content that counted for no post within its first 7d "
                          "(threads, mentions, posts unknown or already a week old).",
                          MetricType::Counter);
  for (const auto& [series, h] : s.posts.distribution) {
    distribution.metric.push_back(
        HistogramFromBuckets(ops::kPostEngagementBounds, h.buckets, h.sum));
    distribution.metric.back().label = {
        {"platform", std::string(ops::Name(series.platform))},
        {"content_type", std::string(ops::Name(series.content_type))},
        {"age", std::string(ops::Name(series.age))}};
  }
  for (const auto& [channel, c] : s.posts.channels) {
    for (int a = 0; a < ops::kPostAgeCount; ++a) {
      for (int t = 0; t < ops::kContentTypeCount; ++t) {
        // Only what matured: the average per post divides one by the other.
        if (c.matured[a][t] == 0) continue;
        std::vector<prometheus::ClientMetric::Label> labels = {
            {"channel", channel},
            {"content_type", std::string(ops::Name(static_cast<ops::ContentType>(t)))},
            {"age", std::string(ops::Name(static_cast<ops::PostAge>(a)))}};
        AddSample(matured, labels, static_cast<double>(c.matured[a][t]));
        AddSample(engagements, std::move(labels), static_cast<double>(c.engagements[a][t]));
      }
    }
  }
  for (const auto& [channel, n] : s.posts.unmatched) {
    AddSample(unmatched, {{"channel", channel}}, static_cast<double>(n));
  }
  for (auto* f : {&distribution, &matured, &engagements, &unmatched}) out.push_back(std::move(*f));
}

}  // namespace chorus::metric_family
