#include "chorus/pipeline/application.h"

#include <spdlog/spdlog.h>

#include "api.h"
#include "chorus/pipeline/http_server.h"
#include "chorus/pipeline/metrics.h"

namespace chorus {

struct Application::Parts {
  // Declaration order is teardown order reversed: the HTTP server stops
  // first, the store closes last.
  std::unique_ptr<StateStore> store;
  std::unique_ptr<EventSource> source;
  std::unique_ptr<DlqSink> dlq;
  std::unique_ptr<WindowOutput> output;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<MetricsExporter> metrics;
  std::unique_ptr<HttpServer> http;
};

Application::~Application() {
  if (!parts_) return;
  parts_->http.reset();
  parts_->processor.reset();  // detaches from the source before it closes
}

Result<std::unique_ptr<Application>> Application::Start(const RunConfig& config,
                                                        const SourceOpener& open_source) {
  if (config.brokers.empty() && !open_source) return Status::Error("--brokers is required");
  if (config.topics.empty() && !open_source) return Status::Error("--topic is required");
  if (config.brokers.empty() && !config.output_topic.empty()) {
    return Status::Error("--output-topic " + config.output_topic + " needs --brokers");
  }
  std::string host;
  int port = 0;
  if (!config.http_addr.empty() && !SplitHostPort(config.http_addr, host, port)) {
    return Status::Error("--http-addr " + config.http_addr + ": expected host:port");
  }
  std::unique_ptr<Application> app(new Application());
  app->parts_ = std::make_unique<Parts>();
  Parts& p = *app->parts_;

  auto store = StateStore::Open(config.state_dir, {.bulk_load = config.replaying});
  if (!store.ok()) return store.status();
  p.store = std::move(store.value());

  KafkaProperties props = config.kafka;
  if (!config.brokers.empty()) props.emplace("bootstrap.servers", config.brokers);
  auto source =
      open_source ? open_source(props) : OpenKafkaSource({config.topics, config.group, props});
  if (!source.ok()) return source.status();
  p.source = std::move(source.value());
  if (config.brokers.empty()) {
    spdlog::warn("no --brokers: rejected records are counted, not sent to a DLQ topic");
    p.dlq = std::make_unique<DiscardingDlq>();
  } else {
    auto dlq = OpenKafkaDlq(config.dlq_topic, props);
    if (!dlq.ok()) return dlq.status();
    p.dlq = std::move(dlq.value());
  }

  if (!config.output_topic.empty()) {
    auto output = OpenKafkaWindowOutput(config.output_topic, props);
    if (!output.ok()) return output.status();
    p.output = std::move(output.value());
  }

  p.processor =
      std::make_unique<Processor>(config.processor, *p.store, *p.source, *p.dlq, SystemClock());
  Processor* processor = p.processor.get();
  processor->SetOutput(p.output.get());
  if (Status s = processor->Restore(); !s.ok()) return s;
  p.metrics = std::make_unique<MetricsExporter>([processor] { return processor->snapshot(); });
  MetricsExporter* metrics = p.metrics.get();
  if (config.replaying) metrics->SetReplayInProgress(true);
  StateStore* store_ptr = p.store.get();
  metrics->SetStateHealth([store_ptr] { return store_ptr->Health(); });
  processor->OnCommit(
      [metrics](const Snapshot&, double seconds) { metrics->ObserveCommit(seconds); });
  if (config.http_addr.empty()) return app;
  auto http = HttpServer::Start(config.http_addr, ApiRoutes(*processor, *p.store, *metrics));
  if (!http.ok()) return http.status();
  p.http = std::move(http.value());
  return app;
}

Status Application::Run(const std::atomic<bool>& stop) { return parts_->processor->Run(stop); }

int Application::http_port() const { return parts_->http ? parts_->http->port() : 0; }

void Application::SetReplayInProgress(bool in_progress) {
  parts_->metrics->SetReplayInProgress(in_progress);
}

void Application::SetHistory(HistorySink* history) { parts_->processor->SetHistory(history); }

std::shared_ptr<const Snapshot> Application::snapshot() const {
  return parts_->processor->snapshot();
}

}  // namespace chorus
