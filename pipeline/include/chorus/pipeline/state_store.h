// Durable state on RocksDB: one database, one column family per store.
//
// Operators keep their working state in memory and hand the store their
// changes at each commit; Commit() writes those changes and the input
// offsets as one atomic, synced WriteBatch. That single write is what makes
// state effectively-once: after a crash, the state and the offsets it was
// computed from are restored together, and input resumes from exactly
// there.
//
// Thread-safety: Commit() and the Load* calls are made by the processing
// thread; Get() and Scan() may be called from any thread (the HTTP API)
// and see only committed data.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/state.h"
#include "chorus/pipeline/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace chorus {

// The stores. Values are stable: they name column families on disk.
enum class Store : uint8_t {
  kMeta = 0,  // offsets, watermark, pipeline counters
  kChannels,  // channel growth totals and windows
  kMembers,   // member engagement state
  kDedup,     // event-id hashes within the dedup horizon
  kThreads,   // open threads, waiting replies, response counters
  kOutbox,    // window results made durable, not yet known delivered
  kWindows,   // each channel's recent window results, for the API
  kPosts,     // posts in their first week, engagements waiting for theirs, post counters
  kCount_,
};
inline constexpr int kStoreCount = static_cast<int>(Store::kCount_);
std::string_view Name(Store s);

struct StoreMutation {
  Store store = Store::kMeta;
  ops::Mutation mutation;
};

// One commit's changes, by store (index: Store).
using CommitChanges = std::array<ops::Mutations, kStoreCount>;

// Puts `mutations` (one store's) in the order a commit writes them: puts
// and deletes by key, equal keys in the order given (in a batch the last
// wins), then range deletes in the order given, so a range delete never
// removes a put of the same batch that memory still holds. Returns whether
// two puts or deletes share a key. Commit() does this itself; exposed for
// tests.
bool OrderForWrite(std::vector<const ops::Mutation*>& mutations);

// RocksDB's own health, for the metrics.
struct StateHealth {
  std::array<uint64_t, kStoreCount> bytes{};  // SST files and memtables, per store
  uint64_t pending_compaction_bytes = 0;
  bool write_stopped = false;
  uint64_t delayed_write_rate = 0;  // bytes/s while writes are slowed; 0 otherwise
};

struct StateStoreOptions {
  // Each commit becomes one SST file per store, built on two threads and
  // ingested into the database in one atomic step, instead of a synced WAL
  // record and memtable inserts. For building state in bulk (a replay), whose
  // commits hold most keys at once: a 600,000-key commit is written ~3x
  // faster. A commit's range deletes must not cover its own puts (in a file
  // they would not delete them); Commit() refuses such a commit.
  bool bulk_load = false;
};

class StateStore {
 public:
  ~StateStore();

  // Opens or creates the database in `dir`.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir,
                                                  StateStoreOptions options = {});

  // Writes all `mutations` atomically and durably: one WriteBatch with its
  // WAL synced, or with bulk_load one ingestion of synced files. Either way
  // a crash leaves all of them or none. A store's mutations may come in any
  // order (drains hand them over unsorted: ordering them here keeps it off
  // the processing thread); of equal keys the last counts.
  Status Commit(const CommitChanges& changes);
  // The same, for a few changes at hand.
  Status Commit(const std::vector<StoreMutation>& mutations);

  // Reads a committed value.
  Result<std::optional<std::string>> Get(Store store, std::string_view key) const;

  // Calls `fn` for each committed entry of `store` whose key starts with
  // `prefix`, in key order, until `fn` returns false.
  Status Scan(Store store, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Approximate on-disk bytes of `store` (SST files plus memtables).
  uint64_t ApproximateBytes(Store store) const;
  // Safe from any thread.
  StateHealth Health() const;

  // Flushes memtables to SST files (for size measurements and tests).
  Status Flush();

 private:
  struct Files;

  StateStore() = default;
  // A commit's mutations by store (index: Store).
  using ByStore = std::array<std::vector<const ops::Mutation*>, kStoreCount>;
  Status CommitBatch(ByStore& stores);
  Status CommitFiles(ByStore& stores);

  std::string dir_;
  StateStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // index = Store
  std::unique_ptr<Files> files_;                       // with bulk_load
};

}  // namespace chorus
