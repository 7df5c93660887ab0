#include "node/agent_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "../temp_dir.h"

#include "common/fd_passing.h"

namespace porthole::node {
namespace {
namespace fs = std::filesystem;

// A directory deeper than a socket address holds (sun_path is 108 bytes).
class DeepDir {
 public:
  DeepDir() : path_(root_ / (std::string(60, 'a') + "/" + std::string(60, 'b'))) { fs::create_directories(path_); }
  const std::string& path() const { return path_; }

 private:
  testing::TempDir root_{"dialer-test"};
  std::string path_;
};

// A TCP listener on 127.0.0.1 standing in for the gateway.
class Gateway {
 public:
  Gateway() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Gateway() { ::close(fd_); }
  uint16_t port() const { return port_; }
  int Accept() { return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Connects to `dir`/gateway.sock (through /proc/self/fd, as the path is
// long), sends `request` and returns the answer.
Result<FdMessage> Ask(const std::string& dir, const std::string& request) {
  int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + AgentSockets::kSocketName;
  memcpy(a.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::close(dir_fd);
  if (r != 0) {
    ::close(fd);
    return MakeError("IoError", "connect failed");
  }
  EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  auto answer = ReceiveWithFd(fd);
  ::close(fd);
  return answer;
}

TEST(AgentSocketsTest, HandsOverAConnectionToTheEndpoint) {
  DeepDir dir;
  Gateway gateway;
  AgentSockets dialer("127.0.0.1", gateway.port());
  ASSERT_TRUE(dialer.Listen(dir.path()).ok());
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/node.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto answer = Ask(dir.path(), "dial");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->text, "ok");
  ASSERT_GE(answer->fd, 0);
  int server_side = gateway.Accept();
  ASSERT_GE(server_side, 0);
  ASSERT_EQ(::send(answer->fd, "ping", 4, MSG_NOSIGNAL), 4);
  char buf[4];
  ASSERT_EQ(::recv(server_side, buf, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ::close(server_side);
  ::close(answer->fd);
}

TEST(AgentSocketsTest, SaysWhyWhenTheEndpointRefuses) {
  DeepDir dir;
  uint16_t port;
  { port = Gateway().port(); }  // closed again: nothing listens there
  AgentSockets dialer("127.0.0.1", port);
  ASSERT_TRUE(dialer.Listen(dir.path()).ok());
  auto answer = Ask(dir.path(), "dial");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->fd, -1);
  EXPECT_NE(answer->text.find("error: connect: Connection refused"), std::string::npos) << answer->text;
}

TEST(AgentSocketsTest, AnswersNothingButDial) {
  DeepDir dir;
  Gateway gateway;
  AgentSockets dialer("127.0.0.1", gateway.port());
  ASSERT_TRUE(dialer.Listen(dir.path()).ok());
  auto answer = Ask(dir.path(), "GET / HTTP/1.1");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->fd, -1);
  EXPECT_EQ(answer->text, "error: unknown request");
}

TEST(AgentSocketsTest, ANameIsNotAnEndpoint) {
  DeepDir dir;
  AgentSockets dialer("gateway.example.com", 443);
  ASSERT_TRUE(dialer.Listen(dir.path()).ok());
  auto answer = Ask(dir.path(), "dial");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->fd, -1);
  EXPECT_NE(answer->text.find("not an IP address"), std::string::npos) << answer->text;
}

TEST(AgentSocketsTest, StopRemovesTheSocketAndARestartedDialerTakesOver) {
  DeepDir dir;
  Gateway gateway;
  {
    AgentSockets first("127.0.0.1", gateway.port());
    ASSERT_TRUE(first.Listen(dir.path()).ok());
  }  // a node that exits leaves its socket file
  EXPECT_TRUE(fs::exists(dir.path() + "/node.sock"));
  EXPECT_FALSE(Ask(dir.path(), "dial").ok());  // nobody listens on it

  AgentSockets second("127.0.0.1", gateway.port());
  ASSERT_TRUE(second.Listen(dir.path()).ok());
  ASSERT_TRUE(second.Listen(dir.path()).ok());  // again: no-op
  auto answer = Ask(dir.path(), "dial");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->text, "ok");
  ::close(answer->fd);
  second.Stop(dir.path());
  EXPECT_FALSE(fs::exists(dir.path() + "/node.sock"));
}

TEST(AgentSocketsTest, SessionsArePlacedByTheSendersOwnPid) {
  DeepDir dir;
  AgentSockets sockets("127.0.0.1", 1);
  std::mutex mu;
  std::vector<std::pair<int, std::string>> placed;
  std::vector<SessionCaps> caps;
  std::vector<std::string> ended;
  SessionGroups groups;
  groups.place = [&](int pid, const std::string& id, const SessionCaps& asked) -> Status {
    std::lock_guard<std::mutex> lock(mu);
    placed.push_back({pid, id});
    caps.push_back(asked);
    if (id == "refused") return MakeError("AccessDeniedException", "not this container's");
    return OkStatus();
  };
  groups.end = [&](const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    ended.push_back(id);
  };
  ASSERT_TRUE(sockets.Listen(dir.path(), groups).ok());

  auto placed_answer = Ask(dir.path(), "session 5c1d-ab_9");
  ASSERT_TRUE(placed_answer.ok());
  EXPECT_EQ(placed_answer->text, "ok");
  auto refused = Ask(dir.path(), "session refused");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->text, "error: not this container's");
  auto with_caps = Ask(dir.path(), "session capped cpu=512 memory=16");
  ASSERT_TRUE(with_caps.ok());
  EXPECT_EQ(with_caps->text, "ok");
  auto end = Ask(dir.path(), "end 5c1d-ab_9");
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->text, "ok");
  // Ids that could name other groups are refused before any hook runs.
  for (const char* bad : {"session ../main", "session a/b", "end ", "session ", "session x memory=", "session x memory=-1",
                          "session x memory=12k", "session x swap=1", "session x cpu=0",
                          "session x memory=99999999999999"}) {
    auto answer = Ask(dir.path(), bad);
    ASSERT_TRUE(answer.ok()) << bad;
    EXPECT_NE(answer->text, "ok") << bad;
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(placed.size(), 3u);
  EXPECT_EQ(placed[0].first, ::getpid());  // SO_PEERCRED: who connected, not what it claims
  EXPECT_EQ(placed[0].second, "5c1d-ab_9");
  EXPECT_EQ(caps[0].memory_mib, 0);
  EXPECT_EQ(caps[0].cpu_units, 0);
  EXPECT_EQ(placed[2].second, "capped");
  EXPECT_EQ(caps[2].memory_mib, 16);
  EXPECT_EQ(caps[2].cpu_units, 512);
  EXPECT_EQ(ended, std::vector<std::string>{"5c1d-ab_9"});
}

TEST(AgentSocketsTest, WithoutSessionGroupsSessionsAreRefused) {
  DeepDir dir;
  AgentSockets sockets("127.0.0.1", 1);
  ASSERT_TRUE(sockets.Listen(dir.path()).ok());
  auto answer = Ask(dir.path(), "session abc");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->text, "error: sessions are not grouped here");
}

}  // namespace
}  // namespace porthole::node
