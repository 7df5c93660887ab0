// ControlPlane through its HTTP entry point: every request is SigV4-signed
// as the AWS CLI signs it and dispatched by X-Amz-Target, and answers are
// checked for the AWS error type, HTTP status and, where ECS's wording is
// fixed, the message (shared/ecs-exec.md, src/api/ecs_text.h).
#include "api/control_plane.h"
#include "api_test_support.h"
#include "common/files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <ctime>
#include <exception>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "api/ecs_text.h"
#include "auth/sigv4.h"
#include "store/store.h"

namespace porthole::api {
namespace {

namespace fs = std::filesystem;

constexpr char kRegion[] = "us-east-1";
constexpr char kAccount[] = "123456789012";
constexpr char kHost[] = "127.0.0.1:8443";
const std::string kEcs = "AmazonEC2ContainerServiceV20141113.";
const std::string kNode = "PortholeNodeService.";

std::string ArnPrefix() { return std::string("arn:aws:ecs:") + kRegion + ":" + kAccount + ":"; }

// The last path segment of an ARN (a task id for task ARNs).
std::string LastSegment(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

// What the API answered: the HTTP status and the body parsed as JSON
// (discarded when it is not JSON).
struct ApiReply {
  int status = 0;
  Json body;
};

// `reply` is an AWS error of `type` with `status`, and, when given, exactly `message`.
::testing::AssertionResult IsError(const ApiReply& reply, int status, const std::string& type,
                                   std::optional<std::string> message = std::nullopt) {
  std::string got_type = reply.body.is_object() ? reply.body.value("__type", "") : "";
  std::string got_message = reply.body.is_object() ? reply.body.value("message", "") : "";
  if (reply.status != status || got_type != type || (message && got_message != *message))
    return ::testing::AssertionFailure() << "expected " << status << " " << type
                                         << (message ? " \"" + *message + "\"" : std::string()) << ", got "
                                         << reply.status << " " << reply.body.dump();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsOk(const ApiReply& reply) {
  if (reply.status != 200 || !reply.body.is_object() || reply.body.contains("__type"))
    return ::testing::AssertionFailure() << "expected 200, got " << reply.status << " " << reply.body.dump();
  return ::testing::AssertionSuccess();
}

// Stands in for the gateway: records what ExecuteCommand asked for.
class FakeSessionBroker : public SessionBroker {
 public:
  bool AgentConnected(const std::string& task_id, const std::string& container_name) const override {
    return connected;
  }
  Result<SessionGrant> StartSession(const SessionRequest& request) override {
    requests.push_back(request);
    return SessionGrant{"ecs-execute-command-0123456789abcdef0",
                        "wss://127.0.0.1:8443/v1/data-channel/ecs-execute-command-0123456789abcdef0",
                        "session-token-value"};
  }
  void EndTaskSessions(const std::string& task_id, const std::string& reason) override {
    ended.push_back(task_id);
  }
  std::optional<SessionGrant> ResumeSession(const std::string& session_id, const std::string& stream_host) override {
    return std::nullopt;
  }
  bool TerminateSession(const std::string& session_id) override { return false; }

  bool connected = true;
  std::vector<SessionRequest> requests;
  std::vector<std::string> ended;
};

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("porthole-api-" + std::to_string(getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    OpenPlane();
  }

  void TearDown() override {
    plane_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // (Re)opens the database and a ControlPlane over it, as a daemon restart does.
  void OpenPlane() {
    plane_.reset();
    store_.reset();
    auto store = store::OpenSqliteStore((dir_ / "state.db").string());
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    ControlPlaneConfig config;
    config.secret_key = std::string(32, 'k');
    config.region = kRegion;
    config.account_id = kAccount;
    plane_ = std::make_unique<ControlPlane>(io_.get_executor(), *store_, config);
    plane_->SetSessionBroker(&broker_);
    auto root = plane_->EnsureRootCredentials();
    ASSERT_TRUE(root.ok()) << root.error().message;
    root_ = *root;
  }

  // A POST as the AWS CLI sends it; signed with `credentials` when given.
  static net::HttpRequest BuildRequest(const std::string& target, const std::string& body,
                                       const std::optional<auth::Credentials>& credentials) {
    return test::SignedPost(kHost, "application/x-amz-json-1.1", target, body, credentials, kRegion, "ecs");
  }

  // Runs Handle() to completion on the test's io_context.
  ApiReply Send(net::HttpRequest request) {
    ApiReply reply;
    auto response = test::RunHandle(io_, *plane_, std::move(request));
    if (!response) return reply;
    reply.status = response->status;
    reply.body = Json::parse(response->body, nullptr, false);
    return reply;
  }

  ApiReply Ecs(const std::string& operation, const Json& input) {
    return Send(BuildRequest(kEcs + operation, input.dump(), root_));
  }
  // Node operations are signed with the last registered node's own credentials.
  ApiReply Node(const std::string& operation, const Json& input) {
    return Send(BuildRequest(kNode + operation, input.dump(), node_credentials_ ? *node_credentials_ : root_));
  }

  // ---- scenario steps; each fails the test when the API refuses it ----

  Json MustEcs(const std::string& operation, const Json& input) {
    ApiReply reply = Ecs(operation, input);
    EXPECT_TRUE(IsOk(reply)) << operation << " " << input.dump();
    return reply.body;
  }
  Json MustNode(const std::string& operation, const Json& input) {
    ApiReply reply = Node(operation, input);
    EXPECT_TRUE(IsOk(reply)) << operation << " " << input.dump();
    return reply.body;
  }

  Json CreateCluster(const std::string& name) { return MustEcs("CreateCluster", {{"clusterName", name}})["cluster"]; }

  Json RegisterFamily(const std::string& family,
                      Json containers = Json::array({{{"name", "app"}, {"image", "busybox"}}})) {
    return MustEcs("RegisterTaskDefinition", {{"family", family}, {"containerDefinitions", containers}})
        ["taskDefinition"];
  }

  static auth::Credentials CredentialsFrom(const Json& c) {
    return {c.value("accessKeyId", ""), c.value("secretAccessKey", ""), c.value("sessionToken", "")};
  }

  // Registers a node (with the root key, as IAM credentials allowed
  // ecs:RegisterContainerInstance) and returns its instance id; node
  // operations are signed with the instance credentials it received.
  std::string RegisterNode() {
    ApiReply reply = Send(BuildRequest(kNode + "RegisterContainerInstance",
                                       Json{{"hostname", "node-1"}, {"runtimeVersion", "runc 1.1"}}.dump(), root_));
    EXPECT_TRUE(IsOk(reply)) << "RegisterContainerInstance";
    node_credentials_ = CredentialsFrom(reply.body.value("credentials", Json::object()));
    return reply.body.value("instanceId", "");
  }

  Json RunTask(const std::string& cluster, const std::string& family, bool exec, Json extra = Json::object()) {
    Json input = {{"cluster", cluster}, {"taskDefinition", family}, {"enableExecuteCommand", exec}};
    input.update(extra);
    Json out = MustEcs("RunTask", input);
    if (!out.contains("tasks") || out["tasks"].empty()) {
      ADD_FAILURE() << "RunTask returned no task: " << out.dump();
      return Json::object();
    }
    return out["tasks"][0];
  }

  Json Poll(const std::string& instance_id) {
    return MustNode("PollTasks", {{"instanceId", instance_id}, {"waitSeconds", 0}});
  }

  // The node's report that the task's containers run, with runtime ids "<name>-rt".
  void ReportRunning(const Json& task) {
    Json containers = Json::array();
    for (const auto& c : task["containers"])
      containers.push_back({{"name", c["name"]}, {"status", "RUNNING"}, {"runtimeId", c["name"].get<std::string>() + "-rt"}});
    MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "RUNNING"}, {"containers", containers}});
  }

  Json DescribeTask(const std::string& cluster, const std::string& task_arn) {
    Json out = MustEcs("DescribeTasks", {{"cluster", cluster}, {"tasks", Json::array({task_arn})}});
    if (!out.contains("tasks") || out["tasks"].size() != 1) {
      ADD_FAILURE() << "DescribeTasks did not return the task: " << out.dump();
      return Json::object();
    }
    return out["tasks"][0];
  }

  // The agent credentials PollTasks handed out for a container of `task_arn`
  // ("app" unless named), if any.
  std::optional<auth::Credentials> AgentCredentials(const Json& poll, const std::string& task_arn,
                                                    const std::string& container = "app") {
    for (const auto& t : poll.value("tasks", Json::array())) {
      if (t.value("taskArn", "") != task_arn || !t.contains("agent")) continue;
      const Json& c = t["agent"]["credentials"].value(container, Json());
      if (!c.is_object()) return std::nullopt;
      return CredentialsFrom(c);
    }
    return std::nullopt;
  }

  // A cluster "demo", a node, and a RUNNING task of `family` (one container
  // "app" unless given) with execute command enabled and its agent connected.
  Json RunningExecTask(Json containers = Json::array({{{"name", "app"}, {"image", "busybox"}}})) {
    CreateCluster("demo");
    RegisterFamily("web", containers);
    std::string node = RegisterNode();
    Json task = RunTask("demo", "web", true);
    Poll(node);
    ReportRunning(task);
    for (const auto& c : task["containers"]) plane_->OnAgentConnected(LastSegment(task["taskArn"]), c["name"]);
    return task;
  }

  boost::asio::io_context io_;
  fs::path dir_;
  FakeSessionBroker broker_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ControlPlane> plane_;
  auth::Credentials root_;
  std::optional<auth::Credentials> node_credentials_;
};

// ============================================================== authentication

TEST_F(ControlPlaneTest, UnsignedRequestIsMissingAuthenticationToken) {
  ApiReply reply = Send(BuildRequest(kEcs + "ListClusters", "{}", std::nullopt));
  EXPECT_TRUE(IsError(reply, 403, "MissingAuthenticationTokenException"));
}

TEST_F(ControlPlaneTest, WrongSecretIsInvalidSignature) {
  auth::Credentials wrong = root_;
  wrong.secret_access_key[0] = wrong.secret_access_key[0] == 'A' ? 'B' : 'A';
  ApiReply reply = Send(BuildRequest(kEcs + "ListClusters", "{}", wrong));
  EXPECT_TRUE(IsError(reply, 403, "InvalidSignatureException"));
}

TEST_F(ControlPlaneTest, BodyChangedAfterSigningIsInvalidSignature) {
  net::HttpRequest request = BuildRequest(kEcs + "CreateCluster", R"({"clusterName":"a"})", root_);
  request.body = R"({"clusterName":"b"})";
  EXPECT_TRUE(IsError(Send(request), 403, "InvalidSignatureException"));
  EXPECT_TRUE(MustEcs("ListClusters", Json::object())["clusterArns"].empty());
}

TEST_F(ControlPlaneTest, UnknownAccessKeyIsUnrecognizedClient) {
  auth::Credentials unknown{"AKIAAAAAAAAAAAAAAAAA", root_.secret_access_key, ""};
  ApiReply reply = Send(BuildRequest(kEcs + "ListClusters", "{}", unknown));
  EXPECT_TRUE(IsError(reply, 403, "UnrecognizedClientException"));
}

TEST_F(ControlPlaneTest, RootCredentialsAreCreatedOnce) {
  EXPECT_EQ(root_.access_key_id.rfind("AKIA", 0), 0u) << root_.access_key_id;
  EXPECT_EQ(root_.access_key_id.size(), 20u);
  EXPECT_FALSE(root_.secret_access_key.empty());
  auto again = plane_->EnsureRootCredentials();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->access_key_id, root_.access_key_id);
  EXPECT_EQ(again->secret_access_key, root_.secret_access_key);
  auto caller = plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", root_), "ecs");
  ASSERT_TRUE(caller.ok()) << caller.error().message;
  EXPECT_EQ(caller->kind, PrincipalKind::kRoot);
  EXPECT_EQ(caller->principal_arn, std::string("arn:aws:iam::") + kAccount + ":root");
}

TEST_F(ControlPlaneTest, MalformedJsonIsSerializationException) {
  ApiReply reply = Send(BuildRequest(kEcs + "CreateCluster", R"({"clusterName": )", root_));
  EXPECT_TRUE(IsError(reply, 400, "SerializationException"));
}

// A body nested past the bound is refused before any handler copies or dumps
// it (nlohmann::json does so with a stack frame per level). 64 levels pass.
TEST_F(ControlPlaneTest, DeeplyNestedBodyIsSerializationException) {
  std::string deep = R"({"clusterName":"deep","tags":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "CreateCluster", deep, root_)), 400, "SerializationException"));
  std::string fine = R"({"clusterName":"fine","x":)" + std::string(62, '[') + std::string(62, ']') + "}";
  EXPECT_FALSE(IsError(Send(BuildRequest(kEcs + "CreateCluster", fine, root_)), 400, "SerializationException"));
}

TEST_F(ControlPlaneTest, NonObjectBodyIsSerializationException) {
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "CreateCluster", R"([{"clusterName":"demo"}])", root_)), 400,
                      "SerializationException"));
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "ListClusters", "\"demo\"", root_)), 400, "SerializationException"));
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "ListClusters", "null", root_)), 400, "SerializationException"));
}

TEST_F(ControlPlaneTest, EmptyBodyIsAnEmptyInput) {
  ApiReply reply = Send(BuildRequest(kEcs + "ListClusters", "", root_));
  ASSERT_TRUE(IsOk(reply));
  EXPECT_EQ(reply.body, Json({{"clusterArns", Json::array()}}));
}

TEST_F(ControlPlaneTest, UnknownTargetIsUnknownOperation) {
  EXPECT_TRUE(IsError(Ecs("LaunchRockets", Json::object()), 400, "UnknownOperationException"));
  EXPECT_TRUE(IsError(Node("Reboot", Json::object()), 400, "UnknownOperationException"));
  EXPECT_TRUE(IsError(Send(BuildRequest("", "{}", root_)), 400, "UnknownOperationException"));
  // The operation name alone, without its service prefix, is not a target.
  EXPECT_TRUE(IsError(Send(BuildRequest("ListClusters", "{}", root_)), 400, "UnknownOperationException"));
}

// The credential scope must name this endpoint's region and the target's service.
TEST_F(ControlPlaneTest, WrongRegionOrServiceInScopeIsRefused) {
  net::HttpRequest request;
  request.method = "POST";
  request.target = "/";
  request.body = "{}";
  request.headers.emplace_back("Host", kHost);
  request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  request.headers.emplace_back("X-Amz-Target", kEcs + "ListClusters");
  net::HttpRequest other_region = request;
  auth::SignRequest(other_region, root_, "eu-west-1", "ecs", std::time(nullptr));
  EXPECT_TRUE(IsError(Send(other_region), 403, "InvalidSignatureException"));
  net::HttpRequest other_service = request;
  auth::SignRequest(other_service, root_, kRegion, "ssmmessages", std::time(nullptr));
  EXPECT_TRUE(IsError(Send(other_service), 403, "InvalidSignatureException"));
  net::HttpRequest right = request;
  auth::SignRequest(right, root_, kRegion, "ecs", std::time(nullptr));
  EXPECT_EQ(Send(right).status, 200);
}

TEST_F(ControlPlaneTest, GetIsRefused) {
  net::HttpRequest request;
  request.method = "GET";
  request.target = "/";
  request.headers.emplace_back("Host", kHost);
  request.headers.emplace_back("X-Amz-Target", kEcs + "ListClusters");
  auth::SignRequest(request, root_, kRegion, "ecs", std::time(nullptr));
  ApiReply reply = Send(request);
  EXPECT_NE(reply.status, 200);
  EXPECT_TRUE(IsError(reply, 404, "UnknownOperationException"));
}

TEST_F(ControlPlaneTest, TaskCredentialsAreRefusedForApiCalls) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  auto creds = AgentCredentials(Poll(node), task["taskArn"]);
  ASSERT_TRUE(creds.has_value());

  // The signature is valid: Authenticate knows them as the task's.
  auto caller = plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", *creds), "ecs");
  ASSERT_TRUE(caller.ok()) << caller.error().code;
  EXPECT_EQ(caller->kind, PrincipalKind::kTaskAgent);
  EXPECT_EQ(caller->task_id, LastSegment(task["taskArn"]));
  EXPECT_EQ(caller->principal_arn, task["taskArn"]);

  // But the API serves root only: neither ECS nor node operations.
  for (const std::string& target : {kEcs + "ListClusters", kEcs + "ExecuteCommand", kNode + "PollTasks"}) {
    ApiReply reply = Send(BuildRequest(target, "{}", *creds));
    EXPECT_TRUE(IsError(reply, 400, "AccessDeniedException")) << target;
    EXPECT_NE(reply.body.value("message", "").find(task["taskArn"].get<std::string>()), std::string::npos);
  }

  auth::Credentials wrong_token = *creds;
  wrong_token.session_token = "AQoDYXdzEJr" + creds->session_token.substr(11);
  ASSERT_NE(wrong_token.session_token, creds->session_token);
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "ListClusters", "{}", wrong_token)), 403,
                      "UnrecognizedClientException", "The security token included in the request is invalid."));

  auth::Credentials no_token = *creds;
  no_token.session_token.clear();
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "ListClusters", "{}", no_token)), 403,
                      "UnrecognizedClientException"));
}

TEST_F(ControlPlaneTest, ExpiredTaskCredentialsAreRefused) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  Json polled = Poll(node);
  auto creds = AgentCredentials(polled, task["taskArn"]);
  ASSERT_TRUE(creds.has_value());
  auto expiration =
      static_cast<std::time_t>(polled["tasks"][0]["agent"]["credentials"]["app"]["expiration"].get<double>());
  // Signed and verified just past the expiration: only the expiration is at fault.
  plane_->SetClock([expiration] { return expiration + 1; });
  net::HttpRequest late = BuildRequest(kEcs + "ListClusters", "{}", std::nullopt);
  auth::SignRequest(late, *creds, kRegion, "ecs", expiration + 1);
  auto caller = plane_->Authenticate(late, "ecs");
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.error().code, "ExpiredTokenException");
  EXPECT_EQ(caller.error().http_status, 403);
}

// ============================================================== clusters

TEST_F(ControlPlaneTest, CreateClusterIsIdempotent) {
  Json first = CreateCluster("demo");
  EXPECT_EQ(first["clusterArn"], ArnPrefix() + "cluster/demo");
  EXPECT_EQ(first["clusterName"], "demo");
  EXPECT_EQ(first["status"], "ACTIVE");
  EXPECT_EQ(first["runningTasksCount"], 0);
  EXPECT_EQ(first["pendingTasksCount"], 0);
  Json second = CreateCluster("demo");
  EXPECT_EQ(second["clusterArn"], first["clusterArn"]);
  EXPECT_EQ(MustEcs("ListClusters", Json::object())["clusterArns"], Json::array({first["clusterArn"]}));
}

TEST_F(ControlPlaneTest, CreateClusterWithoutNameCreatesDefault) {
  Json cluster = MustEcs("CreateCluster", Json::object())["cluster"];
  EXPECT_EQ(cluster["clusterName"], "default");
  EXPECT_EQ(cluster["clusterArn"], ArnPrefix() + "cluster/default");
}

TEST_F(ControlPlaneTest, InvalidClusterNameIsInvalidParameter) {
  for (const std::string& name : {std::string("has space"), std::string("bad/name"), std::string("näme"),
                                  std::string(256, 'a')})
    EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", name}}), 400, "InvalidParameterException")) << name;
  EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", 7}}), 400, "SerializationException"));
  EXPECT_TRUE(IsOk(Ecs("CreateCluster", {{"clusterName", std::string(255, 'a')}})));
}

TEST_F(ControlPlaneTest, CreateClusterValidatesExecuteCommandConfiguration) {
  EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", "demo"},
                                            {"configuration", {{"executeCommandConfiguration", {{"logging", "LOUD"}}}}}}),
                      400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(
      Ecs("CreateCluster",
          {{"clusterName", "demo"}, {"configuration", {{"executeCommandConfiguration", {{"logging", "OVERRIDE"}}}}}}),
      400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", "demo"}, {"configuration", "on"}}), 400,
                      "SerializationException"));
  // Wrong member types are the caller's error, never a server error.
  EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", "demo"},
                                            {"configuration", {{"executeCommandConfiguration", {{"logging", 1}}}}}}),
                      400, "SerializationException"));
  EXPECT_TRUE(IsError(
      Ecs("CreateCluster", {{"clusterName", "demo"}, {"configuration", {{"executeCommandConfiguration", 1}}}}), 400,
      "SerializationException"));
  EXPECT_TRUE(MustEcs("ListClusters", Json::object())["clusterArns"].empty());

  Json config = {{"executeCommandConfiguration",
                  {{"logging", "OVERRIDE"}, {"logConfiguration", {{"s3BucketName", "audit"}}}}}};
  ASSERT_TRUE(IsOk(Ecs("CreateCluster", {{"clusterName", "demo"}, {"configuration", config}})));
  Json described = MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}, {"include", Json::array({"CONFIGURATIONS"})}});
  EXPECT_EQ(described["clusters"][0]["configuration"], config);
  described = MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}});
  EXPECT_FALSE(described["clusters"][0].contains("configuration"));
}

TEST_F(ControlPlaneTest, DescribeClustersReportsMissingOnes) {
  CreateCluster("demo");
  Json out = MustEcs("DescribeClusters", {{"clusters", {"demo", "ghost", ArnPrefix() + "cluster/phantom"}}});
  ASSERT_EQ(out["clusters"].size(), 1u);
  EXPECT_EQ(out["clusters"][0]["clusterName"], "demo");
  EXPECT_EQ(out["failures"], Json::array({{{"arn", ArnPrefix() + "cluster/ghost"}, {"reason", "MISSING"}},
                                          {{"arn", ArnPrefix() + "cluster/phantom"}, {"reason", "MISSING"}}}));
  // By ARN, too.
  out = MustEcs("DescribeClusters", {{"clusters", Json::array({ArnPrefix() + "cluster/demo"})}});
  ASSERT_EQ(out["clusters"].size(), 1u);
  EXPECT_TRUE(out["failures"].empty());
  EXPECT_TRUE(IsError(Ecs("DescribeClusters", {{"clusters", "demo"}}), 400, "SerializationException"));
}

TEST_F(ControlPlaneTest, ListAndDeleteClusters) {
  CreateCluster("alpha");
  CreateCluster("beta");
  EXPECT_EQ(MustEcs("ListClusters", Json::object())["clusterArns"],
            Json::array({ArnPrefix() + "cluster/alpha", ArnPrefix() + "cluster/beta"}));

  Json deleted = MustEcs("DeleteCluster", {{"cluster", "alpha"}})["cluster"];
  EXPECT_EQ(deleted["status"], "INACTIVE");
  EXPECT_EQ(deleted["clusterArn"], ArnPrefix() + "cluster/alpha");
  EXPECT_EQ(MustEcs("ListClusters", Json::object())["clusterArns"], Json::array({ArnPrefix() + "cluster/beta"}));
  // ECS still describes a deleted cluster, as INACTIVE.
  Json described = MustEcs("DescribeClusters", {{"clusters", Json::array({"alpha"})}});
  ASSERT_EQ(described["clusters"].size(), 1u);
  EXPECT_EQ(described["clusters"][0]["status"], "INACTIVE");

  EXPECT_TRUE(IsError(Ecs("DeleteCluster", {{"cluster", "alpha"}}), 400, "ClusterNotFoundException",
                      "Cluster not found."));
  EXPECT_TRUE(IsError(Ecs("DeleteCluster", {{"cluster", "ghost"}}), 400, "ClusterNotFoundException",
                      "Cluster not found."));
  EXPECT_TRUE(IsError(Ecs("DeleteCluster", Json::object()), 400, "InvalidParameterException"));
  // By ARN.
  EXPECT_TRUE(IsOk(Ecs("DeleteCluster", {{"cluster", ArnPrefix() + "cluster/beta"}})));
  EXPECT_TRUE(MustEcs("ListClusters", Json::object())["clusterArns"].empty());
  // A deleted cluster can be created again.
  EXPECT_EQ(CreateCluster("alpha")["status"], "ACTIVE");
}

TEST_F(ControlPlaneTest, DeleteClusterWithActiveTasksIsRefused) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  Json task = RunTask("demo", "web", false);
  EXPECT_TRUE(IsError(Ecs("DeleteCluster", {{"cluster", "demo"}}), 400, "ClusterContainsTasksException"));
  MustEcs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}});
  EXPECT_TRUE(IsOk(Ecs("DeleteCluster", {{"cluster", "demo"}})));
}

TEST_F(ControlPlaneTest, ClusterTagsRoundTrip) {
  Json tags = Json::array({{{"key", "team"}, {"value", "payments"}}, {{"key", "env"}, {"value", "prod"}}});
  Json cluster = MustEcs("CreateCluster", {{"clusterName", "demo"}, {"tags", tags}})["cluster"];
  std::string arn = cluster["clusterArn"];
  EXPECT_EQ(MustEcs("ListTagsForResource", {{"resourceArn", arn}})["tags"], tags);
  Json described = MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}, {"include", Json::array({"TAGS"})}});
  EXPECT_EQ(described["clusters"][0]["tags"], tags);
  described = MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}});
  EXPECT_FALSE(described["clusters"][0].contains("tags"));

  // TagResource replaces values of existing keys and appends new ones.
  EXPECT_EQ(MustEcs("TagResource", {{"resourceArn", arn},
                                    {"tags", {{{"key", "env"}, {"value", "staging"}}, {{"key", "owner"}, {"value", "ana"}}}}}),
            Json::object());
  EXPECT_EQ(MustEcs("ListTagsForResource", {{"resourceArn", arn}})["tags"],
            Json::array({{{"key", "team"}, {"value", "payments"}},
                         {{"key", "env"}, {"value", "staging"}},
                         {{"key", "owner"}, {"value", "ana"}}}));

  EXPECT_EQ(MustEcs("UntagResource", {{"resourceArn", arn}, {"tagKeys", {"team", "absent"}}}), Json::object());
  EXPECT_EQ(MustEcs("ListTagsForResource", {{"resourceArn", arn}})["tags"],
            Json::array({{{"key", "env"}, {"value", "staging"}}, {{"key", "owner"}, {"value", "ana"}}}));
}

TEST_F(ControlPlaneTest, TaggingErrors) {
  CreateCluster("demo");
  std::string arn = ArnPrefix() + "cluster/demo";
  EXPECT_TRUE(IsError(Ecs("ListTagsForResource", {{"resourceArn", ArnPrefix() + "cluster/ghost"}}), 400,
                      "ResourceNotFoundException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", "arn:aws:s3:::bucket"}, {"tags", Json::array()}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", "not-an-arn"}, {"tags", Json::array()}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", arn}, {"tags", {{{"key", ""}, {"value", "x"}}}}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", arn}, {"tags", {{{"value", "x"}}}}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", arn}, {"tags", "team=payments"}}), 400,
                      "SerializationException"));
  // A tag value of the wrong type is the caller's error, never a server error.
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", arn}, {"tags", {{{"key", "n"}, {"value", 5}}}}}), 400,
                      "InvalidParameterException"));
  Json many = Json::array();
  for (int i = 0; i < 51; i++) many.push_back({{"key", "k" + std::to_string(i)}, {"value", "v"}});
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", arn}, {"tags", many}}), 400, "InvalidParameterException"));
  EXPECT_TRUE(MustEcs("ListTagsForResource", {{"resourceArn", arn}})["tags"].empty());
}

TEST_F(ControlPlaneTest, TaskAndTaskDefinitionTags) {
  CreateCluster("demo");
  Json definition = RegisterFamily("web");
  std::string td_arn = definition["taskDefinitionArn"];
  MustEcs("TagResource", {{"resourceArn", td_arn}, {"tags", {{{"key", "tier"}, {"value", "front"}}}}});
  EXPECT_EQ(MustEcs("ListTagsForResource", {{"resourceArn", td_arn}})["tags"],
            Json::array({{{"key", "tier"}, {"value", "front"}}}));
  Json described = MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web"}, {"include", Json::array({"TAGS"})}});
  EXPECT_EQ(described["tags"], Json::array({{{"key", "tier"}, {"value", "front"}}}));

  RegisterNode();
  Json task = RunTask("demo", "web", false, {{"tags", {{{"key", "run"}, {"value", "1"}}}}});
  std::string task_arn = task["taskArn"];
  EXPECT_EQ(MustEcs("ListTagsForResource", {{"resourceArn", task_arn}})["tags"],
            Json::array({{{"key", "run"}, {"value", "1"}}}));
  // The same task id under another cluster is not this task.
  std::string other = ArnPrefix() + "task/other/" + LastSegment(task_arn);
  EXPECT_TRUE(IsError(Ecs("ListTagsForResource", {{"resourceArn", other}}), 400, "ResourceNotFoundException"));
  EXPECT_TRUE(IsError(Ecs("TagResource", {{"resourceArn", other}, {"tags", {{{"key", "x"}, {"value", "y"}}}}}), 400,
                      "ResourceNotFoundException"));
}

// ============================================================== task definitions

TEST_F(ControlPlaneTest, RegisterTaskDefinitionTwiceGivesRevisions) {
  Json first = RegisterFamily("web");
  Json second = RegisterFamily("web", Json::array({{{"name", "app"}, {"image", "busybox:1.36"}}}));
  EXPECT_EQ(first["revision"], 1);
  EXPECT_EQ(second["revision"], 2);
  EXPECT_EQ(first["taskDefinitionArn"], ArnPrefix() + "task-definition/web:1");
  EXPECT_EQ(second["taskDefinitionArn"], ArnPrefix() + "task-definition/web:2");
  EXPECT_EQ(first["family"], "web");
  EXPECT_EQ(first["status"], "ACTIVE");
  // ECS's defaults are filled in; internal members are not shown.
  EXPECT_EQ(first["containerDefinitions"][0]["essential"], true);
  EXPECT_EQ(first["containerDefinitions"][0]["environment"], Json::array());
  EXPECT_EQ(first["networkMode"], "bridge");
  EXPECT_EQ(first["containerDefinitions"][0]["portMappings"], Json::array());
  for (auto it = first.begin(); it != first.end(); ++it) EXPECT_NE(it.key()[0], '_') << it.key();
  // Families are independent.
  EXPECT_EQ(RegisterFamily("worker")["revision"], 1);
}

TEST_F(ControlPlaneTest, DescribeTaskDefinitionByFamilyRevisionAndArn) {
  RegisterFamily("web");
  RegisterFamily("web", Json::array({{{"name", "app"}, {"image", "busybox:1.36"}}}));
  Json latest = MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web"}})["taskDefinition"];
  EXPECT_EQ(latest["revision"], 2);
  EXPECT_EQ(latest["containerDefinitions"][0]["image"], "busybox:1.36");
  EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web:1"}})["taskDefinition"]["revision"], 1);
  EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", ArnPrefix() + "task-definition/web:1"}})
                ["taskDefinition"]["revision"],
            1);
  EXPECT_TRUE(IsError(Ecs("DescribeTaskDefinition", {{"taskDefinition", "web:3"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("DescribeTaskDefinition", {{"taskDefinition", "ghost"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("DescribeTaskDefinition", {{"taskDefinition", "web:0"}}), 400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("DescribeTaskDefinition", Json::object()), 400, "InvalidParameterException"));
}

TEST_F(ControlPlaneTest, DeregisterTaskDefinition) {
  RegisterFamily("web");
  RegisterFamily("web");
  Json gone = MustEcs("DeregisterTaskDefinition", {{"taskDefinition", "web:2"}})["taskDefinition"];
  EXPECT_EQ(gone["status"], "INACTIVE");
  EXPECT_EQ(gone["taskDefinitionArn"], ArnPrefix() + "task-definition/web:2");
  // The family now resolves to the latest ACTIVE revision; the inactive one
  // can still be described by revision.
  EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web"}})["taskDefinition"]["revision"], 1);
  EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web:2"}})["taskDefinition"]["status"], "INACTIVE");
  EXPECT_EQ(MustEcs("ListTaskDefinitions", Json::object())["taskDefinitionArns"],
            Json::array({ArnPrefix() + "task-definition/web:1"}));
  EXPECT_EQ(MustEcs("ListTaskDefinitions", {{"status", "INACTIVE"}})["taskDefinitionArns"],
            Json::array({ArnPrefix() + "task-definition/web:2"}));
  // A new registration does not reuse the revision number.
  EXPECT_EQ(RegisterFamily("web")["revision"], 3);

  EXPECT_TRUE(IsError(Ecs("DeregisterTaskDefinition", {{"taskDefinition", "web"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("DeregisterTaskDefinition", {{"taskDefinition", "web:9"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("DeregisterTaskDefinition", {{"taskDefinition", "ghost:1"}}), 400, "ClientException"));
  // With no ACTIVE revision left the family does not resolve.
  MustEcs("DeregisterTaskDefinition", {{"taskDefinition", "web:1"}});
  MustEcs("DeregisterTaskDefinition", {{"taskDefinition", "web:3"}});
  EXPECT_TRUE(IsError(Ecs("DescribeTaskDefinition", {{"taskDefinition", "web"}}), 400, "ClientException"));
}

TEST_F(ControlPlaneTest, ListTaskDefinitionsFiltersAndSorts) {
  RegisterFamily("web");
  RegisterFamily("worker");
  RegisterFamily("web");
  EXPECT_EQ(MustEcs("ListTaskDefinitions", Json::object())["taskDefinitionArns"],
            Json::array({ArnPrefix() + "task-definition/web:1", ArnPrefix() + "task-definition/web:2",
                         ArnPrefix() + "task-definition/worker:1"}));
  EXPECT_EQ(MustEcs("ListTaskDefinitions", {{"familyPrefix", "wor"}})["taskDefinitionArns"],
            Json::array({ArnPrefix() + "task-definition/worker:1"}));
  EXPECT_EQ(MustEcs("ListTaskDefinitions", {{"familyPrefix", "web"}, {"sort", "DESC"}})["taskDefinitionArns"],
            Json::array({ArnPrefix() + "task-definition/web:2", ArnPrefix() + "task-definition/web:1"}));
  EXPECT_TRUE(IsError(Ecs("ListTaskDefinitions", {{"status", "GONE"}}), 400, "InvalidParameterException"));
}

TEST_F(ControlPlaneTest, RegisterTaskDefinitionValidatesContainers) {
  auto reg = [&](const Json& containers) {
    return Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", containers}});
  };
  EXPECT_TRUE(IsError(reg(Json::array()), 400, "ClientException", "Container list cannot be empty."));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", "web"}}), 400, "ClientException",
                      "Container list cannot be empty."));
  EXPECT_TRUE(IsError(reg({{{"name", "app"}}}), 400, "ClientException",
                      "Container.image should not be null or empty."));
  EXPECT_TRUE(IsError(reg({{{"name", "app"}, {"image", ""}}}), 400, "ClientException",
                      "Container.image should not be null or empty."));
  EXPECT_TRUE(IsError(reg({{{"image", "busybox"}}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg({{{"name", "app"}, {"image", "busybox"}}, {{"name", "app"}, {"image", "alpine"}}}), 400,
                      "ClientException", "Duplicate container name: app."));
  EXPECT_TRUE(IsError(reg({{{"name", "bad name"}, {"image", "busybox"}}}), 400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(reg({{{"name", "app"}, {"image", "busybox"}, {"essential", false}}}), 400, "ClientException"));
  Json eleven = Json::array();
  for (int i = 0; i < 11; i++) eleven.push_back({{"name", "c" + std::to_string(i)}, {"image", "busybox"}});
  EXPECT_TRUE(IsError(reg(eleven), 400, "ClientException"));
  // Nothing was registered.
  EXPECT_TRUE(MustEcs("ListTaskDefinitions", Json::object())["taskDefinitionArns"].empty());
}

TEST_F(ControlPlaneTest, RegisterTaskDefinitionRejectsWrongMemberTypes) {
  auto reg = [&](const Json& container) {
    return Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", Json::array({container})}});
  };
  Json base = {{"name", "app"}, {"image", "busybox"}};
  auto with = [&](const char* member, Json value) {
    Json c = base;
    c[member] = std::move(value);
    return c;
  };
  EXPECT_TRUE(IsError(reg(with("image", 42)), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("name", Json::array({"app"}))), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("image", nullptr)), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("command", "sleep 10")), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("command", Json::array({"sleep", 10}))), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("entryPoint", Json::object())), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("essential", "yes")), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("readonlyRootFilesystem", 1)), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("environment", Json::object({{"A", "1"}}))), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("environment", Json::array({{{"name", "A"}, {"value", 1}}}))), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", "init")), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", {{"initProcessEnabled", "true"}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", {{"capabilities", "SYS_ADMIN"}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", {{"capabilities", {{"add", "SYS_ADMIN"}}}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", {{"capabilities", {{"add", {"SYS_EVERYTHING"}}}}})), 400,
                      "ClientException"));
  EXPECT_TRUE(IsError(reg(with("linuxParameters", {{"capabilities", {{"drop", {7}}}}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg("app"), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", base}}), 400,
                      "ClientException"));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", 1}, {"containerDefinitions", Json::array({base})}}), 400,
                      "SerializationException"));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"containerDefinitions", Json::array({base})}}), 400,
                      "InvalidParameterException", "family can not be blank."));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", "bad family"}, {"containerDefinitions", Json::array({base})}}),
                      400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", Json::array({base})}, {"cpu", 256}}),
                      400, "ClientException"));
  EXPECT_TRUE(IsError(
      Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", Json::array({base})}, {"taskRoleArn", true}}), 400,
      "ClientException"));
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", {{"family", "web"}, {"containerDefinitions", Json::array({base})}, {"tags", Json::object()}}),
                      400, "SerializationException"));
  EXPECT_TRUE(MustEcs("ListTaskDefinitions", Json::object())["taskDefinitionArns"].empty());
  // Names with or without CAP_, and ALL, are capabilities.
  EXPECT_TRUE(IsOk(reg(with("linuxParameters", {{"capabilities", {{"add", {"SYS_PTRACE", "CAP_NET_ADMIN"}},
                                                                  {"drop", {"ALL"}}}}}))));
}

TEST_F(ControlPlaneTest, RegisterTaskDefinitionNetworkModes) {
  Json containers = Json::array({{{"name", "app"}, {"image", "busybox"}}});
  EXPECT_EQ(RegisterFamily("plain")["networkMode"], "bridge");  // ECS's default for EC2
  for (const char* mode : {"bridge", "host", "awsvpc", "none"}) {
    Json registered = MustEcs("RegisterTaskDefinition",
                              {{"family", "web"}, {"networkMode", mode}, {"containerDefinitions", containers}});
    EXPECT_EQ(registered["taskDefinition"]["networkMode"], mode);
    EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web"}})["taskDefinition"]["networkMode"], mode);
  }
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition",
                          {{"family", "web"}, {"networkMode", "nat"}, {"containerDefinitions", containers}}),
                      400, "ClientException", "Invalid networkMode: nat. Valid values are bridge, host, awsvpc and none."));
  for (Json mode : {Json("Bridge"), Json(""), Json("default"), Json(1), Json::array({"bridge"})})
    EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition",
                            {{"family", "web"}, {"networkMode", mode}, {"containerDefinitions", containers}}),
                        400, "ClientException"))
        << mode;
  EXPECT_EQ(MustEcs("ListTaskDefinitions", {{"familyPrefix", "web"}})["taskDefinitionArns"].size(), 4u);
}

TEST_F(ControlPlaneTest, RegisterTaskDefinitionValidatesPortMappings) {
  auto reg = [&](const std::string& mode, const Json& mappings, const Json& more = Json::array()) {
    Json containers = Json::array({{{"name", "app"}, {"image", "busybox"}, {"portMappings", mappings}}});
    for (const auto& c : more) containers.push_back(c);
    return Ecs("RegisterTaskDefinition", {{"family", "web"}, {"networkMode", mode}, {"containerDefinitions", containers}});
  };
  auto mapping = [](Json fields) { return Json::array({std::move(fields)}); };

  // Normalized: protocol lowercase (tcp by default), hostPort only when
  // given, name and appProtocol as given, other members dropped.
  ApiReply ok = reg("bridge", Json::array({{{"containerPort", 80}},
                                           {{"containerPort", 53}, {"hostPort", 5353}, {"protocol", "UDP"}},
                                           {{"containerPort", 8080}, {"hostPort", 0}, {"protocol", "Tcp"},
                                            {"name", "web-8080"}, {"appProtocol", "http"}, {"bogus", 1}}}));
  ASSERT_TRUE(IsOk(ok));
  EXPECT_EQ(ok.body["taskDefinition"]["containerDefinitions"][0]["portMappings"],
            Json::parse(R"([{"containerPort":80,"protocol":"tcp"},
                            {"containerPort":53,"hostPort":5353,"protocol":"udp"},
                            {"containerPort":8080,"hostPort":0,"protocol":"tcp","name":"web-8080","appProtocol":"http"}])"));
  // The same container port twice, published on a chosen and a fixed host port.
  EXPECT_TRUE(IsOk(reg("bridge", Json::array({{{"containerPort", 80}}, {{"containerPort", 80}, {"hostPort", 8080}}}))));
  // The same host port with another protocol.
  EXPECT_TRUE(IsOk(reg("bridge", Json::array({{{"containerPort", 53}, {"hostPort", 53}},
                                              {{"containerPort", 53}, {"hostPort", 53}, {"protocol", "udp"}}}))));
  // awsvpc and host: the host port is the container port, given or not.
  for (const char* mode : {"awsvpc", "host"}) {
    EXPECT_TRUE(IsOk(reg(mode, Json::array({{{"containerPort", 80}}, {{"containerPort", 443}, {"hostPort", 443}}}))));
    EXPECT_TRUE(IsError(reg(mode, mapping({{"containerPort", 80}, {"hostPort", 8080}})), 400, "ClientException",
                        std::string("When networkMode=") + mode +
                            ", the host ports and container ports in port mappings must match."));
    EXPECT_TRUE(IsError(reg(mode, mapping({{"containerPort", 80}, {"hostPort", 0}})), 400, "ClientException"));
    EXPECT_TRUE(IsError(reg(mode, mapping({{"containerPort", 80}}),
                            Json::array({{{"name", "side"}, {"image", "busybox"}, {"portMappings", mapping({{"containerPort", 80}})}}})),
                        400, "ClientException",
                        "Container.portMappings: host port 80/tcp is mapped more than once in the task definition."));
  }
  EXPECT_TRUE(IsOk(reg("none", Json::array())));
  EXPECT_TRUE(IsError(reg("none", mapping({{"containerPort", 80}})), 400, "ClientException",
                      "Port mappings are not valid when networkMode=none: the task has no network."));
  // A fixed host port is published once per task, across its containers.
  EXPECT_TRUE(IsError(reg("bridge", Json::array({{{"containerPort", 80}, {"hostPort", 8080}},
                                                 {{"containerPort", 81}, {"hostPort", 8080}, {"protocol", "TCP"}}})),
                      400, "ClientException",
                      "Container.portMappings: host port 8080/tcp is mapped more than once in the task definition."));
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"hostPort", 8080}}),
                          Json::array({{{"name", "side"}, {"image", "busybox"},
                                        {"portMappings", mapping({{"containerPort", 90}, {"hostPort", 8080}})}}})),
                      400, "ClientException"));
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"protocol", "sctp"}})), 400, "ClientException",
                      "Container.portMappings.protocol must be tcp or udp, not \"sctp\"."));
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"protocol", 6}})), 400, "ClientException"));
  for (Json port : {Json(0), Json(65536), Json(-80), Json("80"), Json(80.5), Json(nullptr),
                    Json(std::numeric_limits<uint64_t>::max())})
    EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", port}})), 400, "ClientException",
                        "Container.portMappings.containerPort must be an integer between 1 and 65535."))
        << port;
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"hostPort", 8080}})), 400, "ClientException",
                      "Container.portMappings.containerPort should not be null."));
  for (Json port : {Json(65536), Json(-1), Json("8080")})
    EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"hostPort", port}})), 400, "ClientException",
                        "Container.portMappings.hostPort must be an integer between 0 and 65535."))
        << port;
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"name", 5}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPort", 80}, {"appProtocol", true}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg("bridge", mapping({{"containerPortRange", "8000-8010"}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg("bridge", Json::object({{"containerPort", 80}})), 400, "ClientException"));
  EXPECT_TRUE(IsError(reg("bridge", Json::array({80})), 400, "ClientException"));
  Json too_many = Json::array();
  for (int i = 1; i <= 101; i++) too_many.push_back({{"containerPort", i}});
  EXPECT_TRUE(IsError(reg("bridge", too_many), 400, "ClientException"));
  too_many.erase(too_many.size() - 1);
  EXPECT_TRUE(IsOk(reg("bridge", too_many)));
}

// ============================================================== tasks

TEST_F(ControlPlaneTest, RunTaskWithoutNodeFails) {
  CreateCluster("demo");
  RegisterFamily("web");
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}}), 400,
                      "InvalidParameterException", "No Container Instances were found in your cluster."));
  EXPECT_TRUE(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"].empty());
}

TEST_F(ControlPlaneTest, RunTaskWithExecuteCommand) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  Json task = RunTask("demo", "web", true);
  std::string arn = task.value("taskArn", "");
  EXPECT_TRUE(std::regex_match(arn, std::regex("arn:aws:ecs:us-east-1:123456789012:task/demo/[0-9a-f]{32}"))) << arn;
  EXPECT_EQ(task["clusterArn"], ArnPrefix() + "cluster/demo");
  EXPECT_EQ(task["taskDefinitionArn"], ArnPrefix() + "task-definition/web:1");
  EXPECT_EQ(task["lastStatus"], "PROVISIONING");
  EXPECT_EQ(task["desiredStatus"], "RUNNING");
  EXPECT_EQ(task["enableExecuteCommand"], true);
  EXPECT_EQ(task["launchType"], "EC2");
  EXPECT_EQ(task["group"], "family:web");
  EXPECT_EQ(task["containerInstanceArn"].get<std::string>().rfind(ArnPrefix() + "container-instance/demo/", 0), 0u)
      << task["containerInstanceArn"];
  ASSERT_EQ(task["containers"].size(), 1u);
  const Json& container = task["containers"][0];
  EXPECT_EQ(container["name"], "app");
  EXPECT_EQ(container["image"], "busybox");
  EXPECT_EQ(container["taskArn"], arn);
  EXPECT_EQ(container["containerArn"].get<std::string>().rfind(ArnPrefix() + "container/demo/" + LastSegment(arn) + "/", 0),
            0u)
      << container["containerArn"];
  EXPECT_EQ(container["managedAgents"],
            Json::array({{{"name", "ExecuteCommandAgent"}, {"lastStatus", "PENDING"}}}));
  for (auto it = task.begin(); it != task.end(); ++it) EXPECT_NE(it.key()[0], '_') << it.key();

  // DescribeTasks shows the same.
  Json described = DescribeTask("demo", arn);
  EXPECT_EQ(described["enableExecuteCommand"], true);
  EXPECT_EQ(described["containers"][0]["managedAgents"][0]["name"], "ExecuteCommandAgent");
  EXPECT_EQ(MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}})["clusters"][0]["pendingTasksCount"], 1);
}

TEST_F(ControlPlaneTest, RunTaskWithoutExecuteCommandHasNoManagedAgent) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  Json task = MustEcs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}})["tasks"][0];
  EXPECT_EQ(task["enableExecuteCommand"], false);
  for (const auto& c : task["containers"]) EXPECT_TRUE(c.value("managedAgents", Json::array()).empty()) << c.dump();
}

TEST_F(ControlPlaneTest, RunTaskCount) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  Json out = MustEcs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"count", 3}});
  ASSERT_EQ(out["tasks"].size(), 3u);
  EXPECT_TRUE(out["failures"].empty());
  EXPECT_NE(out["tasks"][0]["taskArn"], out["tasks"][1]["taskArn"]);
  EXPECT_NE(out["tasks"][1]["taskArn"], out["tasks"][2]["taskArn"]);
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"].size(), 3u);

  for (int count : {0, 11, -1})
    EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"count", count}}), 400,
                        "InvalidParameterException"))
        << count;
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"count", "2"}}), 400,
                      "SerializationException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"enableExecuteCommand", "yes"}}),
                      400, "SerializationException"));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"].size(), 3u);
}

TEST_F(ControlPlaneTest, RunTaskErrors) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "ghost"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web:2"}}), 400, "ClientException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}}), 400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "ghost"}, {"taskDefinition", "web"}}), 400,
                      "ClusterNotFoundException", "Cluster not found."));
  // No cluster means "default", which does not exist here.
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"taskDefinition", "web"}}), 400, "ClusterNotFoundException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"},
                                      {"taskDefinition", "web"},
                                      {"overrides", {{"containerOverrides", {{{"name", "ghost"}, {"command", Json::array({"true"})}}}}}}}),
                      400, "InvalidParameterException",
                      "Override for container named ghost is not a container in the TaskDefinition."));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"},
                                      {"taskDefinition", "web"},
                                      {"overrides", {{"containerOverrides", {{{"command", Json::array({"true"})}}}}}}}),
                      400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"overrides", "none"}}), 400,
                      "SerializationException"));
  // An inactive task definition cannot be run.
  MustEcs("DeregisterTaskDefinition", {{"taskDefinition", "web:1"}});
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web:1"}}), 400, "ClientException"));
  EXPECT_TRUE(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"].empty());
}

TEST_F(ControlPlaneTest, RunTaskValidatesContainerOverrides) {
  CreateCluster("demo");
  RegisterFamily("web", Json::array({{{"name", "app"},
                                      {"image", "busybox"},
                                      {"environment", Json::array({{{"name", "MODE"}, {"value", "prod"}}})}}}));
  std::string node = RegisterNode();
  auto run = [&](const Json& override_entry) {
    return Ecs("RunTask", {{"cluster", "demo"},
                           {"taskDefinition", "web"},
                           {"overrides", {{"containerOverrides", Json::array({override_entry})}}}});
  };
  // The node builds the container from these: malformed ones are refused here.
  EXPECT_TRUE(IsError(run({{"name", "app"}, {"environment", "A=1"}}), 400, "SerializationException"));
  EXPECT_TRUE(IsError(run({{"name", "app"}, {"environment", Json::array({"A=1"})}}), 400, "SerializationException"));
  EXPECT_TRUE(IsError(run({{"name", "app"}, {"environment", Json::array({{{"name", 1}}})}}), 400,
                      "SerializationException"));
  EXPECT_TRUE(IsError(run({{"name", "app"}, {"environment", Json::array({{{"name", "A"}, {"value", 1}}})}}), 400,
                      "SerializationException"));
  EXPECT_TRUE(IsError(run({{"name", "app"}, {"command", "sleep 1"}}), 400, "SerializationException"));
  EXPECT_TRUE(IsError(Ecs("RunTask", {{"cluster", "demo"},
                                      {"taskDefinition", "web"},
                                      {"overrides", {{"containerOverrides", "app"}}}}),
                      400, "SerializationException"));
  EXPECT_TRUE(Poll(node)["tasks"].empty());

  // Null members are absent members.
  EXPECT_TRUE(IsOk(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}, {"overrides", nullptr}})));
  // A valid environment override is appended to the definition's.
  Json task = RunTask("demo", "web", false,
                      {{"overrides", {{"containerOverrides", Json::array({{{"name", "app"},
                                                                           {"environment", Json::array({{{"name", "EXTRA"},
                                                                                                         {"value", "1"}}})}}})}}}});
  const Json polled = Poll(node);  // kept: a range-for over a member of a temporary would dangle
  for (const auto& t : polled["tasks"]) {
    if (t["taskArn"] != task["taskArn"]) continue;
    EXPECT_EQ(t["containers"][0]["environment"],
              Json::array({{{"name", "MODE"}, {"value", "prod"}}, {{"name", "EXTRA"}, {"value", "1"}}}));
  }
}

TEST_F(ControlPlaneTest, DescribeTasksReportsMissingOnes) {
  CreateCluster("demo");
  CreateCluster("other");
  RegisterFamily("web");
  RegisterNode();
  Json task = RunTask("demo", "web", false);
  std::string ghost_id = "0123456789abcdef0123456789abcdef";
  Json out = MustEcs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({task["taskArn"], ghost_id})}});
  ASSERT_EQ(out["tasks"].size(), 1u);
  EXPECT_EQ(out["tasks"][0]["taskArn"], task["taskArn"]);
  EXPECT_EQ(out["failures"],
            Json::array({{{"arn", ArnPrefix() + "task/demo/" + ghost_id}, {"reason", "MISSING"}}}));
  // By id too.
  out = MustEcs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array({LastSegment(task["taskArn"])})}});
  EXPECT_EQ(out["tasks"].size(), 1u);
  // The task is not in another cluster.
  out = MustEcs("DescribeTasks", {{"cluster", "other"}, {"tasks", Json::array({LastSegment(task["taskArn"])})}});
  EXPECT_TRUE(out["tasks"].empty());
  ASSERT_EQ(out["failures"].size(), 1u);
  EXPECT_EQ(out["failures"][0]["reason"], "MISSING");

  EXPECT_TRUE(IsError(Ecs("DescribeTasks", {{"cluster", "demo"}, {"tasks", Json::array()}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("DescribeTasks", {{"cluster", "ghost"}, {"tasks", Json::array({ghost_id})}}), 400,
                      "ClusterNotFoundException"));
}

TEST_F(ControlPlaneTest, ListTasksFiltersByDesiredStatus) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterFamily("worker");
  RegisterNode();
  Json a = RunTask("demo", "web", false);
  Json b = RunTask("demo", "worker", false, {{"startedBy", "ci"}});
  MustEcs("StopTask", {{"cluster", "demo"}, {"task", a["taskArn"]}});
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"], Json::array({b["taskArn"]}));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"desiredStatus", "RUNNING"}})["taskArns"],
            Json::array({b["taskArn"]}));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"desiredStatus", "STOPPED"}})["taskArns"],
            Json::array({a["taskArn"]}));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"family", "web"}})["taskArns"], Json::array());
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"family", "worker"}})["taskArns"], Json::array({b["taskArn"]}));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"startedBy", "ci"}})["taskArns"], Json::array({b["taskArn"]}));
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}, {"startedBy", "cd"}})["taskArns"], Json::array());
  EXPECT_TRUE(IsError(Ecs("ListTasks", {{"cluster", "demo"}, {"desiredStatus", "DONE"}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("ListTasks", {{"cluster", "ghost"}}), 400, "ClusterNotFoundException"));
}

TEST_F(ControlPlaneTest, StopTask) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", false);
  Poll(node);
  ReportRunning(task);
  Json stopped =
      MustEcs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"reason", "maintenance window"}})["task"];
  EXPECT_EQ(stopped["taskArn"], task["taskArn"]);
  EXPECT_EQ(stopped["desiredStatus"], "STOPPED");
  EXPECT_EQ(stopped["lastStatus"], "RUNNING");  // until the node reports it stopped
  EXPECT_EQ(stopped["stoppedReason"], "maintenance window");
  EXPECT_EQ(stopped["stopCode"], "UserInitiated");
  EXPECT_EQ(broker_.ended, std::vector<std::string>({LastSegment(task["taskArn"])}));
  // The node is told to stop it.
  Json polled = Poll(node);
  ASSERT_EQ(polled["tasks"].size(), 1u);
  EXPECT_EQ(polled["tasks"][0]["desiredStatus"], "STOPPED");
  // Stopping again changes nothing.
  Json again = MustEcs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"reason", "other"}})["task"];
  EXPECT_EQ(again["stoppedReason"], "maintenance window");

  EXPECT_TRUE(IsError(Ecs("StopTask", {{"cluster", "demo"}, {"task", "0123456789abcdef0123456789abcdef"}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("StopTask", {{"cluster", "demo"}}), 400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"reason", std::string(256, 'r')}}),
                      400, "InvalidParameterException"));
}

TEST_F(ControlPlaneTest, StopTaskBeforeTheNodeStartedItStopsAtOnce) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterNode();
  Json task = RunTask("demo", "web", false);
  Json stopped = MustEcs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}})["task"];
  EXPECT_EQ(stopped["desiredStatus"], "STOPPED");
  EXPECT_EQ(stopped["lastStatus"], "STOPPED");
  EXPECT_EQ(stopped["stoppedReason"], "Task stopped by user");
}

TEST_F(ControlPlaneTest, PollTasksHandsOutSpecsAndAgentCredentials) {
  CreateCluster("demo");
  Json containers = Json::array({{{"name", "app"},
                                  {"image", "busybox"},
                                  {"command", {"sleep", "3600"}},
                                  {"environment", {{{"name", "MODE"}, {"value", "prod"}}}},
                                  {"linuxParameters", {{"initProcessEnabled", true},
                                                       {"capabilities", {{"drop", {"NET_RAW"}}}}}}},
                                 {{"name", "sidecar"}, {"image", "alpine"}, {"essential", false}}});
  RegisterFamily("web", containers);
  std::string node = RegisterNode();
  Json exec_task = RunTask("demo", "web", true,
                           {{"overrides", {{"containerOverrides", {{{"name", "app"}, {"command", {"sleep", "60"}}}}}}}});
  Json plain_task = RunTask("demo", "web", false);

  Json polled = Poll(node);
  EXPECT_FALSE(polled.value("generation", "").empty());
  ASSERT_EQ(polled["tasks"].size(), 2u);
  const Json* exec_entry = nullptr;
  const Json* plain_entry = nullptr;
  for (const auto& t : polled["tasks"]) {
    if (t["taskArn"] == exec_task["taskArn"]) exec_entry = &t;
    if (t["taskArn"] == plain_task["taskArn"]) plain_entry = &t;
  }
  ASSERT_TRUE(exec_entry && plain_entry);
  EXPECT_EQ((*exec_entry)["taskId"], LastSegment(exec_task["taskArn"]));
  EXPECT_EQ((*exec_entry)["cluster"], "demo");
  EXPECT_EQ((*exec_entry)["desiredStatus"], "RUNNING");
  EXPECT_EQ((*exec_entry)["enableExecuteCommand"], true);
  ASSERT_EQ((*exec_entry)["containers"].size(), 2u);
  const Json& app = (*exec_entry)["containers"][0];
  EXPECT_EQ(app["name"], "app");
  EXPECT_EQ(app["image"], "busybox");
  EXPECT_EQ(app["command"], Json::array({"sleep", "60"}));  // the override wins
  EXPECT_EQ(app["environment"], Json::array({{{"name", "MODE"}, {"value", "prod"}}}));
  EXPECT_EQ(app["initProcessEnabled"], true);
  EXPECT_EQ(app["capabilities"], Json({{"drop", {"NET_RAW"}}}));
  EXPECT_EQ(app["essential"], true);
  EXPECT_EQ((*exec_entry)["containers"][1]["name"], "sidecar");
  EXPECT_EQ((*exec_entry)["containers"][1]["essential"], false);
  EXPECT_EQ((*exec_entry)["containers"][1]["initProcessEnabled"], false);

  ASSERT_TRUE(exec_entry->contains("agent"));
  const Json& agent = (*exec_entry)["agent"];
  EXPECT_EQ(agent["region"], kRegion);
  // One set per container, bound to it: the sidecar's are not the app's.
  ASSERT_TRUE(agent["credentials"].contains("sidecar"));
  EXPECT_NE(agent["credentials"]["sidecar"]["accessKeyId"], agent["credentials"]["app"]["accessKeyId"]);
  const Json& creds = agent["credentials"]["app"];
  EXPECT_EQ(creds.value("accessKeyId", "").rfind("ASIA", 0), 0u) << creds.dump();
  EXPECT_FALSE(creds.value("secretAccessKey", "").empty());
  EXPECT_FALSE(creds.value("sessionToken", "").empty());
  EXPECT_GT(creds.value("expiration", 0.0), static_cast<double>(std::time(nullptr)));

  // No exec, no agent, no credentials; the plain task keeps its command.
  EXPECT_FALSE(plain_entry->contains("agent"));
  EXPECT_EQ((*plain_entry)["containers"][0]["command"], Json::array({"sleep", "3600"}));

  // Credentials are reused across polls, and never shown by the ECS API.
  EXPECT_EQ(AgentCredentials(Poll(node), exec_task["taskArn"])->access_key_id, creds["accessKeyId"]);
  std::string described = DescribeTask("demo", exec_task["taskArn"]).dump();
  EXPECT_EQ(described.find(creds["secretAccessKey"].get<std::string>()), std::string::npos);
  EXPECT_EQ(described.find("_agentCredentials"), std::string::npos);
}

// A node that already holds the current answer is told "unchanged" (no
// tasks, no work); any change, a token it does not hold, or credentials due
// for renewal give it the full answer again.
TEST_F(ControlPlaneTest, PollTasksAnswersUnchangedOnlyToTheHolderOfTheCurrentAnswer) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json first_task = RunTask("demo", "web", true);
  std::time_t now = std::time(nullptr);
  auto poll = [&](const std::string& generation) {
    Json in = {{"instanceId", node}, {"waitSeconds", 0}, {"generation", generation}};
    ApiReply reply = Send(test::SignedPost(kHost, "application/x-amz-json-1.1", kNode + "PollTasks", in.dump(),
                                           node_credentials_, kRegion, "ecs", now));
    EXPECT_TRUE(IsOk(reply)) << in.dump();
    return reply.body;
  };
  Json full = poll("");
  ASSERT_EQ(full.value("tasks", Json::array()).size(), 1u);
  const std::string token = full.value("generation", "");
  ASSERT_FALSE(token.empty());
  std::optional<auth::Credentials> issued = AgentCredentials(full, first_task["taskArn"]);
  ASSERT_TRUE(issued);

  Json same = poll(token);
  EXPECT_EQ(same.value("unchanged", false), true) << same.dump();
  EXPECT_FALSE(same.contains("tasks"));
  EXPECT_EQ(same.value("generation", ""), token);

  // A token this node was not given (or a lost answer's predecessor): everything.
  Json other = poll(token + "0");
  EXPECT_FALSE(other.value("unchanged", false));
  EXPECT_EQ(other.value("tasks", Json::array()).size(), 1u);
  const std::string latest = other.value("generation", "");
  EXPECT_NE(latest, token);
  EXPECT_EQ(poll(token).value("unchanged", false), false) << "only the latest answer counts";

  // A change for the node: the full answer with the new task.
  Json second_task = RunTask("demo", "web", true);
  Json changed = poll(latest);
  EXPECT_FALSE(changed.value("unchanged", false));
  EXPECT_EQ(changed.value("tasks", Json::array()).size(), 2u);

  // Half the agent credentials' life later they are due: full again, renewed.
  const std::string before_renewal = poll(changed.value("generation", "")).value("generation", "");
  now += 3 * 3600 + 60;
  plane_->SetClock([&now] { return now; });
  Json renewed = poll(before_renewal);
  EXPECT_FALSE(renewed.value("unchanged", false)) << renewed.dump();
  std::optional<auth::Credentials> fresh = AgentCredentials(renewed, first_task["taskArn"]);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->access_key_id, issued->access_key_id);
  EXPECT_EQ(poll(renewed.value("generation", "")).value("unchanged", false), true);
}

TEST_F(ControlPlaneTest, PollTasksErrors) {
  // Node operations are for container instances' own credentials: root is refused.
  EXPECT_TRUE(IsError(Node("PollTasks", {{"waitSeconds", 0}}), 400, "AccessDeniedException"));
  std::string node = RegisterNode();
  // A node polls its own instance, and no other.
  EXPECT_TRUE(IsError(Node("PollTasks", {{"instanceId", "never-registered"}, {"waitSeconds", 0}}), 400,
                      "AccessDeniedException"));
  EXPECT_TRUE(IsOk(Node("PollTasks", Json::object())));
  EXPECT_TRUE(IsError(Node("PollTasks", {{"instanceId", node}, {"waitSeconds", "soon"}}), 400,
                      "SerializationException"));
  EXPECT_TRUE(Poll(node)["tasks"].empty());
  EXPECT_TRUE(IsError(Node("RegisterContainerInstance", {{"instanceId", "bad id!"}}), 400, "InvalidParameterException"));
  // Re-registering under the same id keeps the id.
  EXPECT_EQ(MustNode("RegisterContainerInstance", {{"instanceId", node}})["instanceId"], node);
}

TEST_F(ControlPlaneTest, SubmitTaskStateChangeRunning) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  Poll(node);
  MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "PENDING"}});
  EXPECT_EQ(DescribeTask("demo", task["taskArn"])["lastStatus"], "PENDING");
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]},
            {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"status", "RUNNING"}, {"runtimeId", "porthole-abc123"}}}}});
  Json described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["lastStatus"], "RUNNING");
  EXPECT_TRUE(described.contains("startedAt"));
  EXPECT_EQ(described["containers"][0]["lastStatus"], "RUNNING");
  EXPECT_EQ(described["containers"][0]["runtimeId"], "porthole-abc123");
  // The agent's RUNNING comes from the gateway, not from the node.
  EXPECT_EQ(described["containers"][0]["managedAgents"][0]["lastStatus"], "PENDING");
  EXPECT_EQ(MustEcs("DescribeClusters", {{"clusters", Json::array({"demo"})}})["clusters"][0]["runningTasksCount"], 1);

  EXPECT_TRUE(IsError(Node("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "DANCING"}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Node("SubmitTaskStateChange",
                           {{"taskArn", ArnPrefix() + "task/demo/0123456789abcdef0123456789abcdef"}, {"status", "RUNNING"}}),
                      400, "InvalidParameterException"));
}

TEST_F(ControlPlaneTest, SubmitTaskStateChangeStoppedRevokesCredentials) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  auto creds = AgentCredentials(Poll(node), task["taskArn"]);
  ASSERT_TRUE(creds.has_value());
  ReportRunning(task);
  plane_->OnAgentConnected(LastSegment(task["taskArn"]), "app");
  ASSERT_TRUE(plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", *creds), "ecs").ok());

  MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]},
                                     {"status", "STOPPED"},
                                     {"reason", "Essential container in task exited"},
                                     {"containers", {{{"name", "app"}, {"status", "STOPPED"}, {"exitCode", 137}}}}});
  Json described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["lastStatus"], "STOPPED");
  EXPECT_EQ(described["desiredStatus"], "STOPPED");
  EXPECT_EQ(described["stoppedReason"], "Essential container in task exited");
  EXPECT_EQ(described["stopCode"], "EssentialContainerExited");
  EXPECT_TRUE(described.contains("stoppedAt"));
  EXPECT_EQ(described["containers"][0]["exitCode"], 137);
  EXPECT_EQ(described["containers"][0]["lastStatus"], "STOPPED");
  EXPECT_EQ(described["containers"][0]["managedAgents"][0]["lastStatus"], "STOPPED");
  EXPECT_EQ(broker_.ended, std::vector<std::string>({LastSegment(task["taskArn"])}));

  // The credentials are gone: the key is unknown now.
  auto caller = plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", *creds), "ecs");
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.error().code, "UnrecognizedClientException");
  EXPECT_TRUE(IsError(Send(BuildRequest(kEcs + "ListClusters", "{}", *creds)), 403, "UnrecognizedClientException"));
  // The stopped task is no longer handed to the node; later reports are ignored.
  EXPECT_TRUE(Poll(node)["tasks"].empty());
  MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "RUNNING"}});
  EXPECT_EQ(DescribeTask("demo", task["taskArn"])["lastStatus"], "STOPPED");
}

TEST_F(ControlPlaneTest, StopTaskRevokesCredentialsOfATaskTheNodeHasNotStarted) {
  // The node polled (credentials issued) but has not reported the task yet:
  // StopTask stops it at once, and nothing will ever report it STOPPED, so
  // StopTask itself must revoke the agent's credentials.
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  auto creds = AgentCredentials(Poll(node), task["taskArn"]);
  ASSERT_TRUE(creds.has_value());
  Json stopped = MustEcs("StopTask", {{"cluster", "demo"}, {"task", task["taskArn"]}})["task"];
  ASSERT_EQ(stopped["lastStatus"], "STOPPED");
  auto caller = plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", *creds), "ecs");
  EXPECT_FALSE(caller.ok()) << "credentials of a STOPPED task still authenticate";
}

TEST_F(ControlPlaneTest, PollTasksCarriesTheNetworkModeAndNormalizedPortMappings) {
  CreateCluster("demo");
  Json containers = Json::array({{{"name", "app"},
                                  {"image", "busybox"},
                                  {"portMappings", {{{"containerPort", 80}},
                                                    {{"containerPort", 53}, {"hostPort", 5353}, {"protocol", "UDP"},
                                                     {"name", "dns"}}}}},
                                 {{"name", "sidecar"}, {"image", "busybox"}}});
  RegisterFamily("web", containers);
  MustEcs("RegisterTaskDefinition", {{"family", "vpc"},
                                     {"networkMode", "awsvpc"},
                                     {"containerDefinitions", {{{"name", "app"}, {"image", "busybox"},
                                                                {"portMappings", {{{"containerPort", 443}}}}}}}});
  std::string node = RegisterNode();
  Json bridge_task = RunTask("demo", "web", false);
  Json vpc_task = RunTask("demo", "vpc", false);
  std::map<std::string, Json> polled;
  Json answer = Poll(node);
  for (const auto& t : answer.value("tasks", Json::array())) polled[t.value("taskArn", "")] = t;
  ASSERT_EQ(polled.size(), 2u) << answer.dump();
  const Json& bridge = polled[bridge_task["taskArn"]];
  EXPECT_EQ(bridge["networkMode"], "bridge");
  EXPECT_EQ(bridge["containers"][0]["portMappings"],
            Json::parse(R"([{"containerPort":80,"hostPort":0,"protocol":"tcp"},
                            {"containerPort":53,"hostPort":5353,"protocol":"udp"}])"));
  EXPECT_EQ(bridge["containers"][1]["portMappings"], Json::array());
  const Json& vpc = polled[vpc_task["taskArn"]];
  EXPECT_EQ(vpc["networkMode"], "awsvpc");
  EXPECT_EQ(vpc["containers"][0]["portMappings"], Json::parse(R"([{"containerPort":443,"hostPort":0,"protocol":"tcp"}])"));
}

// Porthole's porthole:session* cluster settings cap every exec session;
// names ECS does not know, and bad values, are refused.
TEST_F(ControlPlaneTest, ClusterSessionCapsReachTheNode) {
  for (Json bad : {Json::array({{{"name", "porthole:sessionMemory"}, {"value", "2"}}}),
                   Json::array({{{"name", "porthole:sessionCpu"}, {"value", "1.5"}}}),
                   Json::array({{{"name", "porthole:sessionSwap"}, {"value", "1"}}}),
                   Json::array({{{"name", "containerInsights"}, {"value", "maybe"}}}),
                   Json::array({{{"name", "containerInsights"}}})})
    EXPECT_TRUE(IsError(Ecs("CreateCluster", {{"clusterName", "capped"}, {"settings", bad}}), 400,
                        "InvalidParameterException"))
        << bad;
  MustEcs("CreateCluster", {{"clusterName", "capped"},
                            {"settings", {{{"name", "porthole:sessionMemory"}, {"value", "256"}},
                                          {{"name", "porthole:sessionCpu"}, {"value", "512"}}}}});
  RegisterFamily("web");
  std::string node = RegisterNode();
  RunTask("capped", "web", false);
  Json answer = Poll(node);
  ASSERT_EQ(answer.value("tasks", Json::array()).size(), 1u) << answer.dump();
  EXPECT_EQ(answer["tasks"][0]["sessionLimits"], Json::parse(R"({"memory":256,"cpu":512})"));
}

// cpu, memory, memoryReservation, ulimits and linuxParameters' shm and tmpfs
// as ECS checks them, and on to the node with the task's own size.
TEST_F(ControlPlaneTest, ContainerLimitsAreCheckedAndReachTheNode) {
  auto with = [](Json extra) {
    Json c = {{"name", "app"}, {"image", "busybox"}};
    c.update(extra);
    return Json{{"family", "sized"}, {"containerDefinitions", Json::array({c})}};
  };
  for (Json bad : {Json{{"memory", 4}}, Json{{"memory", "64"}}, Json{{"memory", 64}, {"memoryReservation", 128}},
                   Json{{"cpu", -1}}, Json{{"ulimits", {{{"name", "files"}, {"softLimit", 1}, {"hardLimit", 1}}}}},
                   Json{{"ulimits", {{{"name", "nofile"}, {"softLimit", 10}, {"hardLimit", 5}}}}},
                   Json{{"ulimits", {{{"name", "nofile"}, {"softLimit", 10}}}}},
                   Json{{"linuxParameters", {{"sharedMemorySize", 0}}}},
                   Json{{"linuxParameters", {{"tmpfs", {{{"containerPath", "relative"}, {"size", 8}}}}}}},
                   Json{{"linuxParameters", {{"tmpfs", {{{"containerPath", "/t"}, {"size", 8}, {"mountOptions", {"a,b"}}}}}}}}})
    EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", with(bad)), 400, "ClientException")) << bad;
  EXPECT_TRUE(IsError(Ecs("RegisterTaskDefinition", with({{"memory", 64}, {"memoryReservation", 128}})), 400,
                      "ClientException",
                      "Invalid setting for container 'app'. The memory reservation must be less than or equal to memory."));

  CreateCluster("demo");
  Json good = with({{"cpu", 512},
                    {"memory", 256},
                    {"memoryReservation", 128},
                    {"ulimits", {{{"name", "nofile"}, {"softLimit", 4096}, {"hardLimit", 8192}}}},
                    {"linuxParameters",
                     {{"sharedMemorySize", 128}, {"tmpfs", {{{"containerPath", "/scratch"}, {"size", 16}}}}}}});
  good["cpu"] = "1024";
  good["memory"] = "512";
  MustEcs("RegisterTaskDefinition", good);
  std::string node = RegisterNode();
  Json task = RunTask("demo", "sized", false);
  Json answer = Poll(node);
  ASSERT_EQ(answer.value("tasks", Json::array()).size(), 1u) << answer.dump();
  const Json& polled = answer["tasks"][0];
  EXPECT_EQ(polled["cpu"], "1024");
  EXPECT_EQ(polled["memory"], "512");
  const Json& c = polled["containers"][0];
  EXPECT_EQ(c["cpu"], 512);
  EXPECT_EQ(c["memory"], 256);
  EXPECT_EQ(c["memoryReservation"], 128);
  EXPECT_EQ(c["ulimits"][0]["name"], "nofile");
  EXPECT_EQ(c["sharedMemorySize"], 128);
  EXPECT_EQ(c["tmpfs"][0]["containerPath"], "/scratch");
}

// What a node reports of a task's network (in ECS's shapes, as its report
// carries them) is what DescribeTasks shows.
TEST_F(ControlPlaneTest, SubmitTaskStateChangeStoresTheTasksNetwork) {
  CreateCluster("demo");
  RegisterFamily("web", Json::array({{{"name", "app"}, {"image", "busybox"}}, {{"name", "side"}, {"image", "busybox"}}}));
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", false);
  Poll(node);
  const Json bindings = Json::parse(R"([{"bindIP":"0.0.0.0","containerPort":80,"hostPort":49153,"protocol":"tcp"},
                                        {"bindIP":"0.0.0.0","containerPort":53,"hostPort":5353,"protocol":"udp"}])");
  const Json interfaces = Json::parse(R"([{"attachmentId":"9f1c-att","privateIpv4Address":"10.88.0.7"}])");
  const Json attachments = Json::parse(R"([{"id":"9f1c-att","type":"ElasticNetworkInterface","status":"ATTACHED",
      "details":[{"name":"networkInterfaceId","value":"eni-0123456789abcdef0"},
                 {"name":"privateIPv4Address","value":"10.88.0.7"}]}])");
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]},
            {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"status", "RUNNING"}, {"networkBindings", bindings},
                             {"networkInterfaces", interfaces}},
                            {{"name", "side"}, {"status", "RUNNING"}}}},
            {"attachments", attachments}});
  Json described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["containers"][0]["networkBindings"], bindings);
  EXPECT_EQ(described["containers"][0]["networkInterfaces"], interfaces);
  EXPECT_EQ(described["containers"][1]["networkBindings"], Json::array());
  EXPECT_EQ(described["containers"][1]["networkInterfaces"], Json::array());
  EXPECT_EQ(described["attachments"], attachments);

  // A report without the lists keeps them; one with a list replaces it.
  MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "RUNNING"},
                                     {"containers", {{{"name", "app"}, {"status", "RUNNING"}}}}});
  described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["containers"][0]["networkBindings"], bindings);
  EXPECT_EQ(described["attachments"], attachments);
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]}, {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"networkBindings", Json::array({bindings[1]})}}}}});
  EXPECT_EQ(DescribeTask("demo", task["taskArn"])["containers"][0]["networkBindings"], Json::array({bindings[1]}));
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]}, {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"networkBindings", bindings}}}}});

  // Stopped: the attachment is DELETED, as ECS shows it; bindings stay as reported.
  MustNode("SubmitTaskStateChange", {{"taskArn", task["taskArn"]}, {"status", "STOPPED"},
                                     {"reason", "Essential container in task exited"},
                                     {"attachments", attachments}});
  described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["lastStatus"], "STOPPED");
  ASSERT_EQ(described["attachments"].size(), 1u);
  EXPECT_EQ(described["attachments"][0]["status"], "DELETED");
  EXPECT_EQ(described["attachments"][0]["details"], attachments[0]["details"]);
  EXPECT_EQ(described["containers"][0]["networkBindings"], bindings);
}

TEST_F(ControlPlaneTest, SubmitTaskStateChangeIgnoresMalformedNetworkReports) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", false);
  Poll(node);
  const Json good_binding = {{"bindIP", "0.0.0.0"}, {"containerPort", 80}, {"hostPort", 8080}, {"protocol", "tcp"}};
  const Json good_attachment = {{"id", "a1"}, {"type", "ElasticNetworkInterface"}, {"status", "ATTACHED"},
                                {"details", Json::array()}};
  Json bindings = Json::array({good_binding,
                               {{"bindIP", "0.0.0.0"}, {"containerPort", "80"}, {"hostPort", 1}, {"protocol", "tcp"}},
                               {{"bindIP", "0.0.0.0"}, {"containerPort", 80}, {"hostPort", 1}, {"protocol", "icmp"}},
                               {{"bindIP", std::string(300, 'x')}, {"containerPort", 80}, {"hostPort", 1}, {"protocol", "tcp"}},
                               "junk", nullptr, 42});
  Json extra = good_binding;
  extra["secret"] = "not kept";
  bindings.push_back(extra);
  for (int i = 0; i < 200; i++) bindings.push_back(good_binding);
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]},
            {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"status", "RUNNING"}, {"networkBindings", bindings},
                             {"networkInterfaces", {{{"attachmentId", 5}}, "x"}}},
                            {{"name", "ghost"}, {"networkBindings", bindings}}}},
            {"attachments", {good_attachment, {{"id", "a2"}}, {{"id", "a3"}, {"type", "t"}, {"status", 1}}}}});
  Json described = DescribeTask("demo", task["taskArn"]);
  const Json& kept = described["containers"][0]["networkBindings"];
  ASSERT_EQ(kept.size(), 100u);
  for (const auto& b : kept) EXPECT_EQ(b, good_binding);
  EXPECT_EQ(described["containers"][0]["networkInterfaces"], Json::array());
  EXPECT_EQ(described["attachments"], Json::array({good_attachment}));
  EXPECT_EQ(described["lastStatus"], "RUNNING");

  // Lists that are not lists change nothing.
  MustNode("SubmitTaskStateChange",
           {{"taskArn", task["taskArn"]}, {"status", "RUNNING"},
            {"containers", {{{"name", "app"}, {"networkBindings", "x"}, {"networkInterfaces", {{"a", 1}}}}}},
            {"attachments", 7}});
  described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["containers"][0]["networkBindings"].size(), 100u);
  EXPECT_EQ(described["attachments"], Json::array({good_attachment}));
}

// ============================================================== ExecuteCommand

TEST_F(ControlPlaneTest, ExecuteCommandSucceedsThroughTheBroker) {
  Json task = RunningExecTask();
  std::string task_arn = task["taskArn"];
  ApiReply reply = Ecs("ExecuteCommand",
                       {{"cluster", "demo"}, {"task", task_arn}, {"command", "/bin/sh"}, {"interactive", true}});
  ASSERT_TRUE(IsOk(reply));
  const Json& out = reply.body;
  EXPECT_EQ(out["clusterArn"], ArnPrefix() + "cluster/demo");
  EXPECT_EQ(out["taskArn"], task_arn);
  EXPECT_EQ(out["containerName"], "app");
  EXPECT_EQ(out["containerArn"], task["containers"][0]["containerArn"]);
  EXPECT_EQ(out["interactive"], true);
  EXPECT_EQ(out["session"]["sessionId"], "ecs-execute-command-0123456789abcdef0");
  EXPECT_EQ(out["session"]["streamUrl"], "wss://127.0.0.1:8443/v1/data-channel/ecs-execute-command-0123456789abcdef0");
  EXPECT_EQ(out["session"]["tokenValue"], "session-token-value");

  ASSERT_EQ(broker_.requests.size(), 1u);
  const SessionRequest& asked = broker_.requests[0];
  EXPECT_EQ(asked.command, "/bin/sh");
  EXPECT_EQ(asked.container_name, "app");
  EXPECT_EQ(asked.runtime_id, "app-rt");
  EXPECT_EQ(asked.cluster_name, "demo");
  EXPECT_EQ(asked.task_id, LastSegment(task_arn));
  EXPECT_EQ(asked.task_arn, task_arn);
  EXPECT_TRUE(asked.interactive);
  EXPECT_EQ(asked.principal_arn, std::string("arn:aws:iam::") + kAccount + ":root");
  EXPECT_EQ(asked.stream_host, kHost);

  // Task id and cluster ARN are accepted as well.
  EXPECT_TRUE(IsOk(Ecs("ExecuteCommand", {{"cluster", ArnPrefix() + "cluster/demo"},
                                          {"task", LastSegment(task_arn)},
                                          {"container", "app"},
                                          {"command", "ls -l"},
                                          {"interactive", true}})));
  ASSERT_EQ(broker_.requests.size(), 2u);
  EXPECT_EQ(broker_.requests[1].command, "ls -l");
}

TEST_F(ControlPlaneTest, ExecuteCommandPassesTheSessionCapsTheClientAskedFor) {
  Json task = RunningExecTask();
  const Json base = {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "sh"}, {"interactive", true}};
  ASSERT_TRUE(IsOk(Ecs("ExecuteCommand", base)));
  Json capped = base;
  capped["portholeSessionMemory"] = 16;
  capped["portholeSessionCpu"] = 256;
  ASSERT_TRUE(IsOk(Ecs("ExecuteCommand", capped)));
  ASSERT_EQ(broker_.requests.size(), 2u);
  EXPECT_EQ(broker_.requests[0].memory_mib, 0);
  EXPECT_EQ(broker_.requests[0].cpu_units, 0);
  EXPECT_EQ(broker_.requests[1].memory_mib, 16);
  EXPECT_EQ(broker_.requests[1].cpu_units, 256);
  // Out of range or of the wrong type: refused, and no session started.
  for (const auto& [member, value] : std::vector<std::pair<std::string, Json>>{
           {"portholeSessionMemory", 5}, {"portholeSessionMemory", int64_t{1} << 30}, {"portholeSessionCpu", 0},
           {"portholeSessionCpu", -1}}) {
    Json bad = base;
    bad[member] = value;
    EXPECT_TRUE(IsError(Ecs("ExecuteCommand", bad), 400, "InvalidParameterException")) << member << "=" << value;
  }
  Json wrong_type = base;
  wrong_type["portholeSessionMemory"] = "16";
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", wrong_type), 400, "SerializationException"));
  EXPECT_EQ(broker_.requests.size(), 2u);
}

TEST_F(ControlPlaneTest, ExecuteCommandInteractiveOnly) {
  Json task = RunningExecTask();
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"},
                                             {"interactive", false}}),
                      400, "InvalidParameterException", std::string(text::kInteractiveOnly)));
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"},
                                             {"interactive", "true"}}),
                      400, "SerializationException"));
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"interactive", true}}),
                      400, "InvalidParameterException"));
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"command", "ls"}, {"interactive", true}}), 400,
                      "InvalidParameterException"));
  EXPECT_TRUE(broker_.requests.empty());
}

TEST_F(ControlPlaneTest, ExecuteCommandUnknownClusterOrTask) {
  Json task = RunningExecTask();
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "ghost"}, {"task", task["taskArn"]}, {"command", "ls"},
                                             {"interactive", true}}),
                      400, "ClusterNotFoundException", "Cluster not found."));
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", "0123456789abcdef0123456789abcdef"},
                                             {"command", "ls"}, {"interactive", true}}),
                      400, "InvalidParameterException", std::string(text::kTaskNotFound)));
  // The task exists, but in another cluster.
  CreateCluster("other");
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", {{"cluster", "other"}, {"task", LastSegment(task["taskArn"])},
                                             {"command", "ls"}, {"interactive", true}}),
                      400, "InvalidParameterException", std::string(text::kTaskNotFound)));
  EXPECT_TRUE(broker_.requests.empty());
}

TEST_F(ControlPlaneTest, ExecuteCommandNeedsExecEnabledAndAgentRunning) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  auto exec = [&](const Json& task) {
    return Ecs("ExecuteCommand", {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"}, {"interactive", true}});
  };
  const std::string not_enabled(text::kExecNotEnabledOrAgentNotRunning);

  // Exec not enabled, task running.
  Json plain = RunTask("demo", "web", false);
  Poll(node);
  ReportRunning(plain);
  plane_->OnAgentConnected(LastSegment(plain["taskArn"]), "app");
  EXPECT_TRUE(IsError(exec(plain), 400, "InvalidParameterException", not_enabled));

  // Exec enabled, task not yet running, agent connected early.
  Json task = RunTask("demo", "web", true);
  plane_->OnAgentConnected(LastSegment(task["taskArn"]), "app");
  EXPECT_TRUE(IsError(exec(task), 400, "InvalidParameterException", not_enabled));

  // Exec enabled, task running, agent not yet connected.
  Json task2 = RunTask("demo", "web", true);
  Poll(node);
  ReportRunning(task2);
  EXPECT_TRUE(IsError(exec(task2), 400, "InvalidParameterException", not_enabled));
  // Connected: fine. Disconnected again: refused.
  plane_->OnAgentConnected(LastSegment(task2["taskArn"]), "app");
  EXPECT_EQ(DescribeTask("demo", task2["taskArn"])["containers"][0]["managedAgents"][0]["lastStatus"], "RUNNING");
  EXPECT_TRUE(IsOk(exec(task2)));
  plane_->OnAgentDisconnected(LastSegment(task2["taskArn"]), "app");
  EXPECT_TRUE(IsError(exec(task2), 400, "InvalidParameterException", not_enabled));
  // The node reports the agent failed: refused even once the gateway saw it.
  plane_->OnAgentConnected(LastSegment(task2["taskArn"]), "app");
  MustNode("SubmitTaskStateChange", {{"taskArn", task2["taskArn"]},
                                     {"status", "RUNNING"},
                                     {"containers", {{{"name", "app"}, {"managedAgentReason", "agent crashed"}}}}});
  EXPECT_TRUE(IsError(exec(task2), 400, "InvalidParameterException", not_enabled));

  // Stopped tasks are refused.
  Json task3 = RunTask("demo", "web", true);
  Poll(node);
  ReportRunning(task3);
  plane_->OnAgentConnected(LastSegment(task3["taskArn"]), "app");
  EXPECT_TRUE(IsOk(exec(task3)));
  MustNode("SubmitTaskStateChange", {{"taskArn", task3["taskArn"]}, {"status", "STOPPED"}});
  EXPECT_TRUE(IsError(exec(task3), 400, "InvalidParameterException", not_enabled));
  EXPECT_EQ(broker_.requests.size(), 2u);
}

TEST_F(ControlPlaneTest, ExecuteCommandContainerChoice) {
  Json task = RunningExecTask(Json::array({{{"name", "app"}, {"image", "busybox"}},
                                           {{"name", "sidecar"}, {"image", "alpine"}, {"essential", false}}}));
  Json input = {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"}, {"interactive", true}};
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", input), 400, "InvalidParameterException",
                      std::string(text::kContainerRequired)));
  input["container"] = "ghost";
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", input), 400, "InvalidParameterException"));
  EXPECT_TRUE(broker_.requests.empty());
  input["container"] = "sidecar";
  ApiReply reply = Ecs("ExecuteCommand", input);
  ASSERT_TRUE(IsOk(reply));
  EXPECT_EQ(reply.body["containerName"], "sidecar");
  EXPECT_EQ(reply.body["containerArn"], task["containers"][1]["containerArn"]);
  ASSERT_EQ(broker_.requests.size(), 1u);
  EXPECT_EQ(broker_.requests[0].container_name, "sidecar");
  EXPECT_EQ(broker_.requests[0].runtime_id, "sidecar-rt");
}

TEST_F(ControlPlaneTest, ExecuteCommandTargetNotConnected) {
  Json task = RunningExecTask();
  Json input = {{"cluster", "demo"}, {"task", task["taskArn"]}, {"command", "ls"}, {"interactive", true}};
  broker_.connected = false;
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", input), 400, "TargetNotConnectedException",
                      std::string(text::kTargetNotConnected)));
  // No gateway at all: the same.
  plane_->SetSessionBroker(nullptr);
  EXPECT_TRUE(IsError(Ecs("ExecuteCommand", input), 400, "TargetNotConnectedException"));
  EXPECT_TRUE(broker_.requests.empty());
}

// ============================================================== persistence

TEST_F(ControlPlaneTest, StateSurvivesARestart) {
  CreateCluster("demo");
  RegisterFamily("web");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  Poll(node);
  ReportRunning(task);
  auth::Credentials root_before = root_;

  OpenPlane();  // a new store handle and ControlPlane over the same database file

  EXPECT_EQ(root_.access_key_id, root_before.access_key_id);
  EXPECT_EQ(root_.secret_access_key, root_before.secret_access_key);
  EXPECT_EQ(MustEcs("ListClusters", Json::object())["clusterArns"], Json::array({ArnPrefix() + "cluster/demo"}));
  EXPECT_EQ(MustEcs("DescribeTaskDefinition", {{"taskDefinition", "web"}})["taskDefinition"]["revision"], 2);
  EXPECT_EQ(MustEcs("ListTasks", {{"cluster", "demo"}})["taskArns"], Json::array({task["taskArn"]}));
  Json described = DescribeTask("demo", task["taskArn"]);
  EXPECT_EQ(described["lastStatus"], "RUNNING");
  EXPECT_EQ(described["enableExecuteCommand"], true);
  EXPECT_EQ(described["containers"][0]["runtimeId"], "app-rt");
  // The node's registration survived too: the next revision runs on it.
  EXPECT_EQ(RegisterFamily("web")["revision"], 3);
  EXPECT_TRUE(IsOk(Ecs("RunTask", {{"cluster", "demo"}, {"taskDefinition", "web"}})));
  EXPECT_EQ(Poll(node)["tasks"].size(), 2u);
}

}  // namespace
}  // namespace porthole::api

namespace porthole::api {
namespace {

// Issue 3: "Secret keys are stored so that a copy of the database does not
// hand them out in clear" — neither the root secret nor a task's agent
// secret or session token appears in the database files.
TEST_F(ControlPlaneTest, SecretsAreNotStoredInClear) {
  CreateCluster("demo");
  RegisterFamily("web");
  std::string node = RegisterNode();
  Json task = RunTask("demo", "web", true);
  auto creds = AgentCredentials(Poll(node), task["taskArn"]);
  ASSERT_TRUE(creds.has_value());
  plane_.reset();
  store_.reset();  // checkpoint the WAL into the main file
  std::string bytes;
  for (const char* name : {"state.db", "state.db-wal"}) {
    if (auto content = ReadFile((dir_ / name).string())) bytes += *content;
  }
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(root_.secret_access_key), std::string::npos);
  EXPECT_EQ(bytes.find(creds->secret_access_key), std::string::npos);
  EXPECT_EQ(bytes.find(creds->session_token), std::string::npos);
  // ...and the keys still work after a restart.
  OpenPlane();
  EXPECT_TRUE(plane_->Authenticate(BuildRequest(kEcs + "ListClusters", "{}", root_), "ecs").ok());
}

}  // namespace
}  // namespace porthole::api
