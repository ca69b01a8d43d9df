#include "cli_support.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "chorus/pipeline/crash_point.h"

namespace chorus {

std::optional<ops::Millis> ParseDuration(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !(value >= 0) || value > 1e7) return std::nullopt;  // no NaN, inf
  std::string_view unit(end, text.data() + text.size() - end);
  double ms_per_unit = 0;
  if (unit == "ms")
    ms_per_unit = 1;
  else if (unit == "s" || unit.empty())
    ms_per_unit = 1000;
  else if (unit == "m")
    ms_per_unit = 60'000;
  else if (unit == "h")
    ms_per_unit = 3'600'000;
  else if (unit == "d")
    ms_per_unit = 86'400'000;
  else
    return std::nullopt;
  return ops::Millis(static_cast<int64_t>(value * ms_per_unit));
}

std::optional<ops::EventTime> ParseRfc3339(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    int64_t scale = 100;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) ms += (*rest - '0') * scale;
  }
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    auto digit = [&](int i) { return rest[i] >= '0' && rest[i] <= '9'; };
    if (!digit(1) || !digit(2) || rest[3] != ':' || !digit(4) || !digit(5)) return std::nullopt;
    int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    int mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    int64_t offset = (hh * 60 + mm) * 60'000LL;
    ms += *rest == '+' ? -offset : offset;
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  return ops::EventTime::FromMillis(ms);
}

namespace {

// "commit-interval" -> "CHORUS_COMMIT_INTERVAL", as the flags' envnames.
std::string EnvName(const std::string& key) {
  std::string env = "CHORUS_";
  for (char c : key) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return env;
}

}  // namespace

std::string YamlConfig::to_config(const CLI::App*, bool, bool, std::string) const { return ""; }

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    throw CLI::ConversionError("config file: " + std::string(e.what()));
  }
  std::vector<CLI::ConfigItem> items;
  if (root.IsNull()) return items;
  if (!root.IsMap()) throw CLI::ConversionError("config file: expected a mapping of flag: value");
  std::string key;
  try {
    for (const auto& kv : root) {
      CLI::ConfigItem item;
      item.parents = {subcommand_};
      key = kv.first.as<std::string>();
      item.name = key == "kafka" ? std::string(kConfigKafkaKey) : key;
      // The environment outranks the file (CLI11 would apply the file
      // first): a key whose CHORUS_ variable is set is left to it.
      if (key != "kafka" && std::getenv(EnvName(key).c_str()) != nullptr) continue;
      const YAML::Node& v = kv.second;
      if (v.IsNull()) throw CLI::ConversionError("config file: " + key + " has no value");
      if (v.IsSequence()) {
        for (const auto& e : v) item.inputs.push_back(e.as<std::string>());
      } else if (v.IsMap()) {
        for (const auto& e : v) {
          item.inputs.push_back(e.first.as<std::string>() + "=" + e.second.as<std::string>());
        }
      } else {
        item.inputs.push_back(v.as<std::string>());
      }
      items.push_back(std::move(item));
    }
  } catch (const YAML::Exception&) {
    throw CLI::ConversionError("config file: " + key +
                               ": expected a value, a list or a mapping of values");
  }
  return items;
}

int Fail(std::string_view who, int code, const std::string& message) {
  std::cerr << who << ": " << message << "\n";
  return code;
}

Status ApplyLoveWeights(const std::vector<std::string>& weights,
                        std::array<double, ops::kEventKindCount>& out) {
  for (const std::string& w : weights) {
    auto eq = w.find('=');
    std::string kind = w.substr(0, eq);
    int index = -1;
    for (int k = 1; k < ops::kEventKindCount; ++k) {
      if (ops::Name(static_cast<ops::EventKind>(k)) == kind) index = k;
    }
    double value = -1;
    if (eq != std::string::npos) {
      try {
        size_t used = 0;
        value = std::stod(w.substr(eq + 1), &used);
        if (used != w.size() - eq - 1) value = -1;
      } catch (const std::exception&) {
        value = -1;
      }
    }
    if (index < 0 || !(value >= 0)) {
      return Status::Error("--love-weight " + w +
                           ": expected kind=weight with a kind like forum_post and a weight >= 0");
    }
    out[static_cast<size_t>(index)] = value;
  }
  return Status::Ok();
}

Status ApplyKafkaProperties(const std::vector<std::string>& props, KafkaProperties& out) {
  for (const std::string& p : props) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::Error("-X " + p + ": expected key=value");
    }
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return Status::Ok();
}

Status ApplyKafkaPropertiesFromEnv(const std::vector<std::string>& pairs, KafkaProperties& out) {
  for (const std::string& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size()) {
      return Status::Error("--kafka-from-env " + p + ": expected key=ENV_VAR");
    }
    const std::string var = p.substr(eq + 1);
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) {
      return Status::Error("--kafka-from-env " + p + ": environment variable " + var +
                           " is not set");
    }
    out[p.substr(0, eq)] = value;
  }
  return Status::Ok();
}

namespace {
std::atomic<bool> g_stop{false};
// A held crash point (CHORUS_STALL_AT) lets go too, so a shutdown test can
// deliver the signal in the middle of a commit.
extern "C" void OnSignal(int) {
  g_stop.store(true);
  ReleaseCrashPointStall();
}
}  // namespace

const std::atomic<bool>& StopRequested() {
  static bool installed = [] {
    std::signal(SIGINT, OnSignal);
    std::signal(SIGTERM, OnSignal);
    return true;
  }();
  (void)installed;
  return g_stop;
}

}  // namespace chorus
