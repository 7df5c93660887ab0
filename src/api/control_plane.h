#pragma once
// The control plane's API: authenticates every request (SigV4), dispatches
// AWS JSON 1.1 operations by X-Amz-Target, and keeps ECS state in the Store.
//   AmazonEC2ContainerServiceV20141113.*  the ECS subset (shared/ecs-exec.md)
//   AmazonSSM.*                           session APIs on ECS targets (StartSession,
//                                         ResumeSession, TerminateSession, DescribeSessions)
//   PortholeNodeService.*                 what porthole-node calls: register,
//                                         long-poll for tasks, report state
// Single-threaded: all calls run on the executor given at construction.
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "api/aws_json.h"
#include "api/query_protocol.h"
#include "api/session_broker.h"
#include "auth/policy_engine.h"
#include "auth/sigv4.h"
#include "net/http.h"
#include "net/https_server.h"
#include "store/store.h"

namespace porthole::api {

struct ControlPlaneConfig {
  std::string region = "us-east-1";
  std::string account_id;
  // 32 bytes sealing secrets at rest (AES-256-GCM): a copy of the database
  // alone does not hand out secret keys. portholed keeps it in master.key.
  std::string secret_key;
  // Lifetime of the credentials handed to a task's exec agent.
  std::chrono::seconds agent_credential_lifetime{6 * 3600};
};

// Who signed a request.
struct Caller {
  std::string access_key_id;
  std::string principal_arn;
  std::string type;  // "root", "user" or "task"
  std::string task_id;    // for "task" credentials
  std::string user_name;  // for "user" credentials
  std::string role_name;  // for "assumed-role" credentials (STS AssumeRole)
  std::string user_id;    // aws:userid: the user's id, or "<role id>:<session name>"
  Json principal_tags = Json::array();  // [{"Key","Value"}] of the user
  std::string source_ip;
};

// What an authorization decided, for the answer and the audit trail.
struct AuthorizationDecision {
  bool allowed = false;
  std::string decision;   // "Allow", "ExplicitDeny", "ImplicitDeny"
  std::string policy;     // deciding policy, e.g. "user/alice/inline/exec"
  std::string statement;  // its Sid or index
};

class ControlPlane {
 public:
  ControlPlane(boost::asio::any_io_executor executor, store::Store& store, ControlPlaneConfig config);
  ~ControlPlane();

  void SetSessionBroker(SessionBroker* broker) { broker_ = broker; }

  boost::asio::awaitable<net::HttpResponse> Handle(net::HttpRequest request, net::RequestContext context);

  // Verifies a SigV4-signed request against stored keys (root keys and live
  // task credentials). Used by the gateway for agent connections too.
  // The credential scope must name this control plane's region and
  // `expected_service` ("ecs", "ssm", "ssmmessages", ...).
  Result<Caller> Authenticate(const net::HttpRequest& request, std::string_view expected_service) const;

  // The exec agent's channels are authorized against the task role (E6):
  // `action` is one of ssmmessages:CreateControlChannel, OpenControlChannel,
  // CreateDataChannel, OpenDataChannel.
  Status AuthorizeAgentChannel(const Caller& caller, const std::string& action);

  // Gateway callbacks: the exec agent of a container connected, went away, or
  // was refused (the reason shows in describe-tasks).
  void OnAgentRefused(const std::string& task_id, const std::string& container_name, const std::string& reason);
  void OnAgentConnected(const std::string& task_id, const std::string& container_name);
  void OnAgentDisconnected(const std::string& task_id, const std::string& container_name);

  // Keeps every ACTIVE service at its desired count (service_operations.cc);
  // portholed runs it every few seconds and after each service change.
  void ReconcileServices();

  // Creates the root access key on first start (no-op if one exists).
  Result<auth::Credentials> EnsureRootCredentials();

  const ControlPlaneConfig& config() const { return config_; }

  // Injectable clock (seconds) for tests.
  void SetClock(std::function<std::time_t()> clock) { clock_ = std::move(clock); }

 private:
  using Operation = std::function<Result<Json>(const Json& input, const Caller& caller, const net::RequestContext&,
                                               const net::HttpRequest&)>;
  void RegisterOperations();

  // ECS operations (ecs_operations.cc).
  Result<Json> CreateCluster(const Json& in);
  Result<Json> DescribeClusters(const Json& in);
  Result<Json> ListClusters(const Json& in);
  Result<Json> DeleteCluster(const Json& in);
  Result<Json> RegisterTaskDefinition(const Json& in);
  Result<Json> DescribeTaskDefinition(const Json& in);
  Result<Json> ListTaskDefinitions(const Json& in);
  Result<Json> DeregisterTaskDefinition(const Json& in);
  // Services (service_operations.cc).
  Result<Json> CreateService(const Json& in, const Caller& caller);
  Result<Json> UpdateService(const Json& in, const Caller& caller);
  Result<Json> DescribeServices(const Json& in);
  Result<Json> ListServices(const Json& in);
  Result<Json> DeleteService(const Json& in);
  std::string ServiceArn(const std::string& cluster, const std::string& name) const;

  // What CreateTasks needs: RunTask, StartTask and the service scheduler.
  struct TaskLaunch {
    Json cluster;
    Json definition;
    int64_t count = 1;
    bool exec = false;
    Json container_overrides = Json::array();
    Json tags = Json::array();
    std::string launch_type = "EC2";
    std::optional<std::string> started_by;
    std::string group;
    std::string principal;
    bool start_task = false;                       // place on requested_instances
    std::vector<std::string> requested_instances;
    std::string deployment_id;                     // a service deployment's tasks
  };
  // Places and records `launch.count` tasks; {"tasks", "failures"}.
  Result<Json> CreateTasks(const TaskLaunch& launch);
  // RunTask places tasks itself; StartTask (`start_task`) on the named container instances.
  Result<Json> RunTask(const Json& in, const Caller& caller, bool start_task = false);
  Result<Json> DescribeTasks(const Json& in);
  Result<Json> ListTasks(const Json& in);
  Result<Json> StopTask(const Json& in);
  // `authorize_action` is the action checked on the task ("ecs:ExecuteCommand",
  // or "ssm:StartSession" when SSM's StartSession takes this path).
  Result<Json> ExecuteCommand(const Json& in, const Caller& caller, const net::HttpRequest& request,
                              const std::string& authorize_action = "ecs:ExecuteCommand");
  Result<Json> TagResource(const Json& in);
  Result<Json> UntagResource(const Json& in);
  Result<Json> ListTagsForResource(const Json& in);

  // IAM and STS over the query protocol (iam_operations.cc).
  net::HttpResponse HandleQuery(const net::HttpRequest& request, const Caller& caller, std::string_view service);
  Result<std::string> IamOperation(const std::string& action, const QueryParams& params, const Caller& caller);
  Result<std::string> StsOperation(const std::string& action, const QueryParams& params, const Caller& caller);
  Result<std::string> AssumeRole(const QueryParams& params, const Caller& caller);

  // Authorization (authorization.cc). Root is allowed everything; users by
  // their identity policies, evaluated with the global condition keys plus
  // `keys`. Every decision is logged and recorded as an audit event.
  Result<AuthorizationDecision> Authorize(const Caller& caller, const std::string& action,
                                          const std::string& resource,
                                          std::map<std::string, std::vector<std::string>> keys = {});
  // A user's or role's inline and attached policies, named for reports.
  Result<std::vector<std::pair<std::string, auth::Policy>>> IdentityPolicies(bool role, const std::string& name);
  // IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy).
  Result<std::string> Simulate(const std::string& action, const QueryParams& params);
  // The generic check in Handle for operations that do not authorize
  // themselves against a specific resource (ExecuteCommand, RunTask,
  // StartSession do, once they know it).
  Status AuthorizeOperation(const std::string& target, const Json& input, const Caller& caller);
  // The ecs:ResourceTag/ and aws:ResourceTag/ keys from cluster and task tags (E26).
  std::map<std::string, std::vector<std::string>> EcsResourceKeys(const Json& cluster, const Json& task,
                                                                  const std::string& container_name) const;

  // SSM session operations on ECS targets (ssm_operations.cc).
  Result<Json> SsmStartSession(const Json& in, const Caller& caller, const net::HttpRequest& request);
  Result<Json> SsmResumeSession(const Json& in, const Caller& caller, const net::HttpRequest& request);
  Result<Json> SsmTerminateSession(const Json& in, const Caller& caller);
  Result<Json> SsmDescribeSessions(const Json& in, const Caller& caller);
  Result<Json> LoadOwnedSession(const std::string& session_id, const Caller& caller);

  // Node operations (node_operations.cc).
  Result<Json> RegisterContainerInstance(const Json& in, const net::RequestContext& context);
  boost::asio::awaitable<Result<Json>> PollTasks(const Json& in);
  Result<Json> SubmitTaskStateChange(const Json& in);
  Result<Json> TasksForInstance(const std::string& instance_id);
  void WakeInstance(const std::string& instance_id);
  // The long poll's change counter of an instance (see PollTasks' "generation").
  uint64_t Generation(const std::string& instance_id);
  Result<Json> IssueAgentCredentials(const Json& task, const std::string& role_name);
  // The role a task's exec agent acts as: its taskRoleArn, which must trust
  // ecs-tasks.amazonaws.com; "" for an EC2/EXTERNAL task without one (the
  // container instance's identity, as ECS falls back to the instance role).
  // An error names why the agent cannot get credentials.
  Result<std::string> ResolveTaskRole(const Json& task, const Json& definition);
  // Sets every ExecuteCommandAgent of the container (not on a stopped task).
  void SetManagedAgentState(const std::string& task_id, const std::string& container_name, const std::string& status,
                            const std::string& reason);

  // Shared helpers (ecs_model.cc).
  Result<Json> LoadActiveCluster(const std::string& name_or_arn);
  // The active cluster named by the request's optional "cluster" member ("default" when absent).
  Result<Json> ClusterOf(const Json& in);
  Result<std::optional<store::Record>> LoadTask(const std::string& cluster_name, const std::string& task_id_or_arn);
  Result<Json> LoadTaskDefinition(const std::string& reference);
  Json PublicView(const Json& record) const;  // strips internal "_" members
  std::string Seal(std::string_view secret) const;
  std::optional<std::string> Unseal(const Json& sealed) const;
  Json ClusterView(const Json& cluster);
  std::string ClusterArn(const std::string& name) const;
  std::string TaskArn(const std::string& cluster, const std::string& id) const;
  void MarkTaskStopped(Json& task, const std::string& reason, const std::string& stop_code);

  boost::asio::any_io_executor executor_;
  store::Store& store_;
  ControlPlaneConfig config_;
  SessionBroker* broker_ = nullptr;
  std::function<std::time_t()> clock_;
  std::map<std::string, Operation> operations_;
  struct Waiter;
  std::multimap<std::string, std::shared_ptr<Waiter>> waiters_;  // instance id → parked PollTasks
  // Per-instance change counts for the long poll; the random base makes a
  // control-plane restart look like a change to every node.
  std::map<std::string, uint64_t> generations_;
  uint64_t generation_base_ = 0;
};

}  // namespace porthole::api
