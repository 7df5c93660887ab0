// HttpsRequestSync's cancel path: the CLI abandons a call this way (Ctrl-C,
// a session ending), and the request, half-done, is destroyed with its
// event loop — the place a use-after-free would hide (ASan runs this in CI).
#include "net/https_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "net/http.h"
#include "net/tls.h"

namespace porthole::net {
namespace {

// A listener on loopback that never accepts: the kernel completes the TCP
// handshake, and the client's TLS handshake then waits for an answer that
// never comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      ADD_FAILURE() << "cannot listen on loopback";
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

Url LoopbackUrl(int port) {
  auto url = ParseUrl("https://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_TRUE(url.ok());
  return url.ok() ? *url : Url{};
}

std::shared_ptr<TlsContext> ClientTls() {
  auto tls = TlsContext::ForClient("");
  EXPECT_TRUE(tls.ok());
  return tls.ok() ? *tls : nullptr;
}

HttpRequest GetRequest(const Url& url) {
  HttpRequest request;
  request.method = "GET";
  request.target = url.target;
  request.headers = {{"Host", url.HostHeader()}};
  return request;
}

TEST(HttpsRequestSync, CancelAbandonsARequestThatWouldWaitForItsTimeout) {
  SilentListener listener;
  const Url url = LoopbackUrl(listener.port());
  std::atomic<bool> cancel{false};
  // A timeout far longer than the test may take: only the cancel can end it.
  auto call = std::async(std::launch::async, [&] {
    return HttpsRequestSync(url, GetRequest(url), ClientTls(), std::chrono::seconds(600), &cancel);
  });
  EXPECT_EQ(call.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the request ended before it was cancelled";
  cancel = true;
  ASSERT_EQ(call.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "the cancel was not seen";
  auto result = call.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "ConnectionError");
  EXPECT_EQ(result.error().message, "the request was cancelled");
}

TEST(HttpsRequestSync, AlreadyCancelledRequestEndsWithoutAnAnswer) {
  SilentListener listener;
  const Url url = LoopbackUrl(listener.port());
  std::atomic<bool> cancel{true};
  auto result = HttpsRequestSync(url, GetRequest(url), ClientTls(), std::chrono::seconds(600), &cancel);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message, "the request was cancelled");
}

TEST(HttpsRequestSync, WithoutCancelARefusedConnectionIsAnError) {
  int port;
  { SilentListener closed_soon; port = closed_soon.port(); }  // nothing listens there any more
  const Url url = LoopbackUrl(port);
  auto result = HttpsRequestSync(url, GetRequest(url), ClientTls(), std::chrono::seconds(5));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "ConnectionError");
}

}  // namespace
}  // namespace porthole::net
