// The typed task: statuses by ECS's names, the stored form round-trips, and
// records of any shape load without throwing.
#include "model/task.h"

#include <gtest/gtest.h>

namespace porthole::model {
namespace {

Task Sample() {
  Task t;
  t.id = "0123abcd";
  t.cluster_name = "demo";
  t.arn = "arn:aws:ecs:us-east-1:123456789012:task/demo/0123abcd";
  t.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";
  t.instance_id = "node-1";
  t.enable_execute_command = true;
  t.tags = Json::array({{{"key", "env"}, {"value", "dev"}}});
  Container c;
  c.name = "app";
  c.image = "busybox";
  c.runtime_id = "rt-1";
  c.managed_agents.push_back(ManagedAgent{});
  t.containers.push_back(c);
  t.agent_credentials_sealed = "sealed";
  return t;
}

TEST(TaskModel, StatusNamesAreEcsNames) {
  EXPECT_EQ(TaskStatusName(TaskStatus::kProvisioning), "PROVISIONING");
  EXPECT_EQ(ParseTaskStatus("RUNNING"), TaskStatus::kRunning);
  EXPECT_FALSE(ParseTaskStatus("running").has_value());
  EXPECT_EQ(ContainerStatusName(ContainerStatus::kStopped), "STOPPED");
  EXPECT_FALSE(ParseContainerStatus("").has_value());
}

TEST(TaskModel, StoredFormRoundTrips) {
  Task t = Sample();
  Task back = TaskFromStored(ToStored(t));
  EXPECT_EQ(back.id, t.id);
  EXPECT_EQ(back.cluster_name, "demo");
  EXPECT_EQ(back.instance_id, "node-1");
  ASSERT_EQ(back.containers.size(), 1u);
  EXPECT_EQ(back.containers[0].runtime_id, "rt-1");
  ASSERT_NE(back.containers[0].ExecAgent(), nullptr);
  EXPECT_EQ(back.containers[0].ExecAgent()->status, ContainerStatus::kPending);
  EXPECT_EQ(back.agent_credentials_sealed, "sealed");
  EXPECT_EQ(ToStored(back), ToStored(t));
}

TEST(TaskModel, PublicViewHidesInternalMembers) {
  Json view = PublicView(Sample(), false);
  EXPECT_FALSE(view.contains("_instanceId"));
  EXPECT_FALSE(view.contains("_agentCredentials"));
  EXPECT_FALSE(view.contains("tags"));
  EXPECT_TRUE(PublicView(Sample(), true).contains("tags"));
  EXPECT_EQ(view["containers"][0]["managedAgents"][0]["name"], "ExecuteCommandAgent");
}

TEST(TaskModel, MarkStoppedKeepsAnEarlierReasonAndDropsCredentials) {
  Task t = Sample();
  t.stopped_reason = "Task stopped by user";
  t.MarkStopped("Essential container in task exited", "EssentialContainerExited", 100);
  EXPECT_TRUE(t.Stopped());
  EXPECT_EQ(t.desired_status, TaskStatus::kStopped);
  EXPECT_EQ(t.stopped_reason, "Task stopped by user");
  EXPECT_EQ(t.stop_code, "EssentialContainerExited");
  EXPECT_EQ(t.stopped_at, 100);
  EXPECT_EQ(t.containers[0].status, ContainerStatus::kStopped);
  EXPECT_EQ(t.containers[0].ExecAgent()->status, ContainerStatus::kStopped);
  EXPECT_TRUE(t.agent_credentials_sealed.is_null());
}

TEST(TaskModel, AnyStoredShapeLoads) {
  for (const char* text : {"null", "[]", "{}", R"({"taskArn":5,"containers":"x","lastStatus":"BOGUS"})",
                           R"({"containers":[1,{"managedAgents":[null,{"lastStatus":7}]}],"version":"x"})",
                           R"({"enableExecuteCommand":"yes","overrides":[],"createdAt":"now"})"}) {
    Task t = TaskFromStored(Json::parse(text));
    EXPECT_EQ(t.last_status, TaskStatus::kProvisioning) << text;
  }
}

}  // namespace
}  // namespace porthole::model
