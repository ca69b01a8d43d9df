// `chorus import stackexchange DIR`: a Stack Exchange data dump converted to
// engagement events (stackexchange_import.h) and written to a file of
// length-delimited records or produced to a Kafka topic, keyed by member.
#include <cstdio>
#include <iostream>

#include "chorus/pipeline/file_source.h"
#include "chorus/pipeline/stackexchange_import.h"
#include "cli_support.h"
#include "commands.h"
#include "kafka_producer.h"

namespace chorus {
namespace {

constexpr std::string_view kWho = "chorus import stackexchange";

int64_t EventTimeMs(const v1::EngagementEvent& e) {
  return e.occurred_at().seconds() * 1000 + e.occurred_at().nanos() / 1'000'000;
}

int ToFile(const ImportConfig& c, const std::vector<v1::EngagementEvent>& events) {
  std::FILE* f = c.output == "-" ? stdout : std::fopen(c.output.c_str(), "wb");
  if (f == nullptr) return Fail(kWho, 2, "--output " + c.output + ": cannot open for writing");
  std::string buf;
  for (size_t i = 0; i < events.size(); ++i) {
    AppendDelimited(buf, events[i].SerializeAsString());
    if (buf.size() > (1 << 20) || i + 1 == events.size()) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        if (f != stdout) std::fclose(f);
        return Fail(kWho, 1, "--output " + c.output + ": write failed");
      }
      buf.clear();
    }
  }
  if (f == stdout ? std::fflush(f) != 0 : std::fclose(f) != 0) {
    return Fail(kWho, 1, "--output " + c.output + ": close failed");
  }
  return 0;
}

// Keyed by member_id as the contract asks; an event without a member (a
// vote, a deleted account's post) is keyed by its channel, like brand
// events, so every copy of it lands on one partition for dedup.
int ToKafka(const ImportConfig& c, const std::vector<v1::EngagementEvent>& events) {
  KafkaProperties props{{"bootstrap.servers", c.brokers}};
  if (Status s = ApplyKafkaProperties(c.kafka, props); !s.ok()) return Fail(kWho, 2, s.message());
  auto producer = KafkaProducer::Open(props);
  if (!producer.ok()) return Fail(kWho, 2, producer.status().message());
  std::string value;
  for (const v1::EngagementEvent& e : events) {
    e.SerializeToString(&value);
    const std::string& key = e.member_id().empty() ? e.channel_id() : e.member_id();
    producer.value()->Produce(c.topic, -1, Bytes(key), Bytes(value), EventTimeMs(e));
  }
  if (Status s = producer.value()->Flush(std::chrono::minutes(5)); !s.ok()) {
    return Fail(kWho, 1, "topic " + c.topic + ": " + s.message());
  }
  return 0;
}

}  // namespace

void AddImportFlags(CLI::App* import, ImportConfig& c) {
  import->require_subcommand(1);
  CLI::App* se = import->add_subcommand(
      "stackexchange",
      "a Stack Exchange data dump (Posts.xml, Comments.xml, Votes.xml, Users.xml)");
  se->add_option("DIR", c.dir, "the dump's directory")->required();
  se->add_option("--site", c.site,
                 "site name for the channel stackexchange:SITE (default: from DIR, "
                 "stackexchange-SITE or SITE.stackexchange.com)");
  se->add_option("--brokers", c.brokers, "Kafka bootstrap servers")->envname("CHORUS_BROKERS");
  se->add_option("--topic", c.topic, "topic to produce to")->envname("CHORUS_TOPIC");
  se->add_option("--output", c.output, "write length-delimited records to FILE (- for stdout)");
  se->add_option("-X,--kafka", c.kafka, "librdkafka property key=value (repeatable)");
}

int RunImport(const ImportConfig& c) {
  if (c.output.empty() && (c.brokers.empty() || c.topic.empty())) {
    return Fail(kWho, 2, "give --output FILE, or --brokers and --topic");
  }
  if (Status s = stackexchange::CheckDumpDir(c.dir); !s.ok()) return Fail(kWho, 2, s.message());
  stackexchange::ImportOptions options{c.site};
  if (options.site.empty()) {
    auto site = stackexchange::SiteFromDir(c.dir);
    if (!site) {
      return Fail(kWho, 2,
                  "cannot tell the site from the directory name " + c.dir + ": give --site NAME");
    }
    options.site = *site;
  }
  auto dump = stackexchange::ReadDump(c.dir);
  if (!dump.ok()) return Fail(kWho, 1, dump.status().message());
  const stackexchange::Imported imported = stackexchange::Convert(dump.value(), options);
  const int code = c.output.empty() ? ToKafka(c, imported.events) : ToFile(c, imported.events);
  if (code != 0) return code;
  std::cerr << kWho << ": " << (c.output.empty() ? "topic " + c.topic : c.output) << ": "
            << stackexchange::Summary(imported.stats) << "\n";
  return 0;
}

}  // namespace chorus
