#include "integration/run_fixture.h"

#include "support/http_client.h"

namespace chorus::testing {

MockCluster* RunFixture::cluster_ = nullptr;

void RunFixture::SetUpTestSuite() { cluster_ = new MockCluster(1); }

void RunFixture::TearDownTestSuite() {
  delete cluster_;
  cluster_ = nullptr;
}

void RunFixture::CreateTopics(const std::string& prefix, int partitions) {
  static int n = 0;
  topic_ = prefix + "-" + std::to_string(++n);
  dlq_ = topic_ + "-dlq";
  windows_ = topic_ + "-windows";
  cluster_->CreateTopic(topic_, partitions);
  cluster_->CreateTopic(dlq_, 1);
  cluster_->CreateTopic(windows_, 3);
}

void RunFixture::Produce(const WorkloadRecord& r) {
  cluster_->Produce(topic_, -1, r.key, r.value, r.timestamp_ms);
}

std::unique_ptr<ChildProcess> RunFixture::Start(const std::vector<std::string>& flags,
                                                std::chrono::seconds deadline,
                                                const std::vector<std::string>& env) {
  log_ = dir_.Sub("chorus-" + std::to_string(++starts_) + ".log");
  std::vector<std::string> args = {"run",
                                   "--brokers",
                                   cluster_->bootstrap_servers(),
                                   "--topic",
                                   topic_,
                                   "--group",
                                   topic_ + "-group",
                                   "--state-dir",
                                   dir_.Sub("state"),
                                   "--http-addr",
                                   "127.0.0.1:0",
                                   "--dlq-topic",
                                   dlq_,
                                   "--output-topic",
                                   windows_,
                                   "--commit-interval",
                                   "200ms"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto p = std::make_unique<ChildProcess>(CHORUS_BINARY, args, log_, env);
  // The service logs the port it bound (we asked for any free one).
  port_ = WaitForHttpPort(*p, deadline);
  EXPECT_NE(port_, 0) << p->Log();
  return p;
}

std::optional<RunFixture::Metrics> RunFixture::Scrape() const { return ScrapeMetrics(port_); }

void RunFixture::ExpectNotBelow(const Metrics& now, const Metrics& before) {
  for (const auto& [series, value] : before) {
    if (series.find("_total") == std::string::npos) continue;
    auto it = now.find(series);
    double v = it == now.end() ? 0 : it->second;
    EXPECT_GE(v, value) << series << " went backwards";
  }
}

}  // namespace chorus::testing
