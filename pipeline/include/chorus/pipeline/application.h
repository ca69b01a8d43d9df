// The service wired together: state store, Kafka source, DLQ, processor,
// metrics and HTTP. `chorus run`, `chorus demo` and `chorus replay` all run
// one of these.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/processor.h"

namespace chorus {

struct RunConfig {
  std::string brokers;
  std::vector<std::string> topics;
  std::string group = "chorus";
  std::string state_dir = "chorus-state";
  std::string http_addr = "0.0.0.0:8080";  // empty: no HTTP server
  std::string dlq_topic = "chorus-dlq";
  std::string output_topic;  // window results; none if empty
  KafkaProperties kafka;     // -X overrides, passed to librdkafka as given
  ProcessorOptions processor;
  std::vector<std::string> love_weights;  // "kind=weight", applied over the defaults
  // A replay: commits are bulk loads (StateStoreOptions::bulk_load), and
  // chorus_pipeline_replay_in_progress is 1 from the first scrape until
  // SetReplayInProgress(false).
  bool replaying = false;
};

// Opens the records' source, given the Kafka properties of the config
// (bootstrap.servers included when --brokers is set).
using SourceOpener =
    std::function<Result<std::unique_ptr<EventSource>>(const KafkaProperties& properties)>;

class Application {
 public:
  ~Application();

  // Opens everything; a failure here is a configuration problem (exit 2)
  // and its message names what is wrong. Records come from `open_source`,
  // by default the consumer group `config.group` on `config.topics`. With a
  // source of its own, --brokers may be empty: rejected records are then
  // counted but not sent anywhere, and no --output-topic may be set.
  static Result<std::unique_ptr<Application>> Start(const RunConfig& config,
                                                    const SourceOpener& open_source = {});

  // Processes until `stop` is set; a failure is a runtime problem (exit 1).
  Status Run(const std::atomic<bool>& stop);

  int http_port() const;  // 0 without an HTTP server
  std::shared_ptr<const Snapshot> snapshot() const;
  // chorus_pipeline_replay_in_progress. Thread-safe.
  void SetReplayInProgress(bool in_progress);
  // Also hands what is made in event time to `history` (see
  // history_sink.h), which must outlive Run(). Call before Run().
  void SetHistory(HistorySink* history);

 private:
  struct Parts;
  Application() = default;
  std::unique_ptr<Parts> parts_;
};

}  // namespace chorus
