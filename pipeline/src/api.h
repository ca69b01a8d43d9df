// The HTTP routes: /metrics, /healthz, /readyz and the JSON query API over
// members and channels. Everything served is committed state: the snapshot
// of the last commit, or RocksDB reads.
#pragma once

#include <vector>

#include "chorus/pipeline/http_server.h"
#include "chorus/pipeline/metrics.h"
#include "chorus/pipeline/processor.h"
#include "chorus/pipeline/state_store.h"

namespace chorus {

// The references must outlive the server that uses the routes.
std::vector<HttpRoute> ApiRoutes(const Processor& processor, const StateStore& store,
                                 const MetricsExporter& metrics);

}  // namespace chorus
