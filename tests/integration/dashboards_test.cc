// The Grafana dashboards in deploy/grafana: valid JSON, and every query
// names only metrics a running chorus exports (scraped from `chorus demo`)
// or recording rules deploy/prometheus defines, so a renamed metric or rule
// breaks this test instead of a dashboard.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

// Metric names in `text` (Prometheus exposition): each family's name, and
// for histograms its _bucket, _sum and _count series.
std::set<std::string> ExportedNames(const std::string& text) {
  std::set<std::string> names;
  const std::regex type_re(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type_re);
       it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    names.insert(name);
    if ((*it)[2] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
  }
  return names;
}

TEST(Dashboards, EveryQueryNamesAnExportedMetricOrARecordingRule) {
  const std::string root = CHORUS_SOURCE_DIR;
  std::set<std::string> rules;
  const std::regex record_re(R"(- record: ([a-zA-Z_:][a-zA-Z0-9_:]*))");
  for (const char* file : {"chorus-recording-rules.yml", "chorus-alert-rules.yml"}) {
    std::string text = ReadFile(root + "/deploy/prometheus/" + file);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), record_re);
         it != std::sregex_iterator(); ++it) {
      rules.insert((*it)[1]);
    }
  }
  ASSERT_GT(rules.size(), 10u);

  // What chorus exports, from a demo that has run long enough to fill both views.
  TempDir dir;
  ChildProcess demo(CHORUS_BINARY, {"demo", "--duration", "60s", "--http-addr", "127.0.0.1:0"},
                    dir.Sub("demo.log"));
  int port = 0;
  const std::regex url_re(R"(metrics +http://127\.0\.0\.1:(\d+)/metrics)");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::smatch m;
        std::string log = demo.Log();
        if (std::regex_search(log, m, url_re)) port = std::stoi(m[1]);
        return port != 0;
      },
      std::chrono::seconds(60)))
      << demo.Log();
  std::set<std::string> exported;
  // Post figures mature and windows fire as the demo's history is read.
  WaitFor(
      [&] {
        auto r = HttpGet(port, "/metrics");
        if (r && r->status == 200) exported = ExportedNames(r->body);
        return exported.count("chorus_channel_posts_matured_total") == 1 &&
               exported.count("chorus_channel_window_engagements") == 1 &&
               exported.count("chorus_community_welcome_seconds") == 1;
      },
      std::chrono::seconds(50), std::chrono::seconds(1));
  ASSERT_GT(exported.size(), 30u) << demo.Log();

  const std::regex name_re(R"([a-zA-Z_:][a-zA-Z0-9_:]*)");
  int dashboards = 0, queries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root + "/deploy/grafana")) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++dashboards;
    nlohmann::json d = nlohmann::json::parse(ReadFile(entry.path()));
    EXPECT_FALSE(d.value("uid", "").empty());
    EXPECT_FALSE(d.value("title", "").empty());
    std::set<int> ids;
    for (const auto& panel : d.at("panels")) {
      EXPECT_TRUE(ids.insert(panel.at("id").get<int>()).second) << "panel ids are unique";
      for (const auto& target : panel.at("targets")) {
        const std::string expr = target.at("expr");
        ++queries;
        // Label matchers' values are quoted; drop them before looking for names.
        const std::string bare = std::regex_replace(expr, std::regex(R"("[^"]*")"), "\"\"");
        int named = 0;
        for (auto it = std::sregex_iterator(bare.begin(), bare.end(), name_re);
             it != std::sregex_iterator(); ++it) {
          const std::string name = (*it)[0];
          if (name.find(':') != std::string::npos) {
            EXPECT_TRUE(rules.count(name)) << "no recording rule " << name << " in: " << expr;
            ++named;
          } else if (name.rfind("chorus_", 0) == 0) {
            EXPECT_TRUE(exported.count(name)) << "chorus exports no " << name << " in: " << expr;
            ++named;
          } else if (name == "up") {
            ++named;
          }
        }
        EXPECT_GT(named, 0) << "a query with no chorus metric: " << expr;
      }
    }
  }
  EXPECT_EQ(dashboards, 3) << "social, community, pipeline";
  EXPECT_GT(queries, 25);
}

}  // namespace
}  // namespace chorus::testing
