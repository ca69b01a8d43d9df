// A minimal HTTP/1.1 GET client over loopback and a Prometheus text-format
// reader, written independently of chorus's own code so integration tests
// check what a real scraper would see.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chorus::testing {

struct HttpReply {
  int status = 0;
  std::string body;
};

// A loopback port nobody listens on right now, for a server that cannot
// report the port it bound (Prometheus, Alertmanager).
int FreeLoopbackPort();

// GET http://127.0.0.1:port/path; nullopt if the connection fails.
std::optional<HttpReply> HttpGet(int port, const std::string& path);
// Whether GET `path` on `port` answers 200 (a readiness probe).
bool Answers200(int port, const std::string& path);

// Samples by series: `name{label="v",...}` exactly as exposed (labels in
// exposition order) -> value. Comment lines are skipped.
std::map<std::string, double> ParseMetrics(const std::string& text);

// The sum of every sample of `name` whose label set contains all of
// `labels` (each written as `key="value"`).
double SumSeries(const std::map<std::string, double>& metrics, const std::string& name,
                 const std::vector<std::string>& labels = {});

// One scrape of /metrics on `port`, parsed; nothing if it did not answer 200.
std::optional<std::map<std::string, double>> ScrapeMetrics(int port);

// Scrapes /metrics on `port` every `interval` until `done` holds for the
// parsed samples; false if `timeout` passes first. `metrics` holds the last
// scrape either way.
bool WaitForMetrics(int port, const std::function<bool(const std::map<std::string, double>&)>& done,
                    std::map<std::string, double>& metrics, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds interval = std::chrono::milliseconds(100));

// Scrapes /metrics on `port` until `processed` records are counted as
// processed and the watermark has reached `watermark_ms`; false if
// `timeout` passes first. `metrics` holds the last scrape either way.
bool WaitUntilProcessed(int port, double processed, int64_t watermark_ms,
                        std::map<std::string, double>& metrics, std::chrono::milliseconds timeout);

// The finite `le` bounds of histogram `name` as scraped, ascending, for
// counting expectations bucket by bucket.
std::vector<double> HistogramBounds(const std::map<std::string, double>& metrics,
                                    const std::string& name);
// The label selecting bound `b` of a histogram (`le="b"`).
std::string LeLabel(double b);

}  // namespace chorus::testing
