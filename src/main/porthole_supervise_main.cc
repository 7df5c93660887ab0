// porthole-supervise EXIT_FILE PROGRAM [ARG...]
//
// The host-side keeper of one container: runs PROGRAM (`runc run ...`, an
// absolute path) with the environment it was given and the descriptors it
// inherited (stdin /dev/null, stdout and stderr the container's log), waits
// for it, and writes its status — the exit code, or 128+signal — as decimal
// text to EXIT_FILE atomically (EXIT_FILE.tmp, fsync, rename), so a reader
// never sees a partial file. The node starts it detached (node/subprocess.h)
// by execve, so it holds none of the node's memory or credentials: libc and
// process/spawn.h only.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/spawn.h"

namespace {

namespace process = porthole::process;

void Say(const char* a, const char* b = "") {
  dprintf(2, "porthole-supervise: %s%s\n", a, b);
}

}  // namespace

int main(int argc, char** argv, char** envp) {
  if (argc < 3 || argv[2][0] != '/') {
    Say("usage: porthole-supervise EXIT_FILE /ABSOLUTE/PROGRAM [ARG...]");
    return 2;
  }
  const char* exit_file = argv[1];
  char exit_tmp[4096];
  if (snprintf(exit_tmp, sizeof exit_tmp, "%s.tmp", exit_file) >= static_cast<int>(sizeof exit_tmp)) {
    Say("exit file path too long");
    return 2;
  }
  process::SpawnOptions spawn;
  spawn.argv.assign(argv + 2, argv + argc);
  for (char** e = envp; *e; ++e) spawn.env.emplace_back(*e);
  spawn.stdin_fd = 0;
  spawn.stdout_fd = 1;
  spawn.stderr_fd = 2;
  int code = 127;
  if (auto child = process::Spawn(spawn); !child) {
    Say(child.error().message.c_str());
  } else {
    int wstatus = 0;
    pid_t w;
    do w = waitpid(child->pid(), &wstatus, 0);
    while (w < 0 && errno == EINTR);
    code = w == child->pid() ? process::StatusCode(wstatus) : 255;
  }
  int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return 1;
  bool ok = dprintf(fd, "%d\n", code) > 0;
  fsync(fd);
  close(fd);
  if (!ok || rename(exit_tmp, exit_file) != 0) return 1;
  return 0;
}
