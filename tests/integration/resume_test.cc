// Sessions survive dropped connections byte for byte: a TcpProxy sits between
// the client and portholed (client side) and between porthole-node, with the
// exec agents it starts, and portholed (agent side); the proxy resets every
// connection while several megabytes of output are streaming. The client
// resumes (ResumeSession, re-dial, sequence numbers continue), the agent
// re-dials its data channel, and the output must arrive exactly once, in
// order (shared/protocol/session-data-channel.md §4.3, §8).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;

constexpr const char* kAws = "/usr/bin/aws";
constexpr int kLines = 200000;  // about 7.5 MB of output

// The remote command: kLines numbered lines from busybox sh, nothing read from stdin.
std::string LinesCommand() {
  return "sh -c 'i=0; while [ $i -lt " + std::to_string(kLines) +
         " ]; do echo line-$i-abcdefghijklmnopqrstuvwxyz; i=$((i+1)); done'";
}

// What LinesCommand prints.
const std::string& ExpectedLines() {
  static const std::string text = [] {
    std::string t;
    t.reserve(static_cast<size_t>(kLines) * 40);
    for (int i = 0; i < kLines; i++) t += "line-" + std::to_string(i) + "-abcdefghijklmnopqrstuvwxyz\n";
    return t;
  }();
  return text;
}

std::string Sha256Hex(const std::string& data) { return crypto::HexEncode(crypto::Sha256(data)); }

// The remote terminal turns "\n" into "\r\n"; take the '\r's out again.
std::string WithoutCarriageReturns(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return text;
}

// Why `got` is not `want`, briefly: sizes, line counts and the first difference.
std::string Difference(const std::string& got, const std::string& want) {
  std::ostringstream out;
  out << "got " << got.size() << " bytes (" << std::count(got.begin(), got.end(), '\n') << " lines), want "
      << want.size() << " bytes (" << std::count(want.begin(), want.end(), '\n') << " lines)";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) i++;
  size_t from = i < 80 ? 0 : i - 80;
  out << "; first difference at byte " << i << ":\n--- got ---\n"
      << got.substr(from, 200) << "\n--- want ---\n"
      << want.substr(from, 200) << "\n---";
  return out.str();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) n++;
  return n;
}

class ResumeTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack(StackOptions{.node_through_proxy = true});
    if (!stack_ready()) return;
    client_proxy_ = new TcpProxy(stack_->port());
    if (std::string e = client_proxy_->Start(); !e.empty()) return SetSuiteError(e);
    cluster_ = UniqueName("resume");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("resume-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "resume-sleeper", true);
    if (task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, seconds(60), &last))
      return SetSuiteError("the exec agent did not reach RUNNING; last describe-tasks: " + last.dump(2));
  }
  static void TearDownTestSuite() {
    delete client_proxy_;
    client_proxy_ = nullptr;
    StopStack();
  }

  void SetUp() override {
    StackTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // An earlier test's cut may have sent the agent into its reconnect
    // back-off: wait until it is connected again.
    Json last;
    ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task_, seconds(90), &last)) << last.dump(2);
  }

  // `porthole ecs execute-command` against `endpoint` (portholed itself or
  // the client proxy), running LinesCommand with stdin at end-of-file.
  static std::vector<std::string> PortholeArgv(const std::string& endpoint) {
    std::vector<std::string> argv = stack_->ExecArgv(cluster_, task_, LinesCommand());
    argv.back() = endpoint;  // the value of --endpoint-url
    return argv;
  }

  struct Run {
    CommandResult result;
    std::vector<size_t> cut;  // connections each cut reset
  };

  // Runs `argv`; each time its stdout passes the next of `thresholds` bytes
  // while it still runs, resets every connection of every proxy in `proxies`.
  // With `outage`, the proxies also refuse new connections for that long
  // after each cut (a network that stays down for a while).
  static Run RunWithCuts(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::vector<TcpProxy*>& proxies, const std::vector<size_t>& thresholds,
                         milliseconds outage = milliseconds(0)) {
    Run run;
    Command command(argv, env);
    if (!command.Start()) {
      run.result.err = "could not start " + argv[0];
      return run;
    }
    auto deadline = Clock::now() + seconds(180);
    for (size_t threshold : thresholds) {
      size_t seen = 0;
      while (command.Running() && command.stdout_so_far().size() < threshold && Clock::now() < deadline) {
        if (command.stdout_so_far().size() == seen) std::this_thread::sleep_for(milliseconds(1));
        seen = command.stdout_so_far().size();
      }
      if (!command.Running() || Clock::now() >= deadline) break;
      size_t n = 0;
      for (TcpProxy* p : proxies) {
        if (outage.count() > 0) p->SetRefusing(true);
        n += p->CutAll();
      }
      run.cut.push_back(n);
      if (outage.count() > 0) {
        auto back = Clock::now() + outage;
        while (Clock::now() < back && command.Running()) std::this_thread::sleep_for(milliseconds(10));
        for (TcpProxy* p : proxies) p->SetRefusing(false);
      }
    }
    run.result = command.Wait(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + seconds(1));
    return run;
  }

  static void ExpectAllLines(const std::string& output) {
    const std::string& want = ExpectedLines();
    std::string got = WithoutCarriageReturns(output);
    EXPECT_EQ(Sha256Hex(got), Sha256Hex(want)) << Difference(got, want);
  }

  static std::string PortholedLog() { return ReadText(stack_->dir() + "/portholed.log"); }

  static TcpProxy* client_proxy_;
  static std::string cluster_;
  static std::string task_;
};

TcpProxy* ResumeTest::client_proxy_ = nullptr;
std::string ResumeTest::cluster_;
std::string ResumeTest::task_;

TEST_F(ResumeTest, UncutRunDeliversEveryLine) {
  // The baseline: the same command with nothing cut.
  Run run = RunWithCuts(PortholeArgv(stack_->url()), stack_->Env(), {}, {});
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
}

TEST_F(ResumeTest, ClientConnectionCutTwice) {
  size_t resumes_before = Count(PortholedLog(), " resumed by ");
  size_t accepted_before = client_proxy_->accepted();
  Run run = RunWithCuts(PortholeArgv(client_proxy_->url()), stack_->Env(), {client_proxy_}, {1000000, 4000000});
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 2u) << "the output ended before both cuts: " << run.result.err;
  EXPECT_GE(run.cut[0], 1u) << "the first cut found no connection to reset";
  EXPECT_GE(run.cut[1], 1u) << "the second cut found no connection to reset";
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
  // Each cut was followed by ResumeSession and a new data channel.
  EXPECT_GE(Count(PortholedLog(), " resumed by ") - resumes_before, 2u) << stack_->Logs();
  EXPECT_GE(client_proxy_->accepted() - accepted_before, 5u);  // ExecuteCommand, 1 + 2 channels, 2 resumes
}

TEST_F(ResumeTest, AgentConnectionCutTwice) {
  TcpProxy* node_proxy = stack_->node_proxy();
  ASSERT_NE(node_proxy, nullptr);
  size_t drops_before = Count(PortholedLog(), "agent connection dropped");
  // The client talks to portholed directly; only the agent's side is cut.
  Run run = RunWithCuts(PortholeArgv(stack_->url()), stack_->Env(), {node_proxy}, {1000000, 4000000});
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 2u) << "the output ended before both cuts: " << run.result.err;
  EXPECT_GE(run.cut[0], 1u);
  EXPECT_GE(run.cut[1], 1u);
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
  EXPECT_GE(Count(PortholedLog(), "agent connection dropped") - drops_before, 2u) << stack_->Logs();
}

TEST_F(ResumeTest, BothSidesCutAtOnce) {
  Run run = RunWithCuts(PortholeArgv(client_proxy_->url()), stack_->Env(), {client_proxy_, stack_->node_proxy()},
                        {2000000, 5000000});
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 2u) << "the output ended before both cuts: " << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
}

TEST_F(ResumeTest, ClientAwayForSeveralSeconds) {
  // Well within the gateway's 60 s grace: the client cannot reach portholed
  // for 5 s while the agent keeps producing output. (The client re-tries
  // ResumeSession 6 times, 0.2 s apart and doubling: it gives up after
  // about 12.6 s.)
  Run run = RunWithCuts(PortholeArgv(client_proxy_->url()), stack_->Env(), {client_proxy_}, {1000000}, seconds(5));
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 1u) << "the output ended before the cut: " << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
}

TEST_F(ResumeTest, AgentAwayForSeveralSeconds) {
  Run run = RunWithCuts(PortholeArgv(stack_->url()), stack_->Env(), {stack_->node_proxy()}, {1000000}, seconds(5));
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 1u) << "the output ended before the cut: " << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  ExpectAllLines(run.result.out);
}

TEST_F(ResumeTest, PluginThroughTheAwsCliResumesAfterCuts) {
  if (::access(kAws, X_OK) != 0) GTEST_SKIP() << kAws << " is not installed";
  std::vector<std::string> env = stack_->Env();
  const char* path = std::getenv("PATH");
  env.push_back("PATH=" + BinDir() + ":" + (path ? path : "/usr/bin:/bin"));
  std::vector<std::string> argv = {kAws,      "ecs",        "execute-command", "--endpoint-url", client_proxy_->url(),
                                   "--cluster", cluster_,   "--task",          task_,            "--interactive",
                                   "--command", LinesCommand()};
  Run run = RunWithCuts(argv, env, {client_proxy_}, {1000000, 4000000});
  ASSERT_FALSE(run.result.timed_out) << run.result.err;
  ASSERT_EQ(run.cut.size(), 2u) << "the output ended before both cuts: " << run.result.err;
  EXPECT_EQ(run.result.exit_code, 0) << run.result.err;
  // The plugin's stdout: the CLI's probe text, the "Starting session" line,
  // the remote output, the "Exiting session" line.
  std::string out = WithoutCarriageReturns(run.result.out);
  size_t begin = out.find("line-0-");
  size_t end = out.find("\n\nExiting session with sessionId:");
  ASSERT_NE(begin, std::string::npos) << out.substr(0, 2000);
  ASSERT_NE(end, std::string::npos) << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
  ASSERT_LT(begin, end);
  ExpectAllLines(out.substr(begin, end - begin));
}

}  // namespace
}  // namespace porthole::itest
