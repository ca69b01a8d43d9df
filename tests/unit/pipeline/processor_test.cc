// The processing loop over real RocksDB and real sources (file, generator):
// the order of checks, lateness, and that a restart from committed state
// ends exactly where an uninterrupted run does. Its pacing against the
// input is in processor_pacing_test.cc.
#include "chorus/pipeline/processor.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "chorus/pipeline/file_source.h"
#include "chorus/pipeline/generator_source.h"
#include "processor_test_util.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace chorus {
namespace {

using testing::Event;
using testing::ManualClock;
using testing::RecordingDlq;
using testing::TempDir;
using v1::ACTOR_ROLE_BRAND;
using v1::EVENT_KIND_COMMENT;
using v1::EVENT_KIND_IMPRESSION;
using v1::EVENT_KIND_REACTION;

using processor_test::FindChannel;
using processor_test::kMin;
using processor_test::kT0;
using processor_test::Outcome;

// Runs `source` to its end through a Processor over the store in `dir`.
std::shared_ptr<const Snapshot> RunToEnd(const std::string& dir, EventSource& source,
                                         RecordingDlq& dlq, ProcessorOptions options = {},
                                         HistorySink* history = nullptr) {
  auto store = StateStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().message();
  ManualClock clock;
  Processor p(options, *store.value(), source, dlq, clock);
  p.SetHistory(history);
  std::atomic<bool> stop{false};
  Status s = p.Run(stop);
  EXPECT_TRUE(s.ok()) << s.message();
  return p.snapshot();
}

TEST(Processor, ChecksInOrderAndCountsEveryOutcome) {
  TempDir dir;
  std::string file = dir.Sub("events.bin");
  auto missing_channel = Event("e4", kT0 + 3 * kMin, "", EVENT_KIND_REACTION, "ann");
  testing::WriteEventFile(
      file,
      {Event("e1", kT0, "forum:acme", EVENT_KIND_COMMENT, "ann"),
       Event("e2", kT0 + kMin, "forum:acme", EVENT_KIND_IMPRESSION, "", ACTOR_ROLE_BRAND, 250),
       Event("e1", kT0, "forum:acme", EVENT_KIND_COMMENT, "ann"),  // duplicate
       missing_channel,
       // Far behind the watermark (10 h − 5 min) beyond the lateness (1 h).
       Event("e5", kT0 + 10 * 60 * kMin, "forum:acme", EVENT_KIND_REACTION, "bob"),
       Event("e6", kT0 + 2 * 60 * kMin, "forum:acme", EVENT_KIND_REACTION, "cid"),
       // Older than the dedup horizon (7 d) behind the newest event.
       Event("e7", kT0 - 8 * 24 * 60 * kMin, "forum:acme", EVENT_KIND_REACTION, "dan")},
      {std::string("\x07garbage")});
  auto source = FileSource::Open(file);
  ASSERT_TRUE(source.ok());
  RecordingDlq dlq;
  // The watermark advances between poll batches; one record per batch makes
  // each event see the watermark of all before it.
  ProcessorOptions options;
  options.poll_batch = 1;
  auto snap = RunToEnd(dir.Sub("state"), *source.value(), dlq, options);

  EXPECT_EQ(Outcome(*snap, Outcome::kProcessed), 3u);  // e1, e2, e5
  EXPECT_EQ(Outcome(*snap, Outcome::kDuplicate), 1u);
  EXPECT_EQ(Outcome(*snap, Outcome::kLate), 1u);     // e6
  EXPECT_EQ(Outcome(*snap, Outcome::kInvalid), 3u);  // e4, e7, garbage
  EXPECT_EQ(dlq.Count(DlqReason::kLate), 1u);
  EXPECT_EQ(dlq.Count(DlqReason::kMissingChannelId), 1u);
  EXPECT_EQ(dlq.Count(DlqReason::kTooOld), 1u);
  EXPECT_EQ(dlq.Count(DlqReason::kUndecodable), 1u);
  EXPECT_EQ(dlq.flushed().size(), 4u) << "duplicates are counted, not dead-lettered";

  const ChannelSnapshot* c = FindChannel(*snap, "forum:acme");
  ASSERT_NE(c, nullptr);
  auto kind = [&](ops::EventKind k) { return c->totals.events_by_kind[static_cast<int>(k)]; };
  EXPECT_EQ(kind(ops::EventKind::kImpression), 250u);
  // The late reaction still counts in lifetime totals: e5 and e6.
  EXPECT_EQ(kind(ops::EventKind::kReaction), 2u);
  EXPECT_EQ(kind(ops::EventKind::kComment), 1u);
  EXPECT_EQ(snap->member_count, 3u);  // ann, bob, cid
}

// Everything a restart must reproduce.
void ExpectSameState(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.counters.outcomes, b.counters.outcomes);
  EXPECT_EQ(a.counters.dlq, b.counters.dlq);
  ASSERT_EQ(a.channels.size(), b.channels.size());
  for (size_t i = 0; i < a.channels.size(); ++i) {
    EXPECT_EQ(a.channels[i].channel_id, b.channels[i].channel_id);
    EXPECT_EQ(a.channels[i].totals, b.channels[i].totals) << a.channels[i].channel_id;
    EXPECT_EQ(a.channels[i].followers, b.channels[i].followers) << a.channels[i].channel_id;
  }
  EXPECT_EQ(a.member_count, b.member_count);
  EXPECT_EQ(a.members.members_by_stage, b.members.members_by_stage);
  EXPECT_EQ(a.members.new_members, b.members.new_members);
  EXPECT_EQ(a.watermark, b.watermark);
  EXPECT_EQ(a.posts, b.posts);
}

// About ten days of event time over 2,000 members and 10 channels, with
// duplicates and malformed records, in 30,000 records.
constexpr uint64_t kWorkloadRecords = 30'000;
GeneratorOptions Workload() {
  GeneratorOptions gen;
  gen.members = 2000;
  gen.channels = 10;
  gen.duplicate_rate = 0.02;
  gen.malformed_rate = 0.01;
  gen.mean_gap = std::chrono::seconds(30);
  return gen;
}

// The generated stream run whole by one process, in a store of its own.
std::shared_ptr<const Snapshot> UninterruptedRun(const GeneratorOptions& gen, uint64_t records,
                                                 const ProcessorOptions& options) {
  TempDir dir;
  GeneratorSource source(gen, 4, records);
  RecordingDlq dlq;
  return RunToEnd(dir.Sub("state"), source, dlq, options);
}

// The generated stream in a first process that commits after nine polls,
// then processes `uncommitted` more and dies: what that commit showed.
std::shared_ptr<const Snapshot> CommitPartway(const std::string& dir, const GeneratorOptions& gen,
                                              uint64_t records, RecordingDlq& dlq,
                                              const ProcessorOptions& options, int uncommitted) {
  auto store = StateStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().message();
  GeneratorSource source(gen, 4, records);
  ManualClock clock;
  Processor p(options, *store.value(), source, dlq, clock);
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(p.Step().ok());
  EXPECT_TRUE(p.Commit().ok());
  std::shared_ptr<const Snapshot> committed = p.snapshot();
  for (int i = 0; i < uncommitted; ++i) EXPECT_TRUE(p.Step().ok());
  return committed;
}

TEST(Processor, RestartFromCommittedStateMatchesAnUninterruptedRun) {
  const GeneratorOptions gen = Workload();
  constexpr uint64_t kRecords = kWorkloadRecords;
  ProcessorOptions options;
  options.poll_batch = 1000;

  auto whole = UninterruptedRun(gen, kRecords, options);
  // About ten days of event time: posts reached both ages.
  uint64_t matured_weeks = 0;
  for (const auto& [channel, c] : whole->posts.channels) {
    for (uint64_t n : c.matured[static_cast<size_t>(ops::PostAge::k7d)]) matured_weeks += n;
  }
  EXPECT_GT(matured_weeks, 0u);
  ASSERT_EQ(Outcome(*whole, Outcome::kProcessed) + Outcome(*whole, Outcome::kDuplicate) +
                Outcome(*whole, Outcome::kInvalid) + Outcome(*whole, Outcome::kLate),
            kRecords);

  // The same stream, but the first process dies (uncommitted work lost)
  // after a commit partway through.
  TempDir dir;
  RecordingDlq dlq;
  CommitPartway(dir.Sub("state"), gen, kRecords, dlq, options, 5);
  GeneratorSource rest(gen, 4, kRecords);
  auto resumed = RunToEnd(dir.Sub("state"), rest, dlq, options);
  ExpectSameState(*whole, *resumed);
}

// Every call a history sink receives, in order, as text.
class RecordingHistory final : public HistorySink {
 public:
  void OnWindow(const ops::WindowResult& w) override {
    std::string line = "window " + std::string(w.spec->name) + " " + std::string(w.channel_id) +
                       " " + std::to_string(w.end.millis()) + " r" + std::to_string(w.revision);
    for (uint64_t n : w.counts.events_by_kind) line += " " + std::to_string(n);
    line += " f" + std::to_string(w.followers_start) + ":" + std::to_string(w.followers_end);
    line += " t" + std::to_string(w.responses.responses) + ":" +
            std::to_string(w.responses.first_responses);
    calls.push_back(std::move(line));
    windows++;
    auto spec = static_cast<size_t>(w.spec - ops::kWindowSpecs.data());
    (w.revision == 0 ? fired : corrected)[spec]++;
  }
  void OnMemberJoined(ops::EventTime at) override {
    calls.push_back("joined " + std::to_string(at.millis()));
  }
  void OnTransition(const ops::StageTransition& t) override {
    calls.push_back("transition " + std::string(t.member_id) + " " +
                    std::to_string(static_cast<int>(t.from)) + ">" +
                    std::to_string(static_cast<int>(t.to)) + " " + std::to_string(t.at.millis()));
    transitions++;
  }
  void OnWatermark(ops::EventTime watermark) override {
    calls.push_back("watermark " + std::to_string(watermark.millis()));
    watermarks++;
  }

  std::vector<std::string> calls;
  size_t windows = 0;
  std::array<uint64_t, ops::kWindowSpecCount> fired{}, corrected{};
  size_t transitions = 0;
  size_t watermarks = 0;
};

// Every stored key and value, store by store.
std::vector<std::string> Dump(const std::string& dir) {
  std::vector<std::string> out;
  auto store = StateStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return out;
  for (int i = 0; i < kStoreCount; ++i) {
    auto which = static_cast<Store>(i);
    Status s = store.value()->Scan(which, "", [&](std::string_view k, std::string_view v) {
      out.push_back(std::string(Name(which)) + "|" + std::string(k) + "|" + std::string(v));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.message();
  }
  return out;
}

// The generated workload run to its end in several commits, each one a
// sync, with `history` (may be null) attached: the final view and every
// stored key and value.
struct WorkloadRun {
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::string> stored;
};
void RunWorkload(bool operator_thread, HistorySink* history, WorkloadRun& out) {
  TempDir dir;
  ProcessorOptions options;
  options.poll_batch = 1000;
  options.commit_max_records = 4000;
  options.operator_thread = operator_thread;
  {
    auto store = StateStore::Open(dir.Sub("state"));
    ASSERT_TRUE(store.ok()) << store.status().message();
    GeneratorSource source(Workload(), 4, kWorkloadRecords);
    RecordingDlq dlq;
    ManualClock clock;
    Processor p(options, *store.value(), source, dlq, clock);
    p.SetHistory(history);
    std::atomic<bool> stop{false};
    Status s = p.Run(stop);
    ASSERT_TRUE(s.ok()) << s.message();
    out.snapshot = p.snapshot();
  }
  out.stored = Dump(dir.Sub("state"));
}

// `chorus replay` runs channel growth and member engagement on a thread of
// their own; that must change nothing: not the state stored at each commit,
// not the results, not the order in which a history sink hears of windows,
// members and the watermark.
TEST(Processor, OperatorThreadChangesNeitherStateNorResultsNorTheirOrder) {
  struct RunResult : WorkloadRun {
    RecordingHistory history;
  };
  RunResult one, two;
  RunWorkload(false, &one.history, one);
  RunWorkload(true, &two.history, two);
  ASSERT_TRUE(one.snapshot && two.snapshot);
  // Enough of everything for the order to matter.
  EXPECT_GT(one.history.windows, 1000u);
  EXPECT_GT(one.history.transitions, 100u);
  EXPECT_GT(one.history.watermarks, 1000u);
  EXPECT_GT(one.stored.size(), 1000u);

  ExpectSameState(*one.snapshot, *two.snapshot);
  EXPECT_EQ(one.snapshot->windows_closed, two.snapshot->windows_closed);
  ASSERT_EQ(one.history.calls.size(), two.history.calls.size());
  for (size_t i = 0; i < one.history.calls.size(); ++i) {
    ASSERT_EQ(one.history.calls[i], two.history.calls[i]) << "history call " << i;
  }
  ASSERT_EQ(one.stored.size(), two.stored.size());
  for (size_t i = 0; i < one.stored.size(); ++i) {
    ASSERT_EQ(one.stored[i], two.stored[i]) << "stored entry " << i;
  }
}

// `stored` (see Dump) with each minute window group reduced to its key,
// under one tag, sorted: a group opened count-only stores which channels have a
// window (tag 0x09), a whole one what they hold too (0x07).
std::vector<std::string> WithoutMinuteContents(std::vector<std::string> stored) {
  const std::string prefix = std::string(Name(Store::kChannels)) + "|";
  // partition (4), tag, size ms (8 BE), start ms (8 BE)
  constexpr size_t kGroupKey = 21;
  const std::string minute("\0\0\0\0\0\0\xea\x60", 8);  // 60,000 ms
  for (std::string& s : stored) {
    if (s.rfind(prefix, 0) != 0 || s.size() <= prefix.size() + kGroupKey) continue;
    std::string key = s.substr(prefix.size(), kGroupKey);
    if ((key[4] != 0x07 && key[4] != 0x09) || key.substr(5, 8) != minute ||
        s[prefix.size() + kGroupKey] != '|') {
      continue;
    }
    key[4] = 0x07;
    s = prefix + key;
  }
  std::sort(stored.begin(), stored.end());  // in key order again
  return stored;
}

// Without an output topic or a history nobody reads minute results, and
// minute windows only count: the counts, every other result and the state
// are those of a run that makes them all for a history, and the state
// stored differs only in what minute windows hold.
TEST(Processor, MinuteResultsNobodyReadsAreCountedAsIfMade) {
  RecordingHistory history;
  WorkloadRun read, unread;
  RunWorkload(false, &history, read);
  RunWorkload(false, nullptr, unread);
  ASSERT_TRUE(read.snapshot && unread.snapshot);
  EXPECT_GT(history.fired[0], 1000u);
  EXPECT_EQ(read.snapshot->windows_closed, history.fired);
  EXPECT_EQ(unread.snapshot->windows_closed, history.fired);
  EXPECT_EQ(unread.snapshot->window_corrections, history.corrected);
  ExpectSameState(*read.snapshot, *unread.snapshot);
  EXPECT_NE(read.stored, unread.stored) << "minute groups stored in two forms";
  EXPECT_TRUE(WithoutMinuteContents(read.stored) == WithoutMinuteContents(unread.stored));
}

// A restart that adds a reader of minute results (here a history; the
// output topic is the other) after minute windows were opened count-only:
// those stay counted, not published, until they close, and the minutes
// opened after the restart come whole; every count and view is what an
// uninterrupted run makes.
TEST(Processor, ARestartThatAddsAReaderCountsTheMinutesOpenedBeforeIt) {
  const GeneratorOptions gen = Workload();
  ProcessorOptions options;
  options.poll_batch = 1000;
  auto whole = UninterruptedRun(gen, kWorkloadRecords, options);

  TempDir dir;
  RecordingDlq dlq;
  // Minute windows fired by the first process.
  const uint64_t fired_before =
      CommitPartway(dir.Sub("state"), gen, kWorkloadRecords, dlq, options, 0)->windows_closed[0];
  ASSERT_GT(fired_before, 0u);
  RecordingHistory history;
  GeneratorSource rest(gen, 4, kWorkloadRecords);
  auto resumed = RunToEnd(dir.Sub("state"), rest, dlq, options, &history);
  ExpectSameState(*whole, *resumed);
  EXPECT_EQ(resumed->windows_closed, whole->windows_closed);
  const uint64_t fired_after = resumed->windows_closed[0] - fired_before;
  EXPECT_GT(history.fired[0], 0u) << "minutes opened after the restart are published";
  EXPECT_LT(history.fired[0], fired_after)
      << "minutes open at the restart were counted, not published";
}

}  // namespace
}  // namespace chorus
