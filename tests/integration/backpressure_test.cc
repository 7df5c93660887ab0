// Flow control (issue 8, item 1): a client that stops reading while its
// command prints without end costs portholed a small, fixed amount of
// memory, and is disconnected with a reason after the stall limit. The
// bound is asserted on the bytes the gateway reports queued (DescribeGateway),
// never on timing.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>

#include "harness.h"

namespace porthole::itest {
namespace {

// portholed's defaults: 256 KiB queued for one end before the relay stops
// reading the other; the agent sends output in messages of at most 64 KiB
// (kOutputMessageSize in src/agent/exec_agent.cc) plus the frame's header.
constexpr size_t kQueueLimit = 256 * 1024;
constexpr size_t kLargestFrame = 64 * 1024 + 1024;

class BackpressureTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    ::signal(SIGPIPE, SIG_IGN);  // a client that exits early must not kill the test writing its stdin
    StackOptions options;
    options.portholed_args = {"--stall-timeout", "8"};
    StartStack(options);
    if (!stack_ready()) return;
    cluster_ = UniqueName("flow");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("flow-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "flow-sleeper", true);
    if (task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, seconds(60), &last))
      return SetSuiteError("the exec agent did not reach RUNNING: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  static Json Gateway() {
    CommandResult r = RunCommand({Bin("porthole"), "admin", "describe-gateway", "--endpoint-url", stack_->url()},
                                 "", seconds(30), stack_->Env());
    Json out = Json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !out.is_object()) {
      ADD_FAILURE() << "describe-gateway failed: " << r;
      return Json::object();
    }
    return out;
  }

  static std::string cluster_;
  static std::string task_;
};

std::string BackpressureTest::cluster_;
std::string BackpressureTest::task_;

TEST_F(BackpressureTest, AStalledClientCostsAFixedAmountAndIsDisconnected) {
  const uint64_t stalled_before = Gateway().value("stalledEnds", 0);
  // Output without end: `yes` writes as fast as the PTY takes it.
  Command client(stack_->ExecArgv(cluster_, task_, "yes 0123456789abcdef0123456789abcdef"), stack_->Env());
  ASSERT_TRUE(client.Start());
  ASSERT_TRUE(client.WaitForStdout("0123456789abcdef", seconds(30))) << client.stderr_so_far();
  // The client stops reading (as Ctrl-Z or a frozen laptop stops it).
  client.Signal(SIGSTOP);

  // While it is stopped the gateway holds at most its queue limit (and one
  // frame) for it, and nothing for ends that are away.
  size_t most = 0;
  bool ended = false;
  auto deadline = Clock::now() + seconds(90);
  while (Clock::now() < deadline) {
    Json g = Gateway();
    most = std::max<size_t>(most, g.value("maxQueuedBytesPerEnd", size_t{0}));
    EXPECT_LE(g.value("queuedBytes", size_t{0}), 2 * (kQueueLimit + kLargestFrame)) << g.dump();
    EXPECT_EQ(g.value("pendingBytes", size_t{0}), 0u) << g.dump();
    if (g.value("stalledEnds", uint64_t{0}) > stalled_before && g.value("sessions", 1) == 0) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_LE(most, kQueueLimit + kLargestFrame);
  EXPECT_GT(most, 0u) << "the client's queue never filled: the test did not stall it";
  EXPECT_TRUE(ended) << "the stalled session was not ended";

  // Let the client go on: it finds its session ended and exits.
  client.Signal(SIGCONT);
  CommandResult result = client.Wait(seconds(120));
  EXPECT_FALSE(result.timed_out) << result;
  EXPECT_NE(result.exit_code, 0) << result;

  // The container still serves new sessions.
  CommandResult after = stack_->Exec(cluster_, task_, "echo still-here");
  EXPECT_EQ(after.exit_code, 0) << after;
  EXPECT_NE(after.out.find("still-here"), std::string::npos) << after;
}

// A command that never reads its input while the client sends without end:
// the agent holds a bounded amount for the PTY and leaves the rest
// unacknowledged (the client keeps it), so nothing grows, and the session is
// not stalled: the agent still reads its data channel.
TEST_F(BackpressureTest, FloodingACommandThatNeverReadsIsBounded) {
  const uint64_t stalled_before = Gateway().value("stalledEnds", 0);
  std::string flood;
  for (int i = 0; i < 128 * 1024; i++) flood += "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
  Command client(stack_->ExecArgv(cluster_, task_, "sleep 3600"), stack_->Env(), flood);  // 8 MiB of input
  ASSERT_TRUE(client.Start());
  size_t most = 0;
  bool seen = false;
  // Longer than the stall limit (8 s): a stalled end would have been cut by now.
  auto until = Clock::now() + seconds(14);
  while (Clock::now() < until) {
    client.Running();  // feeds stdin as the client takes it
    Json g = Gateway();
    most = std::max<size_t>(most, g.value("maxQueuedBytesPerEnd", size_t{0}));
    seen = seen || g.value("sessions", 0) == 1;
    EXPECT_LE(g.value("queuedBytes", size_t{0}), 2 * (kQueueLimit + kLargestFrame)) << g.dump();
    std::this_thread::sleep_for(milliseconds(500));
  }
  Json g = Gateway();
  EXPECT_TRUE(seen) << "the session never opened: " << client.stderr_so_far();
  EXPECT_LE(most, kQueueLimit + kLargestFrame);
  EXPECT_EQ(g.value("stalledEnds", uint64_t{0}), stalled_before) << g.dump();
  EXPECT_EQ(g.value("sessions", 0), 1) << g.dump();
  EXPECT_TRUE(client.Running()) << client.stderr_so_far();
  client.Signal(SIGKILL);
  client.Wait(seconds(30));
}

}  // namespace
}  // namespace porthole::itest
