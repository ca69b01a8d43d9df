// `chorus generate`: the synthetic workload to a Kafka topic (keyed by
// member, stamped with event time) or to a file of length-delimited records.
#include <cstdio>
#include <iostream>

#include "chorus/pipeline/file_source.h"
#include "cli_support.h"
#include "commands.h"
#include "kafka_producer.h"

namespace chorus {
namespace {

constexpr std::string_view kWho = "chorus generate";

Status ParseTimes(GenerateConfig& c) {
  auto time_flag = [](const std::string& flag, const std::string& text,
                      std::optional<ops::EventTime>& out) -> Status {
    if (text.empty()) return Status::Ok();
    out = ParseRfc3339(text);
    if (!out) return Status::Error(flag + " " + text + ": expected an RFC 3339 time");
    return Status::Ok();
  };
  std::optional<ops::EventTime> start;
  if (Status s = time_flag("--start", c.start, start); !s.ok()) return s;
  if (start) c.options.start = *start;
  if (Status s = time_flag("--drop-start", c.drop_start, c.options.drop_start); !s.ok()) return s;
  if (Status s = time_flag("--drop-end", c.drop_end, c.options.drop_end); !s.ok()) return s;
  auto gap = ParseDuration(c.mean_gap);
  if (!gap || gap->count() <= 0) {
    return Status::Error("--mean-gap " + c.mean_gap + ": expected a positive duration like 200ms");
  }
  c.options.mean_gap = *gap;
  return Status::Ok();
}

int ToFile(const GenerateConfig& c) {
  std::FILE* f = c.output == "-" ? stdout : std::fopen(c.output.c_str(), "wb");
  if (f == nullptr) return Fail(kWho, 2, "--output " + c.output + ": cannot open for writing");
  Generator gen(c.options);
  GeneratedRecord r;
  std::string buf;
  for (uint64_t i = 0; i < c.events; ++i) {
    gen.Next(r);
    AppendDelimited(buf, r.value);
    if (buf.size() > (1 << 20) || i + 1 == c.events) {
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
        return Fail(kWho, 1, "--output " + c.output + ": write failed");
      }
      buf.clear();
    }
  }
  if (f != stdout && std::fclose(f) != 0)
    return Fail(kWho, 1, "--output " + c.output + ": close failed");
  std::cerr << "chorus generate: wrote " << c.events << " records to " << c.output << "\n";
  return 0;
}

int ToKafka(const GenerateConfig& c) {
  KafkaProperties props{{"bootstrap.servers", c.brokers}};
  if (Status s = ApplyKafkaProperties(c.kafka, props); !s.ok()) return Fail(kWho, 2, s.message());
  auto producer = KafkaProducer::Open(props);
  if (!producer.ok()) return Fail(kWho, 2, producer.status().message());
  Generator gen(c.options);
  GeneratedRecord r;
  for (uint64_t i = 0; i < c.events; ++i) {
    gen.Next(r);
    producer.value()->Produce(c.topic, -1, Bytes(r.key), Bytes(r.value), r.event_time_ms);
  }
  if (Status s = producer.value()->Flush(std::chrono::minutes(5)); !s.ok()) {
    return Fail(kWho, 1, "topic " + c.topic + ": " + s.message());
  }
  std::cerr << "chorus generate: produced " << c.events << " records to " << c.topic << "\n";
  return 0;
}

}  // namespace

void AddGenerateFlags(CLI::App* gen, GenerateConfig& c) {
  gen->add_option("--brokers", c.brokers, "Kafka bootstrap servers")->envname("CHORUS_BROKERS");
  gen->add_option("--topic", c.topic, "topic to produce to")->envname("CHORUS_TOPIC");
  gen->add_option("--output", c.output, "write length-delimited records to FILE (- for stdout)");
  gen->add_option("-X,--kafka", c.kafka, "librdkafka property key=value (repeatable)");
  gen->add_option("--events", c.events, "number of records")->capture_default_str();
  gen->add_option("--seed", c.options.seed, "random seed")->capture_default_str();
  gen->add_option("--channels", c.options.channels, "brand channels")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  gen->add_option("--members", c.options.members, "community members")
      ->check(CLI::Range(1, 100'000'000))
      ->capture_default_str();
  gen->add_option("--start", c.start, "event time of the first record (RFC 3339)");
  gen->add_option("--mean-gap", c.mean_gap, "mean event-time gap between records")
      ->capture_default_str();
  gen->add_option("--duplicate-rate", c.options.duplicate_rate, "fraction re-sent as duplicates")
      ->check(CLI::Range(0.0, 0.5));
  gen->add_option("--malformed-rate", c.options.malformed_rate, "fraction of garbage records")
      ->check(CLI::Range(0.0, 0.5));
  gen->add_option("--drop-start", c.drop_start, "start of an injected engagement drop (RFC 3339)");
  gen->add_option("--drop-end", c.drop_end, "end of the injected drop (RFC 3339)");
  gen->add_option("--drop-factor", c.options.drop_factor, "engagement rate during the drop")
      ->check(CLI::Range(0.0, 1.0));
}

int RunGenerate(GenerateConfig c) {
  if (Status s = ParseTimes(c); !s.ok()) return Fail(kWho, 2, s.message());
  if (!c.output.empty()) return ToFile(c);
  if (c.brokers.empty() || c.topic.empty()) {
    return Fail(kWho, 2, "give --output FILE, or --brokers and --topic");
  }
  return ToKafka(c);
}

}  // namespace chorus
