// The backfill's history: window results and member changes in, samples on
// the step grid out, with the values worked out by hand here.
#include "chorus/pipeline/backfill.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <utility>
#include <vector>

namespace chorus {
namespace {

using ops::EventTime;
using Samples = std::vector<std::pair<int64_t, double>>;  // (seconds, value)

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMin = 60'000;
constexpr int64_t kT0s = kT0 / 1000;

EventTime At(int64_t ms) { return EventTime::FromMillis(ms); }

// Samples by series (`name{labels}`), in file order; the TYPE lines by name.
struct Parsed {
  std::map<std::string, Samples> series;
  std::map<std::string, std::string> types;
  bool eof = false;
};

Parsed Parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line == "# EOF") {
      p.eof = true;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      auto space = line.find(' ', 7);
      p.types[line.substr(7, space - 7)] = line.substr(space + 1);
      continue;
    }
    if (line.rfind("#", 0) == 0) continue;
    auto value_at = line.rfind(' ', line.rfind(' ') - 1);
    std::istringstream rest(line.substr(value_at + 1));
    double value = 0;
    int64_t seconds = 0;
    rest >> value >> seconds;
    p.series[line.substr(0, value_at)].emplace_back(seconds, value);
  }
  return p;
}

Parsed Written(BackfillHistory& h, bool input_ended) {
  h.Finish(input_ended);
  OpenMetricsWriter out;
  EXPECT_TRUE(h.Write(out).ok());
  return Parse(out.text());
}

// A minute (or hour: `spec` 1) window of twitter `channel` from `start_ms`.
ops::WindowResult Window(std::string_view channel, int64_t start_ms, uint32_t revision,
                         uint64_t reactions, int64_t followers_end, int spec = 0) {
  ops::WindowResult w;
  w.channel_id = channel;
  w.platform = ops::Platform::kTwitter;
  w.spec = &ops::kWindowSpecs[spec];
  w.start = At(start_ms);
  w.end = At(start_ms + ops::kWindowSpecs[spec].size.count());
  w.revision = revision;
  w.counts.events_by_kind[static_cast<size_t>(ops::EventKind::kReaction)] = reactions;
  w.counts.engagements_by_content_type[static_cast<size_t>(ops::ContentType::kImage)] = reactions;
  w.followers_start = followers_end - 1;
  w.followers_end = followers_end;
  return w;
}

const std::string kReactionsA =
    "chorus_channel_events_total{channel=\"twitter:a\",platform=\"twitter\",kind=\"reaction\"}";
const std::string kEngagementsA =
    "chorus_channel_engagements_total{channel=\"twitter:a\",platform=\"twitter\","
    "content_type=\"image\"}";
const std::string kFollowersA =
    "chorus_channel_followers{channel=\"twitter:a\",platform=\"twitter\"}";

TEST(BackfillHistory, CountersSumClosedMinuteWindowsAtEveryStep) {
  BackfillHistory h({ops::kMinute, 10 * ops::kMinute});
  h.OnWindow(Window("twitter:a", kT0, 0, 3, 100));
  h.OnWindow(Window("twitter:a", kT0 + 2 * kMin, 0, 2, 103));
  h.OnWatermark(At(kT0 + 3 * kMin));
  // A correction: its figures replace the first result's.
  h.OnWindow(Window("twitter:a", kT0 + 2 * kMin, 1, 4, 104));
  h.OnWatermark(At(kT0 + 5 * kMin + 30'000));
  Parsed p = Written(h, /*input_ended=*/true);
  EXPECT_TRUE(p.eof);
  EXPECT_EQ(p.types["chorus_channel_events"], "counter");
  EXPECT_EQ(p.types["chorus_channel_followers"], "gauge");
  // A 0 the step before the first value, then a sample every minute (the
  // quiet minute included) up to the last step before the watermark.
  const Samples reactions = {{kT0s, 0},       {kT0s + 60, 3},  {kT0s + 120, 3},
                             {kT0s + 180, 7}, {kT0s + 240, 7}, {kT0s + 300, 7}};
  EXPECT_EQ(p.series[kReactionsA], reactions);
  EXPECT_EQ(p.series[kEngagementsA], reactions);
  const Samples followers = {
      {kT0s + 60, 100}, {kT0s + 120, 100}, {kT0s + 180, 104}, {kT0s + 240, 104}, {kT0s + 300, 104}};
  EXPECT_EQ(p.series[kFollowersA], followers);
  // Kinds and content types that never happened are not series.
  for (const auto& [name, samples] : p.series) {
    EXPECT_EQ(name.find("kind=\"comment\""), std::string::npos) << name;
    EXPECT_EQ(name.find("content_type=\"video\""), std::string::npos) << name;
  }
}

TEST(BackfillHistory, CoarserStepsSumTheirMinutes) {
  BackfillHistory h({5 * ops::kMinute, 10 * ops::kMinute});
  h.OnWindow(Window("twitter:a", kT0 + 1 * kMin, 0, 1, 10));
  h.OnWindow(Window("twitter:a", kT0 + 4 * kMin, 0, 2, 11));   // ends at the step
  h.OnWindow(Window("twitter:a", kT0 + 5 * kMin, 0, 4, 12));   // the next step's
  h.OnWindow(Window("twitter:a", kT0 + 12 * kMin, 0, 8, 13));  // after the last step
  h.OnWatermark(At(kT0 + 14 * kMin));
  Parsed p = Written(h, true);
  const Samples reactions = {{kT0s, 0}, {kT0s + 300, 3}, {kT0s + 600, 7}};
  EXPECT_EQ(p.series[kReactionsA], reactions);
  const Samples followers = {{kT0s + 300, 11}, {kT0s + 600, 12}};
  EXPECT_EQ(p.series[kFollowersA], followers);
}

TEST(BackfillHistory, WindowsCloseOnlyOnceTheLatenessHasPassed) {
  BackfillHistory h({ops::kMinute, 10 * ops::kMinute});
  h.OnWindow(Window("twitter:a", kT0, 0, 1, 50));
  h.OnWatermark(At(kT0 + 5 * kMin));
  h.OnWindow(Window("twitter:a", kT0, 1, 6, 51));  // still open: counts
  h.OnWindow(Window("twitter:a", kT0 + 10 * kMin, 0, 1, 52));
  h.OnWatermark(At(kT0 + 12 * kMin));
  // Following live: the history ends the lateness before the watermark,
  // where windows are final; the window ending at +11m is not yet.
  Parsed p = Written(h, /*input_ended=*/false);
  Samples reactions = {{kT0s, 0}};
  for (int m = 1; m <= 2; ++m) reactions.emplace_back(kT0s + 60 * m, 6);
  EXPECT_EQ(p.series[kReactionsA], reactions);
}

TEST(BackfillHistory, WindowGaugesHoldTheNewestClosedHourAndDay) {
  BackfillHistory h({30 * ops::kMinute, 10 * ops::kMinute});
  const int64_t hour = 60 * kMin;
  h.OnWindow(Window("twitter:a", kT0, 0, 5, 200, 1));
  h.OnWindow(Window("twitter:a", kT0 + hour, 0, 9, 210, 1));
  h.OnWatermark(At(kT0 + 3 * hour + 5 * kMin));
  Parsed p = Written(h, true);
  const std::string engagements =
      "chorus_channel_window_engagements{channel=\"twitter:a\",window=\"1h\"}";
  const Samples expected = {
      {kT0s + 3600, 5}, {kT0s + 5400, 5}, {kT0s + 7200, 9}, {kT0s + 9000, 9}, {kT0s + 10800, 9}};
  EXPECT_EQ(p.series[engagements], expected);
  const Samples end = {{kT0s + 3600, kT0s + 3600},
                       {kT0s + 5400, kT0s + 3600},
                       {kT0s + 7200, kT0s + 7200},
                       {kT0s + 9000, kT0s + 7200},
                       {kT0s + 10800, kT0s + 7200}};
  EXPECT_EQ(p.series["chorus_channel_window_end_timestamp_seconds{channel=\"twitter:a\","
                     "window=\"1h\"}"],
            end);
  EXPECT_EQ(p.series["chorus_channel_window_followers_start{channel=\"twitter:a\","
                     "window=\"1h\"}"]
                .back()
                .second,
            209);
  EXPECT_EQ(p.types["chorus_channel_window_engagements"], "gauge");
  EXPECT_EQ(p.series.count("chorus_channel_window_engagements{channel=\"twitter:a\","
                           "window=\"1d\"}"),
            0u);
}

TEST(BackfillHistory, CommunityFollowsTheEventTimeOfEachChange) {
  BackfillHistory h({ops::kMinute, 10 * ops::kMinute});
  h.OnMemberJoined(At(kT0 + 30'000));
  // Arriving after the second member's creation but stamped earlier.
  h.OnMemberJoined(At(kT0 + 90'000));
  h.OnTransition({"m1", ops::Stage::kNew, ops::Stage::kActive, At(kT0 + 150'000)});
  h.OnWatermark(At(kT0 + 3 * kMin));
  Parsed p = Written(h, true);
  EXPECT_EQ(p.types["chorus_community_members"], "gauge");
  EXPECT_EQ(p.types["chorus_community_new_members"], "counter");
  const Samples fresh = {{kT0s + 60, 1}, {kT0s + 120, 2}, {kT0s + 180, 1}};
  EXPECT_EQ(p.series["chorus_community_members{stage=\"new\"}"], fresh);
  const Samples active = {{kT0s + 60, 0}, {kT0s + 120, 0}, {kT0s + 180, 1}};
  EXPECT_EQ(p.series["chorus_community_members{stage=\"active\"}"], active);
  const Samples churned = {{kT0s + 60, 0}, {kT0s + 120, 0}, {kT0s + 180, 0}};
  EXPECT_EQ(p.series["chorus_community_members{stage=\"churned\"}"], churned);
  const Samples joined = {{kT0s, 0}, {kT0s + 60, 1}, {kT0s + 120, 2}, {kT0s + 180, 2}};
  EXPECT_EQ(p.series["chorus_community_new_members_total"], joined);
  const Samples moved = {{kT0s + 120, 0}, {kT0s + 180, 1}};
  EXPECT_EQ(p.series["chorus_community_stage_transitions_total{from=\"new\",to=\"active\"}"],
            moved);
  EXPECT_EQ(p.series.count("chorus_community_stage_transitions_total{from=\"new\",to=\"lapsed\"}"),
            0u);
}

TEST(BackfillHistory, ALateChangeLandsOnTheFirstOpenStep) {
  BackfillHistory h({ops::kMinute, 10 * ops::kMinute});
  h.OnMemberJoined(At(kT0 + 10'000));
  h.OnWatermark(At(kT0 + 20 * kMin));  // steps through +10m are final
  h.OnMemberJoined(At(kT0 + 5 * kMin));
  h.OnWatermark(At(kT0 + 12 * kMin + 1));  // does not go back
  h.OnWatermark(At(kT0 + 21 * kMin));
  Parsed p = Written(h, true);
  const Samples& joined = p.series["chorus_community_new_members_total"];
  ASSERT_EQ(joined.size(), 22u);
  EXPECT_EQ(joined[1], std::make_pair(kT0s + 60, 1.0));
  EXPECT_EQ(joined[10], std::make_pair(kT0s + 600, 1.0));
  EXPECT_EQ(joined[11], std::make_pair(kT0s + 660, 2.0));
  EXPECT_EQ(joined.back(), std::make_pair(kT0s + 21 * 60, 2.0));
}

// Labels given for the backfill (the job and instance Prometheus adds to
// the live series) lead every series, each series keeping its own and its
// samples: the same file as without them, but for the labels.
TEST(BackfillHistory, GivenLabelsLeadEverySeries) {
  auto fill = [](BackfillHistory& h) {
    h.OnWindow(Window("twitter:a", kT0, 0, 3, 100));
    h.OnWindow(Window("twitter:b", kT0, 0, 1, 7));
    h.OnMemberJoined(At(kT0 + 30'000));
    h.OnWatermark(At(kT0 + 3 * kMin));
  };
  BackfillHistory plain({ops::kMinute, ops::kMinute});
  fill(plain);
  BackfillHistory labelled({ops::kMinute, ops::kMinute, {{"job", "chorus"}, {"instance", "a\"b"}}});
  fill(labelled);
  const Parsed without = Written(plain, true);
  const Parsed with = Written(labelled, true);
  ASSERT_GT(without.series.size(), 10u);
  EXPECT_EQ(with.series.size(), without.series.size());
  const std::string lead = "{job=\"chorus\",instance=\"a\\\"b\"";
  for (const auto& [name, samples] : without.series) {
    const size_t brace = name.find('{');
    const std::string expected = brace == std::string::npos
                                     ? name + lead + "}"
                                     : name.substr(0, brace) + lead + "," + name.substr(brace + 1);
    auto it = with.series.find(expected);
    ASSERT_NE(it, with.series.end()) << expected;
    EXPECT_EQ(it->second, samples) << expected;
  }
}

TEST(BackfillLabels, AreLabelNamesChorusDoesNotUseEachOnceWithAValue) {
  auto labels = BackfillLabels({"job=chorus", "instance=chorus-0:9464", "region=eu=west"});
  ASSERT_TRUE(labels.ok()) << labels.status().message();
  using L = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(labels.value(),
            (L{{"job", "chorus"}, {"instance", "chorus-0:9464"}, {"region", "eu=west"}}));
  for (const std::string bad :
       {"job", "=chorus", "9job=x", "jo-b=x", "__name__=x", "channel=x", "stage=x", "job="}) {
    auto r = BackfillLabels({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("--backfill-label " + bad + ": ", 0), 0u)
        << r.status().message();
  }
  EXPECT_FALSE(BackfillLabels({"job=a", "job=b"}).ok());
}

TEST(BackfillHistory, NothingProcessedWritesAnEmptyFile) {
  BackfillHistory h({ops::kMinute, ops::kHour});
  Parsed p = Written(h, true);
  EXPECT_TRUE(p.eof);
  EXPECT_TRUE(p.series.empty());
  EXPECT_FALSE(h.last_step_ms());
}

}  // namespace
}  // namespace chorus
