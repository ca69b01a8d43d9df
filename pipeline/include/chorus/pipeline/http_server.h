// A small HTTP server (civetweb underneath) that routes GET requests by
// path prefix to handlers. Handlers run on the server's worker threads and
// must only read thread-safe state (committed snapshots, the state store).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chorus/pipeline/status.h"

struct mg_context;
struct mg_connection;

namespace chorus {

struct HttpRequest {
  std::string method;
  std::string path;   // decoded, without the query string
  std::string query;  // raw, without '?'
  // The decoded value of query parameter `name`, or "" if absent.
  std::string Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpRoute {
  std::string prefix;  // "/metrics" matches exactly; "/api/v1/members/" matches below it
  bool exact = true;
  std::function<HttpResponse(const HttpRequest&)> handler;
};

class HttpServer {
 public:
  ~HttpServer();
  // Listens on `address` ("host:port"; port 0 picks a free one).
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                   std::vector<HttpRoute> routes);
  int port() const { return port_; }
  const std::string& host() const { return host_; }

 private:
  HttpServer() = default;
  static int Dispatch(mg_connection* conn, void* self);

  mg_context* ctx_ = nullptr;
  std::vector<HttpRoute> routes_;
  std::string host_;
  int port_ = 0;
};

// Splits "host:port" (also "[v6]:port" and ":port"); false if malformed.
bool SplitHostPort(const std::string& address, std::string& host, int& port);

}  // namespace chorus
