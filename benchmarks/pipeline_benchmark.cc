// Micro benchmarks of the per-record path, each stage alone and then the
// whole Processor (decode → validate → dedup → operators → RocksDB commits)
// over the generator, without Kafka. Items/s is records/s on one core.
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>

#include "chorus/pipeline/decoder.h"
#include "chorus/pipeline/generator.h"
#include "chorus/pipeline/generator_source.h"
#include "chorus/pipeline/processor.h"
#include "chorus/pipeline/validator.h"

namespace chorus {
namespace {

std::vector<GeneratedRecord> Records(size_t n) {
  GeneratorOptions o;
  o.members = 100'000;
  o.channels = 1'000;
  Generator g(o);
  std::vector<GeneratedRecord> out(n);
  for (auto& r : out) g.Next(r);
  return out;
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The generator alone (`chorus generate`, `chorus demo`, the benchmarks'
// input), with 1 % duplicates and 1 % malformed records.
void BM_Generate(benchmark::State& state) {
  GeneratorOptions options;
  options.duplicate_rate = 0.01;
  options.malformed_rate = 0.01;
  Generator g(options);
  GeneratedRecord r;
  size_t bytes = 0;
  for (auto _ : state) {
    g.Next(r);
    bytes += r.value.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Generate);

// Arg: 1 for the wire scan, 0 for protobuf's parser only.
void BM_Decode(benchmark::State& state) {
  auto records = Records(100'000);
  Decoder d(state.range(0) != 0);
  ops::Event e;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(d.Decode(Span(records[i].value), e));
    if (++i == records.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode)->Arg(1)->Arg(0);

// Decoded events, kept alive with the records they point into.
struct Decoded {
  std::vector<GeneratedRecord> records;
  std::vector<ops::Event> events;
};

Decoded DecodeAll(size_t n) {
  Decoded d;
  d.records = Records(n);
  Decoder decoder;
  for (const auto& r : d.records) {
    ops::Event e;
    if (!decoder.Decode(Span(r.value), e) &&
        !Validate(e, r.value.size(), std::nullopt, ValidationLimits{})) {
      d.events.push_back(e);
    }
  }
  return d;
}

void BM_ChannelGrowthApply(benchmark::State& state) {
  Decoded d = DecodeAll(50'000);
  ops::ChannelGrowth g;
  size_t i = 0;
  for (auto _ : state) {
    g.Apply(0, d.events[i], false);
    if (++i == d.events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChannelGrowthApply);

void BM_MemberEngagementApply(benchmark::State& state) {
  Decoded d = DecodeAll(50'000);
  ops::MemberEngagement m;
  ops::MemberEngagement::TransitionSink sink = [](const ops::StageTransition&) {};
  size_t i = 0;
  for (auto _ : state) {
    m.Apply(0, d.events[i], sink);
    if (++i == d.events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemberEngagementApply);

void BM_PostPerformanceApply(benchmark::State& state) {
  Decoded d = DecodeAll(50'000);
  ops::PostPerformance posts;
  // Each lap replays the events later by the stream's span, with the
  // watermark following 5 minutes behind as the processor moves it.
  const ops::Millis span =
      d.events.back().occurred_at - d.events.front().occurred_at + ops::kMinute;
  ops::Millis shift{0};
  size_t i = 0;
  for (auto _ : state) {
    ops::Event e = d.events[i];
    e.occurred_at = e.occurred_at + shift;
    posts.Apply(0, e);
    if (i % 1000 == 0) posts.AdvanceWatermark(e.occurred_at - 5 * ops::kMinute);
    if (++i == d.events.size()) {
      i = 0;
      shift += span;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PostPerformanceApply);

// The whole per-record path with synced RocksDB commits every second of
// wall time, as `chorus run` does.
void BM_ProcessorEndToEnd(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  GeneratorOptions o;
  o.members = 100'000;
  o.channels = 1'000;
  o.mean_gap = std::chrono::milliseconds(50);
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = (std::filesystem::temp_directory_path() / "chorus-bm-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) state.SkipWithError("mkdtemp");
    auto store = StateStore::Open(dir);
    GeneratorSource source(o, static_cast<int>(state.range(1)), n);
    DiscardingDlq dlq;
    ProcessorOptions po;
    po.operator_thread = state.range(2) != 0;
    Processor p(po, *store.value(), source, dlq, SystemClock());
    std::atomic<bool> stop{false};
    state.ResumeTiming();
    Status s = p.Run(stop);
    state.PauseTiming();
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
// Records, partitions, operator thread: 96 partitions is e2e_throughput's
// layout, where a channel's events spread thinly over many partitions'
// windows; the operator thread is `chorus replay`'s.
BENCHMARK(BM_ProcessorEndToEnd)
    ->Args({1'000'000, 8, 0})
    ->Args({1'000'000, 96, 0})
    ->Args({1'000'000, 96, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace chorus

BENCHMARK_MAIN();
