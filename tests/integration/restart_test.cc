// Restarts: portholed keeps its state and the exec agents come back to it;
// porthole-node picks up its running containers again without losing or
// duplicating them.
#include <algorithm>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;

constexpr auto kAgentTimeout = seconds(60);

class RestartTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StartStack();
    if (!stack_ready()) return;
    if (stack_->RegisterTaskDefinition("sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})})).empty())
      return SetSuiteError("register-task-definition failed");
  }
  static void TearDownTestSuite() { StopStack(); }

  // A new cluster with one exec-enabled `sleep 3600` task whose agent is up.
  // Returns the task ARN ("" after recording a failure).
  std::string StartExecTask(const std::string& cluster) {
    if (!stack_->CreateCluster(cluster)) return "";
    std::string task = stack_->RunTask(cluster, "sleeper", true);
    if (task.empty()) return "";
    Json last;
    if (!stack_->WaitForExecAgent(cluster, task, kAgentTimeout, &last)) {
      ADD_FAILURE() << "the exec agent did not reach RUNNING: " << last.dump(2);
      return "";
    }
    return task;
  }

  // Runs `echo <word>` in the task until it works (the agent may still be
  // reconnecting) or `timeout` passes. Returns the last attempt.
  CommandResult ExecUntilItWorks(const std::string& cluster, const std::string& task, const std::string& word,
                                 milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    CommandResult r;
    for (;;) {
      r = stack_->Exec(cluster, task, "echo " + word, "", "", seconds(30));
      if (r.exit_code == 0 && r.out.find(word) != std::string::npos) return r;
      if (Clock::now() >= deadline) return r;
      std::this_thread::sleep_for(seconds(1));
    }
  }

  static int ContainersOfTask(const std::vector<std::string>& runc_ids, const std::string& task_arn) {
    std::string task_id = task_arn.substr(task_arn.rfind('/') + 1);
    return static_cast<int>(std::count_if(runc_ids.begin(), runc_ids.end(),
                                          [&](const std::string& id) { return id.rfind(task_id, 0) == 0; }));
  }
};

TEST_F(RestartTest, PortholedRestartKeepsClustersTaskDefinitionsAndTasks) {
  std::string cluster = UniqueName("keep");
  ASSERT_TRUE(stack_->CreateCluster(cluster));
  std::string family = UniqueName("family");
  std::string definition_arn =
      stack_->RegisterTaskDefinition(family, Json::array({BusyboxContainer("app", {"sleep", "3600"})}));
  ASSERT_FALSE(definition_arn.empty());
  std::string task = stack_->RunTask(cluster, family, true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster, task, "RUNNING", seconds(60), &last)) << last.dump(2);

  uint16_t port = stack_->port();
  std::string restart = stack_->RestartPortholed();
  ASSERT_EQ(restart, "");
  EXPECT_EQ(stack_->port(), port);

  Json clusters = stack_->EcsJson({"describe-clusters", "--clusters", cluster});
  ASSERT_FALSE(clusters.is_null());
  ASSERT_EQ(clusters["clusters"].size(), 1u) << clusters.dump(2);
  EXPECT_EQ(clusters["clusters"][0].value("clusterName", ""), cluster);
  EXPECT_EQ(clusters["clusters"][0].value("status", ""), "ACTIVE");

  Json definition = stack_->EcsJson({"describe-task-definition", "--task-definition", family});
  ASSERT_FALSE(definition.is_null());
  EXPECT_EQ(definition["taskDefinition"].value("taskDefinitionArn", ""), definition_arn) << definition.dump(2);
  EXPECT_EQ(definition["taskDefinition"]["containerDefinitions"][0].value("name", ""), "app") << definition.dump(2);

  Json described = stack_->DescribeTask(cluster, task);
  ASSERT_FALSE(described.is_null()) << "describe-tasks lost " << task;
  EXPECT_EQ(described.value("taskArn", ""), task);
  EXPECT_EQ(described.value("lastStatus", ""), "RUNNING") << described.dump(2);
  EXPECT_EQ(described.value("enableExecuteCommand", false), true) << described.dump(2);

  Json listed = stack_->EcsJson({"list-tasks", "--cluster", cluster});
  ASSERT_FALSE(listed.is_null());
  std::vector<std::string> arns = listed.value("taskArns", std::vector<std::string>{});
  EXPECT_NE(std::find(arns.begin(), arns.end(), task), arns.end()) << listed.dump(2);
}

TEST_F(RestartTest, ExecAgentReconnectsAfterPortholedRestart) {
  std::string cluster = UniqueName("reconnect");
  std::string task = StartExecTask(cluster);
  ASSERT_FALSE(task.empty());
  CommandResult before = stack_->Exec(cluster, task, "echo before-restart");
  ASSERT_EQ(before.exit_code, 0) << before;

  ASSERT_EQ(stack_->RestartPortholed(), "");
  // The agent backs off up to 30 s between attempts.
  CommandResult after = ExecUntilItWorks(cluster, task, "after-restart", seconds(90));
  EXPECT_EQ(after.exit_code, 0) << after;
  EXPECT_THAT(after.out, HasSubstr("after-restart")) << after;
}

TEST_F(RestartTest, NodeRestartKeepsTheRunningContainer) {
  std::string cluster = UniqueName("node-restart");
  std::string task = StartExecTask(cluster);
  ASSERT_FALSE(task.empty());
  ASSERT_EQ(ContainersOfTask(stack_->RuncContainers(), task), 1);

  // Without --stop-tasks-on-exit the node leaves its containers running.
  EXPECT_TRUE(stack_->StopNode(seconds(20))) << "porthole-node did not exit within 20 s of SIGTERM (it was killed)";
  EXPECT_EQ(ContainersOfTask(stack_->RuncContainers(), task), 1) << "the container did not outlive the node";
  ASSERT_EQ(stack_->StartNode(), "");

  // Neither lost nor duplicated.
  Json described = stack_->DescribeTask(cluster, task);
  ASSERT_FALSE(described.is_null());
  EXPECT_EQ(described.value("lastStatus", ""), "RUNNING") << described.dump(2);
  EXPECT_EQ(described.value("desiredStatus", ""), "RUNNING") << described.dump(2);
  EXPECT_EQ(ContainersOfTask(stack_->RuncContainers(), task), 1);
  CommandResult r = ExecUntilItWorks(cluster, task, "still-here", seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r;
  described = stack_->DescribeTask(cluster, task);  // after the node has been back a while
  EXPECT_EQ(described.value("lastStatus", ""), "RUNNING") << described.dump(2);
  EXPECT_EQ(ContainersOfTask(stack_->RuncContainers(), task), 1);

  // The restarted node still manages it: StopTask stops it and removes the container.
  ASSERT_FALSE(stack_->EcsJson({"stop-task", "--cluster", cluster, "--task", task}).is_null());
  Json last;
  EXPECT_TRUE(stack_->WaitForLastStatus(cluster, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  EXPECT_FALSE(last.value("stoppedReason", "").empty()) << last.dump(2);
  bool gone = false;
  auto deadline = Clock::now() + seconds(30);
  while (!gone && Clock::now() < deadline) {
    gone = ContainersOfTask(stack_->RuncContainers(), task) == 0;
    if (!gone) std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_TRUE(gone) << "runc still lists the container of " << task;
}

}  // namespace
}  // namespace porthole::itest
