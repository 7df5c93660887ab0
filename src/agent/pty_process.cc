#include "agent/pty_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace porthole::agent {

namespace {

std::string SearchPath(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

}  // namespace

namespace {

// The node socket's address, when it fits one.
std::optional<sockaddr_un> NodeSocketAddress(const std::string& path) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof a.sun_path) return std::nullopt;
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

}  // namespace

void EndSessionGroup(const SessionGroup& group) {
  auto address = NodeSocketAddress(group.node_socket);
  if (!address || group.session_id.empty()) return;
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return;
  const std::string request = "end " + group.session_id;
  if (::connect(s, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) == 0)
    (void)!::send(s, request.data(), request.size(), MSG_NOSIGNAL);
  ::close(s);
}

Result<PtyProcess> StartOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                              unsigned short cols, unsigned short rows, const SessionGroup& group) {
  auto process = PrepareOnPty(args, env, group);
  if (!process) return process;
  RunPrepared(*process, cols, rows);
  return process;
}

void RunPrepared(PtyProcess& process, unsigned short cols, unsigned short rows) {
  ResizePty(process.master_fd, cols ? cols : 80, rows ? rows : 24);
  if (process.go_fd < 0) return;
  ssize_t ignored = ::write(process.go_fd, "g", 1);
  (void)ignored;
  ::close(process.go_fd);
  process.go_fd = -1;
}

void DiscardPrepared(PtyProcess& process) {
  if (process.go_fd >= 0) ::close(process.go_fd);  // the child sees EOF and exits without running anything
  if (process.master_fd >= 0) ::close(process.master_fd);
  process = PtyProcess{};
}

Result<PtyProcess> PrepareOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                const SessionGroup& group) {
  const unsigned short cols = 80, rows = 24;
  if (args.empty()) return MakeError("InvalidParameterException", "The command is empty.");
  std::string program = SearchPath(args[0], env);
  if (program.empty()) return MakeError("InvalidParameterException", args[0] + ": executable file not found in $PATH");

  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return MakeError("ServerException", std::string("posix_openpt: ") + strerror(errno), 500);
  if (::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    ::close(master);
    return MakeError("ServerException", std::string("unlockpt: ") + strerror(errno), 500);
  }
  // TIOCGPTPEER: the peer of this very master, immune to a swapped /dev/pts.
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    ::close(master);
    return MakeError("ServerException", std::string("TIOCGPTPEER: ") + strerror(errno), 500);
  }
  struct winsize ws {};
  ws.ws_col = cols ? cols : 80;
  ws.ws_row = rows ? rows : 24;
  ::ioctl(slave, TIOCSWINSZ, &ws);

  // Everything the child needs is prepared before fork: after it only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const auto node_socket = NodeSocketAddress(group.node_socket);
  const std::string placement = "session " + group.session_id;
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) {
    ::close(master);
    ::close(slave);
    return MakeError("ServerException", std::string("pipe: ") + strerror(errno), 500);
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(go[0]);
    ::close(go[1]);
    ::close(master);
    ::close(slave);
    return MakeError("ServerException", std::string("fork: ") + strerror(errno), 500);
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    if (setsid() < 0) _exit(126);
    if (ioctl(slave, TIOCSCTTY, 0) < 0) _exit(126);
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) _exit(126);
    if (node_socket && !group.session_id.empty()) {
      // Into the session's control group before anything of the command runs.
      int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (s >= 0) {
        struct timeval wait = {5, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        if (connect(s, reinterpret_cast<const sockaddr*>(&*node_socket), sizeof *node_socket) == 0 &&
            write(s, placement.data(), placement.size()) == static_cast<ssize_t>(placement.size())) {
          char answer[256];
          ssize_t ignored = read(s, answer, sizeof answer);
          (void)ignored;
        }
        close(s);
      }
    }
    // Ready: the command runs once the session has started (RunPrepared).
    close(go[1]);
    char started = 0;
    ssize_t got;
    do got = read(go[0], &started, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1) _exit(0);  // discarded
    // Nothing but 0, 1, 2 crosses into the command.
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 65536; fd++) close(fd);
    }
    execve(program.c_str(), argv.data(), envp.data());
    const char msg[] = "exec failed\r\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  ::close(slave);
  ::close(go[0]);
  int flags = ::fcntl(master, F_GETFL);
  ::fcntl(master, F_SETFL, flags | O_NONBLOCK);
  return PtyProcess{master, pid, go[1]};
}

void ResizePty(int master_fd, unsigned short cols, unsigned short rows) {
  struct winsize ws {};
  ws.ws_col = cols;
  ws.ws_row = rows;
  ::ioctl(master_fd, TIOCSWINSZ, &ws);
}

}  // namespace porthole::agent
