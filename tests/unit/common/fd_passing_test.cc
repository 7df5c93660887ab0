#include "common/fd_passing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace porthole {
namespace {

struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    ::close(a);
    ::close(b);
  }
};

TEST(FdPassingTest, TheDescriptorArrivesCloseOnExecAndWorks) {
  SocketPair link;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ASSERT_TRUE(SendWithFd(link.a, "ok", pipe_fds[1]).ok());
  ::close(pipe_fds[1]);  // the receiver's copy keeps the pipe open
  auto got = ReceiveWithFd(link.b);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->text, "ok");
  ASSERT_GE(got->fd, 0);
  EXPECT_TRUE(::fcntl(got->fd, F_GETFD) & FD_CLOEXEC);
  ASSERT_EQ(::write(got->fd, "x", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(pipe_fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  ::close(got->fd);
  ::close(pipe_fds[0]);
}

TEST(FdPassingTest, TextAloneAndTheEnd) {
  SocketPair link;
  ASSERT_TRUE(SendWithFd(link.a, "error: refused", -1).ok());
  auto got = ReceiveWithFd(link.b);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->text, "error: refused");
  EXPECT_EQ(got->fd, -1);
  ::shutdown(link.a, SHUT_WR);
  auto end = ReceiveWithFd(link.b);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().code, "ConnectionClosed");
}

TEST(FdPassingTest, NothingYetOnANonBlockingSocket) {
  SocketPair link;
  ::fcntl(link.b, F_SETFL, O_NONBLOCK);
  auto got = ReceiveWithFd(link.b);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, "WouldBlock");
}

TEST(FdPassingTest, TextBoundsAreEnforced) {
  SocketPair link;
  EXPECT_FALSE(SendWithFd(link.a, "", -1).ok());
  EXPECT_FALSE(SendWithFd(link.a, std::string(kMaxFdMessageText + 1, 'x'), -1).ok());
}

}  // namespace
}  // namespace porthole
