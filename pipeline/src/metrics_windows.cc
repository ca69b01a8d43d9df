// The metric families of window results: the newest fired 1 h and 1 d
// window of each channel as gauges, and the corrections made.
#include "metric_family.h"
#include "metric_names.h"

namespace chorus::metric_family {

using prometheus::MetricFamily;
using prometheus::MetricType;

void WindowFamilies(const Snapshot& s, std::vector<MetricFamily>& out) {
  for (const metric_names::WindowGauge& g : metric_names::kWindowGauges) {
    MetricFamily family =
        Family(std::string(g.family.name), std::string(g.family.help), MetricType::Gauge);
    for (const auto& [channel, latest] : s.latest_windows) {
      for (int spec : metric_names::kWindowGaugeSpecs) {
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
