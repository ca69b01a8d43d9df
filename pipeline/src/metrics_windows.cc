// The metric families of window results: the newest fired 1 h and 1 d
// window of each channel as gauges, and the corrections made.
#include "metric_family.h"

namespace chorus::metric_family {

using prometheus::MetricFamily;
using prometheus::MetricType;

void WindowFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  struct Gauge {
    const char* name;
    const char* help;
    double (*value)(const WindowFigures&);
  };
  static constexpr Gauge kGauges[] = {
      {"chorus_channel_window_posts", "Posts in the channel's newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.posts); }},
      {"chorus_channel_window_impressions", "Impressions in the newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.impressions); }},
      {"chorus_channel_window_engagements",
       "Members' reactions, comments, shares and mentions in the newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.engagements); }},
      {"chorus_channel_window_shares", "Shares in the newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.shares); }},
      {"chorus_channel_window_follows", "Follows in the newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.follows); }},
      {"chorus_channel_window_unfollows", "Unfollows in the newest fired window.",
       [](const WindowFigures& f) { return static_cast<double>(f.unfollows); }},
      {"chorus_channel_window_followers_start", "Followers at the newest fired window's start.",
       [](const WindowFigures& f) { return static_cast<double>(f.followers_start); }},
      {"chorus_channel_window_followers_end", "Followers at the newest fired window's end.",
       [](const WindowFigures& f) { return static_cast<double>(f.followers_end); }},
      {"chorus_channel_window_end_timestamp_seconds",
       "End (event time) of the window the chorus_channel_window_* gauges show.",
       [](const WindowFigures& f) { return static_cast<double>(f.end_ms) / 1000; }},
  };
  // Hour and day windows only: a minute's figures are too noisy to alert on
  // and would add half as many series again.
  constexpr int kShown[] = {1, 2};
  for (const Gauge& g : kGauges) {
    MetricFamily family = Family(g.name, g.help, MetricType::Gauge);
    for (const auto& [channel, latest] : s.latest_windows) {
      for (int spec : kShown) {
        if (!latest[spec]) continue;
        AddSample(family,
                  {{"channel", channel}, {"window", std::string(ops::kWindowSpecs[spec].name)}},
                  g.value(*latest[spec]));
      }
    }
    out.push_back(std::move(family));
  }
  auto corrections = Family("chorus_pipeline_window_corrections_total",
                            "Window results made again for events within the allowed lateness.",
                            MetricType::Counter);
  for (int i = 0; i < ops::kWindowSpecCount; ++i) {
    AddSample(corrections, {{"window", std::string(ops::kWindowSpecs[i].name)}},
              static_cast<double>(s.window_corrections[i]));
  }
  out.push_back(std::move(corrections));
}

}  // namespace chorus::metric_family
