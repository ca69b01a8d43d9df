// The metric families of threads and member relationships.
#include "chorus/operators/threads.h"
#include "metric_family.h"

namespace chorus::metric_family {

using prometheus::MetricFamily;
using prometheus::MetricType;

void ResponsivenessFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto response = Family("chorus_channel_response_seconds",
                         "Time from a member's thread to the brand or team reply that closed it.",
                         MetricType::Histogram);
  auto first = Family("chorus_channel_first_response_seconds",
                      "Time from a thread's opening to its first reply by anyone but the opener.",
                      MetricType::Histogram);
  auto open = Family("chorus_channel_open_threads", "Threads waiting for a brand or team reply.",
                     MetricType::Gauge);
  auto opened = Family("chorus_channel_threads_opened_total",
                       "Threads opened by members, by the kind of event that opened them.",
                       MetricType::Counter);
  auto unanswered = Family("chorus_channel_threads_unanswered_total",
                           "Threads that reached the horizon without a brand or team reply.",
                           MetricType::Counter);
  auto unresponded = Family("chorus_channel_threads_unresponded_total",
                            "Threads that reached the horizon with no reply from anyone but the "
                            "opener (peer forums: questions nobody answered).",
                            MetricType::Counter);
  auto unmatched = Family("chorus_channel_replies_unmatched_total",
                          "Replies to events no open thread was found for.", MetricType::Counter);
  auto mentions = Family("chorus_channel_mentions_total",
                         "Members' mentions by sentiment band: what people say about the brand.",
                         MetricType::Counter);
  for (const auto& [channel, t] : s.threads) {
    for (size_t b = 0; b < t.mentions_by_band.size(); ++b) {
      if (t.mentions_by_band[b] > 0) {
        AddSample(mentions,
                  {{"channel", channel},
                   {"sentiment", std::string(ops::Name(static_cast<ops::SentimentBand>(b)))}},
                  static_cast<double>(t.mentions_by_band[b]));
      }
    }
    // Only responders that ever answered: a series per (channel, responder)
    // that never happened would be 16 zeros.
    for (int r = 0; r < ops::kResponderCount; ++r) {
      std::vector<prometheus::ClientMetric::Label> labels = {
          {"channel", channel},
          {"responder", std::string(ops::Name(static_cast<ops::Responder>(r)))}};
      if (t.response[r].count > 0) {
        response.metric.push_back(
            HistogramFromBuckets(ops::kResponseBounds, t.response[r].buckets, t.response[r].sum));
        response.metric.back().label = labels;
      }
      // thread="starter": the opener replied to nothing (a question);
      // "reply": it was itself a reply (an answer, a comment on a post).
      for (const auto& [thread, h] : {std::pair{"starter", &t.first_response[r]},
                                      std::pair{"reply", &t.reply_first_response[r]}}) {
        if (h->count == 0) continue;
        first.metric.push_back(HistogramFromBuckets(ops::kResponseBounds, h->buckets, h->sum));
        first.metric.back().label = labels;
        first.metric.back().label.push_back({"thread", thread});
      }
    }
    AddSample(open, {{"channel", channel}}, static_cast<double>(t.open));
    for (int k = 0; k < ops::kThreadKindCount; ++k) {
      std::string kind(ops::Name(ops::kThreadKinds[k]));
      if (t.opened[k] > 0) {
        AddSample(opened, {{"channel", channel}, {"kind", kind}}, static_cast<double>(t.opened[k]));
        AddSample(unanswered, {{"channel", channel}, {"kind", kind}},
                  static_cast<double>(t.unanswered[k]));
        AddSample(unresponded, {{"channel", channel}, {"kind", kind}},
                  static_cast<double>(t.unresponded[k]));
      }
    }
    if (t.unmatched_replies > 0) {
      AddSample(unmatched, {{"channel", channel}}, static_cast<double>(t.unmatched_replies));
    }
  }
  for (auto* f :
       {&response, &first, &open, &opened, &unanswered, &unresponded, &unmatched, &mentions}) {
    out.push_back(std::move(*f));
  }
}

void RelationshipFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  auto welcome = Family("chorus_community_welcome_seconds",
                        "A new member's first activity to the first community team reply.",
                        MetricType::Histogram);
  welcome.metric.push_back(
      HistogramFromBuckets(ops::kResponseBounds, s.members.welcome.buckets, s.members.welcome.sum));
  out.push_back(std::move(welcome));
  auto influencers = Family(
      "chorus_community_influencers",
      "Members whose reach is at or above the influencer threshold, by stage.", MetricType::Gauge);
  for (int i = 0; i < ops::kStageCount; ++i) {
    AddSample(influencers, {{"stage", std::string(ops::Name(static_cast<ops::Stage>(i)))}},
              static_cast<double>(s.members.influencers_by_stage[i]));
  }
  out.push_back(std::move(influencers));
  auto sentiment = Family("chorus_community_member_sentiment",
                          "Distribution of members' decayed average sentiment (scored members).",
                          MetricType::Histogram);
  sentiment.metric.push_back(HistogramFromBuckets(
      ops::kSentimentBounds, s.members.member_sentiment_buckets, s.members.member_sentiment_sum));
  out.push_back(std::move(sentiment));
}

}  // namespace chorus::metric_family
