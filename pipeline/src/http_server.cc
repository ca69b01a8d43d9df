#include "chorus/pipeline/http_server.h"

#include <civetweb.h>

#include <charconv>
#include <exception>
#include <mutex>

namespace chorus {
namespace {

std::string UrlDecode(std::string_view s) {
  std::string out(s.size() + 1, '\0');
  int n = mg_url_decode(s.data(), static_cast<int>(s.size()), out.data(),
                        static_cast<int>(out.size()), /*is_form_url_encoded=*/1);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

std::string HttpRequest::Param(const std::string& name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    if (UrlDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return "";
}

bool SplitHostPort(const std::string& address, std::string& host, int& port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view p(address);
  p.remove_prefix(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  return ec == std::errc() && end == p.data() + p.size() && port >= 0 && port <= 65535;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                      std::vector<HttpRoute> routes) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, host, port)) {
    return Status::Error("--http-addr " + address + ": expected host:port");
  }
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->routes_ = std::move(routes);
  server->host_ = host.empty() ? "0.0.0.0" : host;
  std::string listen = host.empty() ? std::to_string(port)
                       : host.find(':') != std::string::npos
                           ? "[" + host + "]:" + std::to_string(port)
                           : host + ":" + std::to_string(port);
  const char* options[] = {"listening_ports",   listen.c_str(), "num_threads", "4",
                           "enable_keep_alive", "yes",          nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  server->ctx_ = mg_start(&callbacks, nullptr, options);
  if (server->ctx_ == nullptr) {
    return Status::Error("--http-addr " + address + ": cannot listen (address in use?)");
  }
  mg_server_port ports[4];
  int n = mg_get_server_ports(server->ctx_, 4, ports);
  server->port_ = n > 0 ? ports[0].port : port;
  mg_set_request_handler(server->ctx_, "/", &HttpServer::Dispatch, server.get());
  return server;
}

int HttpServer::Dispatch(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  const mg_request_info* ri = mg_get_request_info(conn);
  HttpRequest req{ri->request_method ? ri->request_method : "", ri->local_uri ? ri->local_uri : "/",
                  ri->query_string ? ri->query_string : ""};
  HttpResponse resp{404, "application/json",
                    R"({"error":"not found"})"
                    "\n"};
  for (const HttpRoute& r : self->routes_) {
    bool match = r.exact ? req.path == r.prefix : req.path.rfind(r.prefix, 0) == 0;
    if (!match) continue;
    if (req.method != "GET" && req.method != "HEAD") {
      resp = {405, "application/json",
              R"({"error":"only GET is supported"})"
              "\n"};
      break;
    }
    // A request must never take the process down: a handler's exception
    // becomes a 500 for that request alone.
    try {
      resp = r.handler(req);
    } catch (const std::exception& e) {
      resp = {500, "application/json",
              R"({"error":"internal error"})"
              "\n"};
    }
    break;
  }
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\n\r\n",
            resp.status, StatusText(resp.status), resp.content_type.c_str(), resp.body.size());
  if (req.method != "HEAD") mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

}  // namespace chorus
