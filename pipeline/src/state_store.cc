#include "chorus/pipeline/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "chorus/pipeline/crash_point.h"
#include "state_store_internal.h"

namespace chorus {

bool OrderForWrite(std::vector<const ops::Mutation*>& mutations) {
  // Sorted as (key prefix, index) pairs: comparing keys through their heap
  // pointers took a third of a large commit's ordering. The prefix is 16
  // bytes: keys share their first 8 (partition, tag, the top of a
  // timestamp) so often that 8 left most comparisons to the keys.
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
    // The keys' bytes are scattered over the heap: fetched ahead.
    if (i + 8 < mutations.size()) __builtin_prefetch(mutations[i + 8]->key.data());
    const ops::Mutation& m = *mutations[i];
    if (m.op == ops::Mutation::Op::kDeleteRange) {
      items[i] = {~uint64_t{0}, ~uint64_t{0}, static_cast<uint32_t>(i)};
    } else {
      items[i] = {word(m.key, 0), word(m.key, 8), static_cast<uint32_t>(i)};
    }
  }
  // Two keys that end up side by side have been compared with each other,
  // so any equal pair is seen here.
  bool repeats = false;
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    const ops::Mutation& ma = *mutations[a.index];
    const ops::Mutation& mb = *mutations[b.index];
    const bool ar = ma.op == ops::Mutation::Op::kDeleteRange;
    const bool br = mb.op == ops::Mutation::Op::kDeleteRange;
    if (ar != br) return br;
    // Equal keys, and range deletes among themselves, keep their order.
    if (!ar) {
      if (int c = ma.key.compare(mb.key); c != 0) return c < 0;
      repeats |= a.index != b.index;
    }
    return a.index < b.index;
  });
  std::vector<const ops::Mutation*> ordered;
  ordered.reserve(mutations.size());
  for (const Item& item : items) ordered.push_back(mutations[item.index]);
  mutations = std::move(ordered);
  return repeats;
}

namespace {

constexpr size_t kMiB = 1024 * 1024;

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
      if (rocksdb::Status s = CheckRange(m); !s.ok()) return s;
      return batch.DeleteRange(cf, m.key, m.value);
  }
  return rocksdb::Status::InvalidArgument("unknown mutation op");
}

}  // namespace

Status Translate(const std::string& dir, std::string_view what, const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status::Error("state store " + dir + ": " + std::string(what) + ": " + s.ToString());
}

rocksdb::Status CheckRange(const ops::Mutation& m) {
  if (m.key > m.value) return rocksdb::Status::InvalidArgument("delete range begins after its end");
  return rocksdb::Status::OK();
}

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

Status StateStore::Commit(const CommitChanges& changes) {
  ByStore stores;
  for (size_t i = 0; i < stores.size(); ++i) {
    stores[i].reserve(changes[i].size());
    for (const ops::Mutation& m : changes[i]) stores[i].push_back(&m);
  }
  return options_.bulk_load ? CommitFiles(stores) : CommitBatch(stores);
}

Status StateStore::Commit(const std::vector<StoreMutation>& mutations) {
  ByStore stores;
  for (const auto& m : mutations) {
    auto index = static_cast<size_t>(m.store);
    if (index >= static_cast<size_t>(kStoreCount)) {
      return Status::Error("state store " + dir_ + ": commit names unknown store " +
                           std::to_string(index));
    }
    stores[index].push_back(&m.mutation);
  }
  return options_.bulk_load ? CommitFiles(stores) : CommitBatch(stores);
}

Status StateStore::CommitBatch(ByStore& stores) {
  // Sized once: a replay's last commit is ~70 MB, which growing by
  // doubling copied twice over.
  size_t bytes = 12;  // the batch header
  for (const auto& store : stores) {
    for (const ops::Mutation* m : store) {
      bytes += m->key.size() + m->value.size() + 16;  // tag, family, lengths
    }
  }
  rocksdb::WriteBatch batch(bytes);
  for (size_t index = 0; index < stores.size(); ++index) {
    // In key order, memtable inserts are cheap (see the memtable options).
    (void)OrderForWrite(stores[index]);  // repeated keys: the last put wins, as wanted
    for (const ops::Mutation* m : stores[index]) {
      rocksdb::Status s = AddToBatch(batch, handles_[index], *m);
      if (!s.ok()) {
        return Translate(dir_, "commit to store " + std::string(Name(static_cast<Store>(index))),
                         s);
      }
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
