// Execute-command sessions against real runc busybox tasks: output, exit
// status, terminal size, descriptors, concurrency, stdin from a pipe,
// StopTask, essential container exit, and the ECS error cases.
#include <set>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;

constexpr auto kAgentTimeout = seconds(60);
constexpr const char* kExecNotEnabled =
    "The execute command failed because execute command was not enabled when the task was run or the execute "
    "command agent isn't running. Wait and try again or run a new task with execute command enabled and try again.";

class ExecSessionTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack();
    if (!stack_ready()) return;
    cluster_ = UniqueName("exec");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    Json nobody = BusyboxContainer("app", {"sleep", "3600"});
    nobody["user"] = "65534:65534";
    if (stack_->RegisterTaskDefinition("sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})})).empty() ||
        stack_->RegisterTaskDefinition("nobody", Json::array({nobody})).empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "sleeper", true);
    nobody_task_ = stack_->RunTask(cluster_, "nobody", true);
    if (task_.empty() || nobody_task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, kAgentTimeout, &last) ||
        !stack_->WaitForExecAgent(cluster_, nobody_task_, kAgentTimeout, &last))
      return SetSuiteError("the exec agent did not reach RUNNING; last describe-tasks: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  static std::string cluster_;
  static std::string task_;         // busybox `sleep 3600`, exec enabled
  static std::string nobody_task_;  // the same with "user": "65534:65534"
};

std::string ExecSessionTest::cluster_;
std::string ExecSessionTest::task_;
std::string ExecSessionTest::nobody_task_;

TEST_F(ExecSessionTest, EchoOutputArrives) {
  CommandResult r = stack_->Exec(cluster_, task_, "echo hello-porthole");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("hello-porthole")) << r;
}

TEST_F(ExecSessionTest, CommandsRunAsRoot) {
  CommandResult r = stack_->Exec(cluster_, task_, "id -u");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Tokens(r.out), std::vector<std::string>{"0"}) << r;
}

TEST_F(ExecSessionTest, CommandsRunAsRootEvenWhenTheContainerUserIsNot) {
  // The container itself really runs as 65534 ...
  CommandResult init = stack_->Exec(cluster_, nobody_task_, "grep ^Uid: /proc/1/status");
  ASSERT_EQ(init.exit_code, 0) << init;
  std::vector<std::string> uid = Tokens(init.out);
  ASSERT_GE(uid.size(), 2u) << init;
  EXPECT_EQ(uid[1], "65534") << init;
  // ... and the session's command still runs as root.
  CommandResult r = stack_->Exec(cluster_, nobody_task_, "id -u");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Tokens(r.out), std::vector<std::string>{"0"}) << r;
}

TEST_F(ExecSessionTest, ExitStatusIsPropagated) {
  CommandResult r = stack_->Exec(cluster_, task_, "sh -c \"exit 7\"");
  EXPECT_EQ(r.exit_code, 7) << r;
}

TEST_F(ExecSessionTest, SttySizeFollowsTerminalResize) {
  std::unique_ptr<PtyProcess> terminal = RunInPty(stack_->ExecArgv(cluster_, task_, "/bin/sh"), stack_->Env(), 40, 120);
  PtyProcess& pty = *terminal;
  ASSERT_TRUE(pty.started());
  // busybox sh's prompt for root.
  ASSERT_TRUE(pty.WaitForText("# ", seconds(30))) << pty.all_output();
  pty.Consume();
  pty.Write("stty size\r");
  EXPECT_TRUE(pty.WaitForText("40 120", seconds(15))) << pty.all_output();

  // The new size reaches the remote terminal asynchronously (SIGWINCH → the
  // client → the agent): ask until it shows.
  pty.Resize(50, 100);
  bool resized = false;
  auto deadline = Clock::now() + seconds(20);
  while (!resized && Clock::now() < deadline) {
    pty.Consume();
    pty.Write("stty size\r");
    resized = pty.WaitForText("50 100", seconds(1));
  }
  EXPECT_TRUE(resized) << pty.all_output();

  pty.Write("exit\r");
  std::optional<int> status = pty.Wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << "the client did not exit after `exit`: " << pty.all_output();
  EXPECT_EQ(*status, 0) << pty.all_output();
}

TEST_F(ExecSessionTest, SessionProcessHasOnlyStandardDescriptors) {
  // $$ is the shell the agent started (`ls /proc/self/fd` would also show
  // ls's own directory fd). The trailing `true` keeps busybox sh from
  // exec'ing ls in place of itself, which would make $$ ls again.
  CommandResult r = stack_->Exec(cluster_, task_, "sh -c 'ls /proc/$$/fd; true'");
  EXPECT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> fds = Tokens(r.out);
  EXPECT_EQ(std::set<std::string>(fds.begin(), fds.end()), (std::set<std::string>{"0", "1", "2"})) << r;
  EXPECT_EQ(fds.size(), 3u) << r;
}

TEST_F(ExecSessionTest, TwoConcurrentSessionsOnOneTask) {
  // Each session marks that it started, then waits (bounded) for the other's
  // mark: both printing "saw" proves the sessions ran at the same time.
  std::string tag = UniqueName("rendezvous");
  auto script = [&](const std::string& me, const std::string& other) {
    return "sh -c 'touch /tmp/" + tag + "-" + me + "; i=0; while [ ! -e /tmp/" + tag + "-" + other +
           " ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done; sleep 2; test -e /tmp/" + tag + "-" + other +
           " && echo " + me + "-saw-" + other + "'";
  };
  Command a(stack_->ExecArgv(cluster_, task_, script("A", "B")), stack_->Env());
  Command b(stack_->ExecArgv(cluster_, task_, script("B", "A")), stack_->Env());
  ASSERT_TRUE(a.Start());
  ASSERT_TRUE(b.Start());
  CommandResult ra = a.Wait(seconds(90));
  CommandResult rb = b.Wait(seconds(90));
  EXPECT_EQ(ra.exit_code, 0) << ra;
  EXPECT_EQ(rb.exit_code, 0) << rb;
  EXPECT_THAT(ra.out, HasSubstr("A-saw-B")) << ra;
  EXPECT_THAT(rb.out, HasSubstr("B-saw-A")) << rb;
}

TEST_F(ExecSessionTest, PipedStdinIsNotATerminal) {
  CommandResult r = stack_->Exec(cluster_, task_, "/bin/sh", "echo piped; exit 5\n");
  EXPECT_EQ(r.exit_code, 5) << r;
  EXPECT_THAT(r.out, HasSubstr("piped")) << r;
}

TEST_F(ExecSessionTest, StopTaskEndsSessionsAndContainers) {
  std::string task = stack_->RunTask(cluster_, "sleeper", true);
  ASSERT_FALSE(task.empty());
  Json described;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task, kAgentTimeout, &described)) << described.dump(2);
  std::string runtime_id = described["containers"][0].value("runtimeId", "");
  ASSERT_FALSE(runtime_id.empty()) << described.dump(2);
  {
    std::vector<std::string> before = stack_->RuncContainers();
    ASSERT_NE(std::find(before.begin(), before.end(), runtime_id), before.end()) << "runc does not list " << runtime_id;
  }

  // A long session; its first output says the session is up.
  Command session(stack_->ExecArgv(cluster_, task, "sh -c 'echo session-up; sleep 300'"), stack_->Env());
  ASSERT_TRUE(session.Start());
  ASSERT_TRUE(session.WaitForStdout("session-up", seconds(30)))
      << session.stdout_so_far() << "\n" << session.stderr_so_far();

  Json stopped = stack_->EcsJson({"stop-task", "--cluster", cluster_, "--task", task, "--reason", "integration test"});
  ASSERT_FALSE(stopped.is_null());

  CommandResult r = session.Wait(seconds(30));
  EXPECT_FALSE(r.timed_out) << "the session client did not exit after StopTask: " << r;

  Json last;
  EXPECT_TRUE(stack_->WaitForLastStatus(cluster_, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  EXPECT_FALSE(last.value("stoppedReason", "").empty()) << last.dump(2);

  bool gone = false;
  auto deadline = Clock::now() + seconds(30);
  while (!gone && Clock::now() < deadline) {
    std::vector<std::string> ids = stack_->RuncContainers();
    gone = std::find(ids.begin(), ids.end(), runtime_id) == ids.end();
    if (!gone) std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_TRUE(gone) << "runc still lists " << runtime_id;
}

TEST_F(ExecSessionTest, EssentialContainerExitStopsTheTask) {
  ASSERT_FALSE(
      stack_->RegisterTaskDefinition("exit-four", Json::array({BusyboxContainer("app", {"sh", "-c", "exit 4"})})).empty());
  std::string task = stack_->RunTask(cluster_, "exit-four", false);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  EXPECT_EQ(last.value("stoppedReason", ""), "Essential container in task exited") << last.dump(2);
  ASSERT_TRUE(last.contains("containers") && !last["containers"].empty()) << last.dump(2);
  const Json& container = last["containers"][0];
  EXPECT_EQ(container.value("lastStatus", ""), "STOPPED") << last.dump(2);
  ASSERT_TRUE(container.contains("exitCode")) << last.dump(2);
  EXPECT_EQ(container["exitCode"], 4) << last.dump(2);
}

TEST_F(ExecSessionTest, ExecOnTaskWithoutExecuteCommandFails) {
  std::string task = stack_->RunTask(cluster_, "sleeper", false);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "RUNNING", seconds(60), &last)) << last.dump(2);
  CommandResult r = stack_->Exec(cluster_, task, "echo never");
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("InvalidParameterException")) << r;
  EXPECT_THAT(r.err, HasSubstr(kExecNotEnabled)) << r;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("never"))) << r;
}

TEST_F(ExecSessionTest, NonInteractiveIsRejected) {
  std::vector<std::string> argv = stack_->ExecArgv(cluster_, task_, "echo never");
  std::replace(argv.begin(), argv.end(), std::string("--interactive"), std::string("--no-interactive"));
  CommandResult r = RunCommand(argv, "", seconds(60), stack_->Env());
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("Interactive is the only mode supported currently.")) << r;
}

TEST_F(ExecSessionTest, UnknownClusterIsRejected) {
  CommandResult r = stack_->Exec(UniqueName("no-such-cluster"), task_, "echo never");
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("ClusterNotFoundException")) << r;
}

TEST_F(ExecSessionTest, UnknownTaskIsRejected) {
  CommandResult r = stack_->Exec(cluster_, "0123456789abcdef0123456789abcdef", "echo never");
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("InvalidParameterException")) << r;
}

TEST_F(ExecSessionTest, TwoContainerTaskNeedsTheContainerFlag) {
  ASSERT_FALSE(stack_
                   ->RegisterTaskDefinition("pair", Json::array({BusyboxContainer("first", {"sleep", "3600"}),
                                                                 BusyboxContainer("second", {"sleep", "3600"})}))
                   .empty());
  std::string task = stack_->RunTask(cluster_, "pair", true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task, kAgentTimeout, &last)) << last.dump(2);

  CommandResult r = stack_->Exec(cluster_, task, "echo never");
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("InvalidParameterException")) << r;

  // Naming the container works.
  CommandResult named = stack_->Exec(cluster_, task, "echo in-second", "", "second");
  EXPECT_EQ(named.exit_code, 0) << named;
  EXPECT_THAT(named.out, HasSubstr("in-second")) << named;
}

}  // namespace
}  // namespace porthole::itest
