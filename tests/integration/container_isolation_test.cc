// Container isolation (issue 9), proven from inside a task's container
// through an exec session, the way an operator (or an intruder with exec)
// would try it: the seccomp filter is on (Docker's default profile) and what
// it removes fails, while ordinary commands still work.
#include <gtest/gtest.h>

#include "harness.h"

namespace porthole::itest {
namespace {

class ContainerIsolationTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack(StackOptions{});
    if (!stack_ready()) return;
    cluster_ = UniqueName("isolation");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("isolation-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    Json limited = BusyboxContainer("app", {"sleep", "3600"});
    limited["linuxParameters"] = {{"capabilities", {{"drop", {"CHOWN", "NET_RAW"}}, {"add", {"SYS_PTRACE"}}}}};
    if (stack_->RegisterTaskDefinition("isolation-limited", Json::array({limited})).empty())
      return SetSuiteError("register-task-definition (capabilities) failed");
    Json read_only = BusyboxContainer("app", {"sleep", "3600"});
    read_only["readonlyRootFilesystem"] = true;
    if (stack_->RegisterTaskDefinition("isolation-read-only", Json::array({read_only})).empty())
      return SetSuiteError("register-task-definition (readonlyRootFilesystem) failed");
    task_ = stack_->RunTask(cluster_, "isolation-sleeper", true);
    limited_task_ = stack_->RunTask(cluster_, "isolation-limited", true);
    read_only_task_ = stack_->RunTask(cluster_, "isolation-read-only", true);
    if (task_.empty() || limited_task_.empty() || read_only_task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    for (const std::string& task : {task_, limited_task_, read_only_task_})
      if (!stack_->WaitForExecAgent(cluster_, task, seconds(60), &last))
        return SetSuiteError("the exec agent did not reach RUNNING: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  static std::string cluster_;
  static std::string task_;
  static std::string limited_task_;  // linuxParameters.capabilities: drop CHOWN and NET_RAW, add SYS_PTRACE
  static std::string read_only_task_;  // readonlyRootFilesystem
};

std::string ContainerIsolationTest::cluster_;
std::string ContainerIsolationTest::task_;
std::string ContainerIsolationTest::limited_task_;
std::string ContainerIsolationTest::read_only_task_;

TEST_F(ContainerIsolationTest, SessionsRunUnderASeccompFilter) {
  // Mode 2 is a filter; an exec session's command inherits it from the container.
  // (--command is split into words and run without a shell, as ECS runs it.)
  CommandResult r = stack_->Exec(cluster_, task_, "grep Seccomp: /proc/self/status");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r;
  // And so does the container's own process (pid 1 of its namespace).
  CommandResult init = stack_->Exec(cluster_, task_, "grep Seccomp: /proc/1/status");
  EXPECT_NE(init.out.find("Seccomp:\t2"), std::string::npos) << init;
}

TEST_F(ContainerIsolationTest, NewNamespacesAreRefused) {
  // A user namespace needs no capability, so only the filter stops it.
  CommandResult user = stack_->Exec(cluster_, task_, "sh -c 'unshare -U true; echo status=$?'");
  EXPECT_NE(user.out.find("status=1"), std::string::npos) << user;
  EXPECT_NE(user.out.find("Operation not permitted"), std::string::npos) << user;
  CommandResult net = stack_->Exec(cluster_, task_, "sh -c 'unshare -n true; echo status=$?'");
  EXPECT_EQ(net.out.find("status=0"), std::string::npos) << net;
}

TEST_F(ContainerIsolationTest, OrdinaryCommandsStillWork) {
  CommandResult r = stack_->Exec(cluster_, task_,
                                 "sh -c 'cd /tmp && echo data > f && cat f && sh -c \"exit 4\"; echo status=$?'");
  EXPECT_NE(r.out.find("data"), std::string::npos) << r;
  EXPECT_NE(r.out.find("status=4"), std::string::npos) << r;
}

TEST_F(ContainerIsolationTest, ExecWorksInAReadOnlyRootFilesystemUnderTheSameIsolation) {
  // The agent needs nothing writable in the container: it runs from its own
  // read-only mount and keeps its state in memory.
  CommandResult write = stack_->Exec(cluster_, read_only_task_, "sh -c 'echo x > /probe; echo status=$?'");
  EXPECT_EQ(write.exit_code, 0) << write;
  EXPECT_NE(write.out.find("Read-only file system"), std::string::npos) << write;
  EXPECT_NE(write.out.find("status=1"), std::string::npos) << write;
  CommandResult mounts = stack_->Exec(cluster_, read_only_task_, "grep -E ' / ' /proc/self/mounts");
  EXPECT_NE(mounts.out.find(" ro,"), std::string::npos) << mounts;
  CommandResult seccomp = stack_->Exec(cluster_, read_only_task_, "grep Seccomp: /proc/self/status");
  EXPECT_NE(seccomp.out.find("Seccomp:\t2"), std::string::npos) << seccomp;
  CommandResult user = stack_->Exec(cluster_, read_only_task_, "sh -c 'unshare -U true; echo status=$?'");
  EXPECT_NE(user.out.find("status=1"), std::string::npos) << user;
}

// The bounding set in /proc/self/status (hex), of an exec session in `task`.
std::string CapBnd(Stack& stack, const std::string& cluster, const std::string& task) {
  CommandResult r = stack.Exec(cluster, task, "grep CapBnd: /proc/self/status");
  size_t at = r.out.find("CapBnd:");
  return at == std::string::npos ? r.out : r.out.substr(at + 8, 16);
}

TEST_F(ContainerIsolationTest, CapabilitiesFollowTheTaskDefinition) {
  // Docker's default set: bits 0 1 3 4 5 6 7 8 10 13 18 27 29 31.
  EXPECT_EQ(CapBnd(*stack_, cluster_, task_), "00000000a80425fb");
  // Without CHOWN (bit 0) and NET_RAW (13), with SYS_PTRACE (19).
  EXPECT_EQ(CapBnd(*stack_, cluster_, limited_task_), "00000000a80c05fa");

  const std::string chown = "sh -c 'touch /tmp/owned && chown 1:1 /tmp/owned; echo status=$?'";
  CommandResult allowed = stack_->Exec(cluster_, task_, chown);
  EXPECT_NE(allowed.out.find("status=0"), std::string::npos) << allowed;
  CommandResult refused = stack_->Exec(cluster_, limited_task_, chown);
  EXPECT_NE(refused.out.find("status=1"), std::string::npos) << refused;
}

}  // namespace
}  // namespace porthole::itest
