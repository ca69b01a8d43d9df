// The command line as a user meets it: bad usage and bad configuration end
// with exit code 2 and one line that names what is wrong.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "chorus/pipeline/file_source.h"
#include "support/temp_dir.h"

namespace chorus::testing {
namespace {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

Outcome RunChorus(const std::string& args, const std::string& env = "") {
  std::string cmd = env + " " + std::string(CHORUS_BINARY) + " " + args + " 2>&1";
  Outcome o;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return o;
  std::array<char, 4096> buf;
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) o.output.append(buf.data(), n);
  int status = pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// Exit 2 with a single line of output that mentions `what`.
void ExpectConfigError(const Outcome& o, const std::string& what) {
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find(what), std::string::npos) << o.output;
  EXPECT_EQ(std::count(o.output.begin(), o.output.end(), '\n'), 1) << o.output;
}

TEST(Cli, UnknownSubcommandIsBadUsage) {
  ExpectConfigError(RunChorus("no-such-command"), "no-such-command");
}

TEST(Cli, RunNeedsBrokers) {
  TempDir dir;
  ExpectConfigError(RunChorus("run --topic t --state-dir " + dir.Sub("s")), "--brokers");
}

TEST(Cli, BadDurationNamesItsFlag) {
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t --commit-interval 5x"),
                    "--commit-interval 5x");
}

TEST(Cli, EnvironmentVariablesAreFlags) {
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t", "CHORUS_DEDUP_HORIZON=soon"),
                    "--dedup-horizon soon");
}

TEST(Cli, UnknownKafkaPropertyIsNamed) {
  TempDir dir;
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t --state-dir " + dir.Sub("s") +
                              " -X no.such.property=1"),
                    "no.such.property");
}

TEST(Cli, BadHttpAddressIsNamed) {
  TempDir dir;
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t --state-dir " + dir.Sub("s") +
                              " --http-addr nonsense"),
                    "--http-addr nonsense");
}

TEST(Cli, YamlConfigFileSetsFlags) {
  TempDir dir;
  std::string config = dir.Sub("chorus.yaml");
  std::ofstream(config) << "brokers: 127.0.0.1:1\ntopic: [a, b]\nallowed-lateness: 2 weeks\n";
  ExpectConfigError(RunChorus("run --config " + config), "--allowed-lateness 2 weeks");
  // The environment outranks the file.
  std::ofstream(config) << "brokers: 127.0.0.1:1\ntopic: [a]\ncommit-interval: fromfile\n";
  ExpectConfigError(RunChorus("run --config " + config, "CHORUS_COMMIT_INTERVAL=fromenv"),
                    "--commit-interval fromenv");
  std::ofstream(config) << "brokers: [unclosed\n";
  Outcome broken = RunChorus("run --config " + config);
  EXPECT_EQ(broken.code, 2) << broken.output;
}

TEST(Cli, GenerateWritesReadableRecords) {
  TempDir dir;
  std::string file = dir.Sub("events.bin");
  Outcome o = RunChorus("generate --output " + file + " --events 500 --seed 7");
  ASSERT_EQ(o.code, 0) << o.output;
  auto source = FileSource::Open(file);
  ASSERT_TRUE(source.ok());
  std::vector<SourceRecord> batch;
  size_t n = 0;
  while (!source.value()->Exhausted()) {
    ASSERT_TRUE(source.value()->Poll(batch, 100, std::chrono::milliseconds(0)).ok());
    n += batch.size();
  }
  EXPECT_EQ(n, 500u);
}

}  // namespace
}  // namespace chorus::testing
