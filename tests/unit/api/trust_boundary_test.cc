// The trust boundary (issue: every call authorized on what it touches).
// Each operation's resolver authorizes the resource its handler acts on,
// whatever else the request carries; the condition keys AWS supplies are
// supplied; nodes, agents and sessions hold only what their job needs;
// signatures cover X-Amz-Target; audit fails closed.
#include <memory>
#include <set>

#include "iam_test_fixture.h"

namespace porthole::api {
namespace {

using namespace test;

std::string EcsArn(const std::string& resource) { return std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":" + resource; }
std::string IamArn(const std::string& resource) { return std::string("arn:aws:iam::") + kAccount + ":" + resource; }

std::string Policy(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}
const std::string kAllowAll = R"({"Effect":"Allow","Action":["ecs:*","ssm:*","iam:*","sts:*"],"Resource":"*"})";

class TrustBoundaryTest : public IamTest {
 protected:
  // The resources of the audit events for `action` written since the last look.
  std::vector<std::string> AuthorizedResources(const std::string& action) {
    std::vector<std::string> out;
    for (const auto& e : NewAuditEvents())
      if (e.value("action", "") == action) out.push_back(e.value("resource", ""));
    return out;
  }

  // Node operations signed with `credentials`.
  Reply NodeCall(const std::string& operation, const Json& input, const auth::Credentials& credentials) {
    return Send(JsonRequest(kNode + operation, input, credentials, "ecs"));
  }

  // An unsigned RegisterContainerInstance, as a node joining with a token sends it.
  Reply Join(const Json& input) {
    return Send(test::SignedPost(kHost, "application/x-amz-json-1.1", kNode + "RegisterContainerInstance",
                                 input.dump(), std::nullopt, kRegion, "ecs"));
  }

  std::string JoinToken(Json input = Json::object()) {
    Reply reply = Send(JsonRequest(kNode + "CreateJoinToken", input, root_, "ecs"));
    EXPECT_TRUE(IsJsonOk(reply));
    return reply.json.value("joinToken", "");
  }

  // A session record as the gateway writes it, owned by `owner` (aws:userid).
  void StoreSession(const std::string& id, const std::string& owner) {
    Json body = {{"SessionId", id}, {"Target", "ecs:prod_t_r"}, {"Status", "Connected"}, {"StartDate", 1.0},
                 {"Owner", "someone"}, {"_owner", owner}};
    ASSERT_TRUE(store_->Put(store::kind::kSession, {id, "t", body}).ok());
  }

  Json DescribeTask(const std::string& cluster, const std::string& task_arn) {
    Json out = MustEcs("DescribeTasks", {{"cluster", cluster}, {"tasks", {task_arn}}});
    return out.value("tasks", Json::array()).empty() ? Json::object() : out["tasks"][0];
  }

  std::string UserId(const User& user) {
    std::string got = MustIam("GetUser", {{"UserName", user.name}});
    return XmlText(got, "UserId").value_or("");
  }
};

// ---------------------------------------------------------------- resolvers

// Every operation is authorized on what it acts on as the server resolves
// it; decoy members naming other resources change nothing.
TEST_F(TrustBoundaryTest, EachOperationIsAuthorizedOnWhatItActsOn) {
  CreateCluster("prod");
  CreateCluster("dev");
  CreateCluster("empty");
  RegisterFamily("web", {"app"});
  RegisterFamily("web", {"app"});  // web:2 is the latest
  Json prod = RunningExecTask("prod", "web");
  Json dev = RunningExecTask("dev", "web");
  const std::string prod_task = prod["taskArn"], dev_task = dev["taskArn"];
  MustIam("CreateRole", {{"RoleName", "BreakGlass"},
                         {"Path", "/ops/"},
                         {"AssumeRolePolicyDocument",
                          Policy(R"({"Effect":"Allow","Principal":{"AWS":")" + RootArn() + R"("},"Action":"sts:AssumeRole"})")}});
  MustIam("CreateUser", {{"UserName", "carol"}, {"Path", "/eng/"}});
  std::string managed = XmlText(MustIam("CreatePolicy", {{"PolicyName", "p"}, {"PolicyDocument", Policy(kAllowAll)}}),
                                "Arn").value_or("");
  StoreSession("root-0123", "123456789012");
  NewAuditEvents();

  const std::string node_id = node_;
  const std::string instance = EcsArn("container-instance/default/" + node_id);
  const std::string runtime = DescribeTask("prod", prod_task)["containers"][0].value("runtimeId", "");
  const std::string role = IamArn("role/ops/BreakGlass"), user = IamArn("user/eng/carol");
  const std::string session = std::string("arn:aws:ssm:") + kRegion + ":" + kAccount + ":session/root-0123";
  const Json decoy_task = dev_task, decoy_cluster = EcsArn("cluster/dev");
  NewAuditEvents();  // what the set-up did

  // One case per declared operation (checked against the table below), each
  // with members that name something else; `resources` are what the audit
  // trail must show as authorized for `action`.
  struct Case {
    std::string operation;  // "<service>.<name>" as the router keys it
    std::string action;
    Json input;             // JSON services
    Params params;          // query services
    std::vector<std::string> resources;
  };
  const Params iam_decoys = {{"RoleName", "BreakGlass"}, {"UserName", "carol"}, {"PolicyArn", managed}};
  auto with = [&](Params p) {
    for (const auto& d : iam_decoys) {
      bool set = false;
      for (const auto& kv : p) set = set || kv.first == d.first;
      if (!set) p.push_back(d);
    }
    return p;
  };
  std::vector<Case> cases = {
      {"ecs.DescribeTasks", "ecs:DescribeTasks",
       {{"cluster", "prod"}, {"tasks", {prod_task}}, {"resourceArn", decoy_task}, {"task", decoy_task}}, {}, {prod_task}},
      {"ecs.DescribeTaskDefinition", "ecs:DescribeTaskDefinition",
       {{"taskDefinition", "web"}, {"resourceArn", EcsArn("task-definition/web:1")}}, {},
       {EcsArn("task-definition/web:2")}},
      {"ecs.ListTaskDefinitions", "ecs:ListTaskDefinitions", {{"resourceArn", EcsArn("task-definition/web:1")}}, {},
       {"*"}},
      {"ecs.RegisterTaskDefinition", "ecs:RegisterTaskDefinition",
       {{"family", "other"}, {"containerDefinitions", Json::array({{{"name", "app"}, {"image", "busybox"}}})},
        {"resourceArn", EcsArn("task-definition/web:1")}, {"cluster", "prod"}},
       {}, {"*"}},
      {"ecs.ListTasks", "ecs:ListTasks", {{"cluster", "prod"}, {"resourceArn", decoy_cluster}}, {}, {EcsArn("cluster/prod")}},
      {"ecs.ListClusters", "ecs:ListClusters", {{"cluster", "prod"}, {"resourceArn", decoy_cluster}}, {}, {"*"}},
      {"ecs.DescribeClusters", "ecs:DescribeClusters",
       {{"clusters", {"prod"}}, {"resourceArn", decoy_cluster}, {"cluster", "dev"}}, {}, {EcsArn("cluster/prod")}},
      {"ecs.TagResource", "ecs:TagResource",
       {{"resourceArn", EcsArn("cluster/prod")}, {"cluster", "dev"}, {"tags", {{{"key", "k"}, {"value", "v"}}}}}, {},
       {EcsArn("cluster/prod")}},
      {"ecs.UntagResource", "ecs:UntagResource",
       {{"resourceArn", EcsArn("cluster/prod")}, {"cluster", "dev"}, {"tagKeys", {"k"}}}, {}, {EcsArn("cluster/prod")}},
      {"ecs.ListTagsForResource", "ecs:ListTagsForResource",
       {{"resourceArn", prod_task}, {"cluster", "dev"}, {"task", decoy_task}}, {}, {prod_task}},
      {"ecs.ExecuteCommand", "ecs:ExecuteCommand",
       {{"cluster", "prod"}, {"task", prod_task}, {"container", "app"}, {"command", "/bin/sh"}, {"interactive", true},
        {"resourceArn", decoy_task}, {"tasks", {decoy_task}}},
       {}, {prod_task}},
      {"ecs.RunTask", "ecs:RunTask",
       {{"cluster", "prod"}, {"taskDefinition", "web:1"}, {"resourceArn", decoy_cluster}, {"task", decoy_task}}, {},
       {EcsArn("task-definition/web:1")}},
      {"ecs.StartTask", "ecs:StartTask",
       {{"cluster", "prod"}, {"taskDefinition", "web:1"}, {"containerInstances", {node_id}}, {"resourceArn", decoy_cluster}},
       {}, {EcsArn("task-definition/web:1")}},
      {"ecs.CreateService", "ecs:CreateService",
       {{"cluster", "prod"}, {"serviceName", "api"}, {"taskDefinition", "web:2"}, {"desiredCount", 0},
        {"resourceArn", EcsArn("service/dev/api")}},
       {}, {EcsArn("service/prod/api")}},
      {"ecs.DescribeServices", "ecs:DescribeServices",
       {{"cluster", "prod"}, {"services", {"api"}}, {"resourceArn", EcsArn("service/dev/api")}}, {},
       {EcsArn("service/prod/api")}},
      {"ecs.ListServices", "ecs:ListServices", {{"cluster", "prod"}, {"resourceArn", decoy_cluster}}, {},
       {EcsArn("cluster/prod")}},
      {"ecs.UpdateService", "ecs:UpdateService",
       {{"cluster", "prod"}, {"service", "api"}, {"desiredCount", 0}, {"resourceArn", decoy_cluster}}, {},
       {EcsArn("service/prod/api")}},
      {"ecs.DeleteService", "ecs:DeleteService",
       {{"cluster", "prod"}, {"service", "api"}, {"resourceArn", EcsArn("service/dev/api")}}, {},
       {EcsArn("service/prod/api")}},
      {"ecs.DeregisterTaskDefinition", "ecs:DeregisterTaskDefinition",
       {{"taskDefinition", "web:1"}, {"resourceArn", decoy_cluster}}, {}, {EcsArn("task-definition/web:1")}},
      {"ecs.DeleteCluster", "ecs:DeleteCluster", {{"cluster", "empty"}, {"resourceArn", EcsArn("cluster/prod")}}, {},
       {EcsArn("cluster/empty")}},
      {"ecs.CreateCluster", "ecs:CreateCluster", {{"clusterName", "new"}, {"resourceArn", EcsArn("cluster/prod")}}, {},
       {EcsArn("cluster/new")}},
      {"ecs.StopTask", "ecs:StopTask",
       {{"cluster", "prod"}, {"task", prod_task}, {"resourceArn", decoy_task}, {"tasks", {decoy_task}}}, {}, {prod_task}},
      {"ssm.StartSession", "ssm:StartSession",
       {{"Target", "ecs:prod_" + LastSegment(prod_task) + "_" + runtime}, {"task", decoy_task},
        {"resourceArn", decoy_task}},
       {}, {prod_task}},
      {"ssm.ResumeSession", "ssm:ResumeSession", {{"SessionId", "root-0123"}, {"Target", "ecs:dev_x_y"}}, {}, {session}},
      {"ssm.DescribeSessions", "ssm:DescribeSessions", {{"State", "Active"}, {"SessionId", "root-0123"}}, {}, {"*"}},
      {"ssm.TerminateSession", "ssm:TerminateSession",
       {{"SessionId", "root-0123"}, {"Target", "ecs:dev_x_y"}, {"resourceArn", decoy_task}}, {}, {session}},
      {"node.CreateJoinToken", "porthole:CreateNodeJoinToken", {{"cluster", "prod"}, {"resourceArn", instance}}, {},
       {EcsArn("cluster/default")}},
      {"node.RegisterContainerInstance", "ecs:RegisterContainerInstance",
       {{"hostname", "n2"}, {"cluster", "prod"}, {"resourceArn", instance}}, {}, {EcsArn("cluster/default")}},
      {"node.PollTasks", "ecs:Poll", {{"waitSeconds", 0}, {"taskArn", dev_task}, {"cluster", "dev"}}, {}, {instance}},
      {"node.SubmitTaskStateChange", "ecs:SubmitTaskStateChange",
       {{"taskArn", prod_task}, {"status", "RUNNING"}, {"instanceId", "elsewhere"}}, {}, {instance}},
      {"admin.DescribeGateway", "porthole:DescribeGateway", {{"resourceArn", decoy_cluster}}, {}, {"*"}},
      {"sts.AssumeRole", "sts:AssumeRole", {}, with({{"RoleArn", role}, {"RoleSessionName", "s1"}}), {role}},
      {"iam.CreatePolicy", "iam:CreatePolicy", {}, with({{"PolicyName", "q"}, {"PolicyDocument", Policy(kAllowAll)}}),
       {IamArn("policy/q")}},
      {"iam.GetPolicy", "iam:GetPolicy", {}, with({}), {managed}},
      {"iam.ListUsers", "iam:ListUsers", {}, with({}), {IamArn("user/")}},
      {"iam.ListRoles", "iam:ListRoles", {}, with({}), {IamArn("role/")}},
      {"iam.SimulatePrincipalPolicy", "iam:SimulatePrincipalPolicy", {},
       with({{"PolicySourceArn", user}, {"ActionNames.member.1", "ecs:ListClusters"}}), {user}},
      {"iam.SimulateCustomPolicy", "iam:SimulateCustomPolicy", {},
       with({{"PolicyInputList.member.1", Policy(kAllowAll)}, {"ActionNames.member.1", "ecs:ListClusters"}}), {"*"}},
  };
  // Every user and role action: on the stored ARN with its path, whatever
  // else the request names. (Deletions last: the others need the entities.)
  for (const char* a : {"CreateUser", "GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
                        "PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy", "AttachUserPolicy",
                        "DetachUserPolicy", "ListAttachedUserPolicies", "TagUser", "DeleteUser"})
    cases.push_back({std::string("iam.") + a, std::string("iam:") + a, {}, with({}), {user}});
  for (const char* a : {"CreateRole", "GetRole", "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy",
                        "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies", "TagRole", "DeleteRole"})
    cases.push_back({std::string("iam.") + a, std::string("iam:") + a, {}, with({}), {role}});

  std::set<std::string> covered;
  for (const auto& c : cases) {
    covered.insert(c.operation);
    std::string service = c.operation.substr(0, c.operation.find('.'));
    std::string name = c.operation.substr(c.operation.find('.') + 1);
    bool own_instance = name == "PollTasks" || name == "SubmitTaskStateChange";
    if (service == "iam") Iam(name, c.params);
    else if (service == "sts") StsWith(name, c.params);
    else if (service == "ssm") Ssm(name, c.input);
    else if (service == "ecs") Ecs(name, c.input);
    else
      Send(JsonRequest((service == "node" ? kNode : std::string("PortholeAdminService.")) + name, c.input,
                       own_instance ? node_credentials_ : root_, "ecs"));
    // (Whether the handler then succeeds does not matter here: what was authorized does.)
    EXPECT_EQ(AuthorizedResources(c.action), c.resources) << c.operation;
  }
  // The decoys were not acted on: the dev task runs on.
  EXPECT_EQ(DescribeTask("dev", dev_task)["desiredStatus"], "RUNNING");
  // No declared operation escapes this table; only GetCallerIdentity, which
  // no policy decides (as on AWS), is authorized on nothing.
  for (const auto& op : plane_->OperationNames())
    if (op != "sts.GetCallerIdentity") EXPECT_TRUE(covered.count(op)) << op << " has no case here";
}

// The StopTask of the issue: a prod task, with a dev task's ARN alongside, past an explicit deny.
TEST_F(TrustBoundaryTest, StopTaskOnProdIsDeniedWhateverArnRidesAlong) {
  CreateCluster("prod");
  CreateCluster("dev");
  RegisterFamily("web", {"app"});
  Json prod = RunningExecTask("prod", "web");
  Json dev = RunningExecTask("dev", "web");
  User bob = MakeUser("bob");
  PutPolicy(bob, "p",
            Policy(kAllowAll + R"(,{"Effect":"Deny","Action":"ecs:StopTask","Resource":")" + EcsArn("task/prod/*") + R"("})"));
  Reply reply = Ecs("StopTask",
                             {{"cluster", "prod"}, {"task", prod["taskArn"]}, {"resourceArn", dev["taskArn"]}},
                             bob.credentials);
  EXPECT_TRUE(IsJsonError(reply, 400, "AccessDeniedException",
                          ExplicitlyDenied(bob.arn, "ecs:StopTask", prod["taskArn"])));
  EXPECT_EQ(DescribeTask("prod", prod["taskArn"])["desiredStatus"], "RUNNING");
  EXPECT_EQ(DescribeTask("dev", dev["taskArn"])["desiredStatus"], "RUNNING");
}

TEST_F(TrustBoundaryTest, FamilyOnlyDescribeTaskDefinitionIsAuthorizedOnTheLatestRevision) {
  RegisterFamily("web", {"app"});
  RegisterFamily("web", {"app"});
  User bob = MakeUser("bob");
  PutPolicy(bob, "p",
            Policy(kAllowAll + R"(,{"Effect":"Deny","Action":"ecs:DescribeTaskDefinition","Resource":")" +
                   EcsArn("task-definition/web:2") + R"("})"));
  EXPECT_TRUE(IsJsonError(Ecs("DescribeTaskDefinition", {{"taskDefinition", "web"}}, bob.credentials), 400,
                          "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("DescribeTaskDefinition", {{"taskDefinition", "web:1"}}, bob.credentials)));
}

// ---------------------------------------------------------------- condition keys

TEST_F(TrustBoundaryTest, DenyOnTagKeysBlocksRetagging) {
  CreateCluster("prod");
  User bob = MakeUser("bob");
  PutPolicy(bob, "p", Policy(kAllowAll + R"(,{"Effect":"Deny","Action":["ecs:TagResource","ecs:UntagResource"],"Resource":"*",
      "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["owner"]}}})"));
  const std::string cluster = EcsArn("cluster/prod");
  EXPECT_TRUE(IsJsonError(Ecs("TagResource", {{"resourceArn", cluster}, {"tags", {{{"key", "owner"}, {"value", "me"}}}}},
                                       bob.credentials),
                          400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("TagResource", {{"resourceArn", cluster}, {"tags", {{{"key", "team"}, {"value", "a"}}}}},
                                    bob.credentials)));
  EXPECT_TRUE(IsJsonError(Ecs("UntagResource", {{"resourceArn", cluster}, {"tagKeys", {"owner"}}}, bob.credentials),
                          400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("UntagResource", {{"resourceArn", cluster}, {"tagKeys", {"team"}}}, bob.credentials)));
}

TEST_F(TrustBoundaryTest, ResourceTagsOfTheTargetDecideTagging) {
  CreateCluster("prod", Json::array({{{"key", "env"}, {"value", "prod"}}}));
  CreateCluster("dev", Json::array({{{"key", "env"}, {"value", "dev"}}}));
  User bob = MakeUser("bob");
  PutPolicy(bob, "p", Policy(kAllowAll + R"(,{"Effect":"Deny","Action":"ecs:TagResource","Resource":"*",
      "Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}})"));
  Json tags = {{{"key", "k"}, {"value", "v"}}};
  EXPECT_TRUE(IsJsonError(Ecs("TagResource", {{"resourceArn", EcsArn("cluster/prod")}, {"tags", tags}}, bob.credentials),
                          400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ecs("TagResource", {{"resourceArn", EcsArn("cluster/dev")}, {"tags", tags}}, bob.credentials)));
}

TEST_F(TrustBoundaryTest, DenyOnRequestTagBlocksRunTaskWithThatTag) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Node();
  User bob = MakeUser("bob");
  PutPolicy(bob, "p", Policy(kAllowAll + R"(,{"Effect":"Deny","Action":["ecs:RunTask","ecs:TagResource"],"Resource":"*",
      "Condition":{"StringEquals":{"aws:RequestTag/env":"prod"}}})"));
  auto run = [&](const std::string& env) {
    return Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"},
                                    {"tags", {{{"key", "env"}, {"value", env}}}}},
                        bob.credentials);
  };
  EXPECT_TRUE(IsJsonError(run("prod"), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(run("dev")));
  // Tagging on create is ecs:TagResource too, with ecs:CreateAction.
  std::vector<std::string> tag_checks = AuthorizedResources("ecs:TagResource");
  ASSERT_FALSE(tag_checks.empty());
  EXPECT_EQ(tag_checks.back(), EcsArn("task/demo/*"));
}

TEST_F(TrustBoundaryTest, DenyOnTheStoredRoleBlocksAttachRolePolicy) {
  std::string trust = Policy(R"({"Effect":"Allow","Principal":{"AWS":")" + RootArn() + R"("},"Action":"sts:AssumeRole"})");
  MustIam("CreateRole", {{"RoleName", "BreakGlass"}, {"Path", "/ops/"}, {"AssumeRolePolicyDocument", trust}});
  MustIam("CreateRole", {{"RoleName", "Reader"}, {"AssumeRolePolicyDocument", trust}});
  std::string managed = XmlText(MustIam("CreatePolicy", {{"PolicyName", "admin"}, {"PolicyDocument", Policy(kAllowAll)}}),
                                "Arn").value_or("");
  User bob = MakeUser("bob");
  PutPolicy(bob, "p", Policy(kAllowAll + R"(,{"Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::*:role/*BreakGlass"},
      {"Effect":"Deny","Action":"iam:AttachUserPolicy","Resource":"*","Condition":{"ArnEquals":{"iam:PolicyARN":")" +
                                 managed + R"("}}})"));
  EXPECT_TRUE(IsQueryError(Iam("AttachRolePolicy", {{"RoleName", "BreakGlass"}, {"PolicyArn", managed}}, bob.credentials),
                           403, "AccessDenied"));
  EXPECT_TRUE(IsQueryOk(Iam("AttachRolePolicy", {{"RoleName", "Reader"}, {"PolicyArn", managed}}, bob.credentials),
                        "AttachRolePolicy"));
  // iam:PolicyARN names the policy being attached.
  EXPECT_TRUE(IsQueryError(Iam("AttachUserPolicy", {{"UserName", "bob"}, {"PolicyArn", managed}}, bob.credentials),
                           403, "AccessDenied"));
}

TEST_F(TrustBoundaryTest, PassingATaskRoleNeedsPassRole) {
  std::string trust = Policy(R"({"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"})");
  MustIam("CreateRole", {{"RoleName", "app"}, {"Path", "/tasks/"}, {"AssumeRolePolicyDocument", trust}});
  const std::string role = IamArn("role/tasks/app");
  User bob = MakeUser("bob");
  PutPolicy(bob, "p", Policy(R"({"Effect":"Allow","Action":"ecs:*","Resource":"*"})"));
  Json def = {{"family", "web"},
              {"containerDefinitions", Json::array({{{"name", "app"}, {"image", "busybox"}}})},
              {"taskRoleArn", role}};
  EXPECT_TRUE(IsJsonError(Ecs("RegisterTaskDefinition", def, bob.credentials), 400, "AccessDeniedException",
                          NotAuthorized(bob.arn, "iam:PassRole", role)));
  PutPolicy(bob, "pass", Policy(R"({"Effect":"Allow","Action":"iam:PassRole","Resource":")" + role + R"(",
      "Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}})"));
  EXPECT_TRUE(IsJsonOk(Ecs("RegisterTaskDefinition", def, bob.credentials)));
  // The same for a role passed in RunTask's overrides.
  CreateCluster("demo");
  Node();
  MustIam("CreateRole", {{"RoleName", "other"}, {"AssumeRolePolicyDocument", trust}});
  EXPECT_TRUE(IsJsonError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"},
                                                     {"overrides", {{"taskRoleArn", IamArn("role/other")}}}},
                                       bob.credentials),
                          400, "AccessDeniedException"));
}

TEST_F(TrustBoundaryTest, TrustPolicyConditionsSeeTheSessionName) {
  User alice = MakeUser("alice");
  PutPolicy(alice, "assume", Policy(R"({"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"})"));
  MustIam("CreateRole",
          {{"RoleName", "ops"},
           {"AssumeRolePolicyDocument",
            Policy(R"({"Effect":"Allow","Principal":{"AWS":")" + alice.arn + R"("},"Action":"sts:AssumeRole",
                "Condition":{"StringEquals":{"sts:RoleSessionName":"${aws:username}"}}})")}});
  const std::string role = IamArn("role/ops");
  EXPECT_TRUE(IsQueryOk(StsWith("AssumeRole", {{"RoleArn", role}, {"RoleSessionName", "alice"}}, alice.credentials),
                        "AssumeRole", kStsNs));
  EXPECT_TRUE(IsQueryError(StsWith("AssumeRole", {{"RoleArn", role}, {"RoleSessionName", "bob"}}, alice.credentials), 403,
                           "AccessDenied", std::nullopt, kStsNs));
}

// ---------------------------------------------------------------- node identity

TEST_F(TrustBoundaryTest, NodeCredentialsCanDoNothingButTheirOwnTasks) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json task = RunningExecTask("demo", "web");  // placed on Node()
  const auth::Credentials node = node_credentials_;
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), node), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonError(Ecs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}}, node), 400,
                          "AccessDeniedException"));
  EXPECT_TRUE(IsJsonError(Ssm("DescribeSessions", {{"State", "Active"}}, node), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsQueryError(Iam("ListUsers", {}, node), 403, "AccessDenied"));
  EXPECT_TRUE(IsJsonError(Send(JsonRequest(kNode + "CreateJoinToken", Json::object(), node, "ecs")), 400,
                          "AccessDeniedException"));

  // A second node can neither see nor report the first node's task.
  Reply second = Send(JsonRequest(kNode + "RegisterContainerInstance", {{"hostname", "node-2"}}, root_, "ecs"));
  ASSERT_TRUE(IsJsonOk(second));
  const Json c = second.json["credentials"];
  auth::Credentials other{c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]};
  EXPECT_TRUE(IsJsonError(NodeCall("PollTasks", {{"instanceId", node_}, {"waitSeconds", 0}}, other), 400,
                          "AccessDeniedException"));
  Reply own = NodeCall("PollTasks", {{"waitSeconds", 0}}, other);
  ASSERT_TRUE(IsJsonOk(own));
  EXPECT_TRUE(own.json["tasks"].empty());
  EXPECT_TRUE(IsJsonError(NodeCall("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "STOPPED"}}, other),
                          400, "AccessDeniedException"));
  EXPECT_EQ(DescribeTask("demo", task["taskArn"])["lastStatus"], "RUNNING");
  // Its owner may.
  EXPECT_TRUE(IsJsonOk(NodeCall("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "STOPPED"}}, node)));
}

TEST_F(TrustBoundaryTest, JoinTokensAreSingleUseAndExpire) {
  EXPECT_TRUE(IsJsonError(Join({{"hostname", "n"}}), 403, "MissingAuthenticationTokenException"));
  std::string token = JoinToken();
  ASSERT_EQ(token.rfind("phjt-", 0), 0u);
  Reply joined = Join({{"hostname", "n"}, {"joinToken", token}});
  ASSERT_TRUE(IsJsonOk(joined));
  const std::string id = joined.json["instanceId"];
  const Json c = joined.json["credentials"];
  auth::Credentials creds{c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]};
  EXPECT_TRUE(IsJsonOk(NodeCall("PollTasks", {{"waitSeconds", 0}}, creds)));
  // Used once: refused after.
  EXPECT_TRUE(IsJsonError(Join({{"hostname", "n"}, {"joinToken", token}}), 400, "AccessDeniedException"));
  // A token does not take over an instance it was not made for.
  std::string fresh = JoinToken();
  Reply other = Join({{"instanceId", id}, {"joinToken", fresh}});
  ASSERT_TRUE(IsJsonOk(other));
  EXPECT_NE(other.json["instanceId"], id);
  // One made for the instance re-registers it, and replaces its credentials.
  Reply again = Join({{"joinToken", JoinToken({{"instanceId", id}})}});
  ASSERT_TRUE(IsJsonOk(again));
  EXPECT_EQ(again.json["instanceId"], id);
  EXPECT_FALSE(IsJsonOk(NodeCall("PollTasks", {{"waitSeconds", 0}}, creds)));
  // Expired.
  std::string late = JoinToken({{"expiresInSeconds", 60}});
  std::time_t now = std::time(nullptr);
  plane_->SetClock([now] { return now + 61; });
  EXPECT_TRUE(IsJsonError(Join({{"joinToken", late}}), 400, "AccessDeniedException"));
  // Tokens are kept as digests only.
  auto kept = store_->List(store::kind::kJoinToken, std::nullopt);
  ASSERT_TRUE(kept.ok());
  for (const auto& r : *kept) EXPECT_EQ(r.body.dump().find(late), std::string::npos);
}

// Joining with IAM credentials instead of a token: the principal needs
// ecs:RegisterContainerInstance, and gets only the instance's credentials.
TEST_F(TrustBoundaryTest, JoiningWithIamCredentialsNeedsRegisterContainerInstance) {
  User ops = MakeUser("ops");
  PutPolicy(ops, "p", Policy(R"({"Effect":"Allow","Action":"ecs:ListClusters","Resource":"*"})"));
  Reply refused = Send(JsonRequest(kNode + "RegisterContainerInstance", {{"hostname", "n"}}, ops.credentials, "ecs"));
  EXPECT_TRUE(IsJsonError(refused, 400, "AccessDeniedException",
                          NotAuthorized(ops.arn, "ecs:RegisterContainerInstance", EcsArn("cluster/default"))));
  PutPolicy(ops, "join", Policy(R"({"Effect":"Allow","Action":"ecs:RegisterContainerInstance","Resource":")" +
                                EcsArn("cluster/default") + R"("})"));
  Reply joined = Send(JsonRequest(kNode + "RegisterContainerInstance", {{"hostname", "n"}}, ops.credentials, "ecs"));
  ASSERT_TRUE(IsJsonOk(joined));
  const Json c = joined.json["credentials"];
  auth::Credentials instance{c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]};
  EXPECT_TRUE(IsJsonOk(NodeCall("PollTasks", {{"waitSeconds", 0}}, instance)));
  EXPECT_TRUE(IsJsonError(Ecs("ListClusters", Json::object(), instance), 400, "AccessDeniedException"));
  // The user's own key still cannot act as a node.
  EXPECT_TRUE(IsJsonError(NodeCall("PollTasks", {{"waitSeconds", 0}}, ops.credentials), 400, "AccessDeniedException"));
}

TEST_F(TrustBoundaryTest, InstanceCredentialsAreRenewedByThePoll) {
  Node();
  auth::Credentials first = node_credentials_;
  Reply fresh = NodeCall("PollTasks", {{"waitSeconds", 0}}, first);
  ASSERT_TRUE(IsJsonOk(fresh));
  EXPECT_FALSE(fresh.json.contains("instanceCredentials"));
  std::time_t now = std::time(nullptr);
  plane_->SetClock([now] { return now + 7 * 3600; });  // past half of 12 h
  net::HttpRequest late = JsonRequest(kNode + "PollTasks", {{"waitSeconds", 0}}, std::nullopt, "ecs");
  auth::SignRequest(late, first, kRegion, "ecs", now + 7 * 3600);
  Reply renewed = Send(late);
  ASSERT_TRUE(IsJsonOk(renewed));
  ASSERT_TRUE(renewed.json.contains("instanceCredentials"));
  EXPECT_NE(renewed.json["instanceCredentials"]["accessKeyId"], first.access_key_id);
}

// ---------------------------------------------------------------- agents

TEST_F(TrustBoundaryTest, AgentCredentialsAreBoundToTheirContainer) {
  CreateCluster("demo");
  RegisterFamily("web", {"app", "sidecar"});
  Node();
  Json task = MustEcs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", true}})["tasks"][0];
  Reply poll = NodeCall("PollTasks", {{"waitSeconds", 0}}, node_credentials_);
  ASSERT_TRUE(IsJsonOk(poll));
  const Json creds = poll.json["tasks"][0]["agent"]["credentials"];
  ASSERT_TRUE(creds.contains("app") && creds.contains("sidecar"));
  for (const char* name : {"app", "sidecar"}) {
    const Json& c = creds[name];
    net::HttpRequest request;
    request.method = "GET";
    request.target = "/v1/control-channel/x";
    request.headers.emplace_back("Host", kHost);
    auth::SignRequest(request, {c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]}, kRegion, "ssmmessages",
                      std::time(nullptr));
    auto caller = plane_->Authenticate(request, "ssmmessages");
    ASSERT_TRUE(caller.ok());
    EXPECT_EQ(caller->kind, PrincipalKind::kTaskAgent);
    EXPECT_EQ(caller->task_id, LastSegment(task["taskArn"]));
    EXPECT_EQ(caller->container_name, name);
  }
}

// ---------------------------------------------------------------- sessions

TEST_F(TrustBoundaryTest, SessionsBelongToTheirStarter) {
  User alice = MakeUser("alice");
  User bob = MakeUser("bob");
  for (const User* u : {&alice, &bob}) PutPolicy(*u, "p", Policy(kAllowAll));
  StoreSession("alice-0001", UserId(alice));
  for (const char* op : {"ResumeSession", "TerminateSession"})
    EXPECT_TRUE(IsJsonError(Ssm(op, {{"SessionId", "alice-0001"}}, bob.credentials), 400, "AccessDeniedException")) << op;
  EXPECT_TRUE(IsJsonOk(Ssm("ResumeSession", {{"SessionId", "alice-0001"}}, alice.credentials)));
  EXPECT_TRUE(IsJsonOk(Ssm("TerminateSession", {{"SessionId", "alice-0001"}}, alice.credentials)));
  Reply listed = Ssm("DescribeSessions", {{"State", "Active"}}, bob.credentials);
  ASSERT_TRUE(IsJsonOk(listed));
  EXPECT_TRUE(listed.json["Sessions"].empty());

  // Under one role, another session name is another owner.
  MustIam("CreateRole", {{"RoleName", "ops"},
                         {"AssumeRolePolicyDocument",
                          Policy(R"({"Effect":"Allow","Principal":{"AWS":")" + alice.arn + R"("},"Action":"sts:AssumeRole"})")}});
  MustIam("PutRolePolicy", {{"RoleName", "ops"}, {"PolicyName", "p"}, {"PolicyDocument", Policy(kAllowAll)}});
  auto assume = [&](const std::string& name) {
    Reply r = StsWith("AssumeRole", {{"RoleArn", IamArn("role/ops")}, {"RoleSessionName", name}}, alice.credentials);
    EXPECT_TRUE(IsQueryOk(r, "AssumeRole", kStsNs));
    return std::make_pair(auth::Credentials{XmlText(r.body, "AccessKeyId").value_or(""),
                                            XmlText(r.body, "SecretAccessKey").value_or(""),
                                            XmlText(r.body, "SessionToken").value_or("")},
                          XmlText(r.body, "AssumedRoleId").value_or(""));
  };
  auto [one, one_id] = assume("one");
  auto [two, two_id] = assume("two");
  StoreSession("one-0001", one_id);
  EXPECT_TRUE(IsJsonError(Ssm("TerminateSession", {{"SessionId", "one-0001"}}, two), 400, "AccessDeniedException"));
  EXPECT_TRUE(IsJsonOk(Ssm("TerminateSession", {{"SessionId", "one-0001"}}, one)));
}

TEST_F(TrustBoundaryTest, SessionArnPoliciesDecideAndStartSessionNamesTheSessionAfterTheUser) {
  CreateCluster("demo");
  RegisterFamily("web", {"app"});
  Json task = RunningExecTask("demo", "web");
  User alice = MakeUser("alice");
  PutPolicy(alice, "p", Policy(R"({"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"},
      {"Effect":"Allow","Action":["ssm:TerminateSession","ssm:ResumeSession"],
       "Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"})"));
  ASSERT_TRUE(IsJsonOk(StartSessionAs(alice, "demo", task, "app")));
  ASSERT_FALSE(broker_.requests.empty());
  EXPECT_EQ(broker_.requests.back().id_prefix, "alice-");
  EXPECT_EQ(broker_.requests.back().owner, UserId(alice));
  StoreSession("alice-0002", UserId(alice));
  StoreSession("ecs-execute-command-0003", UserId(alice));
  EXPECT_TRUE(IsJsonOk(Ssm("TerminateSession", {{"SessionId", "alice-0002"}}, alice.credentials)));
  EXPECT_TRUE(IsJsonError(Ssm("TerminateSession", {{"SessionId", "ecs-execute-command-0003"}}, alice.credentials), 400,
                          "AccessDeniedException"));
}

// ---------------------------------------------------------------- signatures and audit

TEST_F(TrustBoundaryTest, AnUnsignedTargetIsRefused) {
  // Signed without X-Amz-Target, then given one: the signature must not choose the operation.
  net::HttpRequest request = JsonRequest("", Json::object(), std::nullopt, "ecs");
  auth::SignRequest(request, root_, kRegion, "ecs", std::time(nullptr));
  request.headers.emplace_back("X-Amz-Target", kEcs + "ListClusters");
  Reply reply = Send(request);
  EXPECT_TRUE(IsJsonError(reply, 400, "IncompleteSignatureException"));
  EXPECT_NE(reply.body.find("x-amz-target"), std::string::npos) << reply.body;
}

TEST_F(TrustBoundaryTest, PresignedRequestsOnlyWhereAwsTakesThem) {
  net::HttpRequest ecs = test::SignedPost(kHost, "application/x-amz-json-1.1", kEcs + "ListClusters", "{}", std::nullopt,
                                          kRegion, "ecs");
  auth::PresignRequest(ecs, root_, kRegion, "ecs", std::time(nullptr), 300);
  EXPECT_TRUE(IsJsonError(Send(ecs), 400, "IncompleteSignatureException"));
  // STS: a presigned GetCallerIdentity is how a third party learns who holds a key.
  net::HttpRequest sts = QueryRequest(Form("GetCallerIdentity", {}, "2011-06-15"), std::nullopt, "sts");
  auth::PresignRequest(sts, root_, kRegion, "sts", std::time(nullptr), 300);
  EXPECT_TRUE(IsQueryOk(Send(sts), "GetCallerIdentity", kStsNs));
}

// A store whose audit-event writes fail, as a full disk would fail them.
class AuditFailingStore : public store::Store {
 public:
  explicit AuditFailingStore(store::Store& inner) : inner_(inner) {}
  Result<std::optional<store::Record>> Get(const std::string& kind, const std::string& key) override {
    return inner_.Get(kind, key);
  }
  Status Put(const std::string& kind, const store::Record& record) override {
    if (kind == store::kind::kAuditEvent) return MakeError("StoreError", "disk full", 500);
    return inner_.Put(kind, record);
  }
  Result<bool> Insert(const std::string& kind, const store::Record& record) override { return inner_.Insert(kind, record); }
  Status Delete(const std::string& kind, const std::string& key) override { return inner_.Delete(kind, key); }
  Result<std::vector<store::Record>> List(const std::string& kind, const std::optional<std::string>& parent) override {
    return inner_.List(kind, parent);
  }
  Result<std::vector<store::Record>> ListBySecondary(const std::string& kind, const std::string& value) override {
    return inner_.ListBySecondary(kind, value);
  }
  Status Transaction(const std::function<Status()>& work) override { return inner_.Transaction(work); }

 private:
  store::Store& inner_;
};

TEST_F(TrustBoundaryTest, AnAuditWriteThatFailsFailsTheCall) {
  AuditFailingStore failing(*store_);
  ControlPlaneConfig config;
  config.secret_key = std::string(32, 'k');
  config.region = kRegion;
  config.account_id = kAccount;
  plane_ = std::make_unique<ControlPlane>(io_.get_executor(), failing, config);
  Reply reply = Ecs("CreateCluster", {{"clusterName", "never"}});
  EXPECT_TRUE(IsJsonError(reply, 500, "InternalFailure"));
  auto cluster = store_->Get(store::kind::kCluster, "never");
  ASSERT_TRUE(cluster.ok());
  EXPECT_FALSE(cluster->has_value());
  // The query protocol answers in its own shape.
  EXPECT_TRUE(IsQueryError(Iam("CreateUser", {{"UserName", "never"}}), 500, "InternalFailure"));
  auto user = store_->Get(store::kind::kIamUser, "never");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->has_value());
}

}  // namespace
}  // namespace porthole::api
