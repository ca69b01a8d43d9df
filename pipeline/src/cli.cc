#include "cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <deque>
#include <iostream>

#include "chorus/pipeline/application.h"
#include "cli_support.h"
#include "commands.h"

namespace chorus {
namespace {

// Durations are parsed after CLI11 so each error names its flag.
struct DurationFlag {
  const char* flag;
  std::string text;
  ops::Millis* target;
};

void AddDuration(CLI::App* app, std::deque<DurationFlag>& flags, const char* name, const char* env,
                 ops::Millis* target, const std::string& help) {
  flags.push_back({name, "", target});
  app->add_option(name, flags.back().text, help + " (e.g. 500ms, 30s, 5m, 1h, 7d)")->envname(env);
}

Status ApplyDurations(const std::deque<DurationFlag>& flags) {
  for (const DurationFlag& f : flags) {
    if (f.text.empty()) continue;
    auto d = ParseDuration(f.text);
    if (!d || d->count() <= 0)
      return Status::Error(std::string(f.flag) + " " + f.text +
                           ": expected a duration like 500ms, 30s, 5m, 1h or 7d");
    *f.target = *d;
  }
  return Status::Ok();
}

// librdkafka properties from the config file's `kafka:` mapping and from
// -X/CHORUS_KAFKA, merged per key (the command line wins): CLI11 alone would
// let a single -X replace the whole mapping.
struct KafkaFlags {
  std::vector<std::string> file;
  std::vector<std::string> flags;
  std::vector<std::string> from_env;  // key=ENV_VAR, applied last
};

void AddRunFlags(CLI::App* run, RunConfig& c, KafkaFlags& kafka,
                 std::deque<DurationFlag>& durations) {
  run->add_option("--brokers", c.brokers, "Kafka bootstrap servers")->envname("CHORUS_BROKERS");
  run->add_option("--topic", c.topics, "input topic (repeatable)")
      ->envname("CHORUS_TOPIC")
      ->delimiter(',');
  run->add_option("--state-dir", c.state_dir, "RocksDB state directory")
      ->envname("CHORUS_STATE_DIR")
      ->capture_default_str();
  run->add_option("--http-addr", c.http_addr, "host:port for /metrics, health and the API")
      ->envname("CHORUS_HTTP_ADDR")
      ->capture_default_str();
  run->add_option("--dlq-topic", c.dlq_topic, "dead-letter topic")
      ->envname("CHORUS_DLQ_TOPIC")
      ->capture_default_str();
  run->add_option("--output-topic", c.output_topic, "window results topic")
      ->envname("CHORUS_OUTPUT_TOPIC");
  // No delimiter: librdkafka values contain commas (debug=cgrp,fetch).
  run->add_option(std::string("--") + std::string(kConfigKafkaKey), kafka.file)
      ->group("");  // hidden: only the config file sets it
  run->add_option("-X,--kafka", kafka.flags, "librdkafka property key=value (repeatable)")
      ->envname("CHORUS_KAFKA");
  run->add_option("--kafka-from-env", kafka.from_env,
                  "librdkafka property key=ENV_VAR, its value read from the environment "
                  "(repeatable; e.g. sasl.password=KAFKA_SASL_PASSWORD, so a secret is never "
                  "in the arguments)")
      ->envname("CHORUS_KAFKA_FROM_ENV");
  ProcessorOptions& p = c.processor;
  AddDuration(run, durations, "--commit-interval", "CHORUS_COMMIT_INTERVAL", &p.commit_interval,
              "how often state and offsets are committed (default 1s; replay 10s)");
  AddDuration(run, durations, "--out-of-orderness", "CHORUS_OUT_OF_ORDERNESS",
              &p.watermark.out_of_orderness, "allowed out-of-orderness (default 5m)");
  AddDuration(run, durations, "--allowed-lateness", "CHORUS_ALLOWED_LATENESS",
              &p.windows.allowed_lateness, "allowed lateness (default 1h)");
  AddDuration(run, durations, "--idle-timeout", "CHORUS_IDLE_TIMEOUT", &p.watermark.idle_timeout,
              "idle partition timeout (default 30s)");
  AddDuration(run, durations, "--dedup-horizon", "CHORUS_DEDUP_HORIZON", &p.dedup.horizon,
              "duplicate detection horizon in event time (default 7d)");
  AddDuration(run, durations, "--love-half-life", "CHORUS_LOVE_HALF_LIFE",
              &p.members.love_half_life, "love score half-life (default 30d)");
  AddDuration(run, durations, "--sentiment-half-life", "CHORUS_SENTIMENT_HALF_LIFE",
              &p.members.sentiment_half_life, "sentiment half-life (default 14d)");
  AddDuration(run, durations, "--new-period", "CHORUS_NEW_PERIOD", &p.members.new_period,
              "how long a member counts as new (default 7d)");
  AddDuration(run, durations, "--at-risk-after", "CHORUS_AT_RISK_AFTER", &p.members.at_risk_after,
              "quiet time before a regular is at risk (default 7d)");
  AddDuration(run, durations, "--lapsed-after", "CHORUS_LAPSED_AFTER", &p.members.lapsed_after,
              "quiet time before a member has lapsed (default 28d)");
  AddDuration(run, durations, "--churned-after", "CHORUS_CHURNED_AFTER", &p.members.churned_after,
              "quiet time before a member has churned (default 180d)");
  AddDuration(run, durations, "--demotion-grace", "CHORUS_DEMOTION_GRACE",
              &p.members.demotion_grace, "how long a lower stage must hold (default 7d)");
  AddDuration(run, durations, "--thread-horizon", "CHORUS_THREAD_HORIZON", &p.threads.horizon,
              "how long a thread waits for a brand or team reply (default 7d)");
  AddDuration(run, durations, "--reply-wait", "CHORUS_REPLY_WAIT", &p.threads.reply_wait,
              "how long a reply read before its thread waits for it (default 1h)");
  AddDuration(run, durations, "--post-engagement-wait", "CHORUS_POST_ENGAGEMENT_WAIT",
              &p.posts.engagement_wait,
              "how long an engagement read before its post waits for it (default 1h)");
  AddDuration(run, durations, "--max-future-skew", "CHORUS_MAX_FUTURE_SKEW",
              &p.limits.max_future_skew,
              "how far occurred_at may lead the Kafka record timestamp (default 1h)");
  run->add_option("--champion-active-days", p.members.champion_active_days,
                  "active days in the last 90 that make a champion")
      ->envname("CHORUS_CHAMPION_ACTIVE_DAYS")
      ->check(CLI::Range(1, 90))
      ->capture_default_str();
  run->add_option("--regular-days-per-week", p.members.regular_days_per_week,
                  "active days a week (in 3 of 4 weeks) that make a regular")
      ->envname("CHORUS_REGULAR_DAYS_PER_WEEK")
      ->check(CLI::Range(1, 7))
      ->capture_default_str();
  run->add_option("--regular-weeks", p.members.regular_weeks,
                  "weeks of the last 4 with enough active days that make a regular")
      ->envname("CHORUS_REGULAR_WEEKS")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  run->add_option("--champion-window-days", p.members.champion_window_days,
                  "days looked back for a champion's active days")
      ->envname("CHORUS_CHAMPION_WINDOW_DAYS")
      ->check(CLI::Range(1, 128))
      ->capture_default_str();
  run->add_option("--champion-min-sentiment", p.members.champion_min_sentiment,
                  "lowest decayed sentiment a champion may have")
      ->envname("CHORUS_CHAMPION_MIN_SENTIMENT")
      ->check(CLI::Range(-1.0, 1.0))
      ->capture_default_str();
  run->add_option("--influencer-min-reach", p.members.influencer_min_reach,
                  "member_reach that makes a member an influencer (0: nobody)")
      ->envname("CHORUS_INFLUENCER_MIN_REACH")
      ->capture_default_str();
  run->add_option("--mention-sentiment-band", p.threads.sentiment_band,
                  "mentions with |sentiment| up to this are neutral")
      ->envname("CHORUS_MENTION_SENTIMENT_BAND")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  run->add_option("--love-weight", c.love_weights,
                  "love weight of an event kind, kind=weight (repeatable; e.g. comment=2)")
      ->envname("CHORUS_LOVE_WEIGHT");
  run->add_option("--max-id-bytes", p.limits.max_id_bytes, "longest id field accepted")
      ->envname("CHORUS_MAX_ID_BYTES")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  run->add_option("--max-record-bytes", p.limits.max_record_bytes, "largest record accepted")
      ->envname("CHORUS_MAX_RECORD_BYTES")
      ->check(CLI::Range(64, 64 << 20))
      ->capture_default_str();
}

// The flags parsed after CLI11: durations, love weights and -X.
Status ApplyRunFlags(const std::deque<DurationFlag>& durations, const KafkaFlags& kafka,
                     RunConfig& config) {
  if (Status s = ApplyDurations(durations); !s.ok()) return s;
  if (Status s = ApplyLoveWeights(config.love_weights, config.processor.members.weights); !s.ok()) {
    return s;
  }
  if (Status s = ApplyKafkaProperties(kafka.file, config.kafka); !s.ok()) return s;
  if (Status s = ApplyKafkaProperties(kafka.flags, config.kafka); !s.ok()) return s;
  return ApplyKafkaPropertiesFromEnv(kafka.from_env, config.kafka);
}

constexpr std::string_view kWho = "chorus";

int RunService(RunConfig config) {
  auto app = Application::Start(config);
  if (!app.ok()) return Fail(kWho, 2, app.status().message());
  spdlog::info("chorus running: topics {}, state {}, http port {}", fmt::join(config.topics, ","),
               config.state_dir, app.value()->http_port());
  Status s = app.value()->Run(StopRequested());
  if (!s.ok()) return Fail(kWho, 1, s.message());
  // Run returns after the final commit is durable; a stop signal ends here.
  spdlog::info("chorus stopped: final commit durable");
  return 0;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"chorus: streaming engagement analytics for social media and community managers"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("CHORUS_LOG_LEVEL");

  RunConfig run_config;
  KafkaFlags kafka;
  std::deque<DurationFlag> durations;
  // A deque: CLI11 keeps pointers to each flag's text, which must not move.
  CLI::App* run = app.add_subcommand("run", "consume Kafka and serve metrics (the service)");
  AddRunFlags(run, run_config, kafka, durations);
  run->add_option("--group", run_config.group, "consumer group")
      ->envname("CHORUS_GROUP")
      ->capture_default_str();

  // `replay` takes `run`'s flags (its --group, for --then-follow, is added
  // with its own), serves HTTP only when asked, and adds its own.
  ReplayConfig replay_config;
  replay_config.run.http_addr.clear();
  // Zero: --commit-interval not given; RunReplay picks the replay's default.
  replay_config.run.processor.commit_interval = {};
  KafkaFlags replay_kafka;
  std::deque<DurationFlag> replay_durations;
  CLI::App* replay = app.add_subcommand(
      "replay", "reprocess a range of a topic (or a file) into a fresh state directory");
  AddRunFlags(replay, replay_config.run, replay_kafka, replay_durations);
  AddReplayFlags(replay, replay_config);

  // CLI11 reads config files only for the top-level app, so --config lives
  // there (reachable after the subcommand through fallthrough) and
  // YamlConfig files its keys under that subcommand.
  const bool replaying = argc > 1 && std::string_view(argv[1]) == "replay";
  app.set_config("--config", "", "YAML file with any `run` or `replay` flags as keys")
      ->envname("CHORUS_CONFIG");
  app.config_formatter(std::make_shared<YamlConfig>(replaying ? "replay" : "run"));
  run->fallthrough();
  replay->fallthrough();

  DemoConfig demo_config;
  CLI::App* demo =
      app.add_subcommand("demo", "embedded Kafka, generated workload, pipeline and HTTP");
  AddDemoFlags(demo, demo_config);

  GenerateConfig gen_config;
  CLI::App* gen = app.add_subcommand("generate", "write the synthetic workload to Kafka or a file");
  AddGenerateFlags(gen, gen_config);

  ImportConfig import_config;
  CLI::App* import =
      app.add_subcommand("import", "convert a community's data dump to events, to Kafka or a file");
  AddImportFlags(import, import_config);

  auto known = [&](const char* name) {
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == name) return true;
    }
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    return Fail(kWho, 2,
                std::string("unknown command ") + argv[1] +
                    " (expected run, replay, demo, generate or import)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(kWho, 2, std::string(e.what()) + " (see --help)");
  }
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    return Fail(kWho, 2,
                "--log-level " + log_level + ": expected trace, debug, info, warn or error");
  }
  spdlog::set_level(level);
  spdlog::set_default_logger(spdlog::stderr_color_mt("chorus"));

  if (run->parsed()) {
    if (Status s = ApplyRunFlags(durations, kafka, run_config); !s.ok()) {
      return Fail(kWho, 2, s.message());
    }
    return RunService(std::move(run_config));
  }
  if (replay->parsed()) {
    if (Status s = ApplyRunFlags(replay_durations, replay_kafka, replay_config.run); !s.ok()) {
      return Fail(kWho, 2, s.message());
    }
    return RunReplay(std::move(replay_config));
  }
  if (demo->parsed()) return RunDemo(demo_config);
  if (gen->parsed()) return RunGenerate(gen_config);
  return RunImport(import_config);
}

}  // namespace chorus
