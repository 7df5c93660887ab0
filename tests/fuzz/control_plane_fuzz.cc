// Fuzzes the API router, api::ControlPlane::Handle, with request bodies sent
// as the root user: each input is signed by the harness (so it gets past
// SigV4 and reaches the operations), over a store held in memory and reset
// to the same few records before every execution (see Harness()).
//
// Input: the X-Amz-Target header value up to the first newline, then the
// body. An empty target sends a form-encoded (IAM/STS query protocol) body.
//
// Properties, beyond "no crash, no throw, no sanitizer report":
//  * Handle completes, with an HTTP status in 200..499: no input makes an
//    operation fail inside (500 "ServerException" is how Handle answers an
//    exception escaping a handler);
//  * a JSON-protocol answer is a JSON object, with a string "__type" when it
//    is an error; a query-protocol answer is XML, an <ErrorResponse> when it
//    is an error.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <ctime>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "api/query_protocol.h"
#include "api/session_broker.h"
#include "auth/sigv4.h"
#include "common/log.h"
#include "fuzz_support.h"
#include "store/store.h"

namespace porthole::api {
namespace {

constexpr std::time_t kNow = 1728993600;  // 2024-10-15T12:00:00Z
constexpr char kRegion[] = "us-east-1";
constexpr char kHost[] = "127.0.0.1:8443";
const std::string kEcs = "AmazonEC2ContainerServiceV20141113.";

// The Store contract over a std::map: what a test needs, no disk.
class MemoryStore final : public store::Store {
 public:
  using Records = std::map<std::pair<std::string, std::string>, store::Record>;

  Result<std::optional<store::Record>> Get(const std::string& kind, const std::string& key) override {
    auto it = records_.find({kind, key});
    if (it == records_.end()) return std::optional<store::Record>();
    return std::optional<store::Record>(it->second);
  }
  Status Put(const std::string& kind, const store::Record& record) override {
    records_[{kind, record.key}] = record;
    return OkStatus();
  }
  Result<bool> Insert(const std::string& kind, const store::Record& record) override {
    return records_.emplace(std::make_pair(kind, record.key), record).second;
  }
  Status Delete(const std::string& kind, const std::string& key) override {
    records_.erase({kind, key});
    return OkStatus();
  }
  Result<std::vector<store::Record>> List(const std::string& kind, const std::optional<std::string>& parent) override {
    std::vector<store::Record> out;
    for (auto it = records_.lower_bound({kind, ""}); it != records_.end() && it->first.first == kind; ++it) {
      if (!parent || it->second.parent == *parent) out.push_back(it->second);
    }
    return out;
  }
  Result<std::vector<store::Record>> ListBySecondary(const std::string& kind, const std::string& value) override {
    std::vector<store::Record> out;
    for (auto it = records_.lower_bound({kind, ""}); it != records_.end() && it->first.first == kind; ++it) {
      if (it->second.secondary == value) out.push_back(it->second);
    }
    return out;
  }
  Status Transaction(const std::function<Status()>& work) override {
    Records before = records_;
    try {
      Status s = work();
      if (!s.ok()) records_ = std::move(before);
      return s;
    } catch (...) {
      records_ = std::move(before);
      throw;
    }
  }

  const Records& records() const { return records_; }
  void Reset(const Records& records) { records_ = records; }

 private:
  Records records_;
};

// Stands in for the gateway: every agent is connected, every session granted.
class FakeBroker final : public SessionBroker {
 public:
  bool AgentConnected(const std::string&, const std::string&) const override { return true; }
  Result<SessionGrant> StartSession(const SessionRequest& request) override {
    return SessionGrant{request.id_prefix + "0123456789abcdef0", "wss://127.0.0.1:8443/v1/data-channel/x", "token"};
  }
  void EndTaskSessions(const std::string&, const std::string&) override {}
  std::optional<SessionGrant> ResumeSession(const std::string& session_id, const std::string&) override {
    return SessionGrant{session_id, "wss://127.0.0.1:8443/v1/data-channel/x", "token"};
  }
  bool TerminateSession(const std::string&) override { return true; }
};

struct Harness {
  boost::asio::io_context io;
  MemoryStore store;
  FakeBroker broker;
  std::unique_ptr<ControlPlane> plane;
  auth::Credentials root;
  MemoryStore::Records baseline;

  Harness() {
    log::SetLevel(log::Level::kError);
    ControlPlaneConfig config;
    config.secret_key = std::string(32, 'k');
    config.region = kRegion;
    config.account_id = "123456789012";
    plane = std::make_unique<ControlPlane>(io.get_executor(), store, config);
    plane->SetSessionBroker(&broker);
    plane->SetClock([] { return kNow; });
    root = *plane->EnsureRootCredentials();
    // A little state for the operations to find: clusters, a task
    // definition, a container instance with a task placed on it, an IAM user.
    Send(kEcs + "CreateCluster", R"({"clusterName":"demo"})");
    Send(kEcs + "CreateCluster", R"({"clusterName":"default"})");
    Send(kEcs + "RegisterTaskDefinition",
         R"({"family":"web","containerDefinitions":[{"name":"app","image":"busybox","command":["sleep","3600"]}]})");
    Send("PortholeNodeService.RegisterContainerInstance", R"({"instanceId":"i-fuzz","hostname":"node"})");
    Send(kEcs + "RunTask", R"({"cluster":"default","taskDefinition":"web:1","enableExecuteCommand":true})");
    Send("", "Action=CreateUser&Version=2010-05-08&UserName=alice");
    baseline = store.records();
  }

  std::optional<net::HttpResponse> Send(const std::string& target, std::string body) {
    net::HttpRequest request;
    request.method = "POST";
    request.target = "/";
    request.headers.emplace_back("Host", kHost);
    std::string service = "ecs";
    if (target.empty()) {
      request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
      auto params = ParseQuery(body);
      std::string action = params.ok() && params->count("Action") ? params->at("Action") : "";
      service = action == "GetCallerIdentity" || action == "AssumeRole" || action == "GetSessionToken" ? "sts" : "iam";
    } else {
      request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
      request.headers.emplace_back("X-Amz-Target", target);
      if (target.rfind("AmazonSSM.", 0) == 0) service = "ssm";
    }
    request.body = std::move(body);
    auth::SignRequest(request, root, kRegion, service, kNow);

    std::optional<net::HttpResponse> response;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, plane->Handle(std::move(request), net::RequestContext{"127.0.0.1", true}),
                          [&](std::exception_ptr e, net::HttpResponse r) {
                            failure = e;
                            response = std::move(r);
                          });
    io.restart();
    io.run();
    FUZZ_CHECK_MSG(!failure, "Handle did not complete normally");
    FUZZ_CHECK(response.has_value());
    return response;
  }
};

}  // namespace
}  // namespace porthole::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::api;
  static Harness* harness = new Harness();  // never destroyed: the fuzzer exits without unwinding
  porthole::fuzz::InputReader input(data, size);
  const std::string target(input.Until('\n'));
  // Header values cannot hold these (Beast refuses them before we see a request).
  if (target.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) return 0;
  std::string body(input.Rest());

  harness->store.Reset(harness->baseline);
  std::optional<porthole::net::HttpResponse> response = harness->Send(target, std::move(body));
  const int status = response->status;
  FUZZ_CHECK_MSG(status >= 200 && status < 500, std::to_string(status) + " " + response->body);
  if (target.empty()) {
    FUZZ_CHECK_MSG(response->body.rfind("<", 0) == 0, response->body);
    if (status != 200) FUZZ_CHECK(response->body.rfind("<ErrorResponse", 0) == 0);
  } else {
    const Json body = Json::parse(response->body, nullptr, false);
    FUZZ_CHECK_MSG(body.is_object(), response->body);
    if (status != 200) FUZZ_CHECK_MSG(body.contains("__type") && body["__type"].is_string(), response->body);
  }
  return 0;
}
