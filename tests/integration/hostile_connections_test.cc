// Limits before authentication (issue 8, item 3): a thousand idle
// connections that never authenticate do not stop the API or an exec
// session, and the listener drops them.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "harness.h"

namespace porthole::itest {
namespace {

class HostileConnectionsTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack();
    if (!stack_ready()) return;
    cluster_ = UniqueName("hostile");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("hostile-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "hostile-sleeper", true);
    if (task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, seconds(60), &last))
      return SetSuiteError("the exec agent did not reach RUNNING: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  // A TCP connection to portholed that sends nothing (-1 if it could not connect).
  static int IdleConnection() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(stack_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // True once the server has closed `fd` (EOF or reset), waiting up to `timeout`.
  static bool ClosedByServer(int fd, milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, 0) <= 0;
  }

  static std::string cluster_;
  static std::string task_;
};

std::string HostileConnectionsTest::cluster_;
std::string HostileConnectionsTest::task_;

TEST_F(HostileConnectionsTest, AThousandIdleConnectionsDoNotStopTheApiOrExec) {
  std::vector<int> idle;
  for (int i = 0; i < 1000; i++) {
    int fd = IdleConnection();
    if (fd >= 0) idle.push_back(fd);
  }
  ASSERT_EQ(idle.size(), 1000u);

  CommandResult listed = stack_->Ecs({"list-clusters"});
  EXPECT_EQ(listed.exit_code, 0) << listed;
  EXPECT_NE(listed.out.find(cluster_), std::string::npos) << listed;
  CommandResult exec = stack_->Exec(cluster_, task_, "echo still-serving");
  EXPECT_EQ(exec.exit_code, 0) << exec;
  EXPECT_NE(exec.out.find("still-serving"), std::string::npos) << exec;

  // None of them is kept: the oldest are dropped for new ones from the same
  // address, the rest when the first-request deadline passes.
  // (The deadline is the listener's 10 s for a first request, with room to spare.)
  size_t closed = 0;
  auto deadline = Clock::now() + seconds(25);
  for (int fd : idle) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    closed += ClosedByServer(fd, std::max(left, milliseconds(0))) ? 1 : 0;
  }
  EXPECT_EQ(closed, idle.size());
  for (int fd : idle) ::close(fd);
}

// A WebSocket upgrade is accepted on the gateway's paths only: anywhere else
// (the API's path, an unknown one) it is refused before authentication in
// the AWS error shape, and the connection is not switched to WebSocket.
TEST_F(HostileConnectionsTest, WebSocketUpgradeOutsideTheGatewayPathsIsRefused) {
  // What portholed answers an unsigned upgrade request for `path` (over TLS).
  auto upgrade = [](const std::string& path) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
    return RunCommand({"/usr/bin/openssl", "s_client", "-quiet", "-verify_quiet", "-CAfile",
                       stack_->control_plane_dir() + "/ca.pem", "-connect",
                       "127.0.0.1:" + std::to_string(stack_->port())},
                      request, seconds(20));
  };
  for (const std::string path : {"/", "/v1/unknown", "/v1/control-channel-x/abc"}) {
    CommandResult r = upgrade(path);
    EXPECT_NE(r.out.find("HTTP/1.1 400"), std::string::npos) << path << "\n" << r;
    EXPECT_NE(r.out.find("UnknownOperationException"), std::string::npos) << path << "\n" << r;
    EXPECT_EQ(r.out.find("101 Switching Protocols"), std::string::npos) << path << "\n" << r;
  }
  // The gateway's own path is not refused so (its channels authenticate in
  // their own way): the refusal above is by path.
  CommandResult r = upgrade("/v1/control-channel/abc?container=app");
  EXPECT_EQ(r.out.find("WebSocket upgrades are served on the gateway's paths only"), std::string::npos) << r;
}

}  // namespace
}  // namespace porthole::itest
