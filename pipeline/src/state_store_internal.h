// What the state store's two files share: state_store.cc (opening, reads,
// batch commits) and state_store_bulk.cc (bulk-load commits).
#pragma once

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/operators/state.h"
#include "chorus/pipeline/state_store.h"
#include "chorus/pipeline/status.h"

namespace chorus {

// "state store /var/lib/chorus: <what>: <rocksdb's reason>"; Ok if `s` is.
Status Translate(const std::string& dir, std::string_view what, const rocksdb::Status& s);

// A range delete that begins after its end is refused, by either way of
// committing.
rocksdb::Status CheckRange(const ops::Mutation& m);

// Bulk-load commits: the files being built live in the state directory
// (ingestion links them, so they must share its file system).
struct StateStore::Files {
  std::string dir;
  std::vector<rocksdb::Options> writer_options;  // index = Store
  uint64_t next = 0;                             // names files within this process
};

}  // namespace chorus
