#pragma once
// Starting a process: the one place in Porthole where a program forks to
// execute another (the node's host programs and container supervisors, the
// supervisor itself, the exec agent's sessions, `porthole up`).
// shared/reference/security-and-reliability.md.
//
// Contracts of every child:
// - it gets exactly the descriptors 0, 1 and 2 (each -1 in the options is
//   /dev/null); every other descriptor is closed before it executes;
// - default signal dispositions and an empty signal mask (the caller's
//   thread blocks every signal across fork, so no handler of the caller
//   runs in the child);
// - the environment given, nothing inherited;
// - between fork and execve only async-signal-safe calls: everything it
//   needs (argv, envp, the program's path) is built before forking, so a
//   multi-threaded caller is safe.
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace porthole::process {

// A function the child runs once its descriptors and session are set up,
// before it waits to be released, takes its controlling terminal, changes
// directory and executes. It may only
// make async-signal-safe calls, and must not touch descriptors 0-2 or the
// ones it does not own. `context` is the caller's, read in the child's copy
// of memory.
struct ChildHook {
  void (*run)(const void* context) = nullptr;
  const void* context = nullptr;
};

struct SpawnOptions {
  // argv[0]: a path with a '/', used as it is, or a name looked up in the
  // PATH of `env` (the default PATH when `env` has none).
  std::vector<std::string> argv;
  std::vector<std::string> env;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // The child leads a new session (setsid).
  bool new_session = false;
  // The child's stdin, a terminal, becomes its controlling terminal (TIOCSCTTY).
  // Implies new_session.
  bool controlling_terminal = false;
  // Sent to the child when the thread that spawned it ends (PR_SET_PDEATHSIG:
  // spawn from a thread that lives as long as the child may). A caller gone
  // before the child could ask is treated the same: the child exits at once.
  int parent_death_signal = 0;
  // The program runs as a grandchild in a new session it does not lead (so
  // it never acquires a controlling terminal), re-parented away from the
  // caller, which neither waits for nor reaps it. Child::pid is 0.
  bool detach = false;
  std::string working_directory;  // empty: the caller's
  ChildHook before_exec;
  // The child stops just before it executes until Child::Release (or exits
  // with status 0 on Child::Discard or when the caller dies). Spawn does not
  // wait for it: a failure after the fork is reported on the child's stderr
  // (`exec_failure_message`) and by its exit status (126 setup, 127 exec).
  bool held = false;
  // Written to the child's stderr (once it is set up) when the child cannot
  // execute the program, take the terminal or change directory.
  std::string exec_failure_message;
};

// A started process. Reaping it (waitpid) is the caller's.
class Child {
 public:
  Child() = default;
  Child(pid_t pid, int release_fd) : pid_(pid), release_fd_(release_fd) {}
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // a held child not yet released is discarded

  pid_t pid() const { return pid_; }
  bool held() const { return release_fd_ >= 0; }
  // A held child executes its program.
  void Release();
  // A held child exits (status 0) without executing anything.
  void Discard();

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
};

// Forks and, unless held, waits until the program has been executed: an
// error names what failed in the child (a missing program, a bad working
// directory, a terminal that cannot be made controlling), and that child
// has been reaped.
Result<Child> Spawn(const SpawnOptions& options);

// An exit status as one number: the exit code, or 128+signal.
int StatusCode(int wait_status);

// The first executable regular file called `name` in the absolute
// directories of `path` (a PATH value; relative entries, the empty one
// included, are skipped: a program is never found relative to the working
// directory). `name` with a '/' is returned as it is. Empty if none.
std::string FindInPath(const std::string& name, std::string_view path);

// The PATH a child gets when its environment names none.
inline constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace porthole::process
