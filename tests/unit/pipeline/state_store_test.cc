#include "chorus/pipeline/state_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chorus/pipeline/crash_point.h"
#include "support/temp_dir.h"

namespace chorus {
namespace {

using Op = ops::Mutation::Op;
using testing::TempDir;

StoreMutation Put(Store store, std::string key, std::string value) {
  return {store, {Op::kPut, std::move(key), std::move(value)}};
}
StoreMutation Delete(Store store, std::string key) {
  return {store, {Op::kDelete, std::move(key), ""}};
}
StoreMutation DeleteRange(Store store, std::string begin, std::string end) {
  return {store, {Op::kDeleteRange, std::move(begin), std::move(end)}};
}

std::unique_ptr<StateStore> OpenOrDie(const std::string& dir, bool bulk_load = false) {
  auto store = StateStore::Open(dir, {.bulk_load = bulk_load});
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(store.value()) : nullptr;
}

std::optional<std::string> GetOrDie(const StateStore& store, Store s, std::string_view key) {
  auto value = store.Get(s, key);
  EXPECT_TRUE(value.ok()) << value.status().message();
  return value.ok() ? value.value() : std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ScanAll(const StateStore& store, Store s,
                                                         std::string_view prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  Status status = store.Scan(s, prefix, [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

TEST(StateStore, NamesColumnFamilies) {
  EXPECT_EQ(Name(Store::kMeta), "meta");
  EXPECT_EQ(Name(Store::kChannels), "channels");
  EXPECT_EQ(Name(Store::kMembers), "members");
  EXPECT_EQ(Name(Store::kDedup), "dedup");
}

// The same contract for both ways of committing: a synced WriteBatch, and
// with bulk_load files ingested at once.
class Commits : public ::testing::TestWithParam<bool> {
 protected:
  bool bulk_load() const { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(StateStore, Commits, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "BulkLoad" : "Batch"; });

TEST_P(Commits, ApplyEveryMutationAcrossStoresAndSurviveReopen) {
  TempDir tmp;
  {
    auto store = OpenOrDie(tmp.Sub("db"), bulk_load());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store
                    ->Commit({Put(Store::kMembers, "a", "1"), Put(Store::kMembers, "b", "2"),
                              Put(Store::kMembers, "c", "3"), Put(Store::kMembers, "d", "4"),
                              Put(Store::kMembers, "e", "5")})
                    .ok());
    // One batch: deletes, a range delete [b, d), and puts in every store.
    Status s =
        store->Commit({Delete(Store::kMembers, "a"), DeleteRange(Store::kMembers, "b", "d"),
                       Put(Store::kMeta, "offset/0", "42"), Put(Store::kChannels, "ch", "totals"),
                       Put(Store::kDedup, "ev", ""), Put(Store::kMembers, "e", "6")});
    ASSERT_TRUE(s.ok()) << s.message();
  }
  auto store = OpenOrDie(tmp.Sub("db"));
  ASSERT_TRUE(store);
  EXPECT_EQ(GetOrDie(*store, Store::kMembers, "a"), std::nullopt);
  EXPECT_EQ(GetOrDie(*store, Store::kMembers, "b"), std::nullopt);
  EXPECT_EQ(GetOrDie(*store, Store::kMembers, "c"), std::nullopt);
  EXPECT_EQ(GetOrDie(*store, Store::kMembers, "d"), "4");  // the range end is exclusive
  EXPECT_EQ(GetOrDie(*store, Store::kMembers, "e"), "6");
  EXPECT_EQ(GetOrDie(*store, Store::kMeta, "offset/0"), "42");
  EXPECT_EQ(GetOrDie(*store, Store::kChannels, "ch"), "totals");
  EXPECT_EQ(GetOrDie(*store, Store::kDedup, "ev"), "");
  // Stores are separate key spaces.
  EXPECT_EQ(GetOrDie(*store, Store::kChannels, "offset/0"), std::nullopt);
}

TEST_P(Commits, RejectedOneWritesNothing) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("db"), bulk_load());
  ASSERT_TRUE(store);
  Status s = store->Commit({Put(Store::kMeta, "k", "v"), DeleteRange(Store::kMembers, "z", "a")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("members"), std::string::npos) << s.message();
  EXPECT_EQ(GetOrDie(*store, Store::kMeta, "k"), std::nullopt);
  EXPECT_FALSE(store->Commit({Put(Store::kCount_, "k", "v")}).ok());
  // An empty range is a no-op, not an error.
  EXPECT_TRUE(store->Commit({DeleteRange(Store::kMembers, "a", "a")}).ok());
}

TEST(StateStore, ScanVisitsOnlyThePrefixInKeyOrder) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("db"));
  ASSERT_TRUE(store);
  std::string p1, p2, p255;
  ops::AppendPartitionPrefix(p1, 1);
  ops::AppendPartitionPrefix(p2, 2);
  p255 = std::string(4, '\xff');
  ASSERT_TRUE(
      store
          ->Commit({Put(Store::kMembers, p2 + "a", "x"), Put(Store::kMembers, p1 + "c", "3"),
                    Put(Store::kMembers, p1 + "a", "1"), Put(Store::kMembers, p1, "0"),
                    Put(Store::kMembers, p1 + "b", "2"), Put(Store::kMembers, p255 + "z", "y"),
                    Put(Store::kChannels, p1 + "a", "other store")})
          .ok());
  auto got = ScanAll(*store, Store::kMembers, p1);
  std::vector<std::pair<std::string, std::string>> want = {
      {p1, "0"}, {p1 + "a", "1"}, {p1 + "b", "2"}, {p1 + "c", "3"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(ScanAll(*store, Store::kMembers, "").size(), 6u);
  EXPECT_EQ(ScanAll(*store, Store::kMembers, p255).size(), 1u);  // no successor of all-0xff
  EXPECT_TRUE(ScanAll(*store, Store::kDedup, p1).empty());

  int visited = 0;
  Status s = store->Scan(Store::kMembers, p1,
                         [&](std::string_view, std::string_view) { return ++visited < 2; });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(visited, 2);  // stops when the callback says so
}

TEST_P(Commits, ReadersOnAnotherThreadSeeThemWhole) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("db"), bulk_load());
  ASSERT_TRUE(store);
  constexpr int kCommits = 40;
  constexpr int kKeys = 10;
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, backwards{0}, reads{0};
  std::latch reader_started(1);
  std::thread reader([&] {
    reader_started.count_down();
    int last_seq = -1;
    while (!stop.load()) {
      // Within one store a scan is a snapshot: all keys of a commit or none.
      auto entries = ScanAll(*store, Store::kChannels, "k");
      for (const auto& [k, v] : entries) {
        if (v != entries.front().second) ++torn;
      }
      if (!entries.empty() && entries.size() != kKeys) ++torn;
      auto seq = GetOrDie(*store, Store::kMeta, "seq");
      int now = seq ? std::stoi(*seq) : -1;
      if (now < last_seq) ++backwards;
      last_seq = now;
      ++reads;
    }
  });
  reader_started.wait();
  for (int i = 0; i < kCommits; ++i) {
    std::vector<StoreMutation> batch;
    for (int k = 0; k < kKeys; ++k)
      batch.push_back(Put(Store::kChannels, "k" + std::to_string(k), std::to_string(i)));
    batch.push_back(Put(Store::kMeta, "seq", std::to_string(i)));
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  stop = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(GetOrDie(*store, Store::kMeta, "seq"), std::to_string(kCommits - 1));
}

std::string RandomValue(std::mt19937_64& rng) {
  std::string v(rng() % 300, '\0');
  for (char& c : v) c = static_cast<char>(rng() % 7);
  return v;
}

// Bulk-load commits leave exactly what batches leave, over commits that
// overwrite and delete earlier ones' keys, hold a store large enough to be
// split into several files, a key written twice, unsorted keys (as the meta
// store's may be) and range deletes.
TEST(StateStore, BulkLoadLeavesWhatBatchesLeave) {
  TempDir tmp;
  auto batch = OpenOrDie(tmp.Sub("batch"));
  auto bulk = OpenOrDie(tmp.Sub("bulk"), true);
  ASSERT_TRUE(batch && bulk);
  std::mt19937_64 rng(11);
  auto number = [&](int below) { return std::to_string(rng() % below); };
  for (int commit = 0; commit < 12; ++commit) {
    std::vector<StoreMutation> all;
    // Drained stores come in any order.
    ops::Mutations threads, dedup;
    for (int i = 0; i < 4000; ++i) {
      std::string key = "t" + number(20000);
      if (rng() % 5 == 0) {
        threads.push_back({Op::kDelete, std::move(key), {}});
      } else {
        threads.push_back({Op::kPut, std::move(key), RandomValue(rng)});
      }
    }
    // Range deletes only over keys this commit does not put, as the
    // operators guarantee: "r" keys are put in even commits, ranges of them
    // deleted in odd ones.
    for (int i = 0; i < 200; ++i) {
      if (commit % 2 == 0) dedup.push_back({Op::kPut, "r" + number(1000), RandomValue(rng)});
      dedup.push_back({Op::kPut, "s" + number(1000), RandomValue(rng)});
    }
    if (commit % 2 == 1) {
      std::string a = "r" + number(1000), b = "r" + number(1000);
      dedup.push_back({Op::kDeleteRange, std::min(a, b), std::max(a, b)});
      dedup.push_back({Op::kDeleteRange, "r5", "r5"});  // empty
    }
    for (auto& m : threads) all.push_back({Store::kThreads, std::move(m)});
    for (auto& m : dedup) all.push_back({Store::kDedup, std::move(m)});
    for (int i = 0; i < 30; ++i)
      all.push_back(Put(Store::kMeta, "p" + number(40), RandomValue(rng)));
    all.push_back(Put(Store::kMembers, "twice", "first"));
    all.push_back(Put(Store::kMembers, "twice", "second " + std::to_string(commit)));
    if (commit == 5) all.push_back(Delete(Store::kMembers, "twice"));
    ASSERT_TRUE(batch->Commit(all).ok());
    Status s = bulk->Commit(all);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  auto same = [&](const StateStore& a, const StateStore& b) {
    for (Store store : {Store::kThreads, Store::kDedup, Store::kMeta, Store::kMembers}) {
      auto expected = ScanAll(a, store, "");
      EXPECT_GT(expected.size(), 0u) << Name(store);
      EXPECT_TRUE(expected == ScanAll(b, store, "")) << Name(store);
    }
  };
  same(*batch, *bulk);
  EXPECT_EQ(GetOrDie(*bulk, Store::kMembers, "twice"), "second 11");
  batch.reset();
  bulk.reset();
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("bulk/ingest"))) << "nothing left to build";
  same(*OpenOrDie(tmp.Sub("batch")), *OpenOrDie(tmp.Sub("bulk")));
}

// In a file a range delete would not delete a put of the same commit, as a
// batch would: such a commit is refused whole.
TEST(StateStore, BulkLoadRefusesARangeDeleteOverItsOwnPut) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("db"), true);
  ASSERT_TRUE(store);
  Status s = store->Commit({Put(Store::kMeta, "k", "v"), Put(Store::kDedup, "b", "1"),
                            DeleteRange(Store::kDedup, "a", "c")});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("dedup"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("covers a put"), std::string::npos) << s.message();
  EXPECT_EQ(GetOrDie(*store, Store::kMeta, "k"), std::nullopt);
  // Over a delete of the same commit, both ways end the same.
  s = store->Commit({Delete(Store::kDedup, "b"), DeleteRange(Store::kDedup, "a", "c")});
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(StateStore, ApproximateBytesCountsMemtablesAndFiles) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("db"));
  ASSERT_TRUE(store);
  std::vector<StoreMutation> batch;
  for (int i = 0; i < 1000; ++i)
    batch.push_back(Put(Store::kMembers, "m" + std::to_string(i), std::string(100, 'v')));
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_GT(store->ApproximateBytes(Store::kMembers), 0u);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_GT(store->ApproximateBytes(Store::kMembers), 1000u);
  EXPECT_EQ(store->ApproximateBytes(Store::kCount_), 0u);
}

TEST(StateStore, OpenUnderARegularFileNamesTheDirectory) {
  TempDir tmp;
  std::string file = tmp.Sub("not-a-dir");
  std::ofstream(file) << "x";
  std::string dir = file + "/state";
  auto store = StateStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(dir), std::string::npos) << store.status().message();
}

TEST(StateStore, OpenCreatesMissingParents) {
  TempDir tmp;
  auto store = OpenOrDie(tmp.Sub("a/b/state"));
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->Commit({Put(Store::kMeta, "k", "v")}).ok());
}

// --- Crash points, in forked children so _exit(137) ends only the child. ---

struct ChildOutcome {
  int exit_code = -1;  // -1 if the child did not exit normally
  int marks = 0;       // how many times the child called mark()
};

// Runs `body` in a child with CHORUS_CRASH_AT set to `spec` (unset if
// null). The child reports progress through mark() on a pipe, so the parent
// sees exactly how far it got, and exits 0 if `body` returns. `body` must
// not use gtest assertions (they would fail in the child's copy of gtest);
// it returns false to make the child exit 3.
ChildOutcome RunChild(const char* spec,
                      const std::function<bool(const std::function<void()>&)>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (spec != nullptr) {
      setenv("CHORUS_CRASH_AT", spec, 1);
    } else {
      unsetenv("CHORUS_CRASH_AT");
    }
    auto mark = [&] {
      char c = 'm';
      if (write(fds[1], &c, 1) != 1) _exit(4);
    };
    _exit(body(mark) ? 0 : 3);
  }
  close(fds[1]);
  ChildOutcome out;
  char c;
  while (read(fds[0], &c, 1) == 1) ++out.marks;
  close(fds[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return out;
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

// Hits `name` `times` times, marking after each hit that returns.
std::function<bool(const std::function<void()>&)> Hit(const char* name, int times) {
  return [=](const std::function<void()>& mark) {
    for (int i = 0; i < times; ++i) {
      CrashPoint(name);
      mark();
    }
    return true;
  };
}

TEST(CrashPoint, UnsetNeverCrashes) {
  // Arm the parent's cache first: a forked child must still read its own
  // environment rather than inherit the parent's parse.
  CrashPoint("commit.before_write");
  ChildOutcome out = RunChild(nullptr, Hit("commit.before_write", 5));
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.marks, 5);
}

TEST(CrashPoint, ExitsWith137OnTheFirstHitByDefault) {
  CrashPoint("commit.before_write");
  ChildOutcome out = RunChild("commit.before_write", Hit("commit.before_write", 5));
  EXPECT_EQ(out.exit_code, 137);
  EXPECT_EQ(out.marks, 0);
}

TEST(CrashPoint, ExitsWith137ExactlyOnTheNthHit) {
  ChildOutcome out = RunChild("x.y:3", Hit("x.y", 10));
  EXPECT_EQ(out.exit_code, 137);
  EXPECT_EQ(out.marks, 2);
  EXPECT_EQ(RunChild("x.y:3", Hit("x.y", 2)).exit_code, 0);
}

TEST(CrashPoint, OtherNamesNeitherCrashNorCount) {
  ChildOutcome out = RunChild("a:2", [](const std::function<void()>& mark) {
    for (const char* name : {"b", "a", "b", "ab", "", "a", "b"}) {
      CrashPoint(name);
      mark();
    }
    return true;
  });
  EXPECT_EQ(out.exit_code, 137);
  EXPECT_EQ(out.marks, 5);  // survived b, a, b, ab, "" and died on the second a
  EXPECT_EQ(RunChild("a", Hit("b", 3)).exit_code, 0);
}

TEST(CrashPoint, MalformedSpecAbortsLoudly) {
  for (const char* spec : {"a:0", "a:x", "a:", ":3", "a:3x"}) {
    ChildOutcome out = RunChild(spec, Hit("a", 1));
    EXPECT_EQ(out.exit_code, -1) << spec;  // killed by SIGABRT
    EXPECT_EQ(out.marks, 0) << spec;
  }
}

// The commit's crash points bracket the durable write: dying before it
// leaves nothing, dying after it leaves the whole batch.
class CommitCrash : public Commits {};
INSTANTIATE_TEST_SUITE_P(CrashPoint, CommitCrash, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "BulkLoad" : "Batch"; });

TEST_P(CommitCrash, IsAllOrNothing) {
  struct Case {
    const char* spec;
    std::optional<std::string> offset;
    int marks;
  };
  for (const Case& c :
       {Case{"commit.before_write", std::nullopt, 0}, Case{"commit.after_write", "1", 0},
        Case{"commit.before_write:2", "1", 1}, Case{"commit.after_write:2", "2", 1}}) {
    TempDir tmp;
    ChildOutcome out = RunChild(c.spec, [&](const std::function<void()>& mark) {
      auto store = StateStore::Open(tmp.Sub("db"), {.bulk_load = bulk_load()});
      if (!store.ok()) return false;
      for (int i = 1; i <= 2; ++i) {
        auto v = std::to_string(i);
        if (!store.value()
                 ->Commit({Put(Store::kMeta, "offset", v), Put(Store::kMembers, "m", v)})
                 .ok())
          return false;
        mark();
      }
      return true;
    });
    EXPECT_EQ(out.exit_code, 137) << c.spec;
    EXPECT_EQ(out.marks, c.marks) << c.spec;
    const std::string files = tmp.Sub("db/ingest");
    if (bulk_load() && std::string_view(c.spec).starts_with("commit.before_write")) {
      // The dead commit's files, written but never ingested.
      EXPECT_FALSE(std::filesystem::is_empty(files)) << c.spec;
    }
    auto store = OpenOrDie(tmp.Sub("db"));
    ASSERT_TRUE(store);
    EXPECT_EQ(GetOrDie(*store, Store::kMeta, "offset"), c.offset) << c.spec;
    EXPECT_EQ(GetOrDie(*store, Store::kMembers, "m"), c.offset) << c.spec;
    EXPECT_FALSE(std::filesystem::exists(files)) << c.spec << ": left behind";
  }
}

}  // namespace
}  // namespace chorus
