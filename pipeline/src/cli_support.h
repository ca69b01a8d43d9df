// Command-line plumbing shared by the subcommands: durations such as "5m",
// RFC 3339 times, the YAML config file, and SIGINT/SIGTERM handling.
#pragma once

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/event.h"
#include "chorus/operators/time.h"
#include "chorus/pipeline/kafka.h"
#include "chorus/pipeline/status.h"

namespace chorus {

// "250ms", "30s", "5m", "1h", "7d" (a bare number is seconds).
std::optional<ops::Millis> ParseDuration(std::string_view text);
// "2026-01-01T00:00:00Z" or with an offset ("+02:00"); fractional seconds allowed.
std::optional<ops::EventTime> ParseRfc3339(std::string_view text);

// The hidden option that receives the config file's `kafka:` mapping, so it
// merges with -X per key instead of being replaced by it.
inline constexpr std::string_view kConfigKafkaKey = "kafka-from-config-file";

// Reads a YAML mapping as CLI11 config: `key: value`, `key: [a, b]` for
// repeatable flags, and a nested mapping `kafka: {k: v}` for -X k=v (given
// to kConfigKafkaKey; -X and CHORUS_KAFKA override it key by key).
class YamlConfig : public CLI::Config {
 public:
  // Keys become options of `subcommand`.
  explicit YamlConfig(std::string subcommand) : subcommand_(std::move(subcommand)) {}
  std::string to_config(const CLI::App*, bool, bool, std::string) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  std::string subcommand_;
};

// Prints "`who`: `message`" on stderr; returns `code`, the exit code.
int Fail(std::string_view who, int code, const std::string& message);

// Adds each "key=value" of -X to `out`; an entry without a key is an error.
Status ApplyKafkaProperties(const std::vector<std::string>& props, KafkaProperties& out);
// "key=ENV_VAR" pairs: sets each key to the variable's value; an unset
// variable is an error naming it (a silently missing password would only
// show as an authentication failure much later).
Status ApplyKafkaPropertiesFromEnv(const std::vector<std::string>& pairs, KafkaProperties& out);

// Sets a love weight for each "kind=weight" (kind as in metric labels,
// e.g. forum_post=3); an unknown kind or a negative weight is an error.
Status ApplyLoveWeights(const std::vector<std::string>& weights,
                        std::array<double, ops::kEventKindCount>& out);

// Set when SIGINT or SIGTERM arrives (installs the handlers on first use).
const std::atomic<bool>& StopRequested();

}  // namespace chorus
