// The Prometheus view: both managers' metrics and pipeline health, rendered
// in the text exposition format.
//
// Values that describe the stream (channel and community metrics, outcome
// and DLQ counters, lag, watermark) come from the committed Snapshot only.
// Observations of this process (commit latency) live in a prometheus-cpp
// registry owned here. No metric carries a member id.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "chorus/pipeline/snapshot.h"
#include "chorus/pipeline/state_store.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace chorus {

class MetricsExporter {
 public:
  using SnapshotFn = std::function<std::shared_ptr<const Snapshot>()>;
  explicit MetricsExporter(SnapshotFn snapshot);
  ~MetricsExporter();

  // Thread-safe.
  void ObserveCommit(double seconds);
  void SetReplayInProgress(bool in_progress);
  // Where RocksDB's health comes from at each scrape; call before serving.
  void SetStateHealth(std::function<StateHealth()> fn);

  // The whole exposition; safe to call from any thread.
  std::string Render() const;

 private:
  SnapshotFn snapshot_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* commit_seconds_ = nullptr;
  prometheus::Gauge* replay_in_progress_ = nullptr;
  std::function<StateHealth()> state_health_;
  mutable std::atomic<size_t> last_size_{0};  // the previous scrape's size, to reserve
};

}  // namespace chorus
