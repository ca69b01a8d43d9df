#include "chorus/pipeline/backfill.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <map>
#include <tuple>
#include <vector>

#include "metric_names.h"
#include "window_results.h"

namespace chorus {
namespace {

namespace names = metric_names;
using Type = OpenMetricsWriter::Type;

constexpr size_t kGaugeCount = names::kWindowGauges.size();
constexpr size_t kShownCount = names::kWindowGaugeSpecs.size();

[[noreturn]] void Broken(const char* what) {
  std::fprintf(stderr, "chorus: BackfillHistory: %s\n", what);
  std::abort();
}

// One series' value on the step grid, kept as the steps where it changed.
class Series {
 public:
  // The value from `step` on. REQUIRES: steps never go back.
  void Set(int64_t step, double value) {
    if (!points_.empty()) {
      Point& last = points_.back();
      if (step < last.step) Broken("a series went back in time");
      if (step == last.step) {
        last.value = value;
        return;
      }
      if (last.value == value) return;
    }
    points_.push_back({step, value});
  }
  void Add(int64_t step, double delta) {
    if (delta != 0) Set(step, value() + delta);
  }
  double value() const { return points_.empty() ? 0 : points_.back().value; }
  // Whether it has a sample at or before step `last`.
  bool Shows(int64_t last) const { return !points_.empty() && points_.front().step <= last; }

  // A sample at every step from its first through `last`; with
  // `zero_before`, a 0 the step before a first value that is not 0.
  void Write(OpenMetricsWriter& out, int64_t step_ms, int64_t last, bool zero_before) const {
    if (zero_before && points_.front().value != 0)
      out.Sample(0, (points_.front().step - 1) * step_ms);
    for (size_t i = 0; i < points_.size() && points_[i].step <= last; ++i) {
      const int64_t until = i + 1 < points_.size() ? std::min(points_[i + 1].step - 1, last) : last;
      for (int64_t step = points_[i].step; step <= until; ++step) {
        out.Sample(points_[i].value, step * step_ms);
      }
    }
  }

 private:
  struct Point {
    int64_t step;
    double value;
  };
  std::vector<Point> points_;
};

struct ChannelHistory {
  ops::Platform platform = ops::Platform::kUnspecified;
  std::array<Series, ops::kEventKindCount> events;
  std::array<Series, ops::kContentTypeCount> posts, engagements;
  Series followers;
  std::array<std::array<Series, kGaugeCount>, kShownCount> window;  // by kWindowGaugeSpecs
};

// A window's newest result until it closes.
struct OpenWindow {
  ops::Platform platform = ops::Platform::kUnspecified;
  ops::ChannelCounts counts;  // minute windows
  int64_t followers_end = 0;  // minute windows
  WindowFigures figures;      // hour and day windows, as the live gauges take them
};
// (end ms, index into kWindowSpecs, channel): windows close in this order.
using WindowKey = std::tuple<int64_t, int, std::string>;

struct CommunityDelta {
  std::array<int64_t, ops::kStageCount> members{};
  std::array<std::array<int64_t, ops::kStageCount>, ops::kStageCount> transitions{};
  int64_t joined = 0;
};

// The series of a family to write: labels and values.
struct Row {
  std::string labels;
  const Series* series;
};

}  // namespace

struct BackfillHistory::State {
  BackfillOptions options;
  int64_t step_ms = 0;
  ops::EventTime watermark = ops::EventTime::Min();
  bool finished = false;
  std::optional<int64_t> last_step;

  std::map<WindowKey, OpenWindow> open;
  v1::ChannelWindow message;  // reused to read hour and day results
  std::map<std::string, ChannelHistory, std::less<>> channels;

  std::map<int64_t, CommunityDelta> community_open;                // by step
  int64_t community_closed = std::numeric_limits<int64_t>::min();  // final through this step
  bool community_started = false;
  std::array<Series, ops::kStageCount> members;
  Series new_members;
  std::array<std::array<Series, ops::kStageCount>, ops::kStageCount> transitions;

  // The first step at or after `ms`, and the first step after `ms`.
  int64_t StepAtOrAfter(int64_t ms) const { return -ops::FloorDiv(-ms, step_ms); }
  int64_t StepAfter(int64_t ms) const { return ops::FloorDiv(ms, step_ms) + 1; }

  void Close(const WindowKey& key, const OpenWindow& w);
  void CloseWindowsThrough(int64_t end_ms, std::optional<int64_t> last_step);
  CommunityDelta& CommunityAt(ops::EventTime at);
  void CloseCommunityThrough(int64_t step);
};

void BackfillHistory::State::Close(const WindowKey& key, const OpenWindow& w) {
  const auto& [end_ms, spec, channel_id] = key;
  auto it = channels.find(channel_id);
  if (it == channels.end()) it = channels.emplace(channel_id, ChannelHistory{}).first;
  ChannelHistory& c = it->second;
  // A channel has one platform in practice; the newest is the live one's.
  if (w.platform != ops::Platform::kUnspecified) c.platform = w.platform;
  const int64_t step = StepAtOrAfter(end_ms);
  if (spec == 0) {
    // Unspecified kinds are not exported live either.
    for (int k = 1; k < ops::kEventKindCount; ++k) {
      c.events[k].Add(step, static_cast<double>(w.counts.events_by_kind[k]));
    }
    for (int t = 0; t < ops::kContentTypeCount; ++t) {
      c.posts[t].Add(step, static_cast<double>(w.counts.posts_by_content_type[t]));
      c.engagements[t].Add(step, static_cast<double>(w.counts.engagements_by_content_type[t]));
    }
    c.followers.Set(step, static_cast<double>(w.followers_end));
    return;
  }
  for (size_t shown = 0; shown < kShownCount; ++shown) {
    if (names::kWindowGaugeSpecs[shown] != spec) continue;
    for (size_t g = 0; g < kGaugeCount; ++g) {
      c.window[shown][g].Set(step, names::kWindowGauges[g].value(w.figures));
    }
  }
}

void BackfillHistory::State::CloseWindowsThrough(int64_t end_ms, std::optional<int64_t> last_step) {
  while (!open.empty() && std::get<0>(open.begin()->first) <= end_ms) {
    auto node = open.extract(open.begin());
    if (!last_step || StepAtOrAfter(std::get<0>(node.key())) <= *last_step) {
      Close(node.key(), node.mapped());
    }
  }
}

CommunityDelta& BackfillHistory::State::CommunityAt(ops::EventTime at) {
  // Only a late event changes a step already final: the change shows at
  // the first step still open rather than never.
  return community_open[std::max(StepAfter(at.millis()), community_closed + 1)];
}

void BackfillHistory::State::CloseCommunityThrough(int64_t step) {
  while (!community_open.empty() && community_open.begin()->first <= step) {
    const auto& [at, d] = *community_open.begin();
    for (int i = 0; i < ops::kStageCount; ++i) {
      // Every stage is exported from the first step on, as live.
      if (!community_started || d.members[i] != 0) {
        members[i].Set(at, members[i].value() + static_cast<double>(d.members[i]));
      }
      for (int j = 0; j < ops::kStageCount; ++j) {
        transitions[i][j].Add(at, static_cast<double>(d.transitions[i][j]));
      }
    }
    if (!community_started || d.joined != 0) {
      new_members.Set(at, new_members.value() + static_cast<double>(d.joined));
    }
    community_started = true;
    community_open.erase(community_open.begin());
  }
  community_closed = std::max(community_closed, step);
}

Result<std::vector<std::pair<std::string, std::string>>> BackfillLabels(
    const std::vector<std::string>& flags) {
  // The label names of chorus's own series: another value under one of them
  // would change those series, not add to them.
  static constexpr std::array<std::string_view, 8> kOwn = {
      "channel", "platform", "kind", "content_type", "window", "stage", "from", "to"};
  std::vector<std::pair<std::string, std::string>> labels;
  for (const std::string& flag : flags) {
    auto fail = [&](std::string_view why) {
      return Status::Error("--backfill-label " + flag + ": " + std::string(why));
    };
    const size_t eq = flag.find('=');
    if (eq == std::string::npos) return fail("expected NAME=VALUE");
    std::string name = flag.substr(0, eq), value = flag.substr(eq + 1);
    const bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                       std::all_of(name.begin(), name.end(), [](char ch) {
                         return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_';
                       });
    if (!valid) return fail("a label name is letters, digits and _, not starting with a digit");
    if (name.starts_with("__")) return fail("names starting with __ are Prometheus' own");
    if (std::find(kOwn.begin(), kOwn.end(), name) != kOwn.end()) {
      return fail("chorus's series use that label themselves");
    }
    if (value.empty()) return fail("an empty value is no label at all in Prometheus");
    for (const auto& [seen, v] : labels) {
      if (seen == name) return fail("that label is given twice");
    }
    labels.emplace_back(std::move(name), std::move(value));
  }
  return labels;
}

BackfillHistory::BackfillHistory(BackfillOptions options) : s_(std::make_unique<State>()) {
  if (options.step < ops::kMinute || options.step.count() % ops::kMinute.count() != 0) {
    Broken("the step must be a positive multiple of a minute");
  }
  s_->options = options;
  s_->step_ms = options.step.count();
}

BackfillHistory::~BackfillHistory() = default;

void BackfillHistory::OnWindow(const ops::WindowResult& w) {
  const int spec = static_cast<int>(w.spec - ops::kWindowSpecs.data());
  // Revisions arrive in order: the newest result replaces the one before.
  OpenWindow& open = s_->open[{w.end.millis(), spec, std::string(w.channel_id)}];
  open.platform = w.platform;
  if (spec == 0) {
    open.counts = w.counts;
    open.followers_end = w.followers_end;
  } else {
    FillChannelWindow(w, s_->message);
    open.figures = FiguresOf(s_->message);
  }
}

void BackfillHistory::OnMemberJoined(ops::EventTime at) {
  CommunityDelta& d = s_->CommunityAt(at);
  d.members[static_cast<size_t>(ops::Stage::kNew)]++;
  d.joined++;
}

void BackfillHistory::OnTransition(const ops::StageTransition& t) {
  CommunityDelta& d = s_->CommunityAt(t.at);
  const auto from = static_cast<size_t>(t.from), to = static_cast<size_t>(t.to);
  d.members[from]--;
  d.members[to]++;
  d.transitions[from][to]++;
}

void BackfillHistory::OnWatermark(ops::EventTime watermark) {
  if (watermark <= s_->watermark) return;
  s_->watermark = watermark;
  const ops::EventTime final_before = watermark - s_->options.allowed_lateness;
  s_->CloseWindowsThrough(final_before.millis(), std::nullopt);
  s_->CloseCommunityThrough(ops::FloorDiv(final_before.millis(), s_->step_ms));
}

void BackfillHistory::Finish(bool input_ended) {
  if (s_->finished) Broken("Finish() called twice");
  s_->finished = true;
  if (s_->watermark == ops::EventTime::Min()) return;  // nothing happened
  ops::EventTime final_before = s_->watermark;
  if (!input_ended) final_before = final_before - s_->options.allowed_lateness;
  const int64_t last = ops::FloorDiv(final_before.millis(), s_->step_ms);
  s_->CloseWindowsThrough(final_before.millis(), last);
  s_->CloseCommunityThrough(last);
  s_->open.clear();
  s_->community_open.clear();
  s_->last_step = last;
}

std::optional<int64_t> BackfillHistory::last_step_ms() const {
  if (!s_->last_step) return std::nullopt;
  return *s_->last_step * s_->step_ms;
}

Status BackfillHistory::Write(OpenMetricsWriter& out) const {
  if (!s_->finished) Broken("Write() before Finish()");
  if (!s_->last_step) return out.Finish();
  const int64_t last = *s_->last_step;
  auto family = [&](const names::Family& f, Type type, bool zero_before, std::vector<Row> rows) {
    std::erase_if(rows, [&](const Row& r) { return !r.series->Shows(last); });
    if (rows.empty()) return;
    std::sort(rows.begin(), rows.end(),
              [](const Row& a, const Row& b) { return a.labels < b.labels; });
    out.Family(f.name, type, f.help);
    for (const Row& r : rows) {
      out.Series(OpenMetricsWriter::WithLabels(s_->options.labels, r.labels));
      r.series->Write(out, s_->step_ms, last, zero_before);
    }
  };
  using L = OpenMetricsWriter;
  std::vector<Row> events, followers, posts, engagements;
  for (const auto& [id, c] : s_->channels) {
    const std::string_view platform = ops::Name(c.platform);
    for (int k = 1; k < ops::kEventKindCount; ++k) {
      events.push_back({L::Labels({{"channel", id},
                                   {"platform", platform},
                                   {"kind", ops::Name(static_cast<ops::EventKind>(k))}}),
                        &c.events[k]});
    }
    followers.push_back({L::Labels({{"channel", id}, {"platform", platform}}), &c.followers});
    for (int t = 0; t < ops::kContentTypeCount; ++t) {
      std::string labels =
          L::Labels({{"channel", id},
                     {"platform", platform},
                     {"content_type", ops::Name(static_cast<ops::ContentType>(t))}});
      posts.push_back({labels, &c.posts[t]});
      engagements.push_back({std::move(labels), &c.engagements[t]});
    }
  }
  family(names::kChannelEvents, Type::kCounter, true, std::move(events));
  family(names::kChannelFollowers, Type::kGauge, false, std::move(followers));
  family(names::kChannelPosts, Type::kCounter, true, std::move(posts));
  family(names::kChannelEngagements, Type::kCounter, true, std::move(engagements));
  for (size_t g = 0; g < kGaugeCount; ++g) {
    std::vector<Row> rows;
    for (const auto& [id, c] : s_->channels) {
      for (size_t shown = 0; shown < kShownCount; ++shown) {
        const std::string_view window = ops::kWindowSpecs[names::kWindowGaugeSpecs[shown]].name;
        rows.push_back({L::Labels({{"channel", id}, {"window", window}}), &c.window[shown][g]});
      }
    }
    family(names::kWindowGauges[g].family, Type::kGauge, false, std::move(rows));
  }
  std::vector<Row> members, fresh, transitions;
  for (int i = 0; i < ops::kStageCount; ++i) {
    const std::string_view from = ops::Name(static_cast<ops::Stage>(i));
    members.push_back({L::Labels({{"stage", from}}), &s_->members[i]});
    for (int j = 0; j < ops::kStageCount; ++j) {
      transitions.push_back(
          {L::Labels({{"from", from}, {"to", ops::Name(static_cast<ops::Stage>(j))}}),
           &s_->transitions[i][j]});
    }
  }
  fresh.push_back({"", &s_->new_members});
  family(names::kCommunityMembers, Type::kGauge, false, std::move(members));
  family(names::kCommunityNewMembers, Type::kCounter, true, std::move(fresh));
  family(names::kCommunityTransitions, Type::kCounter, true, std::move(transitions));
  return out.Finish();
}

}  // namespace chorus
