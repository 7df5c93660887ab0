#pragma once
// Starting a command on a fresh pseudo-terminal, the one place where the exec
// agent creates processes (shared/reference/security-and-reliability.md R-3,
// a new PTY per session, opened with TIOCGPTPEER; the child gets its own
// session (setsid) with the PTY as controlling terminal, default signal
// dispositions and an empty signal mask, and no file descriptor but 0, 1, 2.
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::agent {

struct PtyProcess {
  int master_fd = -1;  // O_CLOEXEC | O_NONBLOCK; owned by the caller
  pid_t pid = -1;      // also the process group and session id
};

// `args[0]` is looked up in PATH (from `env`) when it has no '/'.
// `env` replaces the environment ("K=V" entries).
Result<PtyProcess> StartOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                              unsigned short cols, unsigned short rows);

// Applies a terminal size to the PTY (the kernel sends SIGWINCH to the foreground group).
void ResizePty(int master_fd, unsigned short cols, unsigned short rows);

}  // namespace porthole::agent
