#pragma once
// Running host programs (runc, cp, rm, CNI plugins) from the node, over
// process/spawn.h (whose contracts every child here has: descriptors 0-2
// only, default signals, the environment given, nothing inherited). Here
// besides: no shell and no PATH search, `argv[0]` is an absolute path and
// arguments are passed verbatim.
#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::node {

struct SubprocessOptions {
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: captured into SubprocessResult::out
  int stderr_fd = -1;  // -1: captured into SubprocessResult::err
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  // The child is killed (SIGKILL) and an error returned once this elapses.
  std::chrono::milliseconds timeout{60000};
  // Captured output beyond this many bytes per stream is read and dropped.
  size_t max_capture_bytes = 1 << 20;
};

struct SubprocessResult {
  int exit_code = 0;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Runs `argv` to completion. An error means the program could not be run or
// timed out; a non-zero exit is reported in the result, not as an error.
Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv,
                                       const SubprocessOptions& options = {});

// Starts `argv` under a detached supervisor and returns once the supervisor
// exists. The supervisor is the program `supervisor` (porthole-supervise),
// executed as a grandchild in its own session (so it outlives the caller,
// is not reaped by it, and holds none of its memory); its stdin is
// /dev/null and its stdout and stderr append to `log_path`, which the
// supervised program inherits. It waits for the program and then writes its
// status (exit code, or 128+signal) as decimal text to `exit_path`,
// atomically (via `exit_path`.tmp and rename), so readers never see a
// partial file. `supervisor_options` go before the exit path
// (porthole-supervise's --oom-watch DIR). Error when the supervisor cannot
// be executed.
Status StartSupervised(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path, const std::string& exit_path, const std::string& supervisor,
                       const std::vector<std::string>& supervisor_options = {});

// porthole-supervise beside this process's own executable.
std::string SupervisorBesideThisProgram();

// `name` if it is an absolute path, else its first match among the
// directories of this process's PATH (or the default PATH). Empty if none.
std::string FindExecutable(const std::string& name);

}  // namespace porthole::node
