#pragma once
// The node's socket for the exec agent of each container: <dir>/node.sock,
// in the agent's config directory (bind-mounted read-only into the
// container; 0600, in a 0700 directory). One request per connection:
//   "dial"          the node connects, in the host's network namespace, to its
//                   endpoint and answers "ok" with the connected TCP socket
//                   (common/fd_passing.h). So the container needs no route to
//                   the gateway — exec works in every network mode, `none`
//                   included, the host's loopback stays out of its reach —
//                   and nothing listens inside the container for Porthole.
//                   The node connects to that one endpoint only.
//   "session <id> [memory=<MiB>] [cpu=<units>]"
//                   sent by a session's first process before it runs the
//                   command: the node moves the sender (SO_PEERCRED) into
//                   the session's own control group, so everything it starts,
//                   daemons included, can be killed with it. The caps are
//                   ones the session's client asked for (ExecuteCommand): a
//                   session may only ask for less than its cluster allows;
//   "end <id>"      the session is over: its group's processes are killed.
// Answers are "ok" or "error: <why>".
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace porthole::node {

// What "session" and "end" do for one container (node/cgroups.h). Called on
// the socket's own threads.
// Caps a session asked for, below its cluster's; 0: none asked.
struct SessionCaps {
  int64_t memory_mib = 0;
  int64_t cpu_units = 0;  // 1024 = one CPU
};

struct SessionGroups {
  std::function<Status(int pid, const std::string& session_id, const SessionCaps& asked)> place;
  std::function<void(const std::string& session_id)> end;
};

class AgentSockets {
 public:
  static constexpr const char kSocketName[] = "node.sock";

  // `host` is an IP literal or "localhost". A connect that takes longer than
  // `connect_timeout` is answered with an error.
  AgentSockets(std::string host, uint16_t port,
                std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));
  // Stops accepting; dials in progress finish on their own threads. Socket
  // files stay (a restarted node listens on them again).
  ~AgentSockets();
  AgentSockets(const AgentSockets&) = delete;
  AgentSockets& operator=(const AgentSockets&) = delete;

  // Listens on <dir>/node.sock (0600), replacing a socket file left by an
  // earlier run; a second call for the same `dir` is a no-op. `dir` may be
  // longer than a socket address allows. Without `sessions`, "session" and
  // "end" are refused. Errors: "IoError".
  Status Listen(const std::string& dir, SessionGroups sessions = {});
  // Stops listening in `dir` and removes its socket file.
  void Stop(const std::string& dir);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace porthole::node
