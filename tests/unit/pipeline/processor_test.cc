// The processing loop over real RocksDB and real sources (file, generator):
// the order of checks, lateness, and that a restart from committed state
// ends exactly where an uninterrupted run does.
#include "chorus/pipeline/processor.h"

#include <gtest/gtest.h>

#include "chorus/pipeline/file_source.h"
#include "chorus/pipeline/generator_source.h"
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

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kMin = 60'000;

uint64_t Outcome(const Snapshot& s, chorus::Outcome o) {
  return s.counters.outcomes[static_cast<int>(o)];
}

const ChannelSnapshot* FindChannel(const Snapshot& s, const std::string& id) {
  for (const auto& c : s.channels) {
    if (c.channel_id == id) return &c;
  }
  return nullptr;
}

// Runs `source` to its end through a Processor over the store in `dir`.
std::shared_ptr<const Snapshot> RunToEnd(const std::string& dir, EventSource& source,
                                         RecordingDlq& dlq, ProcessorOptions options = {}) {
  auto store = StateStore::Open(dir);
  EXPECT_TRUE(store.ok()) << store.status().message();
  ManualClock clock;
  Processor p(options, *store.value(), source, dlq, clock);
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

TEST(Processor, RestartFromCommittedStateMatchesAnUninterruptedRun) {
  GeneratorOptions gen;
  gen.members = 2000;
  gen.channels = 10;
  gen.duplicate_rate = 0.02;
  gen.malformed_rate = 0.01;
  gen.mean_gap = std::chrono::seconds(30);
  constexpr uint64_t kRecords = 30'000;
  ProcessorOptions options;
  options.poll_batch = 1000;

  TempDir whole_dir;
  GeneratorSource whole_source(gen, 4, kRecords);
  RecordingDlq whole_dlq;
  auto whole = RunToEnd(whole_dir.Sub("state"), whole_source, whole_dlq, options);
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
  {
    auto store = StateStore::Open(dir.Sub("state"));
    ASSERT_TRUE(store.ok());
    GeneratorSource source(gen, 4, kRecords);
    ManualClock clock;
    Processor p(options, *store.value(), source, dlq, clock);
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(p.Step().ok());
    ASSERT_TRUE(p.Commit().ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.Step().ok());  // processed, never committed
  }
  GeneratorSource rest(gen, 4, kRecords);
  auto resumed = RunToEnd(dir.Sub("state"), rest, dlq, options);
  ExpectSameState(*whole, *resumed);
}

}  // namespace
}  // namespace chorus
