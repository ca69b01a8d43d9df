// The service wired together: state store, Kafka source, DLQ, processor,
// metrics and HTTP. `chorus run` and `chorus demo` both run one of these.
#pragma once

#include <atomic>
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
  std::string http_addr = "0.0.0.0:8080";
  std::string dlq_topic = "chorus-dlq";
  std::string output_topic;  // window results; none if empty
  KafkaProperties kafka;     // -X overrides, passed to librdkafka as given
  ProcessorOptions processor;
  std::vector<std::string> love_weights;  // "kind=weight", applied over the defaults
};

class Application {
 public:
  ~Application();

  // Opens everything; a failure here is a configuration problem (exit 2)
  // and its message names what is wrong.
  static Result<std::unique_ptr<Application>> Start(const RunConfig& config);

  // Processes until `stop` is set; a failure is a runtime problem (exit 1).
  Status Run(const std::atomic<bool>& stop);

  int http_port() const;
  std::shared_ptr<const Snapshot> snapshot() const;

 private:
  struct Parts;
  Application() = default;
  std::unique_ptr<Parts> parts_;
};

}  // namespace chorus
