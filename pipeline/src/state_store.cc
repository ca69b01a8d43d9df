#include "chorus/pipeline/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "chorus/pipeline/crash_point.h"

namespace chorus {

void OrderForWrite(ops::Mutations& mutations) {
  // Sorted as (key prefix, index) pairs, then moved once: sorting the
  // mutations themselves moved each many times and compared keys through
  // their heap pointers, which took a third of a large commit's drain. The
  // prefix is 16 bytes: keys share their first 8 (partition, tag, the top of
  // a timestamp) so often that 8 left most comparisons to the keys.
  struct Item {
    uint64_t high;  // the key's first 8 bytes, big-endian; ~0 for a range delete
    uint64_t low;   // the next 8
    uint32_t index;
  };
  auto word = [](const std::string& key, size_t from) {
    uint64_t w = 0;
    for (size_t b = from; b < from + 8; ++b) {
      w = w << 8 | (b < key.size() ? static_cast<uint8_t>(key[b]) : 0);
    }
    return w;
  };
  std::vector<Item> items(mutations.size());
  for (size_t i = 0; i < mutations.size(); ++i) {
    const ops::Mutation& m = mutations[i];
    if (m.op == ops::Mutation::Op::kDeleteRange) {
      items[i] = {~uint64_t{0}, ~uint64_t{0}, static_cast<uint32_t>(i)};
    } else {
      items[i] = {word(m.key, 0), word(m.key, 8), static_cast<uint32_t>(i)};
    }
  }
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    const ops::Mutation& ma = mutations[a.index];
    const ops::Mutation& mb = mutations[b.index];
    const bool ar = ma.op == ops::Mutation::Op::kDeleteRange;
    const bool br = mb.op == ops::Mutation::Op::kDeleteRange;
    if (ar != br) return br;
    // Equal keys, and range deletes among themselves, keep their order.
    if (!ar) {
      if (int c = ma.key.compare(mb.key); c != 0) return c < 0;
    }
    return a.index < b.index;
  });
  ops::Mutations ordered;
  ordered.reserve(mutations.size());
  for (const Item& item : items) ordered.push_back(std::move(mutations[item.index]));
  mutations = std::move(ordered);
}
namespace {

constexpr size_t kMiB = 1024 * 1024;

// "state store /var/lib/chorus: <what>: <rocksdb's reason>".
Status Translate(const std::string& dir, std::string_view what, const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status::Error("state store " + dir + ": " + std::string(what) + ": " + s.ToString());
}

bool Supported(rocksdb::CompressionType type) {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

// Commits are a few MB of mostly-sorted keys; the working state lives in
// memory, so reads are the restore scan at start and the occasional API
// lookup. The options favour cheap writes and sequential reads.
rocksdb::DBOptions MakeDbOptions() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;  // flush + compaction; the processing thread owns the CPU
  // Every commit writes the meta store too, so its small memtable pins the
  // WAL; a total cap forces it to flush rather than let the WAL grow to
  // the sum of all write buffers.
  o.max_total_wal_size = 256 * kMiB;
  o.db_write_buffer_size = 256 * kMiB;  // bound memtables across all stores
  o.bytes_per_sync = 1 * kMiB;          // smooth SST writeback, no fsync storms
  o.keep_log_file_num = 5;
  o.max_log_file_size = 16 * kMiB;
  return o;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(Store store,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 64 * kMiB;
  o.max_write_buffer_number = 2;
  o.level_compaction_dynamic_level_bytes = true;  // stable space amplification
  // A commit inserts each store's keys in sorted order; with the partition
  // and record tag (5 bytes) as the hint prefix, each insert starts where
  // the previous one of its prefix ended instead of at the skiplist's top.
  // The window stores' keys have no such prefix (RocksDB 7.8's hinted
  // insert also trips its skiplist's assertions on them).
  if (store != Store::kOutbox && store != Store::kWindows) {
    o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(5));
  }
  // LZ4 is nearly free on write; the coldest level, rewritten rarely, can
  // afford zstd's better ratio.
  o.compression =
      Supported(rocksdb::kLZ4Compression) ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  if (Supported(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  // Debian's RocksDB is built for baseline x86-64 and computes the default
  // CRC32C in software; XXH3 checks blocks as well at a fraction of the cost.
  t.checksum = rocksdb::kXXH3;
  t.block_size = 16 * 1024;  // scans dominate reads; bigger blocks compress better
  // Member lookups by id come from the HTTP API for members that may not
  // exist; a bloom filter answers those without touching data blocks.
  if (store == Store::kMembers) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

// The smallest string greater than every string that starts with `prefix`,
// or empty if there is none (the prefix is empty or all 0xff).
std::string PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return s;
}

// Adds one mutation to `batch`, rejecting what RocksDB would misapply.
rocksdb::Status AddToBatch(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf,
                           const ops::Mutation& m) {
  using Op = ops::Mutation::Op;
  switch (m.op) {
    case Op::kPut:
      return batch.Put(cf, m.key, m.value);
    case Op::kDelete:
      return batch.Delete(cf, m.key);
    case Op::kDeleteRange:
      if (m.key == m.value) return rocksdb::Status::OK();  // empty range
      if (m.key > m.value) {
        return rocksdb::Status::InvalidArgument("delete range begins after its end");
      }
      return batch.DeleteRange(cf, m.key, m.value);
  }
  return rocksdb::Status::InvalidArgument("unknown mutation op");
}

// One store's share of a bulk commit.
struct StoreChanges {
  Store store = Store::kMeta;
  std::vector<const ops::Mutation*> points;  // puts and deletes
  std::vector<const ops::Mutation*> ranges;  // range deletes
  size_t bytes = 0;
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
  bool ascending = true;  // drained stores come so; the meta store's few keys may not
  for (size_t i = 1; ascending && i < p.size(); ++i) {
    if (i + 8 < p.size()) __builtin_prefetch(p[i + 8]->key.data());
    ascending = p[i - 1]->key < p[i]->key;
  }
  if (!ascending) {
    auto by_key = [](const ops::Mutation* a, const ops::Mutation* b) { return a->key < b->key; };
    std::stable_sort(p.begin(), p.end(), by_key);
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
    if (r->key > r->value) {
      return rocksdb::Status::InvalidArgument("delete range begins after its end");
    }
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

// Bulk-load commits: the files being built live in the state directory
// (ingestion links them, so they must share its file system).
struct StateStore::Files {
  std::string dir;
  std::vector<rocksdb::Options> writer_options;  // index = Store
  uint64_t next = 0;                             // names files within this process
};

std::string_view Name(Store s) {
  static constexpr std::array<std::string_view, kStoreCount> kNames = {
      "meta", "channels", "members", "dedup", "threads", "outbox", "windows", "posts"};
  auto i = static_cast<size_t>(s);
  return i < kNames.size() ? kNames[i] : "unknown";
}

StateStore::~StateStore() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  // Every commit was synced, so a failed close loses nothing durable.
  db_->Close().PermitUncheckedError();
  if (files_) {
    // Empty unless a commit failed; left for the next Open() otherwise.
    std::error_code ec;
    std::filesystem::remove(files_->dir, ec);
  }
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir,
                                                     StateStoreOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Error("state store " + dir + ": cannot create directory: " + ec.message());

  rocksdb::DBOptions db_options = MakeDbOptions();
  auto cache = rocksdb::NewLRUCache(32 * kMiB);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (int i = 0; i < kStoreCount; ++i) {
    auto store = static_cast<Store>(i);
    families.emplace_back(std::string(Name(store)), MakeCfOptions(store, cache));
  }
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  // RocksDB refuses to open a database without naming all its families;
  // open any a newer version added too, so a downgrade still starts.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const auto& name : existing) {
      bool known = std::any_of(families.begin(), families.end(),
                               [&](const auto& f) { return f.name == name; });
      if (!known) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  std::unique_ptr<StateStore> store(new StateStore());
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, families, &store->handles_, &db);
  if (!s.ok()) return Translate(dir, "open failed", s);
  store->db_.reset(db);
  store->dir_ = dir;
  store->options_ = options;

  // Files a bulk commit was building when its process died were never
  // ingested: nothing refers to them. Removed only now that the database's
  // lock is held, so never under a running chorus.
  const std::string files_dir = (std::filesystem::path(dir) / "ingest").string();
  std::filesystem::remove_all(files_dir, ec);
  if (ec)
    return Status::Error("state store " + dir + ": cannot clear " + files_dir + ": " +
                         ec.message());
  if (options.bulk_load) {
    std::filesystem::create_directories(files_dir, ec);
    if (ec)
      return Status::Error("state store " + dir + ": cannot create " + files_dir + ": " +
                           ec.message());
    auto files = std::make_unique<Files>();
    files->dir = files_dir;
    for (int i = 0; i < kStoreCount; ++i) {
      rocksdb::Options o(db_options, families[i].options);
      // A writer compresses as the bottommost level would (zstd, ~4x slower
      // than LZ4 here); its files go wherever they fit, so LZ4 like a flush.
      o.bottommost_compression = rocksdb::kDisableCompressionOption;
      files->writer_options.push_back(std::move(o));
    }
    store->files_ = std::move(files);
  }
  return store;
}

Status StateStore::Commit(const std::vector<StoreMutation>& mutations) {
  for (const auto& m : mutations) {
    auto index = static_cast<size_t>(m.store);
    if (index >= static_cast<size_t>(kStoreCount)) {
      return Status::Error("state store " + dir_ + ": commit names unknown store " +
                           std::to_string(index));
    }
  }
  return options_.bulk_load ? CommitFiles(mutations) : CommitBatch(mutations);
}

Status StateStore::CommitBatch(const std::vector<StoreMutation>& mutations) {
  // Sized once: a replay's last commit is ~70 MB, which growing by
  // doubling copied twice over.
  size_t bytes = 12;  // the batch header
  for (const auto& m : mutations) {
    bytes += m.mutation.key.size() + m.mutation.value.size() + 16;  // tag, family, lengths
  }
  rocksdb::WriteBatch batch(bytes);
  for (const auto& m : mutations) {
    auto index = static_cast<size_t>(m.store);
    rocksdb::Status s = AddToBatch(batch, handles_[index], m.mutation);
    if (!s.ok()) {
      return Translate(dir_, "commit to store " + std::string(Name(m.store)), s);
    }
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  CrashPoint("commit.before_write");
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return Translate(dir_, "commit failed", s);
  CrashPoint("commit.after_write");
  return Status::Ok();
}

Status StateStore::CommitFiles(const std::vector<StoreMutation>& mutations) {
  std::array<StoreChanges, kStoreCount> stores;
  for (int i = 0; i < kStoreCount; ++i) stores[i].store = static_cast<Store>(i);
  for (const auto& m : mutations) {
    StoreChanges& c = stores[static_cast<size_t>(m.store)];
    (m.mutation.op == ops::Mutation::Op::kDeleteRange ? c.ranges : c.points).push_back(&m.mutation);
    c.bytes += m.mutation.key.size() + m.mutation.value.size();
  }
  // The largest first, so the two threads end together.
  std::vector<StoreChanges*> order;
  uint64_t total = 0;
  for (StoreChanges& c : stores) {
    if (c.points.empty() && c.ranges.empty()) continue;
    order.push_back(&c);
    total += WriteCost(c.points.size(), c.bytes);
  }
  auto by_cost = [](const StoreChanges* a, const StoreChanges* b) {
    return WriteCost(a->points.size(), a->bytes) > WriteCost(b->points.size(), b->bytes);
  };
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
    const uint64_t cost = WriteCost(n, c->bytes);
    const size_t count =
        c->ranges.empty() ? std::max<uint64_t>(1, (cost + max_piece - 1) / max_piece) : 1;
    for (size_t k = 0; k < count; ++k) {
      Piece piece;
      piece.changes = c;
      piece.begin = n * k / count;
      piece.end = n * (k + 1) / count;
      piece.ranges =
          k + 1 == count && std::any_of(c->ranges.begin(), c->ranges.end(),
                                        [](const auto* r) { return r->key != r->value; });
      piece.cost = cost / count;
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

Result<std::optional<std::string>> StateStore::Get(Store store, std::string_view key) const {
  auto index = static_cast<size_t>(store);
  if (index >= static_cast<size_t>(kStoreCount)) {
    return Status::Error("state store " + dir_ + ": get from unknown store");
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[index], key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Translate(dir_, "get from store " + std::string(Name(store)), s);
  return std::optional<std::string>(std::move(value));
}

Status StateStore::Scan(
    Store store, std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& fn) const {
  auto index = static_cast<size_t>(store);
  if (index >= static_cast<size_t>(kStoreCount)) {
    return Status::Error("state store " + dir_ + ": scan of unknown store");
  }
  // The upper bound lets RocksDB stop at the prefix's end instead of
  // stepping over tombstones beyond it.
  std::string upper = PrefixSuccessor(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // a scan reads each block once
  if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handles_[index]));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!key.starts_with(prefix)) break;  // only reachable without an upper bound
    if (!fn(key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  return Translate(dir_, "scan of store " + std::string(Name(store)), it->status());
}

uint64_t StateStore::ApproximateBytes(Store store) const {
  auto index = static_cast<size_t>(store);
  if (index >= static_cast<size_t>(kStoreCount)) return 0;
  uint64_t total = 0;
  for (const char* property : {"rocksdb.total-sst-files-size", "rocksdb.cur-size-all-mem-tables"}) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handles_[index], property, &value)) total += value;
  }
  return total;
}

StateHealth StateStore::Health() const {
  StateHealth h;
  for (int i = 0; i < kStoreCount; ++i) {
    h.bytes[i] = ApproximateBytes(static_cast<Store>(i));
    uint64_t v = 0;
    if (db_->GetIntProperty(handles_[i], "rocksdb.estimate-pending-compaction-bytes", &v)) {
      h.pending_compaction_bytes += v;
    }
  }
  uint64_t v = 0;
  if (db_->GetIntProperty("rocksdb.is-write-stopped", &v)) h.write_stopped = v != 0;
  if (db_->GetIntProperty("rocksdb.actual-delayed-write-rate", &v)) h.delayed_write_rate = v;
  return h;
}

Status StateStore::Flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> stores(handles_.begin(),
                                                   handles_.begin() + kStoreCount);
  return Translate(dir_, "flush failed", db_->Flush(rocksdb::FlushOptions(), stores));
}

}  // namespace chorus
