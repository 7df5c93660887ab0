#include "common/fd_passing.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace porthole {

Status SendWithFd(int socket, std::string_view text, int fd) {
  if (text.empty() || text.size() > kMaxFdMessageText) return MakeError("IoError", "message text must be 1-1024 bytes");
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError("IoError", std::string("sendmsg: ") + strerror(errno));
    if (static_cast<size_t>(n) != text.size()) return MakeError("IoError", "sendmsg: short write");
    return OkStatus();
  }
}

Result<FdMessage> ReceiveWithFd(int socket) {
  char buf[kMaxFdMessageText];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for a few descriptors, so extra ones are seen (and closed) rather
  // than silently truncated into the void.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return MakeError("WouldBlock", "nothing to read yet");
  if (n < 0) return MakeError("IoError", std::string("recvmsg: ") + strerror(errno));
  FdMessage out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (out.fd < 0) out.fd = fd;
      else ::close(fd);
    }
  }
  if (n == 0 && out.fd < 0) return MakeError("ConnectionClosed", "the peer closed the connection");
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    if (out.fd >= 0) ::close(out.fd);
    return MakeError("IoError", "recvmsg: message truncated");
  }
  out.text.assign(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace porthole
