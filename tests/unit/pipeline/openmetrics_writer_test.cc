// The OpenMetrics writer of the backfill: the text promtool's OpenMetrics
// parser reads (TYPE and HELP lines, counter families without _total,
// seconds, escaping, # EOF), and the order it needs enforced.
#include "chorus/pipeline/openmetrics_writer.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "support/temp_dir.h"

namespace chorus {
namespace {

using Type = OpenMetricsWriter::Type;

TEST(OpenMetricsWriter, WritesFamiliesSeriesAndTimestampsInSeconds) {
  OpenMetricsWriter w;
  w.Family("x_events_total", Type::kCounter, "Events, by kind.");
  w.Series(OpenMetricsWriter::Labels({{"channel", "a"}, {"kind", "reaction"}}));
  w.Sample(0, 1'767'225'540'000);
  w.Sample(3, 1'767'225'600'000);
  w.Series(OpenMetricsWriter::Labels({{"channel", "b"}, {"kind", "reaction"}}));
  w.Sample(12'000'000, 1'767'225'600'250);
  w.Family("x_followers", Type::kGauge, "Followers.");
  w.Series(OpenMetricsWriter::Labels({{"channel", "a"}}));
  w.Sample(-3, 1'767'225'600'000);
  w.Family("x_new_total", Type::kCounter, "No labels.");
  w.Series(OpenMetricsWriter::Labels({}));
  w.Sample(1.5, 1'767'225'600'005);
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.text(),
            "# TYPE x_events counter\n"
            "# HELP x_events Events, by kind.\n"
            "x_events_total{channel=\"a\",kind=\"reaction\"} 0 1767225540\n"
            "x_events_total{channel=\"a\",kind=\"reaction\"} 3 1767225600\n"
            "x_events_total{channel=\"b\",kind=\"reaction\"} 12000000 1767225600.250\n"
            "# TYPE x_followers gauge\n"
            "# HELP x_followers Followers.\n"
            "x_followers{channel=\"a\"} -3 1767225600\n"
            "# TYPE x_new counter\n"
            "# HELP x_new No labels.\n"
            "x_new_total 1.5 1767225600.005\n"
            "# EOF\n");
  EXPECT_EQ(w.samples(), 5u);
  EXPECT_EQ(w.series(), 4u);
  EXPECT_EQ(w.bytes(), w.text().size());
}

TEST(OpenMetricsWriter, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(OpenMetricsWriter::Labels({{"channel", "forum:a\"b\\c\nd"}}),
            "{channel=\"forum:a\\\"b\\\\c\\nd\"}");
  OpenMetricsWriter w;
  w.Family("g", Type::kGauge, "a \"quoted\" \\ help\nline");
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.text(), "# TYPE g gauge\n# HELP g a \\\"quoted\\\" \\\\ help\\nline\n# EOF\n");
}

TEST(OpenMetricsWriter, EmptyOutputIsJustEof) {
  OpenMetricsWriter w;
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.text(), "# EOF\n");
}

TEST(OpenMetricsWriter, MovesLargeTextToTheFileInChunks) {
  testing::TempDir dir;
  const std::string path = dir.Sub("out.om");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  OpenMetricsWriter w(f);
  std::string expected = "# TYPE big gauge\n# HELP big Many samples.\n";
  w.Family("big", Type::kGauge, "Many samples.");
  w.Series(OpenMetricsWriter::Labels({{"k", "v"}}));
  for (int64_t i = 0; i < 100'000; ++i) {
    w.Sample(static_cast<double>(i), i * 60'000);
    expected += "big{k=\"v\"} " + std::to_string(i) + " " + std::to_string(i * 60) + "\n";
  }
  EXPECT_LT(w.text().size(), expected.size()) << "nothing moved to the file";
  ASSERT_TRUE(w.Finish().ok());
  std::fclose(f);
  expected += "# EOF\n";
  EXPECT_EQ(testing::ReadFile(path), expected);
  EXPECT_EQ(w.bytes(), expected.size());
}

// promtool silently drops a sample older than its series' last one, so an
// ordering mistake must not get as far as the file.
TEST(OpenMetricsWriterDeathTest, RefusesWhatPromtoolWouldMisread) {
  auto sample_back_in_time = [] {
    OpenMetricsWriter w;
    w.Family("g", Type::kGauge, "h");
    w.Series("{a=\"1\"}");
    w.Sample(1, 120'000);
    w.Sample(2, 60'000);
  };
  EXPECT_DEATH(sample_back_in_time(), "out of time order");
  auto same_time = [] {
    OpenMetricsWriter w;
    w.Family("g", Type::kGauge, "h");
    w.Series("{a=\"1\"}");
    w.Sample(1, 60'000);
    w.Sample(2, 60'000);
  };
  EXPECT_DEATH(same_time(), "out of time order");
  auto series_again = [] {
    OpenMetricsWriter w;
    w.Family("g", Type::kGauge, "h");
    w.Series("{a=\"2\"}");
    w.Series("{a=\"1\"}");
  };
  EXPECT_DEATH(series_again(), "series out of order");
  auto family_again = [] {
    OpenMetricsWriter w;
    w.Family("g", Type::kGauge, "h");
    w.Family("c_total", Type::kCounter, "h");
    w.Family("g", Type::kGauge, "h");
  };
  EXPECT_DEATH(family_again(), "family written twice");
  auto counter_name = [] {
    OpenMetricsWriter w;
    w.Family("c", Type::kCounter, "h");
  };
  EXPECT_DEATH(counter_name(), "without _total");
}

}  // namespace
}  // namespace chorus
