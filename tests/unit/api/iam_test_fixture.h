#pragma once
// The fixture the IAM and trust-boundary tests share: a ControlPlane over a
// fresh SQLite store, requests SigV4-signed as the AWS CLI signs them (query
// protocol for IAM and STS, AWS JSON 1.1 for the rest), users with access
// keys, a registered node, and the audit trail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <ctime>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "api/query_protocol.h"
#include "api_test_support.h"
#include "auth/sigv4.h"
#include "store/store.h"

namespace porthole::api::test {


namespace fs = std::filesystem;

inline constexpr char kRegion[] = "us-east-1";
inline constexpr char kAccount[] = "123456789012";
inline constexpr char kHost[] = "127.0.0.1:8443";
inline constexpr char kIamNs[] = "https://iam.amazonaws.com/doc/2010-05-08/";
inline constexpr char kStsNs[] = "https://sts.amazonaws.com/doc/2011-06-15/";
inline const std::string kEcs = "AmazonEC2ContainerServiceV20141113.";
inline const std::string kNode = "PortholeNodeService.";

inline std::string UserArn(const std::string& name) { return std::string("arn:aws:iam::") + kAccount + ":user/" + name; }
inline std::string RootArn() { return std::string("arn:aws:iam::") + kAccount + ":root"; }
inline std::string LastSegment(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

// The text of the first <tag>...</tag> in `xml` (still escaped); nullopt if
// there is none.
inline std::optional<std::string> XmlText(const std::string& xml, const std::string& tag) {
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t start = xml.find(open);
  if (start == std::string::npos) return std::nullopt;
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string::npos) return std::nullopt;
  return xml.substr(start, end - start);
}

// Every <tag>...</tag> in `xml`, in order.
inline std::vector<std::string> XmlTexts(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t pos = xml.find(open); pos != std::string::npos; pos = xml.find(open, pos)) {
    pos += open.size();
    size_t end = xml.find(close, pos);
    if (end == std::string::npos) break;
    out.push_back(xml.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// An answer: HTTP status and the raw body (XML for the query protocol,
// JSON for the others, parsed into `json` when it is JSON).
struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  Json json;
};

// A successful query answer: 200, <ActionResponse xmlns=ns><ActionResult>.
inline ::testing::AssertionResult IsQueryOk(const Reply& reply, const std::string& action, const std::string& ns = kIamNs) {
  std::string head = "<" + action + "Response xmlns=\"" + ns + "\">";
  if (reply.status != 200 || reply.body.rfind(head, 0) != 0 ||
      reply.body.find("<" + action + "Result>") == std::string::npos ||
      !XmlText(reply.body, "RequestId"))
    return ::testing::AssertionFailure() << "expected 200 " << action << "Response, got " << reply.status << " "
                                         << reply.body;
  return ::testing::AssertionSuccess();
}

// A query error: <ErrorResponse xmlns=ns><Error><Type>Sender</Type><Code>code</Code>
// <Message>message</Message></Error><RequestId/></ErrorResponse> with `status`.
inline ::testing::AssertionResult IsQueryError(const Reply& reply, int status, const std::string& code,
                                        std::optional<std::string> message = std::nullopt,
                                        const std::string& ns = kIamNs) {
  std::string head = "<ErrorResponse xmlns=\"" + ns + "\"><Error>";
  auto got_code = XmlText(reply.body, "Code");
  auto got_message = XmlText(reply.body, "Message");
  auto got_type = XmlText(reply.body, "Type");
  if (reply.status != status || reply.body.rfind(head, 0) != 0 || got_code != code ||
      got_type != std::string(status >= 500 ? "Receiver" : "Sender") || !XmlText(reply.body, "RequestId") ||
      reply.content_type != "text/xml" || (message && got_message != XmlEscape(*message)))
    return ::testing::AssertionFailure() << "expected " << status << " " << code
                                         << (message ? " \"" + *message + "\"" : std::string()) << ", got "
                                         << reply.status << " " << reply.body;
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult IsJsonError(const Reply& reply, int status, const std::string& type,
                                       std::optional<std::string> message = std::nullopt) {
  std::string got_type = reply.json.is_object() ? reply.json.value("__type", "") : "";
  std::string got_message = reply.json.is_object() ? reply.json.value("message", "") : "";
  if (reply.status != status || got_type != type || (message && got_message != *message))
    return ::testing::AssertionFailure() << "expected " << status << " " << type
                                         << (message ? " \"" + *message + "\"" : std::string()) << ", got "
                                         << reply.status << " " << reply.body;
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult IsJsonOk(const Reply& reply) {
  if (reply.status != 200 || !reply.json.is_object() || reply.json.contains("__type"))
    return ::testing::AssertionFailure() << "expected 200, got " << reply.status << " " << reply.body;
  return ::testing::AssertionSuccess();
}

// The wording of an identity-policy denial (as AWS words it).
inline std::string NotAuthorized(const std::string& principal, const std::string& action, const std::string& resource) {
  return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + resource +
         " because no identity-based policy allows the " + action + " action";
}
inline std::string ExplicitlyDenied(const std::string& principal, const std::string& action, const std::string& resource) {
  return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + resource +
         " with an explicit deny in an identity-based policy";
}

// Stands in for the gateway: every agent is connected; sessions are recorded.
class FakeSessionBroker : public SessionBroker {
 public:
  bool AgentConnected(const std::string&, const std::string&) const override { return true; }
  Result<SessionGrant> StartSession(const SessionRequest& request) override {
    requests.push_back(request);
    return SessionGrant{"ecs-execute-command-0123456789abcdef0",
                        "wss://127.0.0.1:8443/v1/data-channel/ecs-execute-command-0123456789abcdef0",
                        "session-token-value"};
  }
  void EndTaskSessions(const std::string&, const std::string&) override {}
  std::optional<SessionGrant> ResumeSession(const std::string&, const std::string&) override { return std::nullopt; }
  bool TerminateSession(const std::string&) override { return false; }

  std::vector<SessionRequest> requests;
};

// An IAM user with one access key.
struct User {
  std::string name;
  std::string arn;
  auth::Credentials credentials;
};

using Params = std::vector<std::pair<std::string, std::string>>;

class IamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("porthole-iam-" + std::to_string(getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
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

  void TearDown() override {
    plane_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // "Action=...&Version=...&k=v..." as botocore encodes it.
  static std::string Form(const std::string& action, const Params& params, const std::string& version) {
    std::string body = "Action=" + UrlEncode(action) + "&Version=" + UrlEncode(version);
    for (const auto& [k, v] : params) body += "&" + UrlEncode(k) + "=" + UrlEncode(v);
    return body;
  }

  // A query-protocol POST as the AWS CLI sends it, signed for `service`.
  static net::HttpRequest QueryRequest(const std::string& body, const std::optional<auth::Credentials>& credentials,
                                       const std::string& service) {
    return test::SignedPost(kHost, "application/x-www-form-urlencoded; charset=utf-8", "", body, credentials, kRegion,
                            service);
  }

  // An AWS JSON 1.1 POST, signed for `service`.
  static net::HttpRequest JsonRequest(const std::string& target, const Json& input,
                                      const std::optional<auth::Credentials>& credentials,
                                      const std::string& service) {
    return test::SignedPost(kHost, "application/x-amz-json-1.1", target, input.dump(), credentials, kRegion, service);
  }

  // Runs Handle() to completion on the test's io_context.
  Reply Send(net::HttpRequest request) {
    Reply reply;
    auto response = test::RunHandle(io_, *plane_, std::move(request));
    if (!response) return reply;
    reply.status = response->status;
    reply.body = response->body;
    for (const auto& [name, value] : response->headers)
      if (name == "Content-Type") reply.content_type = value;
    reply.json = Json::parse(response->body, nullptr, false);
    return reply;
  }

  Reply Iam(const std::string& action, const Params& params = {}, std::optional<auth::Credentials> as = {}) {
    return Send(QueryRequest(Form(action, params, "2010-05-08"), as ? *as : root_, "iam"));
  }
  Reply Sts(const std::string& action, std::optional<auth::Credentials> as = {}) {
    return Send(QueryRequest(Form(action, {}, "2011-06-15"), as ? *as : root_, "sts"));
  }
  Reply StsWith(const std::string& action, const Params& params, std::optional<auth::Credentials> as = {}) {
    return Send(QueryRequest(Form(action, params, "2011-06-15"), as ? *as : root_, "sts"));
  }
  Reply Ecs(const std::string& operation, const Json& input, std::optional<auth::Credentials> as = {}) {
    return Send(JsonRequest(kEcs + operation, input, as ? *as : root_, "ecs"));
  }
  Reply Ssm(const std::string& operation, const Json& input, std::optional<auth::Credentials> as = {}) {
    return Send(JsonRequest("AmazonSSM." + operation, input, as ? *as : root_, "ssm"));
  }

  // ---- set-up steps as root; each fails the test when refused ----

  std::string MustIam(const std::string& action, const Params& params = {}) {
    Reply reply = Iam(action, params);
    EXPECT_TRUE(IsQueryOk(reply, action));
    return reply.body;
  }

  Json MustEcs(const std::string& operation, const Json& input) {
    Reply reply = Ecs(operation, input);
    EXPECT_TRUE(IsJsonOk(reply)) << operation << " " << input.dump();
    return reply.json;
  }

  // CreateUser and CreateAccessKey.
  User MakeUser(const std::string& name) {
    User user;
    user.name = name;
    std::string created = MustIam("CreateUser", {{"UserName", name}});
    user.arn = XmlText(created, "Arn").value_or("");
    std::string key = MustIam("CreateAccessKey", {{"UserName", name}});
    user.credentials.access_key_id = XmlText(key, "AccessKeyId").value_or("");
    user.credentials.secret_access_key = XmlText(key, "SecretAccessKey").value_or("");
    EXPECT_FALSE(user.credentials.access_key_id.empty()) << key;
    EXPECT_FALSE(user.credentials.secret_access_key.empty()) << key;
    return user;
  }

  void PutPolicy(const User& user, const std::string& name, const std::string& document) {
    MustIam("PutUserPolicy", {{"UserName", user.name}, {"PolicyName", name}, {"PolicyDocument", document}});
  }

  // A node, registered once per test.
  const std::string& Node() {
    if (node_.empty()) {
      Reply reply =
          Send(JsonRequest(kNode + "RegisterContainerInstance", {{"hostname", "node-1"}, {"runtimeVersion", "runc 1.1"}},
                           root_, "ecs"));
      EXPECT_TRUE(IsJsonOk(reply));
      node_ = reply.json.value("instanceId", "");
      const Json c = reply.json.value("credentials", Json::object());
      node_credentials_ = {c.value("accessKeyId", ""), c.value("secretAccessKey", ""), c.value("sessionToken", "")};
    }
    return node_;
  }

  void CreateCluster(const std::string& name, Json tags = Json::array()) {
    Json input = {{"clusterName", name}};
    if (!tags.empty()) input["tags"] = tags;
    MustEcs("CreateCluster", input);
  }

  void RegisterFamily(const std::string& family, const std::vector<std::string>& containers) {
    Json definitions = Json::array();
    for (const auto& name : containers) definitions.push_back({{"name", name}, {"image", "busybox"}});
    MustEcs("RegisterTaskDefinition", {{"family", family}, {"containerDefinitions", definitions}});
  }

  // Runs `family` in `cluster` (as root) with exec enabled and `tags`, then
  // has the node report it RUNNING (runtime ids "<name>-rt") and every
  // container's agent connect. Returns the task.
  Json RunningExecTask(const std::string& cluster, const std::string& family, Json tags = Json::array()) {
    const std::string& node = Node();
    Json input = {{"cluster", cluster}, {"taskDefinition", family}, {"enableExecuteCommand", true}};
    if (!tags.empty()) input["tags"] = tags;
    Json out = MustEcs("RunTask", input);
    if (!out.contains("tasks") || out["tasks"].empty()) {
      ADD_FAILURE() << "RunTask returned no task: " << out.dump();
      return Json::object();
    }
    Json task = out["tasks"][0];
    Send(JsonRequest(kNode + "PollTasks", {{"instanceId", node}, {"waitSeconds", 0}}, node_credentials_, "ecs"));
    Json containers = Json::array();
    for (const auto& c : task["containers"])
      containers.push_back(
          {{"name", c["name"]}, {"status", "RUNNING"}, {"runtimeId", c["name"].get<std::string>() + "-rt"}});
    Reply reported = Send(JsonRequest(kNode + "SubmitTaskStateChange",
                                      {{"taskArn", task["taskArn"]}, {"status", "RUNNING"}, {"containers", containers}},
                                      node_credentials_, "ecs"));
    EXPECT_TRUE(IsJsonOk(reported));
    for (const auto& c : task["containers"]) plane_->OnAgentConnected(LastSegment(task["taskArn"]), c["name"]);
    return task;
  }

  Reply ExecAs(const User& user, const std::string& cluster, const Json& task, const std::string& container) {
    return Ecs("ExecuteCommand",
               {{"cluster", cluster}, {"task", task["taskArn"]}, {"container", container}, {"command", "/bin/sh"},
                {"interactive", true}},
               user.credentials);
  }

  Reply StartSessionAs(const User& user, const std::string& cluster, const Json& task, const std::string& container) {
    return Ssm("StartSession",
               {{"Target", "ecs:" + cluster + "_" + LastSegment(task["taskArn"]) + "_" + container + "-rt"}},
               user.credentials);
  }

  // Audit events written since the previous call.
  std::vector<Json> NewAuditEvents() {
    std::vector<Json> out;
    auto all = store_->List(store::kind::kAuditEvent, std::nullopt);
    EXPECT_TRUE(all.ok());
    if (!all.ok()) return out;
    for (const auto& r : *all)
      if (seen_audit_.insert(r.key).second) out.push_back(r.body);
    return out;
  }

  // Exactly one new audit event for `action` on `resource`, with `decision`
  // by `policy`/`statement`.
  ::testing::AssertionResult AuditedOnce(const std::string& principal, const std::string& action,
                                         const std::string& resource, const std::string& decision,
                                         const std::string& policy, const std::string& statement) {
    std::vector<Json> matching;
    std::vector<Json> events = NewAuditEvents();
    for (const auto& e : events)
      if (e.value("action", "") == action && e.value("resource", "") == resource) matching.push_back(e);
    if (matching.size() != 1)
      return ::testing::AssertionFailure() << "expected one audit event for " << action << " on " << resource
                                           << ", new events: " << Json(events).dump();
    const Json& e = matching[0];
    if (e.value("principalArn", "") != principal || e.value("decision", "") != decision ||
        e.value("decidingPolicy", "") != policy || e.value("decidingStatement", "") != statement)
      return ::testing::AssertionFailure() << "expected " << principal << " " << decision << " by " << policy << " "
                                           << statement << ", got " << e.dump();
    return ::testing::AssertionSuccess();
  }

  boost::asio::io_context io_;
  fs::path dir_;
  FakeSessionBroker broker_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ControlPlane> plane_;
  auth::Credentials root_;
  auth::Credentials node_credentials_;  // the registered node's own
  std::string node_;
  std::set<std::string> seen_audit_;
};

}  // namespace porthole::api::test
