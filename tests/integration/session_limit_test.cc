// Issue 3 item 5: sessions count against a per-container limit, however they
// were started (ExecuteCommand or ssm:StartSession).
#include <gtest/gtest.h>
#include <unistd.h>

#include "harness.h"

namespace porthole::itest {
namespace {

class SessionLimitTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.portholed_args = {"--sessions-per-container", "1"};
    StartStack(options);
    if (!stack_ready()) return;
    cluster_ = UniqueName("limit");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("limit-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "limit-sleeper", true);
    if (task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, seconds(60), &last))
      return SetSuiteError("the exec agent did not reach RUNNING: " + last.dump(2));
    runtime_id_ = last["containers"][0].value("runtimeId", "");
  }
  static void TearDownTestSuite() { StopStack(); }

  static std::string cluster_;
  static std::string task_;
  static std::string runtime_id_;
};

std::string SessionLimitTest::cluster_;
std::string SessionLimitTest::task_;
std::string SessionLimitTest::runtime_id_;

TEST_F(SessionLimitTest, ASecondSessionIsRefusedWhileTheFirstIsOpenEitherWay) {
  Command first(stack_->ExecArgv(cluster_, task_, "sh -c 'echo first-up; sleep 20'"), stack_->Env());
  ASSERT_TRUE(first.Start());
  ASSERT_TRUE(first.WaitForStdout("first-up", seconds(30))) << first.stderr_so_far();

  CommandResult second = stack_->Exec(cluster_, task_, "echo second");
  EXPECT_EQ(second.exit_code, 254) << second;
  EXPECT_NE(second.err.find("ClientException"), std::string::npos) << second;
  EXPECT_NE(second.err.find("already has 1 sessions"), std::string::npos) << second;

  // ssm:StartSession counts against the same limit (E28).
  std::string task_id = task_.substr(task_.rfind('/') + 1);
  if (::access("/usr/bin/aws", X_OK) == 0) {
    CommandResult ssm = RunCommand({"/usr/bin/aws", "ssm", "start-session", "--target",
                                    "ecs:" + cluster_ + "_" + task_id + "_" + runtime_id_, "--endpoint-url",
                                    stack_->url()},
                                   "", seconds(60), stack_->Env());
    EXPECT_NE(ssm.exit_code, 0) << ssm;
    EXPECT_NE((ssm.err + ssm.out).find("already has 1 sessions"), std::string::npos) << ssm;
  }

  // Once the first ends, a new session is allowed again.
  CommandResult finished = first.Wait(seconds(60));
  EXPECT_EQ(finished.exit_code, 0) << finished;
  CommandResult third = stack_->Exec(cluster_, task_, "echo third-ok");
  EXPECT_EQ(third.exit_code, 0) << third;
  EXPECT_NE(third.out.find("third-ok"), std::string::npos) << third;
}

}  // namespace
}  // namespace porthole::itest
