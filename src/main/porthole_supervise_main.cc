// porthole-supervise [--oom-watch DIR] EXIT_FILE PROGRAM [ARG...]
//
// The host-side keeper of one container: runs PROGRAM (`runc run ...`, an
// absolute path) with the environment it was given and the descriptors it
// inherited (stdin /dev/null, stdout and stderr the container's log), waits
// for it, and writes its status — the exit code, or 128+signal — as decimal
// text to EXIT_FILE atomically (EXIT_FILE.tmp, fsync, rename), so a reader
// never sees a partial file. With --oom-watch, DIR is the container's memory
// control group: when the kernel killed for memory there (or in a group
// above it) while PROGRAM ran and PROGRAM ended by SIGKILL, a second line
// "oom" follows. The supervisor outlives a node restart, so such a kill is
// reported even when the node was down. The node starts it detached
// (node/subprocess.h) by execve, so it holds none of the node's memory or
// credentials: libc and process/spawn.h only.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/spawn.h"

namespace {

namespace process = porthole::process;

void Say(const char* a, const char* b = "") {
  dprintf(2, "porthole-supervise: %s%s\n", a, b);
}

// The kernel's OOM kills in a memory group, watched from before the
// program starts: cgroup v1 through a memory.oom_control notification
// (which the kernel sends to the group whose limit was hit and every group
// below it), v2 through memory.events' hierarchical oom_kill count.
class OomWatch {
 public:
  explicit OomWatch(const char* dir) {
    if (!dir) return;
    snprintf(events_, sizeof events_, "%s/memory.events", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/memory.oom_control", dir);
    control_ = open(path, O_RDONLY | O_CLOEXEC);
    if (control_ >= 0) {
      eventfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      snprintf(path, sizeof path, "%s/cgroup.event_control", dir);
      int registration = open(path, O_WRONLY | O_CLOEXEC);
      if (eventfd_ < 0 || registration < 0 || dprintf(registration, "%d %d", eventfd_, control_) <= 0)
        Say("cannot watch for OOM kills in ", dir);
      if (registration >= 0) close(registration);
    } else {
      baseline_ = OomKills();
      if (baseline_ < 0) Say("cannot watch for OOM kills in ", dir);
    }
  }

  bool Fired() const {
    if (eventfd_ >= 0) {
      uint64_t count = 0;
      return read(eventfd_, &count, sizeof count) == static_cast<ssize_t>(sizeof count) && count > 0;
    }
    return baseline_ >= 0 && OomKills() > baseline_;
  }

 private:
  // memory.events' "oom_kill N", or -1.
  long long OomKills() const {
    int fd = open(events_, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[1024];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    const char* line = strstr(text, "oom_kill ");
    return line ? atoll(line + 9) : -1;
  }

  int control_ = -1;
  int eventfd_ = -1;
  long long baseline_ = -1;
  char events_[4096] = "";
};

}  // namespace

int main(int argc, char** argv, char** envp) {
  const char* oom_dir = nullptr;
  if (argc > 2 && strcmp(argv[1], "--oom-watch") == 0) {
    oom_dir = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 3 || argv[2][0] != '/') {
    Say("usage: porthole-supervise [--oom-watch DIR] EXIT_FILE /ABSOLUTE/PROGRAM [ARG...]");
    return 2;
  }
  const char* exit_file = argv[1];
  const OomWatch oom(oom_dir);
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
  bool ok = dprintf(fd, code == 128 + SIGKILL && oom.Fired() ? "%d\noom\n" : "%d\n", code) > 0;
  fsync(fd);
  close(fd);
  if (!ok || rename(exit_tmp, exit_file) != 0) return 1;
  return 0;
}
