// The typed task: statuses by ECS's names, the stored form round-trips,
// records of any shape load without throwing, and what a node reports of a
// task's network is kept only as far as it is well-formed.
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

Task WithNetwork() {
  Task t = Sample();
  t.containers[0].network_bindings = {{"0.0.0.0", 80, 49153, "tcp"}, {"0.0.0.0", 53, 5353, "udp"}};
  t.containers[0].network_interfaces = {{"att-1", "10.0.0.5"}};
  t.attachments = {{"att-1", "ElasticNetworkInterface", "ATTACHED", {{"privateIPv4Address", "10.0.0.5"}}}};
  return t;
}

TEST(TaskModel, NetworkReportsRoundTripAndAreShown) {
  Task t = WithNetwork();
  Task back = TaskFromStored(ToStored(t));
  ASSERT_EQ(back.containers[0].network_bindings.size(), 2u);
  EXPECT_EQ(back.containers[0].network_bindings[1].protocol, "udp");
  EXPECT_EQ(back.containers[0].network_bindings[1].host_port, 5353);
  ASSERT_EQ(back.attachments.size(), 1u);
  EXPECT_EQ(back.attachments[0].details[0].value, "10.0.0.5");
  EXPECT_EQ(ToStored(back), ToStored(t));

  Json view = PublicView(t, false);
  EXPECT_EQ(view["containers"][0]["networkBindings"],
            Json::parse(R"([{"bindIP":"0.0.0.0","containerPort":80,"hostPort":49153,"protocol":"tcp"},
                            {"bindIP":"0.0.0.0","containerPort":53,"hostPort":5353,"protocol":"udp"}])"));
  EXPECT_EQ(view["containers"][0]["networkInterfaces"],
            Json::parse(R"([{"attachmentId":"att-1","privateIpv4Address":"10.0.0.5"}])"));
  EXPECT_EQ(view["attachments"], Json::parse(R"([{"id":"att-1","type":"ElasticNetworkInterface","status":"ATTACHED",
                                                   "details":[{"name":"privateIPv4Address","value":"10.0.0.5"}]}])"));
}

TEST(TaskModel, NothingReportedShowsEmptyLists) {
  Json view = PublicView(Sample(), false);
  EXPECT_EQ(view["containers"][0]["networkBindings"], Json::array());
  EXPECT_EQ(view["containers"][0]["networkInterfaces"], Json::array());
  EXPECT_EQ(view["attachments"], Json::array());
}

// The node is only semi-trusted: what it reports is kept entry by entry.
TEST(TaskModel, ReportedListsKeepOnlyWellFormedEntries) {
  Json bindings = Json::parse(R"([
      {"bindIP":"0.0.0.0","containerPort":80,"hostPort":8080,"protocol":"tcp","extra":"dropped"},
      {"bindIP":"0.0.0.0","containerPort":80,"hostPort":8081,"protocol":"TCP"},
      {"bindIP":"0.0.0.0","containerPort":0,"hostPort":8082,"protocol":"tcp"},
      {"bindIP":"0.0.0.0","containerPort":80,"hostPort":65536,"protocol":"tcp"},
      {"bindIP":"0.0.0.0","containerPort":80,"hostPort":18446744073709551615,"protocol":"tcp"},
      {"bindIP":"0.0.0.0","containerPort":80,"hostPort":-1,"protocol":"tcp"},
      {"bindIP":"0.0.0.0","containerPort":"80","hostPort":8083,"protocol":"tcp"},
      {"bindIP":"0.0.0.0","containerPort":80.5,"hostPort":8084,"protocol":"tcp"},
      {"bindIP":7,"containerPort":80,"hostPort":8085,"protocol":"tcp"},
      {"containerPort":80,"hostPort":8086,"protocol":"tcp"},
      null, "x", 5, [],
      {"bindIP":"0.0.0.0","containerPort":53,"hostPort":53,"protocol":"udp"}])");
  bindings.push_back({{"bindIP", std::string(kMaxReportedStringBytes + 1, 'a')},
                      {"containerPort", 80}, {"hostPort", 8087}, {"protocol", "tcp"}});
  auto kept = NetworkBindingsFrom(bindings);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].host_port, 8080);
  EXPECT_EQ(kept[1].protocol, "udp");

  Json many = Json::array();
  for (int i = 0; i < 150; i++)
    many.push_back({{"bindIP", "0.0.0.0"}, {"containerPort", 1 + i}, {"hostPort", 1000 + i}, {"protocol", "tcp"}});
  EXPECT_EQ(NetworkBindingsFrom(many).size(), kMaxReportedEntries);

  auto interfaces = NetworkInterfacesFrom(Json::parse(R"([
      {"attachmentId":"a","privateIpv4Address":"10.0.0.2"}, {"attachmentId":"b"}, {"attachmentId":1,"privateIpv4Address":"x"}])"));
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].private_ipv4_address, "10.0.0.2");

  auto attachments = AttachmentsFrom(Json::parse(R"([
      {"id":"a","type":"ElasticNetworkInterface","status":"ATTACHED",
       "details":[{"name":"subnetId","value":"subnet-1"},{"name":"n"},{"name":"m","value":3},"x"]},
      {"id":"b","type":"ElasticNetworkInterface","status":"ATTACHED"},
      {"id":"c","type":"ElasticNetworkInterface","status":"ATTACHED","details":"x"},
      {"id":"d","type":"ElasticNetworkInterface"}])"));
  ASSERT_EQ(attachments.size(), 2u);
  EXPECT_EQ(attachments[0].details.size(), 1u);
  EXPECT_EQ(attachments[0].details[0].name, "subnetId");
  EXPECT_EQ(attachments[1].id, "b");
  EXPECT_TRUE(attachments[1].details.empty());

  for (const char* text : {"null", "{}", "\"x\"", "7"}) {
    Json j = Json::parse(text);
    EXPECT_TRUE(NetworkBindingsFrom(j).empty()) << text;
    EXPECT_TRUE(NetworkInterfacesFrom(j).empty()) << text;
    EXPECT_TRUE(AttachmentsFrom(j).empty()) << text;
  }
}

TEST(TaskModel, MarkStoppedDeletesAttachmentsAndKeepsBindings) {
  Task t = WithNetwork();
  t.MarkStopped("Task stopped by user", "UserInitiated", 100);
  EXPECT_EQ(t.attachments[0].status, "DELETED");
  EXPECT_EQ(t.containers[0].network_bindings.size(), 2u);
  EXPECT_EQ(PublicView(t, false)["attachments"][0]["status"], "DELETED");
}

TEST(TaskModel, AnyStoredShapeLoads) {
  for (const char* text : {"null", "[]", "{}", R"({"taskArn":5,"containers":"x","lastStatus":"BOGUS"})",
                           R"({"containers":[1,{"managedAgents":[null,{"lastStatus":7}]}],"version":"x"})",
                           R"({"enableExecuteCommand":"yes","overrides":[],"createdAt":"now"})",
                           R"({"attachments":"x","containers":[{"networkBindings":{},"networkInterfaces":[1,null]}]})"}) {
    Task t = TaskFromStored(Json::parse(text));
    EXPECT_EQ(t.last_status, TaskStatus::kProvisioning) << text;
    EXPECT_TRUE(t.attachments.empty()) << text;
    for (const auto& c : t.containers) EXPECT_TRUE(c.network_bindings.empty() && c.network_interfaces.empty()) << text;
  }
}

}  // namespace
}  // namespace porthole::model
