#include "net/https_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/ssl.h>

#include "common/fd_passing.h"
#include "net/beast_websocket.h"

namespace porthole::net {
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

Error ConnectionError(const Url& url, std::string_view what, const beast::error_code& ec) {
  return MakeError("ConnectionError", "Could not connect to the endpoint URL: \"" + url.scheme + "://" +
                                          url.HostHeader() + url.target + "\" (" + std::string(what) + ": " +
                                          ec.message() + ")",
                   0);
}

// Only IP literals and "localhost": no resolver (see header).
Result<tcp::endpoint> EndpointFor(const Url& url) {
  std::string host = url.host == "localhost" ? "127.0.0.1" : url.host;
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    return MakeError("InvalidParameterException",
                     "endpoint host must be an IP address or localhost, got '" + url.host + "'");
  return tcp::endpoint(address, url.port);
}

// A TCP connection from the dialer at `path` (node/agent_socket.h): ask,
// then take the socket it sends. Bounded by `timeout` as a connect is.
asio::awaitable<Result<int>> DialThrough(asio::any_io_executor ex, const std::string& path, const Url& url,
                                         std::chrono::seconds timeout) {
  using local = asio::local::stream_protocol;
  auto socket = std::make_shared<local::socket>(ex);
  asio::steady_timer deadline(ex, timeout);
  deadline.async_wait([socket](const beast::error_code& ec) {
    beast::error_code ignored;
    if (!ec) socket->close(ignored);  // whatever is pending fails with operation_aborted
  });
  struct CancelOnExit {
    asio::steady_timer& t;
    ~CancelOnExit() { t.cancel(); }
  } cancel{deadline};
  auto [cec] = co_await socket->async_connect(local::endpoint(path), kUseTuple);
  if (cec) co_return ConnectionError(url, "connect to the node's dialer " + path, cec);
  auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer("dial", 4), kUseTuple);
  if (wec) co_return ConnectionError(url, "ask the node's dialer", wec);
  for (;;) {
    auto [rec] = co_await socket->async_wait(local::socket::wait_read, kUseTuple);
    if (rec) co_return ConnectionError(url, "the node's dialer", rec);
    auto message = ReceiveWithFd(socket->native_handle());
    if (!message && message.error().code == "WouldBlock") continue;
    if (!message) co_return MakeError("ConnectionError", "the node's dialer: " + message.error().message, 0);
    if (message->text == "ok" && message->fd >= 0) co_return message->fd;
    if (message->fd >= 0) ::close(message->fd);
    co_return MakeError("ConnectionError", "Could not connect to the endpoint URL: \"" + url.scheme + "://" +
                                               url.HostHeader() + "\" (the node's dialer: " + message->text + ")",
                        0);
  }
}

asio::awaitable<Result<std::unique_ptr<TlsStream>>> ConnectTls(asio::any_io_executor ex, const Url& url,
                                                                  std::shared_ptr<TlsContext> tls,
                                                                  std::chrono::seconds timeout,
                                                                  const std::string& dial_socket) {
  auto endpoint = EndpointFor(url);
  if (!endpoint) co_return endpoint.error();
  auto stream = std::make_unique<TlsStream>(beast::tcp_stream(ex), tls->native_handle());
  beast::get_lowest_layer(*stream).expires_after(timeout);
  if (dial_socket.empty()) {
    auto [cec] = co_await beast::get_lowest_layer(*stream).async_connect(*endpoint, kUseTuple);
    if (cec) co_return ConnectionError(url, "connect", cec);
  } else {
    auto fd = co_await DialThrough(ex, dial_socket, url, timeout);
    if (!fd) co_return fd.error();
    beast::error_code aec;
    beast::get_lowest_layer(*stream).socket().assign(endpoint->protocol(), *fd, aec);
    if (aec) {
      ::close(*fd);
      co_return ConnectionError(url, "adopt the dialed socket", aec);
    }
    beast::get_lowest_layer(*stream).expires_after(timeout);
  }
  // Interactive traffic is many small frames: no Nagle delay.
  beast::error_code nodelay_ec;
  beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true), nodelay_ec);
  SSL* ssl = stream->native_handle();
  beast::error_code ignored;
  asio::ip::make_address(url.host, ignored);
  if (ignored) SSL_set_tlsext_host_name(ssl, url.host.c_str());  // SNI only for names
  // Verify the certificate against the host (DNS name or IP literal).
  SSL_set1_host(ssl, url.host == "localhost" ? "localhost" : url.host.c_str());
  auto [hec] = co_await stream->async_handshake(TlsStream::kClient, kUseTuple);
  if (hec) co_return ConnectionError(url, "TLS handshake", hec);
  co_return std::move(stream);
}

}  // namespace

asio::awaitable<Result<HttpResponse>> HttpsRequest(asio::any_io_executor ex, const Url& url, HttpRequest request,
                                                   std::shared_ptr<TlsContext> tls, std::chrono::seconds timeout) {
  auto connected = co_await ConnectTls(ex, url, tls, timeout, "");
  if (!connected) co_return connected.error();
  auto& stream = **connected;

  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (const auto& [k, v] : request.headers) req.insert(k, v);
  req.body() = request.body;
  req.prepare_payload();
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(stream, req, kUseTuple);
  if (wec) co_return ConnectionError(url, "write", wec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (rec) co_return ConnectionError(url, "read", rec);
  auto& res = parser.get();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(kUseTuple);
  co_return out;
}

Result<HttpResponse> HttpsRequestSync(const Url& url, HttpRequest request, std::shared_ptr<TlsContext> tls,
                                      std::chrono::seconds timeout, const std::atomic<bool>* cancel) {
  asio::io_context ioc;
  std::optional<Result<HttpResponse>> result;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        result.emplace(co_await HttpsRequest(ioc.get_executor(), url, std::move(request), std::move(tls), timeout));
        ioc.stop();  // the cancel watch below has nothing left to do
      },
      asio::detached);
  if (cancel)
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer tick(ioc);
          while (!*cancel) {
            tick.expires_after(std::chrono::milliseconds(100));
            co_await tick.async_wait(asio::use_awaitable);
          }
          ioc.stop();  // what is left of the request is destroyed with ioc
        },
        asio::detached);
  ioc.run();
  if (!result) return MakeError("ConnectionError", cancel && *cancel ? "the request was cancelled" : "request did not complete", 0);
  return std::move(*result);
}

asio::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocket(
    asio::any_io_executor ex, const Url& url, std::vector<std::pair<std::string, std::string>> headers,
    std::shared_ptr<TlsContext> tls, std::chrono::seconds timeout, const std::string& dial_socket) {
  auto connected = co_await ConnectTls(ex, url, tls, timeout, dial_socket);
  if (!connected) co_return connected.error();
  auto ws = std::make_shared<BeastWebSocket>(BeastWsStream(std::move(**connected)));
  beast::get_lowest_layer(ws->stream()).expires_never();
  auto t = beast::websocket::stream_base::timeout::suggested(beast::role_type::client);
  t.handshake_timeout = timeout;
  ws->stream().set_option(t);
  // A client masks what it sends (RFC 6455 §5.3), and Beast masks a message in
  // chunks of its write buffer, each chunk one TLS record and one send: with
  // the default 4 KiB a 64 KiB output message took 16 of each. The buffer's
  // pages are touched only as large messages use them.
  ws->stream().write_buffer_bytes(kClientWriteBufferBytes);
  ws->stream().set_option(beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& req) {
    req.set(http::field::user_agent, "porthole/" PORTHOLE_VERSION);
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  beast::websocket::response_type response;
  auto [ec] = co_await ws->stream().async_handshake(response, url.HostHeader(), url.target,
                                                    kUseTuple);
  if (ec) {
    std::string why = ec.message();
    if (response.result_int() != 0) why += " (HTTP " + std::to_string(response.result_int()) + ")";
    co_return MakeError("ConnectionError", "WebSocket upgrade to " + url.HostHeader() + url.target + " failed: " + why, 0);
  }
  co_return std::shared_ptr<WebSocket>(ws);
}

}  // namespace porthole::net
