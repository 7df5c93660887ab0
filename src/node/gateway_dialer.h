#pragma once
// Connections to the gateway for exec agents, made in the host's network
// namespace. An agent connects to <dir>/gateway.sock (dir: its config
// directory, bind-mounted read-only into the container) and writes "dial";
// the dialer connects to the node's endpoint and answers "ok" with the
// connected TCP socket (common/fd_passing.h), or "error: <why>" without one.
// So the container needs no route to the gateway — exec works in every
// network mode, `none` included, and the host's loopback stays out of the
// container's reach — and nothing listens inside the container for Porthole.
// The dialer connects to that one endpoint only.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace porthole::node {

class GatewayDialer {
 public:
  static constexpr const char kSocketName[] = "gateway.sock";

  // `host` is an IP literal or "localhost". A connect that takes longer than
  // `connect_timeout` is answered with an error.
  GatewayDialer(std::string host, uint16_t port,
                std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));
  // Stops accepting; dials in progress finish on their own threads. Socket
  // files stay (a restarted node listens on them again).
  ~GatewayDialer();
  GatewayDialer(const GatewayDialer&) = delete;
  GatewayDialer& operator=(const GatewayDialer&) = delete;

  // Listens on <dir>/gateway.sock (0600), replacing a socket file left by an
  // earlier run; a second call for the same `dir` is a no-op. `dir` may be
  // longer than a socket address allows. Errors: "IoError".
  Status Listen(const std::string& dir);
  // Stops listening in `dir` and removes its socket file.
  void Stop(const std::string& dir);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace porthole::node
