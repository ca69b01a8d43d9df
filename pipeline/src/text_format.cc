// The Prometheus text exposition format (version 0.0.4), written straight
// into one string. prometheus-cpp's serializer goes through iostreams and
// spends about 0.5 µs per series; a thousand channels export over 100,000
// series, so the scrape would take longer than the 50 ms budget.
#include <charconv>
#include <cmath>

#include "metric_family.h"

namespace chorus::metric_family {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 9.007199254740992e15) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    out.append(buf, r.ptr);
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    out.append(buf, r.ptr);
  }
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

namespace {

// name{labels[,extra="value"]} value\n
void AppendSample(std::string& out, const std::string& name, std::string_view suffix,
                  const std::vector<ClientMetric::Label>& labels, const char* extra_name,
                  double extra_value, double value) {
  out += name;
  out += suffix;
  if (!labels.empty() || extra_name != nullptr) {
    out += '{';
    bool first = true;
    for (const ClientMetric::Label& l : labels) {
      if (!first) out += ',';
      first = false;
      out += l.name;
      out += "=\"";
      AppendEscaped(out, l.value, true);
      out += '"';
    }
    if (extra_name != nullptr) {
      if (!first) out += ',';
      out += extra_name;
      out += "=\"";
      AppendNumber(out, extra_value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendNumber(out, value);
  out += '\n';
}

std::string_view TypeName(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Summary:
      return "summary";
    default:
      return "untyped";
  }
}

}  // namespace

void AppendText(const std::vector<MetricFamily>& families, std::string& out) {
  for (const MetricFamily& f : families) {
    if (f.metric.empty()) continue;
    out += "# HELP ";
    out += f.name;
    out += ' ';
    AppendEscaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += TypeName(f.type);
    out += '\n';
    for (const ClientMetric& m : f.metric) {
      switch (f.type) {
        case MetricType::Counter:
          AppendSample(out, f.name, "", m.label, nullptr, 0, m.counter.value);
          break;
        case MetricType::Gauge:
          AppendSample(out, f.name, "", m.label, nullptr, 0, m.gauge.value);
          break;
        case MetricType::Histogram: {
          bool has_inf = false;
          for (const ClientMetric::Bucket& b : m.histogram.bucket) {
            has_inf = has_inf || std::isinf(b.upper_bound);
            AppendSample(out, f.name, "_bucket", m.label, "le", b.upper_bound,
                         static_cast<double>(b.cumulative_count));
          }
          if (!has_inf) {
            AppendSample(out, f.name, "_bucket", m.label, "le",
                         std::numeric_limits<double>::infinity(),
                         static_cast<double>(m.histogram.sample_count));
          }
          AppendSample(out, f.name, "_sum", m.label, nullptr, 0, m.histogram.sample_sum);
          AppendSample(out, f.name, "_count", m.label, nullptr, 0,
                       static_cast<double>(m.histogram.sample_count));
          break;
        }
        case MetricType::Summary:
          for (const ClientMetric::Quantile& q : m.summary.quantile) {
            AppendSample(out, f.name, "", m.label, "quantile", q.quantile, q.value);
          }
          AppendSample(out, f.name, "_sum", m.label, nullptr, 0, m.summary.sample_sum);
          AppendSample(out, f.name, "_count", m.label, nullptr, 0,
                       static_cast<double>(m.summary.sample_count));
          break;
        default:
          AppendSample(out, f.name, "", m.label, nullptr, 0, m.untyped.value);
          break;
      }
    }
  }
}

}  // namespace chorus::metric_family
