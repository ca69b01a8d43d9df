// `chorus demo`: everything on one machine with no setup. An embedded Kafka
// cluster receives three months of generated history and then a live trickle;
// the real service consumes it and serves /metrics and the API.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "chorus/pipeline/application.h"
#include "chorus/pipeline/clock.h"
#include "chorus/pipeline/embedded_kafka.h"
#include "chorus/pipeline/http_server.h"
#include "chorus/pipeline/state_store.h"
#include "cli_support.h"
#include "commands.h"
#include "kafka_producer.h"
#include "partition_meta.h"

namespace chorus {
namespace {

constexpr char kTopic[] = "engagement";
constexpr char kDlqTopic[] = "chorus-dlq";
constexpr char kWindowsTopic[] = "chorus-windows";  // window results

constexpr std::string_view kWho = "chorus demo";

// Produces history up to `until`. The generator's daily and weekly rhythm
// makes its real mean gap shorter than the nominal one, so the stream is cut
// by event time, not by count: a gap before the live part would make every
// regular look at risk. `cap` bounds it for the mock's retention.
uint64_t ProduceHistory(Generator& gen, KafkaProducer& producer, ops::EventTime until,
                        uint64_t cap) {
  GeneratedRecord r;
  uint64_t n = 0;
  while (n < cap) {
    gen.Next(r);
    if (r.event_time_ms >= until.millis()) break;
    producer.Produce(kTopic, -1, Bytes(r.key), Bytes(r.value), r.event_time_ms);
    ++n;
  }
  return n;
}

// The next offset a previous run committed for each partition of the demo
// topic in `state_dir`; empty for a new directory.
Result<std::map<int32_t, int64_t>> StoredOffsets(const std::string& state_dir) {
  auto store = StateStore::Open(state_dir);
  if (!store.ok()) return store.status();
  std::map<int32_t, int64_t> offsets;
  Status s = store.value()->Scan(Store::kMeta, "", [&](std::string_view k, std::string_view v) {
    auto entry = DecodeMeta(k, v);
    if (entry && entry->partition && entry->partition->tp.topic == kTopic &&
        entry->partition->next_offset > 0) {
      offsets[entry->partition->tp.partition] = entry->partition->next_offset;
    }
    return true;
  });
  if (!s.ok()) return s;
  return offsets;
}

// The embedded cluster lives in memory, so a restarted demo has a new, empty
// topic while its state holds offsets into the old one. Each partition is
// filled with empty records up to its stored offset: the log lines up with
// the state again and the consumer resumes exactly there (these records are
// below it, so never read) instead of being reset to the beginning.
Status PadTo(KafkaProducer& producer, const std::map<int32_t, int64_t>& offsets, int partitions) {
  for (const auto& [partition, next] : offsets) {
    if (partition >= partitions) continue;  // --partitions shrank: not assigned now
    for (int64_t i = 0; i < next; ++i) producer.Produce(kTopic, partition, {}, {}, std::nullopt);
  }
  return producer.Flush();
}

// Produces live events at their event time until `stop`.
void ProduceLive(Generator& gen, KafkaProducer& producer, const std::atomic<bool>& stop) {
  GeneratedRecord r;
  while (!stop.load()) {
    gen.Next(r);
    while (!stop.load() && SystemClock().Now().millis() < r.event_time_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    producer.Produce(kTopic, -1, Bytes(r.key), Bytes(r.value), r.event_time_ms);
    rd_kafka_poll(producer.handle(), 0);
  }
}

void PrintUrls(const std::string& host, int port, const std::string& bootstraps,
               const std::string& state_dir, int partitions) {
  std::string base = "http://" + (host == "0.0.0.0" ? std::string("127.0.0.1") : host) + ":" +
                     std::to_string(port);
  std::cout << "chorus demo: embedded Kafka at " << bootstraps << ", topic " << kTopic << " ("
            << partitions << " partitions), window results to topic " << kWindowsTopic
            << ", state in " << state_dir << "\n"
            << "  metrics     " << base << "/metrics\n"
            << "  ready       " << base << "/readyz\n"
            << "  channels    " << base << "/api/v1/channels\n"
            << "  champions   " << base << "/api/v1/members?stage=champion&sort=love&limit=10\n"
            << "  at risk     " << base << "/api/v1/members?stage=at_risk&sort=last_seen\n"
            << "  influencers " << base << "/api/v1/members?sort=reach&limit=10\n"
            << "  a member    " << base << "/api/v1/members/m-000001\n"
            << "Ctrl-C stops it." << std::endl;
}

// The smallest bucket bound that holds half the observations, as "1h".
std::string MedianBound(const ops::ResponseHistogram& h) {
  if (h.count == 0) return "-";
  uint64_t running = 0;
  for (size_t i = 0; i < ops::kResponseBounds.size(); ++i) {
    running += h.buckets[i];
    if (2 * running >= h.count) {
      auto secs = static_cast<int64_t>(ops::kResponseBounds[i]);
      if (secs % 86400 == 0) return std::to_string(secs / 86400) + "d";
      if (secs % 3600 == 0) return std::to_string(secs / 3600) + "h";
      return std::to_string(secs / 60) + "m";
    }
  }
  return "over 7d";
}

void PrintSummary(const Snapshot& s) {
  std::cout << "chorus demo: processed " << s.counters.outcomes[0] << ", invalid "
            << s.counters.outcomes[1] << ", duplicates " << s.counters.outcomes[2] << ", late "
            << s.counters.outcomes[3] << "; " << s.channels.size() << " channels, "
            << s.member_count << " members (";
  for (int i = 0; i < ops::kStageCount; ++i) {
    std::cout << (i ? ", " : "") << ops::Name(static_cast<ops::Stage>(i)) << " "
              << s.members.members_by_stage[i];
  }
  std::cout << ")" << std::endl;
  // How fast members were answered, over every channel.
  ops::ChannelThreadStats all;
  for (const auto& [channel, t] : s.threads) all.Add(t);
  ops::ResponseHistogram answered;
  for (const ops::ResponseHistogram& h : all.response) answered.Add(h);
  uint64_t opened = 0, unanswered = 0;
  for (int k = 0; k < ops::kThreadKindCount; ++k) {
    opened += all.opened[k];
    unanswered += all.unanswered[k];
  }
  std::cout << "  threads: " << opened << " opened, " << answered.count
            << " answered by the brand or team (half within " << MedianBound(answered) << "), "
            << unanswered << " unanswered after the horizon, " << all.open << " open; welcomed "
            << s.members.welcome.count << " newcomers (half within "
            << MedianBound(s.members.welcome) << ")" << std::endl;
  // Window results, and the social media manager's headline: the channel
  // with the most engagements in its newest day window, and its rate.
  uint64_t corrections = 0;
  for (uint64_t c : s.window_corrections) corrections += c;
  std::cout << "  windows: " << s.windows_closed[0] << " minute, " << s.windows_closed[1]
            << " hour, " << s.windows_closed[2] << " day results to " << kWindowsTopic << " ("
            << corrections << " corrections)";
  const std::string* top = nullptr;
  const WindowFigures* top_day = nullptr;
  for (const auto& [channel, latest] : s.latest_windows) {
    const auto& day = latest[2];
    if (day && (top_day == nullptr || day->engagements > top_day->engagements)) {
      top = &channel;
      top_day = &*day;
    }
  }
  if (top_day != nullptr && top_day->impressions > 0) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.2f %%",
                  100.0 * static_cast<double>(top_day->engagements) /
                      static_cast<double>(top_day->impressions));
    std::cout << "; busiest channel's last day: " << *top << ", " << top_day->engagements
              << " engagements on " << top_day->impressions << " impressions (" << rate << ")";
  }
  std::cout << std::endl;
}

}  // namespace

void AddDemoFlags(CLI::App* demo, DemoConfig& c) {
  demo->add_option("--http-addr", c.http_addr, "host:port to serve on")->capture_default_str();
  demo->add_option("--state-dir", c.state_dir, "state directory (default: a new temp dir)");
  demo->add_option("--duration", c.duration, "stop after this long (e.g. 30s); default: Ctrl-C");
  demo->add_option("--partitions", c.partitions, "partitions of the demo topic")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  demo->add_option("--history-events", c.history_events, "events of history before going live")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  demo->add_option("--rate", c.rate, "live events per second")
      ->check(CLI::Range(0.1, 1000.0))
      ->capture_default_str();
  demo->add_option("--seed", c.seed, "workload seed")->capture_default_str();
}

int RunDemo(const DemoConfig& c) {
  std::optional<ops::Millis> duration;
  if (!c.duration.empty() && !(duration = ParseDuration(c.duration))) {
    return Fail(kWho, 2, "--duration " + c.duration + ": expected a duration like 30s or 5m");
  }
  std::string state_dir = c.state_dir;
  if (state_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "chorus-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      return Fail(kWho, 1, "cannot create a temp state directory");
    state_dir = tmpl;
  }
  auto stored = StoredOffsets(state_dir);
  if (!stored.ok()) return Fail(kWho, 1, stored.status().message());
  const bool resume = !stored.value().empty();
  auto kafka = EmbeddedKafka::Start(1);
  if (!kafka.ok()) return Fail(kWho, 1, kafka.status().message());
  if (Status s = kafka.value()->CreateTopic(kTopic, c.partitions); !s.ok())
    return Fail(kWho, 1, s.message());
  if (Status s = kafka.value()->CreateTopic(kDlqTopic, 1); !s.ok())
    return Fail(kWho, 1, s.message());
  if (Status s = kafka.value()->CreateTopic(kWindowsTopic, 4); !s.ok())
    return Fail(kWho, 1, s.message());
  const std::string& bootstraps = kafka.value()->bootstrap_servers();
  auto producer = KafkaProducer::Open({{"bootstrap.servers", bootstraps}});
  if (!producer.ok()) return Fail(kWho, 1, producer.status().message());

  // Three months of history (enough for champions: 30 active days in 90),
  // then live events stamped with the wall clock.
  ops::EventTime now = ops::EventTime::FromMillis(SystemClock().Now().millis());
  GeneratorOptions history;
  history.seed = c.seed;
  history.start = now - 90 * ops::kDay;
  // Nominal gap for --history-events over 90 days; the rhythm packs ~20 %
  // more events into the same span (ProduceHistory stops at now).
  history.mean_gap = ops::Millis(
      c.history_events > 0 ? 90 * ops::kDay.count() * 12 / 10 / c.history_events : 1000);
  history.duplicate_rate = 0.005;
  history.malformed_rate = 0.001;
  Generator history_gen(history);
  if (resume) {
    // The history is already in the state; only the live part goes on.
    if (Status s = PadTo(*producer.value(), stored.value(), c.partitions); !s.ok())
      return Fail(kWho, 1, s.message());
    std::cout << "chorus demo: resuming the state in " << state_dir
              << " at the offsets it committed" << std::endl;
  } else if (c.history_events > 0) {
    ProduceHistory(history_gen, *producer.value(), now,
                   2 * static_cast<uint64_t>(c.history_events));
  }

  RunConfig rc;
  rc.brokers = bootstraps;
  rc.topics = {kTopic};
  rc.group = "chorus-demo";
  rc.state_dir = state_dir;
  rc.http_addr = c.http_addr;
  rc.dlq_topic = kDlqTopic;
  rc.output_topic = kWindowsTopic;
  rc.processor.watermark.idle_timeout = std::chrono::seconds(10);
  auto app = Application::Start(rc);
  if (!app.ok()) return Fail(kWho, 2, app.status().message());
  std::string host;
  int port = 0;
  SplitHostPort(c.http_addr, host, port);
  PrintUrls(host, app.value()->http_port(), bootstraps, state_dir, c.partitions);

  std::atomic<bool> stop{false};
  GeneratorOptions live = history;
  // Event ids are the seed and a sequence number: a resumed demo's live part
  // takes a seed of its own, or the dedup would drop its first events as
  // repeats of the previous run's.
  live.seed = c.seed + 1 + (resume ? static_cast<uint64_t>(now.millis()) : 0);
  live.start = now;
  live.mean_gap = ops::Millis(static_cast<int64_t>(1000.0 / c.rate));
  Generator live_gen(live);
  std::thread live_thread([&] { ProduceLive(live_gen, *producer.value(), stop); });
  std::thread watcher([&] {
    ops::ProcessingTime started = SystemClock().Now();
    while (!stop.load() && !StopRequested().load() &&
           !(duration && SystemClock().Now() - started >= *duration)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop.store(true);
  });
  Status s = app.value()->Run(stop);
  stop.store(true);
  watcher.join();
  live_thread.join();
  PrintSummary(*app.value()->snapshot());
  if (!s.ok()) return Fail(kWho, 1, s.message());
  return 0;
}

}  // namespace chorus
