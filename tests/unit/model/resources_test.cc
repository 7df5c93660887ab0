// The typed clusters, task definitions, services, container instances and
// sessions: their stored forms round-trip, internal members stay internal,
// and stored records of any shape load.
#include "model/resources.h"

#include <gtest/gtest.h>

namespace porthole::model {
namespace {

TEST(ResourcesModel, StatusNames) {
  EXPECT_EQ(ResourceStatusName(ResourceStatus::kInactive), "INACTIVE");
  EXPECT_EQ(ParseResourceStatus("ACTIVE"), ResourceStatus::kActive);
  EXPECT_FALSE(ParseResourceStatus("DRAINING").has_value());
  EXPECT_EQ(SessionStatusName(SessionStatus::kTerminated), "Terminated");
}

TEST(ResourcesModel, ClusterRoundTrips) {
  Cluster c;
  c.name = "demo";
  c.arn = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";
  c.tags = Json::array({{{"key", "env"}, {"value", "dev"}}});
  c.configuration = {{"executeCommandConfiguration", {{"logging", "DEFAULT"}}}};
  EXPECT_EQ(ToStored(ClusterFromStored(ToStored(c))), ToStored(c));
  EXPECT_FALSE(ToStored(Cluster{}).contains("configuration"));
}

TEST(ResourcesModel, TaskDefinitionKeepsTagsInternal) {
  TaskDefinition d;
  d.family = "web";
  d.revision = 3;
  d.task_role_arn = "arn:aws:iam::123456789012:role/app";
  d.cpu = "256";
  d.tags = Json::array({{{"key", "team"}, {"value", "a"}}});
  TaskDefinition back = TaskDefinitionFromStored(ToStored(d));
  EXPECT_EQ(back.Key(), "web:3");
  EXPECT_EQ(back.task_role_arn, d.task_role_arn);
  EXPECT_EQ(back.cpu, "256");
  EXPECT_EQ(back.tags, d.tags);
  Json view = PublicView(d);
  EXPECT_FALSE(view.contains("_tags"));
  EXPECT_FALSE(view.contains("memory"));
  EXPECT_EQ(view["networkMode"], "bridge");  // ECS's default
}

TEST(ResourcesModel, TaskDefinitionKeepsItsNetworkMode) {
  TaskDefinition d;
  d.network_mode = "host";
  EXPECT_EQ(TaskDefinitionFromStored(ToStored(d)).network_mode, "host");  // records made when host was the default
  EXPECT_EQ(TaskDefinitionFromStored(Json::object()).network_mode, "bridge");
  EXPECT_EQ(TaskDefinitionFromStored(Json{{"networkMode", 5}}).network_mode, "bridge");
}

TEST(ResourcesModel, ServiceDeploymentsRoundTrip) {
  Service s;
  s.name = "api";
  s.cluster_name = "demo";
  s.cluster_arn = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";
  s.deployments = {{"ecs-svc/2", "PRIMARY", "td:2", 3, 2.0}, {"ecs-svc/1", "ACTIVE", "td:1", 1, 1.0}};
  Service back = ServiceFromStored(ToStored(s));
  EXPECT_EQ(back.cluster_name, "demo");
  EXPECT_EQ(back.PrimaryDeployment(), "ecs-svc/2");
  EXPECT_EQ(ToStored(back), ToStored(s));
  back.status = ResourceStatus::kInactive;
  EXPECT_EQ(back.PrimaryDeployment(), "");
}

TEST(ResourcesModel, SessionOwnerStaysInternal) {
  Session s;
  s.id = "alice-01";
  s.owner_arn = "arn:aws:iam::123456789012:user/alice";
  s.owner_identity = "AIDAEXAMPLE";
  s.status = SessionStatus::kTerminated;
  s.end_date = 5;
  s.task_arn = "arn:aws:ecs:us-east-1:123456789012:task/demo/t1";
  Session back = SessionFromStored(ToStored(s));
  EXPECT_EQ(back.owner_identity, "AIDAEXAMPLE");
  EXPECT_EQ(back.task_id, "t1");
  EXPECT_FALSE(back.Active());
  Json view = PublicView(s);
  EXPECT_FALSE(view.contains("_owner"));
  EXPECT_EQ(view["Owner"], s.owner_arn);
  EXPECT_EQ(view["EndDate"], 5);
}

TEST(ResourcesModel, AnyStoredShapeLoads) {
  for (const char* text : {"null", "7", "[]", "{}", R"({"status":5,"deployments":[1,"x",{"id":3}],"tags":"x"})"}) {
    Json j = Json::parse(text);
    EXPECT_TRUE(ClusterFromStored(j).Active()) << text;
    EXPECT_EQ(TaskDefinitionFromStored(j).revision, 0) << text;
    EXPECT_TRUE(ServiceFromStored(j).tags.is_array()) << text;
    EXPECT_EQ(ContainerInstanceFromStored(j).hostname, "") << text;
    EXPECT_TRUE(SessionFromStored(j).Active()) << text;
  }
}

}  // namespace
}  // namespace porthole::model
