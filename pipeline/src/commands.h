// `chorus demo`, `chorus generate`, `chorus import` and `chorus replay`:
// their flags and their runners, which return the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "chorus/pipeline/application.h"
#include "chorus/pipeline/generator.h"

namespace chorus {

struct DemoConfig {
  std::string http_addr = "127.0.0.1:8080";
  std::string state_dir;  // empty: a fresh temporary directory
  std::string duration;   // empty: until Ctrl-C
  int partitions = 12;
  int history_events = 300'000;
  double rate = 50;  // live events per second
  uint64_t seed = 1;
};
void AddDemoFlags(CLI::App* demo, DemoConfig& c);
int RunDemo(const DemoConfig& c);

struct GenerateConfig {
  std::string brokers;
  std::string topic;
  std::string output;  // a file of length-delimited records instead of Kafka
  std::vector<std::string> kafka;
  uint64_t events = 100'000;
  std::string start;  // RFC 3339, default 2026-01-01T00:00:00Z
  std::string mean_gap = "200ms";
  std::string drop_start, drop_end;
  GeneratorOptions options;
};
void AddGenerateFlags(CLI::App* gen, GenerateConfig& c);
int RunGenerate(GenerateConfig c);

// `chorus import stackexchange DIR`: a Stack Exchange data dump as events.
struct ImportConfig {
  std::string dir;
  std::string site;  // empty: from DIR's name
  std::string brokers;
  std::string topic;
  std::string output;  // a file of length-delimited records instead of Kafka
  std::vector<std::string> kafka;
};
void AddImportFlags(CLI::App* import, ImportConfig& c);
int RunImport(const ImportConfig& c);

// `chorus replay`: `run`'s flags (in `run`, added by the CLI) but --group,
// plus the range, --force, --input, --backfill, --backfill-step,
// --backfill-label, --then-follow and --group (joined only when following),
// added here.
struct ReplayConfig {
  RunConfig run;
  std::string from = "earliest";
  std::string to = "latest";
  bool force = false;
  std::string input;     // a file of length-delimited records instead of Kafka
  std::string backfill;  // OpenMetrics file of the replayed history; none if empty
  std::string backfill_step = "1m";
  std::vector<std::string> backfill_labels;  // NAME=VALUE, on every backfilled series
  bool then_follow = false;
};
void AddReplayFlags(CLI::App* replay, ReplayConfig& c);
// `run`'s durations, love weights and -X are applied by the caller.
int RunReplay(ReplayConfig c);

}  // namespace chorus
