// The state store's bulk-load commits (StateStoreOptions::bulk_load): one
// SST file per store, the largest split by key, built on two threads and
// ingested in one step.
#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "chorus/pipeline/crash_point.h"
#include "chorus/pipeline/state_store.h"
#include "state_store_internal.h"

namespace chorus {
namespace {

// One store's share of a bulk commit.
struct StoreChanges {
  Store store = Store::kMeta;
  std::vector<const ops::Mutation*> points;  // puts and deletes
  std::vector<const ops::Mutation*> ranges;  // range deletes
  size_t bytes = 0;
  uint64_t cost = 0;  // WriteCost, once all are in
};

// A rough cost of writing changes to a file, in ns: per key (ordering, block
// and index entries, filter) and per byte (copying, LZ4), as measured on a
// replay's last commit.
constexpr uint64_t kCostPerKey = 400;
uint64_t WriteCost(size_t keys, size_t bytes) { return keys * kCostPerKey + bytes; }

// Orders `c.points` as a file needs them: strictly ascending keys, the last
// mutation of a key winning as it would in a batch. Refuses what a file
// would apply differently from a batch: a range delete that covers a put of
// the same commit (a batch deletes it, a file keeps it).
rocksdb::Status Prepare(StoreChanges& c) {
  auto& p = c.points;
  if (OrderForWrite(p)) {
    size_t kept = 0;
    for (const ops::Mutation* m : p) {
      if (kept > 0 && p[kept - 1]->key == m->key) {
        p[kept - 1] = m;
      } else {
        p[kept++] = m;
      }
    }
    p.resize(kept);
  }
  for (const ops::Mutation* r : c.ranges) {
    if (rocksdb::Status s = CheckRange(*r); !s.ok()) return s;
    auto it =
        std::lower_bound(p.begin(), p.end(), r->key,
                         [](const ops::Mutation* m, const std::string& k) { return m->key < k; });
    for (; it != p.end() && (*it)->key < r->value; ++it) {
      if ((*it)->op == ops::Mutation::Op::kPut) {
        return rocksdb::Status::InvalidArgument("a range delete covers a put of the same commit");
      }
    }
  }
  return rocksdb::Status::OK();
}

// One file of a bulk commit: points [begin, end) of a prepared store, and
// its range deletes if `ranges`.
struct Piece {
  const StoreChanges* changes = nullptr;
  size_t begin = 0;
  size_t end = 0;
  bool ranges = false;
  uint64_t cost = 0;
  std::string path;
  rocksdb::Status status;
};

rocksdb::Status WriteFile(const rocksdb::Options& options, rocksdb::ColumnFamilyHandle* cf,
                          const Piece& piece) {
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, cf);
  rocksdb::Status s = writer.Open(piece.path);
  const auto& p = piece.changes->points;
  for (size_t i = piece.begin; s.ok() && i < piece.end; ++i) {
    // The strings' bytes are scattered over the heap: fetched ahead.
    if (i + 8 < piece.end) {
      __builtin_prefetch(p[i + 8]->key.data());
      __builtin_prefetch(p[i + 8]->value.data());
    }
    const ops::Mutation& m = *p[i];
    s = m.op == ops::Mutation::Op::kPut ? writer.Put(m.key, m.value) : writer.Delete(m.key);
  }
  if (piece.ranges) {
    for (auto it = piece.changes->ranges.begin(); s.ok() && it != piece.changes->ranges.end();
         ++it) {
      if ((*it)->key != (*it)->value) s = writer.DeleteRange((*it)->key, (*it)->value);
    }
  }
  // Finish() syncs the file: the ingestion that follows only links it.
  return s.ok() ? writer.Finish() : s;
}

// Calls fn(i) for each i in [0, n), on this thread and one more, each
// taking the next i when it is free.
template <typename Fn>
void OnTwoThreads(size_t n, Fn fn) {
  std::atomic<size_t> next{0};
  auto lane = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::thread helper;
  if (n > 1) helper = std::thread(lane);
  lane();
  if (helper.joinable()) helper.join();
}

}  // namespace

Status StateStore::CommitFiles(ByStore& by_store) {
  std::array<StoreChanges, kStoreCount> stores;
  for (size_t i = 0; i < stores.size(); ++i) {
    StoreChanges& c = stores[i];
    c.store = static_cast<Store>(i);
    c.points = std::move(by_store[i]);
    for (const ops::Mutation* m : c.points) c.bytes += m->key.size() + m->value.size();
    // Range deletes are few (the outbox's, dedup's): moved out of the way.
    auto ranges = std::stable_partition(c.points.begin(), c.points.end(), [](const auto* m) {
      return m->op != ops::Mutation::Op::kDeleteRange;
    });
    c.ranges.assign(ranges, c.points.end());
    c.points.erase(ranges, c.points.end());
  }
  // The largest first, so the two threads end together.
  std::vector<StoreChanges*> order;
  uint64_t total = 0;
  for (StoreChanges& c : stores) {
    if (c.points.empty() && c.ranges.empty()) continue;
    c.cost = WriteCost(c.points.size(), c.bytes);
    order.push_back(&c);
    total += c.cost;
  }
  auto by_cost = [](const StoreChanges* a, const StoreChanges* b) { return a->cost > b->cost; };
  std::sort(order.begin(), order.end(), by_cost);
  std::array<rocksdb::Status, kStoreCount> prepared;
  OnTwoThreads(order.size(), [&](size_t i) {
    prepared[static_cast<size_t>(order[i]->store)] = Prepare(*order[i]);
  });
  for (const StoreChanges* c : order) {
    const rocksdb::Status& s = prepared[static_cast<size_t>(c->store)];
    if (!s.ok()) return Translate(dir_, "commit to store " + std::string(Name(c->store)), s);
  }

  // A store holding much of the commit (a replay's threads: most of its
  // keys) is split into files of consecutive keys, so that neither thread
  // waits long for the other. Range deletes keep their store in one file:
  // files of a store must not overlap.
  const uint64_t max_piece = std::max<uint64_t>(total / 4, 1);
  std::vector<Piece> pieces;
  for (const StoreChanges* c : order) {
    const size_t n = c->points.size();
    const size_t count =
        c->ranges.empty() ? std::max<uint64_t>(1, (c->cost + max_piece - 1) / max_piece) : 1;
    for (size_t k = 0; k < count; ++k) {
      Piece piece;
      piece.changes = c;
      piece.begin = n * k / count;
      piece.end = n * (k + 1) / count;
      piece.ranges =
          k + 1 == count && std::any_of(c->ranges.begin(), c->ranges.end(),
                                        [](const auto* r) { return r->key != r->value; });
      piece.cost = c->cost / count;
      if (piece.begin == piece.end && !piece.ranges) continue;  // nothing to write
      piece.path = files_->dir + "/" + std::to_string(files_->next++) + "-" +
                   std::string(Name(c->store)) + ".sst";
      pieces.push_back(std::move(piece));
    }
  }
  std::vector<Piece*> by_piece_cost;
  for (Piece& piece : pieces) by_piece_cost.push_back(&piece);
  std::stable_sort(by_piece_cost.begin(), by_piece_cost.end(),
                   [](const Piece* a, const Piece* b) { return a->cost > b->cost; });
  OnTwoThreads(by_piece_cost.size(), [&](size_t i) {
    Piece& piece = *by_piece_cost[i];
    const auto index = static_cast<size_t>(piece.changes->store);
    piece.status = WriteFile(files_->writer_options[index], handles_[index], piece);
  });

  auto remove_files = [&] {
    std::error_code ec;
    for (const Piece& piece : pieces) std::filesystem::remove(piece.path, ec);
  };
  std::vector<rocksdb::IngestExternalFileArg> args;
  for (const Piece& piece : pieces) {
    if (!piece.status.ok()) {
      remove_files();
      return Translate(dir_, "commit to store " + std::string(Name(piece.changes->store)),
                       piece.status);
    }
    // A store's files are consecutive in `pieces`, in key order.
    auto* cf = handles_[static_cast<size_t>(piece.changes->store)];
    if (args.empty() || args.back().column_family != cf) {
      rocksdb::IngestExternalFileArg arg;
      arg.column_family = cf;
      arg.options.move_files = true;           // a link, not a copy
      arg.options.write_global_seqno = false;  // kept in the MANIFEST, not written into the file
      args.push_back(std::move(arg));
    }
    args.back().external_files.push_back(piece.path);
  }
  if (args.empty()) return Status::Ok();
  CrashPoint("commit.before_write");
  // All stores' files or none, recorded in one MANIFEST write.
  rocksdb::Status s = db_->IngestExternalFiles(args);
  if (!s.ok()) {
    remove_files();
    return Translate(dir_, "commit failed", s);
  }
  CrashPoint("commit.after_write");
  return Status::Ok();
}

}  // namespace chorus
