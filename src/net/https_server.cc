#include "net/https_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <map>

#include "common/log.h"
#include "net/beast_websocket.h"

namespace porthole::net {
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

HttpRequest ToHttpRequest(const http::request<http::string_body>& req) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  for (const auto& field : req) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = req.body();
  return out;
}

http::response<http::string_body> ToBeastResponse(const HttpResponse& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "portholed");
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

HttpResponse JsonError(int status, std::string_view type, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  r.body = std::string("{\"__type\":\"") + std::string(type) + "\",\"message\":\"" + std::string(message) + "\"}";
  return r;
}

class Server final : public HttpsServer {
 public:
  Server(asio::any_io_executor ex, std::shared_ptr<TlsContext> tls, HttpsServerOptions options, HttpHandler http,
         WebSocketHandler ws)
      : executor_(ex), acceptor_(ex), tls_(std::move(tls)), options_(options), http_(std::move(http)),
        ws_(std::move(ws)) {}

  Status Open() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return MakeError("InvalidParameterException", "listen address must be an IP address: " + options_.host);
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return MakeError("ListenError", "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                                ": " + ec.message(), 500);
    return OkStatus();
  }

  uint16_t port() const override { return acceptor_.local_endpoint().port(); }

  void Start() override { asio::co_spawn(executor_, AcceptLoop(), asio::detached); }

  void Stop() override {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  // A connection not yet past its first request, registered by address.
  struct Pending {
    uint64_t id = 0;
    beast::tcp_stream* stream = nullptr;
  };
  using PendingList = std::list<Pending>;

  // Counts an open connection for as long as it lives.
  struct OpenGuard {
    explicit OpenGuard(size_t& n) : count(n) { ++count; }
    ~OpenGuard() { --count; }
    size_t& count;
  };

  // Registers a connection as pending for its address, dropping the oldest
  // one over the limit; Done() (or the end of the connection) deregisters it.
  class PendingGuard {
   public:
    PendingGuard(Server& server, const std::string& ip, beast::tcp_stream* stream)
        : server_(server), ip_(ip), id_(++server.next_pending_id_) {
      PendingList& list = server_.pending_[ip_];
      if (list.size() >= server_.options_.max_pending_per_source) {
        beast::error_code ignored;
        list.front().stream->socket().close(ignored);  // its coroutine sees the error and ends
        list.pop_front();
        server_.evicted_++;
      }
      list.push_back(Pending{id_, stream});
    }
    ~PendingGuard() { Done(); }
    PendingGuard(const PendingGuard&) = delete;
    PendingGuard& operator=(const PendingGuard&) = delete;
    void Done() {
      auto found = server_.pending_.find(ip_);
      if (found == server_.pending_.end()) return;
      found->second.remove_if([this](const Pending& p) { return p.id == id_; });  // gone if evicted
      if (found->second.empty()) server_.pending_.erase(found);
    }

   private:
    Server& server_;
    std::string ip_;
    uint64_t id_;
  };

  asio::awaitable<void> AcceptLoop() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted) break;
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
          // EMFILE/ENFILE: back off instead of spinning on the full table.
          log::Warn("accept: " + ec.message() + "; pausing new connections for 100 ms");
          asio::steady_timer pause(executor_, std::chrono::milliseconds(100));
          co_await pause.async_wait(kUseTuple);
        }
        continue;
      }
      if (open_ >= options_.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::co_spawn(executor_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    OpenGuard open(open_);
    RequestContext context;
    beast::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    context.peer_ip = ec ? "" : remote.address().to_string();
    // Interactive traffic is many small frames: no Nagle delay.
    socket.set_option(tcp::no_delay(true), ec);
    TlsStream stream(beast::tcp_stream(std::move(socket)), tls_->native_handle());
    PendingGuard pending(*this, context.peer_ip, &beast::get_lowest_layer(stream));
    // One deadline for the handshake and the first request.
    beast::get_lowest_layer(stream).expires_after(options_.first_request_timeout);
    auto [hec] = co_await stream.async_handshake(TlsStream::kServer, kUseTuple);
    if (hec) co_return;
    bool first = true;

    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
      if (!first) beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(120));
      auto [rec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      first = false;
      pending.Done();
      if (rec == http::error::body_limit) {
        auto res = ToBeastResponse(JsonError(413, "SerializationException",
                                             "Request body exceeds the limit of " +
                                                 std::to_string(options_.max_body_bytes) + " bytes"),
                                   11, false);
        co_await http::async_write(stream, res, kUseTuple);
        break;
      }
      if (rec == http::error::header_limit) {
        auto res = ToBeastResponse(JsonError(431, "SerializationException", "Request headers too large"), 11, false);
        co_await http::async_write(stream, res, kUseTuple);
        break;
      }
      if (rec) break;
      auto& req = parser.get();

      if (beast::websocket::is_upgrade(req) &&
          !(options_.websocket_paths && options_.websocket_paths(std::string(req.target())))) {
        auto res = ToBeastResponse(JsonError(400, "UnknownOperationException",
                                             "WebSocket upgrades are served on the gateway's paths only."),
                                   req.version(), false);
        co_await http::async_write(stream, res, kUseTuple);
        break;
      }
      if (beast::websocket::is_upgrade(req)) {
        beast::get_lowest_layer(stream).expires_never();
        auto ws = std::make_shared<BeastWebSocket>(BeastWsStream(std::move(stream)));
        ws->stream().set_option(beast::websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws->stream().set_option(beast::websocket::stream_base::decorator(
            [](beast::websocket::response_type& res) { res.set(http::field::server, "portholed"); }));
        auto [aec] = co_await ws->stream().async_accept(req, kUseTuple);
        if (aec) co_return;
        try {
          co_await ws_(ToHttpRequest(req), context, ws);
        } catch (const std::exception& e) {
          log::Error(std::string("websocket handler failed: ") + e.what());
          ws->Abort();
        }
        co_return;
      }

      bool keep_alive = req.keep_alive();
      unsigned version = req.version();
      HttpResponse response;
      try {
        response = co_await http_(ToHttpRequest(req), context);
      } catch (const std::exception& e) {
        log::Error(std::string("request handler failed: ") + e.what());
        response = JsonError(500, "ServerException", "Internal server error");
      }
      auto res = ToBeastResponse(response, version, keep_alive);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
      if (wec || !keep_alive) break;
    }
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await stream.async_shutdown(kUseTuple);
  }

  asio::any_io_executor executor_;
  tcp::acceptor acceptor_;
  std::shared_ptr<TlsContext> tls_;
  HttpsServerOptions options_;
  HttpHandler http_;
  WebSocketHandler ws_;
  size_t open_ = 0;                             // connections being served
  std::map<std::string, PendingList> pending_;  // by peer address
  uint64_t evicted_ = 0;
  uint64_t next_pending_id_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::Bind(asio::any_io_executor executor, std::shared_ptr<TlsContext> tls,
                                                      HttpsServerOptions options, HttpHandler http,
                                                      WebSocketHandler websocket) {
  auto server = std::make_unique<Server>(executor, std::move(tls), options, std::move(http), std::move(websocket));
  Status s = server->Open();
  if (!s) return s.error();
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace porthole::net
