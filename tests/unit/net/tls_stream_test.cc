// The TLS stream under every connection (net/tls_stream.h), through the
// public net API: an HttpsServer and its clients on loopback, one event loop.
// Sizes are chosen around the stream's edges: a record (16 KiB), its read
// buffer's smallest and largest size (4 and 64 KiB), Asio's 64 KiB write
// limit and the stream's 256 KiB per write. ASan checks its buffers in CI.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/files.h"
#include "net/https_client.h"
#include "net/https_server.h"
#include "net/tls.h"
#include "../temp_dir.h"

namespace porthole::net {
namespace {

namespace asio = boost::asio;

// Bytes that differ at every position, so a dropped, repeated or reordered
// piece shows; letters only for a text message (which must be UTF-8).
std::string Pattern(size_t size, unsigned seed, bool text = false) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = text ? static_cast<char>('a' + (x >> 24) % 26) : static_cast<char>(x >> 24);
  }
  return s;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(EnsureServerCertificates(dir_.path(), {"127.0.0.1"}, {"localhost"}).ok());
    auto server_tls = TlsContext::ForServer(dir_ / "server.pem", dir_ / "server.key");
    ASSERT_TRUE(server_tls.ok());
    auto ca = ReadFile(dir_ / "ca.pem");
    ASSERT_TRUE(ca.has_value());
    auto client_tls = TlsContext::ForClient(*ca);
    ASSERT_TRUE(client_tls.ok());
    client_tls_ = *client_tls;

    HttpsServerOptions options;
    options.max_body_bytes = 8 * 1024 * 1024;
    options.websocket_paths = [](const std::string& target) { return target == "/echo"; };
    auto server = HttpsServer::Bind(
        ioc_.get_executor(), *server_tls, options,
        // HTTP: the body back, reversed (so an echo of the request is not enough).
        [](HttpRequest request, RequestContext) -> asio::awaitable<HttpResponse> {
          HttpResponse response;
          response.status = 200;
          response.body.assign(request.body.rbegin(), request.body.rend());
          co_return response;
        },
        // WebSocket: every message back, then the close when the client closes.
        [this](HttpRequest, RequestContext, std::shared_ptr<WebSocket> ws) -> asio::awaitable<void> {
          ws->SetMaxMessageBytes(1024 * 1024);
          while (auto m = co_await ws->Read()) ws->Send(std::move(m->data), m->binary);
          server_saw_close_ = true;
        });
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    server_->Start();
  }

  Url At(const std::string& target) {
    auto url = ParseUrl("https://127.0.0.1:" + std::to_string(server_->port()) + target);
    EXPECT_TRUE(url.ok());
    return *url;
  }

  // Runs `body` on the loop until it returns.
  void Run(std::function<asio::awaitable<void>()> body) {
    bool finished = false;
    asio::co_spawn(
        ioc_,
        [&]() -> asio::awaitable<void> {
          co_await body();
          finished = true;
          server_->Stop();
        },
        asio::detached);
    ioc_.run_for(std::chrono::seconds(60));
    EXPECT_TRUE(finished) << "timed out";
  }

  testing::TempDir dir_;
  asio::io_context ioc_;
  std::shared_ptr<TlsContext> client_tls_;
  std::unique_ptr<HttpsServer> server_;
  bool server_saw_close_ = false;
};

TEST_F(TlsStreamTest, WebSocketMessagesOfEverySizeComeBackWhole) {
  const std::vector<size_t> sizes = {1, 2, 125, 126, 1023, 1024, 4095, 4096, 4097, 16383, 16384, 16385,
                                     65412, 65531, 65536, 65537, 200000, 262144, 262145, 1024 * 1024};
  Run([&]() -> asio::awaitable<void> {
    auto ws = co_await ConnectWebSocket(ioc_.get_executor(), At("/echo"), {}, client_tls_, std::chrono::seconds(10));
    EXPECT_TRUE(ws.ok()) << (ws.ok() ? "" : ws.error().message);
    if (!ws.ok()) co_return;
    (*ws)->SetMaxMessageBytes(1024 * 1024);
    // All sent before any is read: the writes queue behind one another and
    // the replies arrive interleaved with them.
    for (size_t i = 0; i < sizes.size(); ++i) (*ws)->Send(Pattern(sizes[i], i, i % 2 == 1), i % 2 == 0);
    for (size_t i = 0; i < sizes.size(); ++i) {
      auto m = co_await (*ws)->Read();
      EXPECT_TRUE(m.has_value()) << "message " << i;
      if (!m) co_return;
      EXPECT_EQ(m->data.size(), sizes[i]);
      EXPECT_TRUE(m->data == Pattern(sizes[i], i, i % 2 == 1)) << "message " << i << " of " << sizes[i] << " bytes differs";
      EXPECT_EQ(m->binary, i % 2 == 0);
    }
    (*ws)->Close();
    co_await (*ws)->Flush();
    // The server's Read() ends on the close; give its coroutine a turn.
    asio::steady_timer settle(ioc_, std::chrono::milliseconds(200));
    co_await settle.async_wait(asio::use_awaitable);
  });
  EXPECT_TRUE(server_saw_close_);
}

TEST_F(TlsStreamTest, APeerThatDropsTheConnectionWithoutClosingEndsTheReadsOnBothSides) {
  Run([&]() -> asio::awaitable<void> {
    auto ws = co_await ConnectWebSocket(ioc_.get_executor(), At("/echo"), {}, client_tls_, std::chrono::seconds(10));
    EXPECT_TRUE(ws.ok());
    if (!ws.ok()) co_return;
    (*ws)->Send(Pattern(100000, 3), true);
    auto echoed = co_await (*ws)->Read();
    EXPECT_TRUE(echoed.has_value());
    // TCP goes at once, no close_notify: the server's read sees the stream
    // cut short (not a clean close) and its Read() ends all the same.
    (*ws)->Abort();
    EXPECT_FALSE((*ws)->IsOpen());
    EXPECT_FALSE((co_await (*ws)->Read()).has_value());
    (*ws)->Send("after the end", true);  // ignored, no crash
    for (int i = 0; i < 50 && !server_saw_close_; ++i) {
      asio::steady_timer settle(ioc_, std::chrono::milliseconds(20));
      co_await settle.async_wait(asio::use_awaitable);
    }
  });
  EXPECT_TRUE(server_saw_close_);
}

TEST_F(TlsStreamTest, LargeHttpBodiesBothWays) {
  Run([&]() -> asio::awaitable<void> {
    for (size_t size : {size_t{0}, size_t{100}, size_t{70000}, size_t{3 * 1024 * 1024 + 7}}) {
      HttpRequest request;
      request.method = "POST";
      request.target = "/";
      request.headers.emplace_back("Host", At("/").HostHeader());
      request.body = Pattern(size, 7);
      auto response = co_await HttpsRequest(ioc_.get_executor(), At("/"), request, client_tls_,
                                            std::chrono::seconds(10));
      EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error().message);
      if (!response.ok()) co_return;
      EXPECT_EQ(response->status, 200);
      EXPECT_TRUE(response->body == std::string(request.body.rbegin(), request.body.rend())) << size << " bytes";
    }
  });
}

TEST_F(TlsStreamTest, AClientThatDoesNotTrustTheServerFailsTheHandshake) {
  // Another CA's client: the certificate does not verify.
  testing::TempDir other;
  ASSERT_TRUE(EnsureServerCertificates(other.path(), {"127.0.0.1"}, {}).ok());
  auto other_ca = ReadFile(other / "ca.pem");
  ASSERT_TRUE(other_ca.has_value());
  auto untrusting = TlsContext::ForClient(*other_ca);
  ASSERT_TRUE(untrusting.ok());
  Run([&]() -> asio::awaitable<void> {
    auto ws = co_await ConnectWebSocket(ioc_.get_executor(), At("/echo"), {}, *untrusting, std::chrono::seconds(10));
    EXPECT_FALSE(ws.ok());
    if (!ws.ok()) {
      EXPECT_EQ(ws.error().code, "ConnectionError");
      EXPECT_NE(ws.error().message.find("TLS handshake"), std::string::npos) << ws.error().message;
      EXPECT_NE(ws.error().message.find("certificate verify failed"), std::string::npos) << ws.error().message;
    }
  });
}

}  // namespace
}  // namespace porthole::net
