#pragma once
// Outbound HTTPS requests and WebSocket connections. Hosts must be IP
// literals or "localhost": the exec agent runs in images without a usable
// resolver, so nothing here depends on NSS.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "net/http.h"
#include "net/tls.h"
#include "net/websocket.h"

namespace porthole::net {

// Sends `request` (its Host header must already be set, e.g. when signed) to
// `url`'s host and port and reads the response. Errors: "ConnectionError".
boost::asio::awaitable<Result<HttpResponse>> HttpsRequest(boost::asio::any_io_executor executor, const Url& url,
                                                          HttpRequest request, std::shared_ptr<TlsContext> tls,
                                                          std::chrono::seconds timeout);

// Blocking form for programs without an event loop of their own. When
// `cancel` becomes true (checked every 100 ms) the request is abandoned and
// the answer is a "ConnectionError" saying so.
Result<HttpResponse> HttpsRequestSync(const Url& url, HttpRequest request, std::shared_ptr<TlsContext> tls,
                                      std::chrono::seconds timeout, const std::atomic<bool>* cancel = nullptr);

// Opens a wss:// connection to `url` with the extra upgrade `headers` (e.g. a
// SigV4 Authorization). A refused upgrade is an error naming the HTTP status.
// With `dial_socket`, the TCP connection is not dialled here but taken from
// the node's dialer listening at that path (node/agent_socket.h): how an
// exec agent in a network namespace reaches the gateway. TLS still verifies
// `url`'s host.
boost::asio::awaitable<Result<std::shared_ptr<WebSocket>>> ConnectWebSocket(
    boost::asio::any_io_executor executor, const Url& url,
    std::vector<std::pair<std::string, std::string>> headers, std::shared_ptr<TlsContext> tls,
    std::chrono::seconds timeout, const std::string& dial_socket = "");

}  // namespace porthole::net
