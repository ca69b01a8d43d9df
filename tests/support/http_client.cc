#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "support/process.h"

namespace chorus::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::optional<HttpReply> HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) return std::nullopt;
  HttpReply reply;
  reply.status = std::stoi(raw.substr(9, 3));
  reply.body = raw.substr(header_end + 4);
  return reply;
}

bool Answers200(int port, const std::string& path) {
  auto r = HttpGet(port, path);
  return r && r->status == 200;
}

std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    // The value follows the last space outside the label braces.
    size_t close = line.rfind('}');
    size_t space = line.find(' ', close == std::string::npos ? 0 : close);
    if (space == std::string::npos) continue;
    std::string series = line.substr(0, space);
    std::string value = line.substr(space + 1);
    size_t ts = value.find(' ');
    if (ts != std::string::npos) value.resize(ts);
    out[series] = value == "+Inf" ? 1e308 : std::stod(value);
  }
  return out;
}

double SumSeries(const std::map<std::string, double>& metrics, const std::string& name,
                 const std::vector<std::string>& labels) {
  double sum = 0;
  for (const auto& [series, value] : metrics) {
    if (series.compare(0, name.size(), name) != 0) continue;
    if (series.size() > name.size() && series[name.size()] != '{') continue;
    bool all = true;
    for (const auto& l : labels) {
      if (series.find(l) == std::string::npos) all = false;
    }
    if (all) sum += value;
  }
  return sum;
}

std::optional<std::map<std::string, double>> ScrapeMetrics(int port) {
  auto r = HttpGet(port, "/metrics");
  if (!r || r->status != 200) return std::nullopt;
  return ParseMetrics(r->body);
}

bool WaitForMetrics(int port, const std::function<bool(const std::map<std::string, double>&)>& done,
                    std::map<std::string, double>& metrics, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds interval) {
  return WaitFor(
      [&] {
        auto m = ScrapeMetrics(port);
        if (!m) return false;
        metrics = std::move(*m);
        return done(metrics);
      },
      timeout, interval);
}

bool WaitUntilProcessed(int port, double processed, int64_t watermark_ms,
                        std::map<std::string, double>& metrics, std::chrono::milliseconds timeout) {
  return WaitForMetrics(
      port,
      [&](const std::map<std::string, double>& m) {
        return SumSeries(m, "chorus_pipeline_events_total", {"outcome=\"processed\""}) ==
                   processed &&
               SumSeries(m, "chorus_pipeline_watermark_timestamp_seconds") >=
                   static_cast<double>(watermark_ms) / 1000;
      },
      metrics, timeout, std::chrono::milliseconds(200));
}

std::vector<double> HistogramBounds(const std::map<std::string, double>& metrics,
                                    const std::string& name) {
  std::vector<double> out;
  std::regex le("le=\"([^\"]+)\"");
  for (const auto& [series, v] : metrics) {
    if (series.rfind(name + "_bucket{", 0) != 0) continue;
    std::smatch match;
    if (std::regex_search(series, match, le) && match[1] != "+Inf") {
      double b = std::stod(match[1]);
      if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string LeLabel(double b) {
  std::ostringstream s;
  s << b;
  return "le=\"" + s.str() + "\"";
}

}  // namespace chorus::testing
