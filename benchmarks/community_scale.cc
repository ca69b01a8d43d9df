// Community scale: the community manager's two targets at a million members,
// reported as figures rather than pass/fail.
//
//   community_scale [--members M] [--events N] [--partitions P] [--channels C] [--scrapes K]
//
// 1. State size. The generator's skewed stream (MEMBER_JOINED, then
//    reactions, comments, posts, mentions, DMs with sentiment and
//    member_reach, brand and team replies) runs through a real Processor
//    (decode → validate → dedup → operators, synced RocksDB commits every
//    second) into a real StateStore in a temp dir. After a flush, each
//    store's approximate on-disk size is divided by the members. Memory per
//    member is the RSS growth of a fresh operator restored from the
//    committed store (the steady-state working set: hash-map node, key,
//    state, timer entry), with the whole run's RSS growth beside it.
// 2. Scrape cost. The run's last published Snapshot is rendered by
//    MetricsExporter::Render() repeatedly, then fetched over HTTP through
//    HttpServer as `chorus run` serves it; building a Snapshot the way the
//    Processor does after every commit is timed on the restored operators.
//
// Defaults: 12 million records (~25 days of event time) over 1,050,000
// generator member ids, so that with Zipf-skewed activity about a million
// distinct members appear (the median one 4 times, the busiest thousands);
// 8 partitions, 1,000 channels. Takes about two minutes and ~1 GB on two
// cores.
#include <arpa/inet.h>
#include <gperftools/malloc_extension_c.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.h"
#include "chorus/pipeline/generator_source.h"
#include "chorus/pipeline/http_server.h"
#include "chorus/pipeline/metrics.h"
#include "chorus/pipeline/processor.h"
#include "chorus/pipeline/state_store.h"

namespace chorus {
namespace {

using bench::Distribution;
using bench::PeakRssBytes;
using bench::Seconds;
using bench::SteadyClock;
using bench::Summarize;

// Milliseconds taken by `fn`.
double TimeMs(const std::function<void()>& fn) {
  auto start = SteadyClock::now();
  fn();
  return Seconds(SteadyClock::now() - start) * 1e3;
}

// Resident bytes now, after returning freed heap to the system so that a
// difference of two readings measures what is live, not what malloc kept.
// chorus runs on tcmalloc (pipeline/CMakeLists.txt): glibc's malloc_trim
// would reach nothing, and a restore would be served from the pages the
// run freed, reading as almost no growth.
int64_t LiveRssBytes() {
  MallocExtension_ReleaseFreeMemory();
  return bench::ResidentBytes();
}

double PerMember(double bytes, uint64_t members) {
  return members ? bytes / static_cast<double>(members) : 0.0;
}

// A fresh directory under the system temp dir, removed on destruction.
class ScratchDir {
 public:
  ScratchDir() : path_((std::filesystem::temp_directory_path() / "chorus-scale-XXXXXX").string()) {
    if (mkdtemp(path_.data()) == nullptr) std::abort();
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<StateStore> OpenStore(const std::string& dir) {
  auto store = StateStore::Open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    std::exit(1);
  }
  return std::move(store.value());
}

void Check(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.message().c_str());
  std::exit(1);
}

struct Config {
  GeneratorOptions gen;
  uint64_t events = 12'000'000;
  int partitions = 8;
  int scrapes = 50;
};

struct RunResult {
  std::shared_ptr<const Snapshot> snapshot;
  double seconds = 0;
  int64_t rss_growth = 0;
  std::vector<double> commit_ms;  // each commit: drain, snapshot build, synced write
};

// The whole pipeline without Kafka, as pipeline_benchmark's end-to-end case.
RunResult BuildState(const Config& c, StateStore& store) {
  RunResult r;
  GeneratorSource source(c.gen, c.partitions, c.events);
  DiscardingDlq dlq;
  const int64_t rss_before = LiveRssBytes();
  {
    Processor p(ProcessorOptions{}, store, source, dlq, SystemClock());
    p.OnCommit([&r](const Snapshot&, double s) { r.commit_ms.push_back(s * 1e3); });
    std::atomic<bool> stop{false};
    auto start = SteadyClock::now();
    Check(p.Run(stop), "processor");
    r.seconds = Seconds(SteadyClock::now() - start);
    r.rss_growth = LiveRssBytes() - rss_before;
    r.snapshot = p.snapshot();
  }
  return r;
}

struct StoreSize {
  uint64_t entries = 0;
  uint64_t live = 0;       // key and value bytes of the committed entries
  uint64_t rewritten = 0;  // on disk once written into a fresh database
};

// Copies the committed entries of `which` into `fresh` (puts only, in
// batches), counting them.
StoreSize CopyLive(const StateStore& store, Store which, StateStore& fresh) {
  StoreSize size;
  std::vector<StoreMutation> batch;
  auto write = [&] {
    Check(fresh.Commit(batch), "commit");
    batch.clear();
  };
  Check(store.Scan(
            which, "",
            [&](std::string_view k, std::string_view v) {
              size.entries++;
              size.live += k.size() + v.size();
              batch.push_back({which, {ops::Mutation::Op::kPut, std::string(k), std::string(v)}});
              if (batch.size() == 100'000) write();
              return true;
            }),
        "scan");
  write();
  return size;
}

// What the run left on disk, against the same live entries written once
// into a fresh database: the size once compaction has dropped every
// superseded version and tombstone (LZ4; the bottommost level's zstd would
// be smaller still).
void ReportDisk(StateStore& store, uint64_t members) {
  Check(store.Flush(), "flush");
  ScratchDir dir;
  auto fresh = OpenStore(dir.path());
  const Store stores[] = {Store::kMembers, Store::kThreads, Store::kDedup, Store::kChannels,
                          Store::kMeta};
  std::vector<StoreSize> sizes;
  for (Store s : stores) sizes.push_back(CopyLive(store, s, *fresh));
  Check(fresh->Flush(), "flush");
  std::printf("\n== state on disk (RocksDB, bytes per member) ==\n");
  std::printf("%-9s %10s %12s %10s %12s %14s\n", "store", "flushed MB", "flushed", "entries",
              "live, raw", "written once");
  double flushed_total = 0, rewritten_total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto flushed = static_cast<double>(store.ApproximateBytes(stores[i]));
    const auto rewritten = static_cast<double>(fresh->ApproximateBytes(stores[i]));
    flushed_total += flushed;
    rewritten_total += rewritten;
    std::printf(
        "%-9s %10.1f %12.1f %10lu %12.1f %14.1f\n", std::string(Name(stores[i])).c_str(),
        flushed / 1e6, PerMember(flushed, members), static_cast<unsigned long>(sizes[i].entries),
        PerMember(static_cast<double>(sizes[i].live), members), PerMember(rewritten, members));
  }
  std::printf("%-9s %10.1f %12.1f %10s %12s %14.1f\n", "total", flushed_total / 1e6,
              PerMember(flushed_total, members), "", "", PerMember(rewritten_total, members));
  std::printf(
      "(flushed: SST files after StateStore::Flush, superseded versions not yet compacted "
      "included; target: under 200 bytes per member)\n");
}

// Fresh operators restored from the committed store, as a restart would.
struct Restored {
  ops::MemberEngagement members;
  ops::Threads threads;
  ops::DedupIndex dedup;
  ops::ChannelGrowth channels;
};

// Seconds spent restoring, summed over RestoreMeasured calls: what a restart
// spends loading state before /readyz (the StatefulSet's startup probe
// allows for it).
double g_restore_seconds = 0;

// Restores `store` into `restore` and returns the RSS it added.
int64_t RestoreMeasured(const StateStore& store, Store which,
                        const std::function<bool(std::string_view, std::string_view)>& restore) {
  const int64_t before = LiveRssBytes();
  const auto started = std::chrono::steady_clock::now();
  bool ok = true;
  Check(store.Scan(which, "",
                   [&](std::string_view k, std::string_view v) {
                     ok = restore(k, v);
                     return ok;
                   }),
        "scan");
  if (!ok) {
    std::fprintf(stderr, "unreadable entry in %s\n", std::string(Name(which)).c_str());
    std::exit(1);
  }
  g_restore_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return LiveRssBytes() - before;
}

void ReportMemory(const StateStore& store, Restored& r, const RunResult& run, uint64_t members) {
  std::printf("\n== state in memory (RSS growth from /proc/self/statm, heap trimmed) ==\n");
  const int64_t m = RestoreMeasured(store, Store::kMembers,
                                    [&](auto k, auto v) { return r.members.Restore(k, v); });
  const int64_t t = RestoreMeasured(store, Store::kThreads,
                                    [&](auto k, auto v) { return r.threads.Restore(k, v); });
  const int64_t d =
      RestoreMeasured(store, Store::kDedup, [&](auto k, auto v) { return r.dedup.Restore(k, v); });
  const int64_t c = RestoreMeasured(store, Store::kChannels,
                                    [&](auto k, auto v) { return r.channels.Restore(k, v); });
  auto line = [&](const char* what, int64_t bytes, const char* note) {
    std::printf("%-9s %8.1f MB  %7.1f bytes/member   %s\n", what, static_cast<double>(bytes) / 1e6,
                PerMember(static_cast<double>(bytes), members), note);
  };
  line("members", m, "(MemberEngagement restored: map node, id, state, timer, love bucket)");
  line("threads", t, "(Threads restored: open threads, waiting replies, counters)");
  line("dedup", d, "(DedupIndex restored: event ids within the 7-day horizon)");
  line("channels", c, "(ChannelGrowth restored: totals and open windows)");
  line("sum", m + t + d + c, "(the operators' steady state after a restart)");
  line("whole run", run.rss_growth,
       "(RSS growth across Processor::Run: operators, RocksDB memtables, allocator slack)");
  std::printf("peak RSS of the process: %.0f MB; restored members: %zu in %.1f s\n",
              static_cast<double>(PeakRssBytes()) / 1e6, r.members.member_count(),
              g_restore_seconds);
}

// Processor::BuildSnapshot's work over the restored operators (the per-
// partition counters and lags are copied from the run's snapshot).
std::shared_ptr<const Snapshot> BuildSnapshot(const Restored& r, const Snapshot& run) {
  auto snap = std::make_shared<Snapshot>();
  snap->commits = run.commits;
  snap->watermark = run.watermark;
  snap->windows_closed = run.windows_closed;
  snap->counters = run.counters;
  snap->partitions = run.partitions;
  // Not restored here (posts, and what the processor keeps beside the
  // operators): as the run had them, so that only the restored ones compare.
  snap->posts = run.posts;
  snap->window_corrections = run.window_corrections;
  snap->latest_windows = run.latest_windows;
  snap->event_lag = run.event_lag;
  snap->rebalances = run.rebalances;
  r.channels.ForEachChannel([&](const ops::ChannelView& v) {
    snap->channels.push_back({std::string(v.channel_id), v.platform, v.totals, v.followers});
  });
  snap->threads = r.threads.Stats();
  snap->members = r.members.Summary();
  snap->member_count = r.members.member_count();
  snap->love = r.members.LoveScores(snap->watermark, LoveScoreBounds());
  snap->ready = true;
  snap->not_ready_reason = "";
  return snap;
}

void PrintTiming(const char* what, const std::vector<double>& ms) {
  Distribution d = Summarize(ms);
  std::printf("%-34s median %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%zu runs)\n", what, d.median,
              d.p99, d.max, ms.size());
}

// One GET over a new connection (as Prometheus scrapes); the response size,
// or 0 on failure.
size_t HttpGet(int port, const char* path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  size_t got = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req =
        std::string("GET ") + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[1 << 16];
      ssize_t n = 0;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) got += static_cast<size_t>(n);
    }
  }
  close(fd);
  return got;
}

// Lines of `a`, and how many differ from `b`'s line at the same place.
// A text that ends first reads as empty lines after its end.
std::pair<size_t, size_t> CompareLines(const std::string& a, const std::string& b) {
  auto next_line = [](std::string_view text, size_t& at) {
    if (at >= text.size()) return std::string_view();
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    return line;
  };
  size_t lines = 0, differ = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    ++lines;
    if (next_line(a, i) != next_line(b, j)) ++differ;
  }
  return {lines, differ};
}

size_t CountSeries(const std::string& body) {
  size_t series = 0;
  for (size_t at = 0; at < body.size();) {
    size_t end = std::min(body.find('\n', at), body.size());
    if (end > at && body[at] != '#') ++series;
    at = end + 1;
  }
  return series;
}

void TimeRender(const Config& c, const char* what, std::shared_ptr<const Snapshot> snap) {
  MetricsExporter exporter([&snap] { return snap; });
  std::string body = exporter.Render();
  std::printf("%s: %zu bytes, %zu series (%lu members, %zu channels, %zu partitions)\n", what,
              body.size(), CountSeries(body), static_cast<unsigned long>(snap->member_count),
              snap->channels.size(), snap->partitions.size());
  std::vector<double> ms;
  for (int i = 0; i < c.scrapes; ++i) ms.push_back(TimeMs([&] { body = exporter.Render(); }));
  PrintTiming("  MetricsExporter::Render()", ms);
}

void TimeSnapshotBuild(const Config& c, const Restored& r, const Snapshot& live) {
  std::shared_ptr<const Snapshot> rebuilt;
  std::vector<double> ms;
  for (int i = 0; i < c.scrapes; ++i) {
    ms.push_back(TimeMs([&] { rebuilt = BuildSnapshot(r, live); }));
  }
  PrintTiming("snapshot build (as BuildSnapshot)", ms);
  auto same = std::make_shared<const Snapshot>(live);
  MetricsExporter a([&same] { return same; });
  MetricsExporter b([&rebuilt] { return rebuilt; });
  auto [lines, differ] = CompareLines(a.Render(), b.Render());
  std::printf(
      "  restored operators export what the run did: %zu lines, %zu differ (float sums "
      "added in another order)\n",
      lines, differ);
}

// Scrapes over loopback through HttpServer with the /metrics route of
// `chorus run` (api.cc), a new connection each time as Prometheus does.
void TimeHttp(const Config& c, std::shared_ptr<const Snapshot> snap) {
  MetricsExporter exporter([&snap] { return snap; });
  std::vector<HttpRoute> routes = {
      {"/metrics", true, [&exporter](const HttpRequest&) {
         return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", exporter.Render()};
       }}};
  auto server = HttpServer::Start("127.0.0.1:0", std::move(routes));
  Check(server.status(), "http server");
  const int port = server.value()->port();
  size_t got = 0;
  std::vector<double> ms;
  for (int i = 0; i < c.scrapes; ++i) {
    ms.push_back(TimeMs([&] { got = HttpGet(port, "/metrics"); }));
  }
  PrintTiming("HTTP GET /metrics (loopback)", ms);
  std::printf("  response: %zu bytes with headers\n", got);
}

void ReportScrape(const Config& c, const RunResult& run, const Restored& r) {
  std::printf("\n== scrape cost (target: < 50 ms per scrape) ==\n");
  TimeRender(c, "exposition", run.snapshot);
  // What scales with members: the same snapshot without the per-channel
  // families (growth and threads), which scale with channels instead.
  auto community = std::make_shared<Snapshot>(*run.snapshot);
  community->channels.clear();
  community->threads.clear();
  TimeRender(c, "without channel families", community);
  TimeHttp(c, run.snapshot);
  TimeSnapshotBuild(c, r, *run.snapshot);
}

void ReportRun(const Config& c, const RunResult& run) {
  const Snapshot& s = *run.snapshot;
  uint64_t records = 0;
  for (uint64_t v : s.counters.outcomes) records += v;
  std::printf("== build: %lu records (%lu generator members, %d partitions, %d channels) ==\n",
              static_cast<unsigned long>(c.events), static_cast<unsigned long>(c.gen.members),
              c.partitions, c.gen.channels);
  std::printf("processed %lu records in %.1f s (%.0f records/s), %lu commits\n",
              static_cast<unsigned long>(records), run.seconds,
              static_cast<double>(records) / run.seconds, static_cast<unsigned long>(s.commits));
  std::printf("members %lu (%.1f records per member), %.1f days of event time\n",
              static_cast<unsigned long>(s.member_count),
              PerMember(static_cast<double>(records), s.member_count),
              static_cast<double>((s.watermark - c.gen.start).count()) / 86'400'000.0);
  PrintTiming("commit (drain+snapshot+write)", run.commit_ms);
}

}  // namespace
}  // namespace chorus

int main(int argc, char** argv) {
  CLI::App app{"chorus state size and scrape cost with a million community members"};
  chorus::Config c;
  c.gen.members = 1'050'000;
  c.gen.channels = 1'000;
  app.add_option("--members", c.gen.members, "generator members (distinct ids that may appear)");
  app.add_option("--events", c.events, "records to generate");
  app.add_option("--partitions", c.partitions);
  app.add_option("--channels", c.gen.channels);
  app.add_option("--scrapes", c.scrapes, "repetitions of each timed scrape step");
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows when piped to a file

  chorus::ScratchDir dir;
  auto store = chorus::OpenStore(dir.path());
  chorus::RunResult run = chorus::BuildState(c, *store);
  chorus::ReportRun(c, run);
  const uint64_t members = run.snapshot->member_count;
  chorus::ReportDisk(*store, members);
  auto restored = std::make_unique<chorus::Restored>();
  chorus::ReportMemory(*store, *restored, run, members);
  chorus::ReportScrape(c, run, *restored);
  restored.reset();
  store.reset();  // closed before the directory goes
  return 0;
}
