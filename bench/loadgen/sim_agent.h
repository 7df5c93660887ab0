#pragma once
// A simulated porthole-exec-agent: the control channel of one container,
// signed with that container's agent credentials from PollTasks, and per
// start_session the agent's end of the data channel. It performs the
// handshake as the real agent does and then behaves as a terminal running
// `cat` with echo: every input payload comes back as output at once.
// A Ctrl-D (0x04) in the input ends the "command" with status 0: the exit
// code (when the client asked for it) and channel_closed follow once the
// client has acknowledged everything, as src/agent/exec_agent.cc does.
#include <memory>
#include <string>
#include <vector>

#include "loadgen.h"
#include "net/websocket.h"

namespace porthole::loadgen {

struct AgentIdentity {
  std::string task_id;
  std::string task_arn;
  std::string container;
  auth::Credentials credentials;
};

class SimAgent : public std::enable_shared_from_this<SimAgent> {
 public:
  SimAgent(Party& party, AgentIdentity identity) : party_(party), identity_(std::move(identity)),
                                                    backoff_timer_(party.executor) {}

  // Connects, re-dialling with backoff as the real agent does, and serves
  // the control channel until Close().
  asio::awaitable<void> Run();
  // Closes the control channel (a WebSocket close handshake); sessions
  // still open are left to end on their own.
  void Close();

  const AgentIdentity& identity() const { return identity_; }

 private:
  asio::awaitable<void> Serve(std::shared_ptr<net::WebSocket> ws);

  Party& party_;
  AgentIdentity identity_;
  asio::steady_timer backoff_timer_;
  std::shared_ptr<net::WebSocket> control_;
  bool closing_ = false;
};

}  // namespace porthole::loadgen
