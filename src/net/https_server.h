#pragma once
// One TLS listener serving HTTP/1.1 requests and WebSocket upgrades, one
// coroutine per connection, with a bounded request size and timeouts.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "net/http.h"
#include "net/tls.h"
#include "net/websocket.h"

namespace porthole::net {

struct RequestContext {
  std::string peer_ip;
  bool secure = true;
};

using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest, RequestContext)>;
// Called after the upgrade completed: the request is the upgrade request.
using WebSocketHandler =
    std::function<boost::asio::awaitable<void>(HttpRequest, RequestContext, std::shared_ptr<WebSocket>)>;

// Limits before authentication: what a peer that never authenticates can hold.
struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  size_t max_body_bytes = 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;
  // Open connections of every kind; beyond this a new one is closed at once.
  size_t max_connections = 16384;
  // Connections from one address that have not yet sent a complete first
  // request (TLS handshake and headers). A new one beyond this drops the
  // oldest, so idle or slow connections cannot lock an address (or a NAT's
  // users) out, and cost at most this many descriptors per address.
  size_t max_pending_per_source = 64;
  // The TLS handshake and the first request must be done within this.
  std::chrono::seconds first_request_timeout{10};
  // Request targets where a WebSocket upgrade is allowed (the gateway's);
  // an upgrade elsewhere is answered 400. Empty: nowhere.
  std::function<bool(const std::string& target)> websocket_paths;
};

class HttpsServer {
 public:
  // Binds now so that the caller can print the bound port before serving.
  static Result<std::unique_ptr<HttpsServer>> Bind(boost::asio::any_io_executor executor,
                                                   std::shared_ptr<TlsContext> tls, HttpsServerOptions options,
                                                   HttpHandler http, WebSocketHandler websocket);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  // Starts accepting (spawns the accept loop on the executor).
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

}  // namespace porthole::net
