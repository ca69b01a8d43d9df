// Window-close benchmarks of ChannelGrowth: 10,000 channels with open
// windows of every size (1m, 1h, 1d), their events spread over 12 or 96
// input partitions, so each channel's window is kept as parts in several
// partitions that closing merges.
//
//   BM_WindowClose   the watermark passes the windows' end and then end +
//                    allowed lateness, with a sink that only counts the
//                    results (as the Processor does) or one that copies each
//                    result, as a consumer keeping them would. Items/s are
//                    windows (one per channel per size).
//   BM_WindowDrain   the commit drain (DrainDirty) of the same state, before
//                    the close: every window part and channel total it writes.
//   BM_WindowSteady  events for the 10,000 channels in time order (two per
//                    channel per minute, random channel and partition), the
//                    watermark advanced every N events to 5 min (the default
//                    out-of-orderness) behind the newest, for one hour of
//                    event time after a warm-up long enough for 1m windows to
//                    close (end + 1 h lateness + 5 min): an hour's 1m closes
//                    and one burst of 1h closes. Items/s are events. Commit
//                    drains run every 500,000 events outside the timed part.
//
// Counters: parts/s and parts/window count per-partition parts merged;
// results/window is sink calls per window closed; windows/s (steady) counts
// (channel, size, start) windows closed, known from the generated stream;
// open_parts is what stays open at the end; commit_ms is the mean wall time
// of a steady-state commit drain. Rates are per CPU second, as items/s.
//
// The state for the close and drain cases is the last minute of a UTC day,
// where 1m, 1h and 1d windows all end together (the heaviest close of a
// day), with exactly 4 events per channel. A commit drain runs before each
// close, so closing deletes stored windows as it would in service. Setup
// runs with the timer paused. Fixed seeds; no timing assertions.
//
// Only the public API (channel_growth.h) is used, and results only by the
// fields every version has, so the file builds while the result type grows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "chorus/operators/channel_growth.h"
#include "chorus/operators/windows.h"

namespace chorus::ops {
namespace {

constexpr uint32_t kChannels = 10'000;
constexpr uint32_t kMembers = 1'000;
constexpr EventTime kStart = EventTime::FromMillis(1'767'225'600'000);  // 2026-01-01T00:00Z
constexpr Millis kLateness = WindowOptions{}.allowed_lateness;
constexpr Millis kOutOfOrderness = std::chrono::minutes(5);  // WatermarkOptions' default

// The sink type AdvanceWatermark takes, read off its signature, so that this
// file names no result type.
template <typename>
struct SinkParam;
template <typename S>
struct SinkParam<void (ChannelGrowth::*)(EventTime, const S&)> {
  using type = S;
};
using Sink = SinkParam<decltype(&ChannelGrowth::AdvanceWatermark)>::type;

// Ids the events point into, alive for the whole run.
struct Universe {
  std::vector<std::string> channel_ids;  // "youtube:brand-17", as the generator names them
  std::vector<std::string> member_ids;
};

const Universe& TheUniverse() {
  static const Universe u = [] {
    Universe out;
    for (uint32_t c = 0; c < kChannels; ++c) {
      out.channel_ids.push_back(std::string(Name(static_cast<Platform>(1 + c % 16))) + ":brand-" +
                                std::to_string(c));
    }
    for (uint32_t m = 0; m < kMembers; ++m) out.member_ids.push_back("member-" + std::to_string(m));
    return out;
  }();
  return u;
}

// Mostly member engagement, some brand posts and follows.
constexpr std::array<EventKind, 16> kKindMix = {
    EventKind::kImpression, EventKind::kImpression,    EventKind::kImpression,
    EventKind::kImpression, EventKind::kImpression,    EventKind::kReaction,
    EventKind::kReaction,   EventKind::kReaction,      EventKind::kReaction,
    EventKind::kComment,    EventKind::kComment,       EventKind::kShare,
    EventKind::kMention,    EventKind::kPostPublished, EventKind::kFollow,
    EventKind::kUnfollow,
};

// One event of `channel` on a random partition, without its time.
struct Recipe {
  int32_t partition = 0;
  Event event;
};

Recipe RandomRecipe(std::mt19937_64& rng, uint32_t channel, int partitions) {
  const Universe& u = TheUniverse();
  Recipe r;
  r.partition = static_cast<int32_t>(rng() % static_cast<uint64_t>(partitions));
  Event& e = r.event;
  e.channel_id = u.channel_ids[channel];
  e.platform = static_cast<Platform>(1 + channel % 16);
  e.kind = kKindMix[rng() % kKindMix.size()];
  e.content_type = static_cast<ContentType>(1 + rng() % 5);
  if (e.kind == EventKind::kPostPublished) {
    e.actor_role = ActorRole::kBrand;
  } else {
    e.actor_role = ActorRole::kMember;
    e.member_id = u.member_ids[rng() % kMembers];
  }
  if (e.kind == EventKind::kImpression) e.count = 1 + rng() % 100;
  return r;
}

// Exactly `per_channel` events of each channel in the last minute of a day,
// in time order; occurred_at is the offset from the day's start.
std::vector<Recipe> LastMinuteOfDay(int partitions, uint32_t per_channel) {
  std::mt19937_64 rng(42);
  std::vector<uint32_t> channels;
  for (uint32_t c = 0; c < kChannels; ++c) channels.insert(channels.end(), per_channel, c);
  std::shuffle(channels.begin(), channels.end(), rng);
  std::vector<Recipe> out;
  const int64_t first = (kDay - kMinute).count();
  for (size_t i = 0; i < channels.size(); ++i) {
    out.push_back(RandomRecipe(rng, channels[i], partitions));
    auto offset = static_cast<int64_t>(i) * kMinute.count() / static_cast<int64_t>(channels.size());
    out.back().event.occurred_at = EventTime::FromMillis(first + offset);
  }
  return out;
}

// Applies `recipes` to the day starting at `day`.
void ApplyDay(ChannelGrowth& g, const std::vector<Recipe>& recipes, EventTime day) {
  for (const Recipe& r : recipes) {
    Event e = r.event;
    e.occurred_at = day + Millis(r.event.occurred_at.millis());
    g.Apply(r.partition, e, false);
  }
}

// A result copied out of the sink's views, as a consumer keeping it would.
struct OwnedResult {
  std::string channel_id;
  Platform platform;
  std::string_view size;  // static storage
  EventTime start;
  EventTime end;
  ChannelCounts counts;
};

constexpr uint32_t kEventsPerWindow = 4;
constexpr int64_t kWindowsPerDay = int64_t{kChannels} * kWindowSpecCount;

// Args: partitions, copy (0: the sink counts results, 1: it copies them).
void BM_WindowClose(benchmark::State& state) {
  const auto partitions = static_cast<int>(state.range(0));
  const bool copy = state.range(1) != 0;
  const std::vector<Recipe> recipes = LastMinuteOfDay(partitions, kEventsPerWindow);
  ChannelGrowth g;
  int64_t results = 0;
  std::vector<OwnedResult> kept;
  Sink count = [&](const auto&) { ++results; };
  Sink keep = [&](const auto& w) {
    ++results;
    kept.push_back(
        OwnedResult{std::string(w.channel_id), w.platform, w.spec->name, w.start, w.end, w.counts});
  };
  const Sink& sink = copy ? keep : count;
  Mutations drained;
  int64_t parts = 0, windows = 0;
  EventTime day = kStart;
  for (auto _ : state) {
    state.PauseTiming();
    ApplyDay(g, recipes, day);
    drained.clear();
    g.DrainDirty(drained);  // the commit that stored the windows
    kept.clear();
    const size_t open = g.open_windows();
    const EventTime end = day + kDay;
    day = end;
    state.ResumeTiming();
    g.AdvanceWatermark(end, sink);
    g.AdvanceWatermark(end + kLateness, sink);
    state.PauseTiming();
    if (g.open_windows() != 0) state.SkipWithError("windows left open after the close");
    parts += static_cast<int64_t>(open);
    windows += kWindowsPerDay;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(windows);
  state.counters["parts/s"] =
      benchmark::Counter(static_cast<double>(parts), benchmark::Counter::kIsRate);
  state.counters["parts/window"] = static_cast<double>(parts) / static_cast<double>(windows);
  state.counters["results/window"] = static_cast<double>(results) / static_cast<double>(windows);
}
BENCHMARK(BM_WindowClose)
    ->ArgNames({"partitions", "copy"})
    ->Args({12, 0})
    ->Args({96, 0})
    ->Args({12, 1})
    ->Args({96, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);

// Args: partitions. Items/s are windows whose parts the drain wrote.
void BM_WindowDrain(benchmark::State& state) {
  const auto partitions = static_cast<int>(state.range(0));
  const std::vector<Recipe> recipes = LastMinuteOfDay(partitions, kEventsPerWindow);
  ChannelGrowth g;
  Sink ignore = [](const auto&) {};
  Mutations drained;
  int64_t parts = 0, windows = 0, mutations = 0, bytes = 0;
  EventTime day = kStart;
  for (auto _ : state) {
    state.PauseTiming();
    ApplyDay(g, recipes, day);
    const size_t open = g.open_windows();
    drained = Mutations();  // a commit drains into a fresh vector
    state.ResumeTiming();
    g.DrainDirty(drained);
    state.PauseTiming();
    for (const Mutation& m : drained) bytes += static_cast<int64_t>(m.key.size() + m.value.size());
    mutations += static_cast<int64_t>(drained.size());
    parts += static_cast<int64_t>(open);
    windows += kWindowsPerDay;
    day = day + kDay;
    g.AdvanceWatermark(day + kLateness, ignore);
    drained.clear();
    g.DrainDirty(drained);  // the deletes of the closed windows
    state.ResumeTiming();
  }
  const auto n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(windows);
  state.counters["parts/s"] =
      benchmark::Counter(static_cast<double>(parts), benchmark::Counter::kIsRate);
  state.counters["mutations"] = static_cast<double>(mutations) / n;
  state.counters["MB"] = static_cast<double>(bytes) / n / 1e6;
}
BENCHMARK(BM_WindowDrain)
    ->ArgNames({"partitions"})
    ->Arg(12)
    ->Arg(96)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);

// Events for every channel in time order, two per channel per minute, with
// the bookkeeping to know how many (channel, size, start) windows a
// watermark closes.
class Stream {
 public:
  static constexpr int64_t kEventsPerMinute = 2 * kChannels;
  static constexpr int64_t kMeanGapMs = kMinute.count() / kEventsPerMinute;
  // A FOLLOWER_COUNT snapshot about hourly per channel, as the generator sends.
  static constexpr uint64_t kSnapshotEvery = 60 * kEventsPerMinute / kChannels;

  explicit Stream(int partitions) : partitions_(partitions), t_(kStart), rng_(7) {
    for (auto& starts : last_start_) starts.assign(kChannels, EventTime::Min());
  }

  EventTime newest() const { return t_; }

  // Replaces `out` with the next `n` events.
  void Next(std::vector<Recipe>& out, size_t n) {
    out.clear();
    for (size_t i = 0; i < n; ++i) {
      t_ = t_ + Millis(rng_() % (2 * kMeanGapMs + 1));
      auto channel = static_cast<uint32_t>(rng_() % kChannels);
      Recipe& r = out.emplace_back(RandomRecipe(rng_, channel, partitions_));
      r.event.occurred_at = t_;
      if (rng_() % kSnapshotEvery == 0) {
        r.event.kind = EventKind::kFollowerCount;
        r.event.actor_role = ActorRole::kBrand;
        r.event.member_id = {};
        r.event.count = 10'000 + channel;
      }
      Count(channel);
    }
  }

  // Windows that `watermark` closes and an earlier call did not count.
  int64_t Close(EventTime watermark) {
    int64_t closed = 0;
    for (int s = 0; s < kWindowSpecCount; ++s) {
      auto& ends = open_[s];
      while (!ends.empty() && IsClosed(ends.front().first, watermark, kLateness)) {
        closed += ends.front().second;
        ends.pop_front();
      }
    }
    return closed;
  }

 private:
  void Count(uint32_t channel) {
    for (int s = 0; s < kWindowSpecCount; ++s) {
      const Millis size = kWindowSpecs[s].size;
      EventTime start = WindowStart(t_, size);
      if (last_start_[s][channel] == start) continue;
      last_start_[s][channel] = start;
      // Times only grow, so ends arrive in order.
      EventTime end = start + size;
      if (open_[s].empty() || open_[s].back().first != end) open_[s].emplace_back(end, 0);
      ++open_[s].back().second;
    }
  }

  int partitions_;
  EventTime t_;
  std::mt19937_64 rng_;
  std::array<std::vector<EventTime>, kWindowSpecCount> last_start_;               // by channel
  std::array<std::deque<std::pair<EventTime, int64_t>>, kWindowSpecCount> open_;  // (end, windows)
};

constexpr int64_t kSteadyBatch = 1'000;  // events between watermark advances
// A commit drain every 500,000 events (about a second of wall time at
// these rates), outside the timed part; its mean wall time is a counter.
constexpr int64_t kCommitBatches = 500;
// Iterations are batches of kSteadyBatch events: one hour of event time.
constexpr int64_t kSteadyBatches = 60 * Stream::kEventsPerMinute / kSteadyBatch;

// Args: partitions, events between watermark advances.
void BM_WindowSteady(benchmark::State& state) {
  const auto partitions = static_cast<int>(state.range(0));
  const auto every = static_cast<size_t>(state.range(1));
  ChannelGrowth g;
  Stream stream(partitions);
  std::vector<Recipe> batch;
  int64_t results = 0, windows = 0, parts = 0, batches = 0;
  Sink count = [&](const auto&) { ++results; };
  Mutations drained;
  auto run_batch = [&] {
    for (const Recipe& r : batch) g.Apply(r.partition, r.event, false);
    const size_t before = g.open_windows();
    g.AdvanceWatermark(stream.newest() - kOutOfOrderness, count);
    return static_cast<int64_t>(before - g.open_windows());
  };
  double commit_seconds = 0;
  int64_t commits = 0;
  auto commit = [&] {
    drained.clear();
    auto t0 = std::chrono::steady_clock::now();
    g.DrainDirty(drained);
    commit_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++commits;
  };
  // Until the first 1m windows have closed: end + lateness + out-of-orderness.
  // One commit at the end stores what is open, as the ones skipped would have.
  while (stream.newest() < kStart + kMinute + kLateness + kOutOfOrderness) {
    stream.Next(batch, every);
    run_batch();
  }
  commit();
  stream.Close(stream.newest() - kOutOfOrderness);  // the warm-up's closes
  results = commits = 0;
  commit_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    windows += stream.Close(stream.newest() - kOutOfOrderness);
    if (++batches % kCommitBatches == 0) commit();
    stream.Next(batch, every);
    state.ResumeTiming();
    parts += run_batch();
  }
  windows += stream.Close(stream.newest() - kOutOfOrderness);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(every));
  using benchmark::Counter;
  state.counters["windows/s"] = Counter(static_cast<double>(windows), Counter::kIsRate);
  state.counters["parts/s"] = Counter(static_cast<double>(parts), Counter::kIsRate);
  state.counters["results/window"] = static_cast<double>(results) / static_cast<double>(windows);
  state.counters["open_parts"] = static_cast<double>(g.open_windows());
  state.counters["commit_ms"] =
      commits == 0 ? 0 : 1e3 * commit_seconds / static_cast<double>(commits);
}
BENCHMARK(BM_WindowSteady)
    ->ArgNames({"partitions", "every"})
    ->Args({12, kSteadyBatch})
    ->Args({96, kSteadyBatch})
    ->Iterations(kSteadyBatches)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace chorus::ops

BENCHMARK_MAIN();
