#include "chorus/pipeline/openmetrics_writer.h"

#include <charconv>
#include <cstdlib>

#include "metric_family.h"

namespace chorus {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr std::string_view kTotal = "_total";

[[noreturn]] void Broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "chorus: OpenMetricsWriter: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Seconds, exact: milliseconds need no floating point.
void AppendSeconds(std::string& out, int64_t ms) {
  int64_t seconds = ms / 1000, rest = ms % 1000;
  if (rest < 0) {
    seconds -= 1;
    rest += 1000;
  }
  AppendInt(out, seconds);
  if (rest == 0) return;
  char digits[4] = {'.', static_cast<char>('0' + rest / 100),
                    static_cast<char>('0' + rest / 10 % 10), static_cast<char>('0' + rest % 10)};
  out.append(digits, 4);
}

}  // namespace

void OpenMetricsWriter::Family(std::string_view name, Type type, std::string_view help) {
  if (!families_.emplace(name).second) Broken("family written twice", name);
  std::string_view family = name;
  if (type == Type::kCounter) {
    if (!family.ends_with(kTotal)) Broken("counter name without _total", name);
    family.remove_suffix(kTotal.size());
  }
  out_ += "# TYPE ";
  out_ += family;
  out_ += type == Type::kCounter ? " counter\n# HELP " : " gauge\n# HELP ";
  out_ += family;
  out_ += ' ';
  metric_family::AppendEscaped(out_, help, true);
  out_ += '\n';
  name_ = std::string(name);
  in_family_ = true;
  in_series_ = false;
  labels_.clear();
}

void OpenMetricsWriter::Series(std::string labels) {
  if (!in_family_) Broken("a series outside a family", labels);
  if (in_series_ && labels <= labels_) Broken("series out of order or repeated", labels);
  labels_ = std::move(labels);
  in_series_ = true;
  has_sample_ = false;
  ++series_count_;
}

void OpenMetricsWriter::Sample(double value, int64_t timestamp_ms) {
  if (!in_series_) Broken("a sample outside a series", name_);
  if (has_sample_ && timestamp_ms <= last_ms_) Broken("samples out of time order", labels_);
  last_ms_ = timestamp_ms;
  has_sample_ = true;
  out_ += name_;
  out_ += labels_;
  out_ += ' ';
  metric_family::AppendNumber(out_, value);
  out_ += ' ';
  AppendSeconds(out_, timestamp_ms);
  out_ += '\n';
  ++samples_;
  MaybeFlush();
}

namespace {

void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  if (out.size() > 1) out += ',';
  out += name;
  out += "=\"";
  metric_family::AppendEscaped(out, value, true);
  out += '"';
}

}  // namespace

std::string OpenMetricsWriter::WithLabels(
    const std::vector<std::pair<std::string, std::string>>& extra, std::string_view labels) {
  if (extra.empty()) return std::string(labels);
  std::string out = "{";
  for (const auto& [name, value] : extra) AppendLabel(out, name, value);
  if (labels.size() > 2) {  // `{…}`: its labels after a comma
    out += ',';
    out.append(labels.substr(1));
  } else {
    out += '}';
  }
  return out;
}

std::string OpenMetricsWriter::Labels(
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string out;
  if (labels.size() == 0) return out;
  out += '{';
  for (const auto& [name, value] : labels) AppendLabel(out, name, value);
  out += '}';
  return out;
}

void OpenMetricsWriter::MaybeFlush() {
  if (file_ == nullptr || out_.size() < kChunkBytes) return;
  if (!failed_ && std::fwrite(out_.data(), 1, out_.size(), file_) != out_.size()) failed_ = true;
  bytes_ += out_.size();
  out_.clear();
}

Status OpenMetricsWriter::Finish() {
  out_ += "# EOF\n";
  if (file_ == nullptr) return Status::Ok();
  if (!failed_ && std::fwrite(out_.data(), 1, out_.size(), file_) != out_.size()) failed_ = true;
  bytes_ += out_.size();
  out_.clear();
  if (failed_ || std::fflush(file_) != 0) return Status::Error("write failed");
  return Status::Ok();
}

}  // namespace chorus
