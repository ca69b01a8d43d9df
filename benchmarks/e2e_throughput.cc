// End-to-end throughput: the chorus service against a bare librdkafka
// consumer, reading the same pre-produced topic from the embedded Kafka
// cluster in one run, so the ratio is meaningful on a noisy shared machine.
//
//   e2e_throughput [--events N] [--partitions P] [--members M] [--channels C]
//
// The mock cluster keeps only the last 5 MiB per partition, so the topic is
// spread over enough partitions that each holds well under that (default
// 96 partitions for 2 million ~150-byte records: ~3.3 MB each).
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "chorus/pipeline/application.h"
#include "chorus/pipeline/embedded_kafka.h"
#include "chorus/pipeline/generator.h"
#include "chorus/pipeline/state_store.h"
#include "chorus/v1/engagement.pb.h"

namespace {

using Clock = chorus::bench::SteadyClock;
using chorus::bench::Seconds;

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void Produce(const std::string& brokers, const std::string& topic, uint64_t n,
             const chorus::GeneratorOptions& opts, uint64_t& bytes) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "50", err, sizeof err);
  rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof err);
  rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "1048576", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  chorus::Generator gen(opts);
  chorus::GeneratedRecord r;
  chorus::v1::EngagementEvent e;
  for (uint64_t i = 0; i < n; ++i) {
    gen.Next(r);
    // Real events carry attributes (campaign, client, locale): pad to the
    // ~150-byte records the target is stated for.
    if (e.ParseFromString(r.value)) {
      (*e.mutable_attributes())["campaign"] = "spring-launch-2026";
      (*e.mutable_attributes())["client"] = "web/7.4.1";
      (*e.mutable_attributes())["locale"] = "en-GB";
      e.SerializeToString(&r.value);
    }
    bytes += r.value.size();
    while (rd_kafka_producev(
               rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
               RD_KAFKA_V_VALUE(r.value.data(), r.value.size()),
               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(r.event_time_ms),
               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);
    }
  }
  rd_kafka_flush(rk, 600'000);
  rd_kafka_destroy(rk);
}

// Records the cluster still holds per partition: with keyed (skewed)
// records a hot partition can pass the mock's 5 MiB retention and lose its
// oldest records, so both consumers are timed on what is really there.
uint64_t Available(const std::string& brokers, const std::string& topic, int partitions,
                   int64_t& largest, int& truncated) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  uint64_t total = 0;
  largest = 0;
  truncated = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10'000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    total += static_cast<uint64_t>(hi - lo);
    largest = std::max(largest, hi - lo);
    truncated += lo > 0;
  }
  rd_kafka_destroy(rk);
  return total;
}

// The baseline: the fastest plain consumer we know how to write with
// librdkafka (batch consume, raised fetch limits), counting records only.
double BareConsumerRate(const std::string& brokers, const std::string& topic, int partitions,
                        uint64_t n) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", brokers.c_str()},   {"group.id", "bare-baseline"},
      {"enable.auto.commit", "false"},          {"fetch.max.bytes", "52428800"},
      {"max.partition.fetch.bytes", "4194304"}, {"queued.min.messages", "500000"},
      {"queued.max.messages.kbytes", "262144"}, {"fetch.wait.max.ms", "100"}};
  for (auto [k, v] : settings) rd_kafka_conf_set(conf, k, v, err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_queue_t* q = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> batch(10'000);
  uint64_t seen = 0, bytes = 0;
  auto start = Clock::now();
  while (seen < n) {
    ssize_t got = rd_kafka_consume_batch_queue(q, 1000, batch.data(), batch.size());
    for (ssize_t i = 0; i < got; ++i) {
      if (batch[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        seen++;
        bytes += batch[i]->len;
      }
      rd_kafka_message_destroy(batch[i]);
    }
  }
  double secs = Seconds(Clock::now() - start);
  rd_kafka_queue_destroy(q);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return static_cast<double>(seen) / secs;
}

struct ChorusResult {
  double rate = 0;   // records/s
  double cores = 0;  // CPU seconds of the whole process per second
  double waited = 0;  // share of the time the processing thread waited for input
  uint64_t members = 0;
  uint64_t member_bytes = 0;
};

// One run of the service over the topic's `events` records, on a fresh state
// directory: timed from partition assignment, so the group join (~3 s) is
// excluded, to the commit that makes the last record durable.
chorus::Result<ChorusResult> TimeChorus(chorus::RunConfig rc, bool replay, const std::string& topic,
                                        uint64_t events) {
  std::string dir = (std::filesystem::temp_directory_path() / "chorus-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return chorus::Status::Error("mkdtemp failed");
  rc.state_dir = dir;
  chorus::SourceOpener open_replay;
  if (replay) {
    open_replay = [&](const chorus::KafkaProperties& p) {
      return chorus::OpenKafkaReplaySource({{topic}, p, {}, {}});
    };
  }
  auto svc = chorus::Application::Start(rc, open_replay);
  if (!svc.ok()) {
    std::filesystem::remove_all(dir);
    return svc.status();
  }
  std::atomic<bool> stop{false};
  std::thread runner([&] { (void)svc.value()->Run(stop); });
  auto counted = [&] {
    auto s = svc.value()->snapshot();
    uint64_t total = 0;
    for (uint64_t v : s->counters.outcomes) total += v;
    return total;
  };
  while (!svc.value()->snapshot()->ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto start = Clock::now();
  double cpu_start = CpuSeconds();
  // As of the last commit: the group join's wait is not counted.
  const chorus::ops::Millis wait_start = svc.value()->snapshot()->input_wait;
  // Checked every 10 ms, which makes the time up to 10 ms long (0.25 % of
  // a 4 s replay): checking every 1 ms preempted chorus's two threads ~1,800
  // times in a replay on 2 cores (perf sched_switch), ~0.2 s of each.
  while (counted() < events) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  double secs = Seconds(Clock::now() - start);
  ChorusResult result;
  result.cores = (CpuSeconds() - cpu_start) / secs;
  result.rate = static_cast<double>(events) / secs;
  result.waited =
      static_cast<double>((svc.value()->snapshot()->input_wait - wait_start).count()) / 1000 / secs;
  stop = true;
  runner.join();
  result.members = svc.value()->snapshot()->member_count;
  svc.value().reset();
  {
    auto store = chorus::StateStore::Open(dir);
    if (store.ok()) {
      (void)store.value()->Flush();
      result.member_bytes = store.value()->ApproximateBytes(chorus::Store::kMembers);
    }
  }  // closed before the directory goes
  std::filesystem::remove_all(dir);
  return result;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chorus end-to-end throughput against a bare librdkafka consumer"};
  uint64_t events = 2'000'000;
  int partitions = 96;
  chorus::GeneratorOptions gen;
  gen.members = 100'000;
  gen.channels = 1'000;
  gen.mean_gap = std::chrono::milliseconds(50);
  app.add_option("--events", events);
  app.add_option("--partitions", partitions);
  app.add_option("--members", gen.members);
  app.add_option("--channels", gen.channels);
  bool replay = false;
  app.add_flag("--replay", replay,
               "time `chorus replay` (every partition assigned by hand, to the high watermarks) "
               "instead of `chorus run`");
  std::vector<std::string> kafka_props;
  bool one_thread = false;
  app.add_flag("--one-thread", one_thread,
               "with --replay: keep every operator on the processing thread, as `chorus "
               "run` does");
  app.add_option("-X", kafka_props, "librdkafka property for chorus's consumer, key=value");
  int64_t commit_ms = 0;
  app.add_option("--commit-interval-ms", commit_ms,
                 "chorus's commit interval (default: as `chorus run` or `chorus replay`)");
  int rounds = 3;
  app.add_option("--rounds", rounds, "bare consumer and chorus alternate this many times")
      ->check(CLI::Range(1, 99));
  CLI11_PARSE(app, argc, argv);

  auto kafka = chorus::EmbeddedKafka::Start(1);
  if (!kafka.ok()) {
    std::fprintf(stderr, "%s\n", kafka.status().message().c_str());
    return 1;
  }
  const std::string topic = "bench";
  (void)kafka.value()->CreateTopic(topic, partitions);
  (void)kafka.value()->CreateTopic("bench-dlq", 1);
  const std::string brokers = kafka.value()->bootstrap_servers();
  uint64_t bytes = 0;
  auto t0 = Clock::now();
  Produce(brokers, topic, events, gen, bytes);
  std::printf("produced %lu records (%.0f bytes avg) in %.1f s over %d partitions\n",
              static_cast<unsigned long>(events), static_cast<double>(bytes) / events,
              Seconds(Clock::now() - t0), partitions);
  int64_t largest = 0;
  int truncated = 0;
  uint64_t produced = events;
  events = Available(brokers, topic, partitions, largest, truncated);
  std::printf(
      "held by the cluster: %lu records; largest partition %ld records (~%.1f MB); "
      "%d partitions lost their oldest records to the mock's retention\n",
      static_cast<unsigned long>(events), static_cast<long>(largest),
      static_cast<double>(largest) * static_cast<double>(bytes) / produced / 1e6, truncated);

  chorus::RunConfig rc;
  rc.brokers = brokers;
  rc.topics = {topic};
  rc.http_addr = "127.0.0.1:0";
  rc.dlq_topic = "bench-dlq";
  if (commit_ms == 0) {
    commit_ms = replay ? chorus::kReplayCommitInterval.count()
                       : chorus::ProcessorOptions{}.commit_interval.count();
  }
  rc.processor.commit_interval = std::chrono::milliseconds(commit_ms);
  rc.processor.operator_thread = replay && !one_thread;
  rc.replaying = replay;  // as `chorus replay`: commits are bulk loads
  for (const std::string& kv : kafka_props) {
    size_t eq = kv.find('=');
    if (eq != std::string::npos) rc.kafka[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const char* what = replay ? "replay" : "run";
  const char* threads = rc.processor.operator_thread ? " (operator thread)" : "";

  const int64_t rss_before = chorus::bench::ResidentBytes();
  std::vector<double> bare_rates, chorus_rates;
  ChorusResult last;
  for (int round = 1; round <= rounds; ++round) {
    double bare = BareConsumerRate(brokers, topic, partitions, events);
    std::printf("round %d: bare %.0f records/s\n", round, bare);
    std::fflush(stdout);  // for a profiler waiting to attach to chorus's part
    // A group of its own each round: the last one's committed offsets
    // would otherwise start this one at the end.
    rc.group = "chorus-bench-" + std::to_string(round);
    auto timed = TimeChorus(rc, replay, topic, events);
    if (!timed.ok()) {
      std::fprintf(stderr, "%s\n", timed.status().message().c_str());
      return 1;
    }
    last = timed.value();
    bare_rates.push_back(bare);
    chorus_rates.push_back(last.rate);
    std::printf(
        "round %d: chorus %s %.0f records/s (%.1f%% of this round's bare), %.2f cores busy, "
        "waited for input %.0f%% of the time\n",
        round, what, last.rate, 100.0 * last.rate / bare, last.cores, 100.0 * last.waited);
    std::fflush(stdout);
  }
  const double bare = Median(bare_rates);
  const double rate = Median(chorus_rates);
  std::printf("bare librdkafka consumer: %.0f records/s (median of %d)\n", bare, rounds);
  std::printf(
      "chorus %s%s: %.0f records/s (%.1f%% of bare), median of %d; range %.0f-%.0f; "
      "commits every %.1f s, state synced\n",
      what, threads, rate, 100.0 * rate / bare, rounds,
      *std::min_element(chorus_rates.begin(), chorus_rates.end()),
      *std::max_element(chorus_rates.begin(), chorus_rates.end()),
      static_cast<double>(commit_ms) / 1000);
  std::printf("members %lu, member state on disk %.1f bytes/member\n",
              static_cast<unsigned long>(last.members),
              last.members ? static_cast<double>(last.member_bytes) / last.members : 0.0);
  constexpr int64_t kMiB = 1024 * 1024;
  std::printf("rss before chorus %ld MB, peak %ld MB (includes the embedded cluster's data)\n",
              static_cast<long>(rss_before / kMiB),
              static_cast<long>(chorus::bench::PeakRssBytes() / kMiB));
  return 0;
}
