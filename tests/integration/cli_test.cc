// The command line as a user meets it: bad usage and bad configuration end
// with exit code 2 and one line that names what is wrong.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "chorus/pipeline/file_source.h"
#include "chorus/v1/engagement.pb.h"
#include "support/mock_cluster.h"
#include "support/stackexchange_dump.h"
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

TEST(Cli, BadLoveWeightNamesItsFlag) {
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t --love-weight hug=2"),
                    "--love-weight hug=2");
  ExpectConfigError(RunChorus("run --brokers 127.0.0.1:1 --topic t --love-weight comment=-1"),
                    "--love-weight comment=-1");
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

// The file's `kafka:` mapping and -X merge key by key: a -X for one property
// leaves the file's others in force (here, one librdkafka refuses).
TEST(Cli, KafkaPropertiesFromFileAndFlagsMerge) {
  TempDir dir;
  std::string config = dir.Sub("chorus.yaml");
  std::ofstream(config) << "brokers: 127.0.0.1:1\ntopic: [a]\nkafka:\n  no.such.property: 1\n";
  // `timeout`: were the file's mapping dropped, chorus would start and wait
  // for the unreachable broker.
  ExpectConfigError(RunChorus("run --config " + config + " --state-dir " + dir.Sub("s") +
                                  " -X client.id=cli-test",
                              "timeout 30"),
                    "no.such.property");
}

// A secret can come from the environment by name, so it is never in the
// arguments; an unset variable is named at start.
TEST(Cli, KafkaPropertiesFromTheEnvironment) {
  TempDir dir;
  const std::string run = "run --brokers 127.0.0.1:1 --topic t --state-dir " + dir.Sub("s");
  ExpectConfigError(RunChorus(run + " --kafka-from-env sasl.password=CHORUS_TEST_UNSET_VAR"),
                    "CHORUS_TEST_UNSET_VAR is not set");
  ExpectConfigError(RunChorus(run + " --kafka-from-env sasl.password"), "expected key=ENV_VAR");
  // The variable's value reaches librdkafka, which refuses this one.
  ExpectConfigError(RunChorus(run + " --kafka-from-env session.timeout.ms=CHORUS_TEST_TIMEOUT",
                              "CHORUS_TEST_TIMEOUT=not-a-number timeout 30"),
                    "session.timeout.ms");
}

TEST(Cli, ReplayRefusesANonEmptyStateDirectory) {
  TempDir dir;
  std::ofstream(dir.Sub("something")) << "not chorus state";
  ExpectConfigError(
      RunChorus("replay --brokers 127.0.0.1:1 --topic t --state-dir " + dir.path().string()),
      "is not empty");
  // --force deletes chorus state only, never a directory that holds none.
  ExpectConfigError(RunChorus("replay --brokers 127.0.0.1:1 --topic t --force --state-dir " +
                              dir.path().string()),
                    "holds no chorus state");
}

TEST(Cli, ReplayBadBackfillIsNamedBeforeAnythingStarts) {
  TempDir dir;
  const std::string common =
      "replay --input " + dir.Sub("none.bin") + " --state-dir " + dir.Sub("s");
  ExpectConfigError(RunChorus(common + " --backfill " + dir.Sub("no-such-dir/history.om")),
                    "--backfill " + dir.Sub("no-such-dir/history.om"));
  ExpectConfigError(RunChorus(common + " --backfill " + dir.path().string()), "is a directory");
  ExpectConfigError(RunChorus(common + " --backfill " + dir.Sub("h.om") + " --backfill-step 90s"),
                    "--backfill-step 90s");
  ExpectConfigError(RunChorus(common + " --backfill-step 5m"), "without --backfill");
  ExpectConfigError(RunChorus(common + " --backfill " + dir.Sub("h.om") +
                              " --backfill-label job=chorus --backfill-label channel=x"),
                    "--backfill-label channel=x");
  ExpectConfigError(RunChorus(common + " --backfill-label job=chorus"),
                    "--backfill-label job=chorus without --backfill");
  // Nothing was started, nothing left behind.
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("s")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("h.om")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("h.om.tmp")));
}

TEST(Cli, ReplayBadRangeIsNamed) {
  TempDir dir;
  const std::string common = "replay --brokers 127.0.0.1:1 --topic t --state-dir " + dir.Sub("s");
  ExpectConfigError(RunChorus(common + " --from yesterday"), "--from yesterday");
  ExpectConfigError(RunChorus(common + " --to 3:x"), "--to 3:x");
  ExpectConfigError(RunChorus(common + " --from 2026-02-01T00:00:00Z --to 2026-01-01T00:00:00Z"),
                    "is not before");
}

TEST(Cli, ReplayThenFollowNeedsATopicToTheEnd) {
  TempDir dir;
  const std::string common = "replay --brokers 127.0.0.1:1 --topic t --state-dir " + dir.Sub("s");
  // --then-follow continues from the end offsets: there must be a topic and
  // no --to before them.
  ExpectConfigError(RunChorus(common + " --then-follow --to 2026-01-01T00:00:00Z"),
                    "--to must be latest");
  ExpectConfigError(RunChorus("replay --then-follow --input " + dir.Sub("x.bin") + " --state-dir " +
                              dir.Sub("s")),
                    "no topic to follow");
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

// Two members, a question, an answer, a comment on it, an up-vote and the
// acceptance: 7 events. Plus the Community bot (skipped) and a down-vote (skipped).
std::string WriteSmallDump(const TempDir& dir) {
  std::string path = dir.Sub("stackexchange-tiny");
  WriteDump(path, {.users = {R"(Id="-1" CreationDate="2018-03-09T18:48:09.477")",
                             R"(Id="7" CreationDate="2018-03-10T09:00:00.001")",
                             R"(Id="8" CreationDate="2018-03-11T10:00:00.250")"},
                   .posts = {R"(Id="1" PostTypeId="1" AcceptedAnswerId="2" OwnerUserId="7" )"
                             R"(CreationDate="2018-03-12T17:00:45.567")",
                             R"(Id="2" PostTypeId="2" ParentId="1" OwnerUserId="8" )"
                             R"(CreationDate="2018-03-12T18:00:00.100")"},
                   .comments = {R"(Id="3" PostId="2" UserId="7" )"
                                R"(CreationDate="2018-03-12T20:15:30.999")"},
                   .votes = {R"(Id="4" PostId="2" VoteTypeId="2" )"
                             R"(CreationDate="2018-03-13T00:00:00.000")",
                             R"(Id="5" PostId="2" VoteTypeId="3" )"
                             R"(CreationDate="2018-03-13T00:00:00.000")"}});
  return path;
}

TEST(Cli, ImportStackExchangeWritesReadableRecords) {
  TempDir dir;
  std::string file = dir.Sub("events.bin");
  Outcome o = RunChorus("import stackexchange " + WriteSmallDump(dir) + " --output " + file);
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_EQ(std::count(o.output.begin(), o.output.end(), '\n'), 1) << o.output;
  EXPECT_NE(o.output.find("7 events"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("skipped 2 rows (community bot 1, vote type not imported 1)"),
            std::string::npos)
      << o.output;
  auto source = FileSource::Open(file);
  ASSERT_TRUE(source.ok());
  std::vector<SourceRecord> batch;
  std::vector<std::string> ids;
  while (!source.value()->Exhausted()) {
    ASSERT_TRUE(source.value()->Poll(batch, 100, std::chrono::milliseconds(0)).ok());
    for (const SourceRecord& r : batch) {
      v1::EngagementEvent e;
      ASSERT_TRUE(e.ParseFromArray(r.value.data(), static_cast<int>(r.value.size())));
      EXPECT_EQ(e.channel_id(), "stackexchange:tiny");
      ids.push_back(e.event_id());
    }
  }
  // In event-time order; the acceptance (no accept vote) shares its answer's
  // time and sorts before it by event_id.
  const std::vector<std::string> want = {"se-user-7", "se-user-8",    "se-post-1", "se-accept-2",
                                         "se-post-2", "se-comment-3", "se-vote-4"};
  EXPECT_EQ(ids, want);
}

TEST(Cli, ImportStackExchangeProducesRecordsKeyedByMember) {
  TempDir dir;
  MockCluster cluster;
  cluster.CreateTopic("se", 3);
  Outcome o = RunChorus("import stackexchange " + WriteSmallDump(dir) + " --site qc --brokers " +
                        cluster.bootstrap_servers() + " --topic se");
  ASSERT_EQ(o.code, 0) << o.output;
  std::vector<KafkaRecord> records = cluster.ReadAll("se");
  ASSERT_EQ(records.size(), 7u);
  for (const KafkaRecord& r : records) {
    v1::EngagementEvent e;
    ASSERT_TRUE(r.value && e.ParseFromString(*r.value));
    // The up-vote has no known member: keyed by its channel instead.
    EXPECT_EQ(r.key, e.member_id().empty() ? "stackexchange:qc" : e.member_id()) << e.event_id();
    EXPECT_EQ(r.timestamp_ms, e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1000000);
  }
}

TEST(Cli, ImportStackExchangeErrorsAreOneLine) {
  TempDir dir;
  ExpectConfigError(RunChorus("import stackexchange " + dir.Sub("stackexchange-none") +
                              " --output " + dir.Sub("x")),
                    dir.Sub("stackexchange-none") + ": no such directory");
  std::string dump = WriteSmallDump(dir);
  ExpectConfigError(RunChorus("import stackexchange " + dump), "give --output FILE");
  ExpectConfigError(RunChorus("import stackexchange " + dir.path().string() + " --output x"),
                    "Users.xml: no such file");
  std::filesystem::rename(dump, dir.Sub("dump"));
  ExpectConfigError(RunChorus("import stackexchange " + dir.Sub("dump") + " --output x"),
                    "give --site NAME");
  ExpectConfigError(RunChorus("import"), "subcommand");
  // A damaged table is a runtime failure, exit 1, still one line.
  std::ofstream(dir.Sub("dump") + "/Posts.xml") << "<posts><row Id=\"1\"";
  Outcome broken =
      RunChorus("import stackexchange " + dir.Sub("dump") + " --site qc --output " + dir.Sub("x"));
  EXPECT_EQ(broken.code, 1) << broken.output;
  EXPECT_NE(broken.output.find("Posts.xml: not well-formed XML"), std::string::npos)
      << broken.output;
  EXPECT_EQ(std::count(broken.output.begin(), broken.output.end(), '\n'), 1) << broken.output;
}

}  // namespace
}  // namespace chorus::testing
