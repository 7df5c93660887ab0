#pragma once
// Starting a command on a fresh pseudo-terminal, the exec agent's sessions
// (shared/reference/security-and-reliability.md ): a new PTY per
// session, opened with TIOCGPTPEER; the child (process/spawn.h) gets its own
// session with the PTY as controlling terminal, default signal dispositions
// and an empty signal mask, and no file descriptor but 0, 1, 2.
#include <sys/types.h>

#include <cstdint>

#include <string>
#include <vector>

#include "common/result.h"
#include "process/spawn.h"

namespace porthole::agent {

struct PtyProcess {
  int master_fd = -1;    // O_CLOEXEC | O_NONBLOCK; owned by the caller
  process::Child child;  // its pid is also the process group and session id; held when prepared
  pid_t pid() const { return child.pid(); }
};

// Where a session's process tree is grouped (node/agent_socket.h).
struct SessionGroup {
  std::string node_socket;  // empty: not grouped
  std::string session_id;
  // Lower caps the session's client asked for (the node keeps the cluster's
  // when they are not lower); 0: none.
  int64_t memory_mib = 0;
  int64_t cpu_units = 0;
};

// `args[0]` is looked up in PATH (from `env`) when it has no '/'.
// `env` replaces the environment ("K=V" entries). With `group.node_socket`,
// the child asks the node to move it into the session's control group
// before it executes the command (waiting at most 5 s; a node that cannot
// is no reason to refuse the session).
Result<PtyProcess> StartOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                              unsigned short cols, unsigned short rows, const SessionGroup& group = {});

// As StartOnPty, but the child stops just before executing the command
// (having moved into the session's group) until RunPrepared lets it go, with
// the terminal's size: a session prepares its process while its data
// channel is being set up, so the node's move (an RCU grace period per
// control-group hierarchy, milliseconds) is not waited for.
Result<PtyProcess> PrepareOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                const SessionGroup& group = {});
void RunPrepared(PtyProcess& process, unsigned short cols, unsigned short rows);
// The prepared process exits without running anything; the PTY is closed.
// (The caller still reaps it.)
void DiscardPrepared(PtyProcess& process);

// Tells the node the session is over: it kills what is left in the
// session's group. Does not wait for the answer.
void EndSessionGroup(const SessionGroup& group);

// Applies a terminal size to the PTY (the kernel sends SIGWINCH to the foreground group).
void ResizePty(int master_fd, unsigned short cols, unsigned short rows);

}  // namespace porthole::agent
