#include "agent/pty_process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace porthole::agent {

namespace {

// The node socket's address, when it fits one.
std::optional<sockaddr_un> NodeSocketAddress(const std::string& path) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof a.sun_path) return std::nullopt;
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// The child's request to be moved into its session's control group.
struct GroupPlacement {
  sockaddr_un node_socket;
  std::string request;  // "session <id> [memory=<MiB>] [cpu=<units>]" (node/agent_socket.h)
};

// In the child, before anything of the command runs (a ChildHook: only
// async-signal-safe calls). Waits for the node's answer, at most 5 s; a
// node that cannot place it is no reason to refuse the session.
void JoinSessionGroup(const void* context) {
  const auto& placement = *static_cast<const GroupPlacement*>(context);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct timeval wait = {5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  if (connect(s, reinterpret_cast<const sockaddr*>(&placement.node_socket), sizeof placement.node_socket) == 0 &&
      write(s, placement.request.data(), placement.request.size()) == static_cast<ssize_t>(placement.request.size())) {
    char answer[256];
    (void)!read(s, answer, sizeof answer);
  }
  close(s);
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
  process.child.Release();
}

void DiscardPrepared(PtyProcess& process) {
  process.child.Discard();  // the child sees EOF and exits without running anything
  if (process.master_fd >= 0) ::close(process.master_fd);
  process = PtyProcess{};
}

Result<PtyProcess> PrepareOnPty(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                const SessionGroup& group) {
  if (args.empty()) return MakeError("InvalidParameterException", "The command is empty.");
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
  ResizePty(slave, 80, 24);

  GroupPlacement placement;
  process::SpawnOptions spawn;
  spawn.argv = args;
  spawn.env = env;
  spawn.stdin_fd = spawn.stdout_fd = spawn.stderr_fd = slave;
  spawn.controlling_terminal = true;
  spawn.held = true;
  spawn.exec_failure_message = args[0] + ": cannot execute\r\n";
  if (auto address = NodeSocketAddress(group.node_socket); address && !group.session_id.empty()) {
    placement = {*address, "session " + group.session_id};
    if (group.memory_mib > 0) placement.request += " memory=" + std::to_string(group.memory_mib);
    if (group.cpu_units > 0) placement.request += " cpu=" + std::to_string(group.cpu_units);
    spawn.before_exec = {JoinSessionGroup, &placement};
  }
  auto child = process::Spawn(spawn);
  ::close(slave);
  if (!child) {
    ::close(master);
    return child.error();
  }
  ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
  PtyProcess process;
  process.master_fd = master;
  process.child = std::move(*child);
  return process;
}

void ResizePty(int master_fd, unsigned short cols, unsigned short rows) {
  struct winsize ws {};
  ws.ws_col = cols;
  ws.ws_row = rows;
  ::ioctl(master_fd, TIOCSWINSZ, &ws);
}

}  // namespace porthole::agent
