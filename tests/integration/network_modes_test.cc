// Task network modes (issue 9, item 1), with real runc containers on the
// node's own bridge: bridge tasks publish their portMappings on the host,
// awsvpc tasks have addresses of their own, host and none are what they say,
// the host's loopback is out of a task's reach, exec works in every mode
// (the agent dials through the node), and a node crash leaves nothing behind
// once its tasks are gone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

namespace porthole::itest {
namespace {
namespace fs = std::filesystem;

// A TCP listener of the test itself on `address`:port 0 that closes every
// connection it accepts (so `nc` sees the end); closes with it.
class Listener {
 public:
  explicit Listener(const char* address) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &a.sin_addr);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 8) != 0) return;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) < 0 || stop_) return;
        if (p.revents & POLLIN) ::close(::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
      }
    });
  }
  ~Listener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// `GET /` on address:port, the whole answer ("" when nothing answered).
std::string HttpGet(const std::string& address, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET / HTTP/1.0\r\nHost: task\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// The host's first global IPv4 address that is not on a Porthole bridge.
std::string HostAddress() {
  CommandResult r = RunCommand({"/usr/sbin/ip", "-4", "-o", "addr", "show", "scope", "global"}, "", seconds(10));
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto words = Tokens(line);
    if (words.size() < 4 || words[1].rfind("pt", 0) == 0 || words[1].rfind("porthole", 0) == 0) continue;
    return words[3].substr(0, words[3].find('/'));
  }
  return "";
}

std::string DetailOf(const Json& task, const std::string& name) {
  for (const auto& a : task.value("attachments", Json::array()))
    for (const auto& d : a.value("details", Json::array()))
      if (d.value("name", "") == name) return d.value("value", "");
  return "";
}

// The interface names of /proc/net/dev as printed inside a container.
std::vector<std::string> Interfaces(const std::string& proc_net_dev) {
  std::vector<std::string> names;
  std::istringstream lines(proc_net_dev);
  for (std::string line; std::getline(lines, line);) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    auto words = Tokens(line.substr(0, colon));
    if (words.size() == 1) names.push_back(words[0]);
  }
  std::sort(names.begin(), names.end());
  return names;
}

class NetworkModesTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack(StackOptions{});
    if (!stack_ready()) return;
    cluster_ = UniqueName("network");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
  }
  static void TearDownTestSuite() { StopStack(); }

  // Registers `family` with `networkMode` and runs it with exec enabled;
  // returns the task once its exec agent is RUNNING (null on failure).
  static Json RunInMode(const std::string& family, const std::string& mode, Json container) {
    Json registered = stack_->EcsJson({"register-task-definition", "--family", family, "--network-mode", mode,
                                       "--container-definitions", Json::array({container}).dump()});
    if (registered.is_null()) return nullptr;
    EXPECT_EQ(registered["taskDefinition"].value("networkMode", ""), mode);
    std::string task = stack_->RunTask(cluster_, family, true);
    if (task.empty()) return nullptr;
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task, seconds(60), &last)) {
      ADD_FAILURE() << "the exec agent did not reach RUNNING in " << mode << " mode: " << last.dump(2);
      return nullptr;
    }
    return last;
  }

  static Json Sleeper() { return BusyboxContainer("app", {"sleep", "3600"}); }

  static std::string cluster_;
};

std::string NetworkModesTest::cluster_;

TEST_F(NetworkModesTest, BridgeTaskPublishesItsPortMappingsOnTheHost) {
  Json web = BusyboxContainer(
      "web", {"sh", "-c", "mkdir -p /www && echo hello-from-the-task > /www/index.html && exec httpd -f -p 80 -h /www"});
  const uint16_t fixed = Listener("0.0.0.0").port();  // free a moment ago
  web["portMappings"] = Json::array({{{"containerPort", 80}, {"protocol", "tcp"}},
                                     {{"containerPort", 80}, {"hostPort", fixed}, {"protocol", "tcp"}}});
  Json task = RunInMode(UniqueName("bridge-web"), "bridge", web);
  ASSERT_FALSE(task.is_null());

  const Json bindings = task["containers"][0].value("networkBindings", Json::array());
  ASSERT_EQ(bindings.size(), 2u) << task.dump(2);
  uint16_t dynamic = 0;
  bool fixed_seen = false;
  for (const auto& b : bindings) {
    EXPECT_EQ(b.value("containerPort", 0), 80) << b;
    EXPECT_EQ(b.value("protocol", ""), "tcp") << b;
    EXPECT_EQ(b.value("bindIP", ""), "0.0.0.0") << b;
    if (b.value("hostPort", 0) == fixed) fixed_seen = true;
    else dynamic = b.value("hostPort", 0);
  }
  EXPECT_TRUE(fixed_seen) << bindings;
  EXPECT_GE(dynamic, 49153) << "host port 0 is chosen from ECS's dynamic range: " << bindings;

  // From the host, at its own address and at loopback, on both ports.
  const std::string host = HostAddress();
  ASSERT_FALSE(host.empty());
  for (const std::string& address : {host, std::string("127.0.0.1")})
    for (uint16_t port : {fixed, dynamic}) {
      std::string answer;
      for (int attempt = 0; attempt < 50 && answer.find("hello-from-the-task") == std::string::npos; attempt++) {
        answer = HttpGet(address, port);
        if (answer.empty()) std::this_thread::sleep_for(milliseconds(100));  // httpd starting
      }
      EXPECT_NE(answer.find("hello-from-the-task"), std::string::npos) << address << ":" << port << " -> " << answer;
    }
  // The task is not on the host's network: it has lo and its own eth0.
  CommandResult dev = stack_->Exec(cluster_, task["taskArn"], "cat /proc/net/dev", "", "web");
  EXPECT_EQ(Interfaces(dev.out), (std::vector<std::string>{"eth0", "lo"})) << dev;
}

TEST_F(NetworkModesTest, AwsvpcTasksHaveAddressesOfTheirOwnAndSeeOnlyTheirInterfaces) {
  const std::string family = UniqueName("awsvpc");
  Json first = RunInMode(family, "awsvpc", Sleeper());
  ASSERT_FALSE(first.is_null());
  std::string second_arn = stack_->RunTask(cluster_, family, true);
  Json second;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, second_arn, seconds(60), &second)) << second.dump(2);

  std::vector<std::string> addresses;
  for (const Json& task : {first, second}) {
    ASSERT_EQ(task.value("attachments", Json::array()).size(), 1u) << task.dump(2);
    const Json& attachment = task["attachments"][0];
    EXPECT_EQ(attachment.value("type", ""), "ElasticNetworkInterface");
    EXPECT_EQ(attachment.value("status", ""), "ATTACHED");
    const std::string address = DetailOf(task, "privateIPv4Address");
    ASSERT_FALSE(address.empty()) << task.dump(2);
    EXPECT_EQ(DetailOf(task, "networkInterfaceId").rfind("eni-", 0), 0u) << task.dump(2);
    const Json& interface = task["containers"][0]["networkInterfaces"][0];
    EXPECT_EQ(interface.value("privateIpv4Address", ""), address);
    EXPECT_EQ(interface.value("attachmentId", ""), attachment.value("id", ""));
    addresses.push_back(address);

    // Inside: lo and eth0 only, eth0 with the reported address.
    CommandResult dev = stack_->Exec(cluster_, task["taskArn"], "cat /proc/net/dev");
    EXPECT_EQ(Interfaces(dev.out), (std::vector<std::string>{"eth0", "lo"})) << dev;
    CommandResult ip = stack_->Exec(cluster_, task["taskArn"], "ip -4 -o addr show dev eth0");
    EXPECT_NE(ip.out.find(" " + address + "/"), std::string::npos) << ip;
  }
  EXPECT_NE(addresses[0], addresses[1]);
}

TEST_F(NetworkModesTest, TheHostsLoopbackIsOutOfATasksReach) {
  Json task = RunInMode(UniqueName("loopback"), "bridge", Sleeper());
  ASSERT_FALSE(task.is_null());
  Listener loopback_only("127.0.0.1");
  Listener everywhere("0.0.0.0");
  ASSERT_NE(loopback_only.port(), 0);
  // The bridge's address on the host: the task's default gateway.
  CommandResult route = stack_->Exec(cluster_, task["taskArn"], "ip route show default");
  auto words = Tokens(route.out);
  ASSERT_GE(words.size(), 3u) << route;
  const std::string gateway = words[2];

  auto reaches = [&](const std::string& address, uint16_t port) {
    CommandResult r = stack_->Exec(cluster_, task["taskArn"],
                                   "sh -c 'nc -w 2 " + address + " " + std::to_string(port) +
                                       " </dev/null; echo status=$?'");
    EXPECT_NE(r.out.find("status="), std::string::npos) << r;
    return r.out.find("status=0") != std::string::npos;
  };
  // The control: what the host offers on every address, the task reaches.
  EXPECT_TRUE(reaches(gateway, everywhere.port()));
  // What listens on the host's loopback only it does not, by either road.
  EXPECT_FALSE(reaches("127.0.0.1", loopback_only.port()));
  EXPECT_FALSE(reaches(gateway, loopback_only.port()));
  // Nor portholed, which listens on the host's loopback (the agent got here
  // through the node's dialer, not the task's network).
  EXPECT_FALSE(reaches("127.0.0.1", stack_->port()));
  EXPECT_FALSE(reaches(gateway, stack_->port()));
}

TEST_F(NetworkModesTest, HostAndNoneModes) {
  Json host = RunInMode(UniqueName("host-mode"), "host", Sleeper());
  ASSERT_FALSE(host.is_null());
  CommandResult host_dev = stack_->Exec(cluster_, host["taskArn"], "cat /proc/net/dev");
  // The host's interfaces, the node's bridge among them.
  auto host_interfaces = Interfaces(host_dev.out);
  EXPECT_NE(std::find(host_interfaces.begin(), host_interfaces.end(), stack_->bridge()), host_interfaces.end())
      << host_dev;

  Json none = RunInMode(UniqueName("none-mode"), "none", Sleeper());
  ASSERT_FALSE(none.is_null());
  CommandResult none_dev = stack_->Exec(cluster_, none["taskArn"], "cat /proc/net/dev");
  EXPECT_EQ(Interfaces(none_dev.out), (std::vector<std::string>{"lo"})) << none_dev;
  // Exec works without any network at all: the agent's connection comes from the node.
  CommandResult echo = stack_->Exec(cluster_, none["taskArn"], "echo exec-without-a-network");
  EXPECT_EQ(echo.exit_code, 0) << echo;
  EXPECT_NE(echo.out.find("exec-without-a-network"), std::string::npos) << echo;
}

TEST_F(NetworkModesTest, AHostPortInUseFailsTheTaskWithTheReason) {
  Listener taken("0.0.0.0");
  Json web = Sleeper();
  web["portMappings"] = Json::array({{{"containerPort", 80}, {"hostPort", taken.port()}}});
  const std::string family = UniqueName("port-taken");
  ASSERT_FALSE(stack_->EcsJson({"register-task-definition", "--family", family, "--network-mode", "bridge",
                                "--container-definitions", Json::array({web}).dump()})
                   .is_null());
  std::string task = stack_->RunTask(cluster_, family, false);
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  EXPECT_EQ(last.value("stopCode", ""), "TaskFailedToStart") << last.dump(2);
  EXPECT_NE(last.value("stoppedReason", "").find("ResourceInitializationError"), std::string::npos) << last.dump(2);
  EXPECT_NE(last.value("stoppedReason", "").find(std::to_string(taken.port()) + "/tcp is in use"), std::string::npos)
      << last.dump(2);
}

// The veths on the node's bridge: one per task in its own namespace.
size_t VethsOnTheBridge(const Stack& stack) {
  CommandResult r = RunCommand({"/usr/sbin/ip", "-o", "link", "show", "master", stack.bridge()}, "", seconds(10));
  size_t n = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) n += line.find("veth") != std::string::npos;
  return n;
}

// What the node made for task `task_id`'s network: its record and namespace
// on disk, the namespace's mount, iptables rules naming it.
std::vector<std::string> NetworkOf(const Stack& stack, const std::string& task_id) {
  std::vector<std::string> found;
  for (const char* ext : {".json", ".netns"}) {
    std::string path = stack.node_dir() + "/network/" + task_id + ext;
    if (fs::exists(path)) found.push_back(path);
  }
  CommandResult rules = RunCommand({"/usr/sbin/iptables-save"}, "", seconds(10));
  std::istringstream lines(rules.out);
  for (std::string line; std::getline(lines, line);)
    if (line.find(task_id) != std::string::npos) found.push_back("rule: " + line);
  if (ReadWholeFile("/proc/self/mountinfo").find("/network/" + task_id + ".netns") != std::string::npos)
    found.push_back("its namespace is still mounted");
  return found;
}

TEST_F(NetworkModesTest, ANodeCrashLeavesNothingOnceItsTasksAreGone) {
  Json web = Sleeper();
  web["portMappings"] = Json::array({{{"containerPort", 8080}}});
  const std::string family = UniqueName("crash");
  const size_t veths_before = VethsOnTheBridge(*stack_);
  Json task = RunInMode(family, "bridge", web);
  ASSERT_FALSE(task.is_null());
  const std::string arn = task["taskArn"];
  const std::string task_id = arn.substr(arn.rfind('/') + 1);
  ASSERT_FALSE(NetworkOf(*stack_, task_id).empty()) << "the task's network was never made";
  EXPECT_EQ(VethsOnTheBridge(*stack_), veths_before + 1);

  // A crash and a restart: the task keeps running, and exec still works
  // (the node listens for its agent's dials again).
  stack_->KillNode();
  ASSERT_EQ(stack_->StartNode(), "");
  CommandResult again;
  for (int attempt = 0; attempt < 40; attempt++) {
    again = stack_->Exec(cluster_, arn, "echo still-reachable");
    if (again.out.find("still-reachable") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_NE(again.out.find("still-reachable"), std::string::npos) << again;

  // Another crash; the task is stopped while the node is down.
  stack_->KillNode();
  CommandResult stop = stack_->Ecs({"stop-task", "--cluster", cluster_, "--task", arn});
  ASSERT_EQ(stop.exit_code, 0) << stop;
  ASSERT_EQ(stack_->StartNode(), "");
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, arn, "STOPPED", seconds(90), &last)) << last.dump(2);
  std::vector<std::string> leftovers;
  for (int attempt = 0; attempt < 50; attempt++) {
    leftovers = NetworkOf(*stack_, task_id);
    if (leftovers.empty() && VethsOnTheBridge(*stack_) == veths_before) break;
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_TRUE(leftovers.empty()) << ::testing::PrintToString(leftovers);
  EXPECT_EQ(VethsOnTheBridge(*stack_), veths_before);
  // Nor its control groups.
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + stack_->cgroup_parent() + "/" + task_id));
}

}  // namespace
}  // namespace porthole::itest
