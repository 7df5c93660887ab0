#pragma once
// The control plane's API: authenticates every request (SigV4), routes it to
// its service's operation table (AWS JSON 1.1 by X-Amz-Target; IAM and STS by
// the query protocol's Action), and keeps state in the Store.
//   AmazonEC2ContainerServiceV20141113.*  the ECS subset (shared/ecs-exec.md)
//   AmazonSSM.*                           session APIs on ECS targets (StartSession,
//                                         ResumeSession, TerminateSession, DescribeSessions)
//   PortholeNodeService.*                 what porthole-node calls: join, long-poll
//                                         for its tasks, report their state; and
//                                         CreateJoinToken for operators
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
#include "api/operation.h"
#include "api/query_protocol.h"
#include "api/session_broker.h"
#include "auth/policy_engine.h"
#include "auth/sigv4.h"
#include "net/http.h"
#include "net/https_server.h"
#include "model/task.h"
#include "store/store.h"
#include "store/repositories.h"
#include "store/task_repository.h"

namespace porthole::api {

struct ControlPlaneConfig {
  std::string region = "us-east-1";
  std::string account_id;
  // 32 bytes sealing secrets at rest (AES-256-GCM): a copy of the database
  // alone does not hand out secret keys. portholed keeps it in master.key.
  std::string secret_key;
  // Lifetime of the credentials handed to a task's exec agent.
  std::chrono::seconds agent_credential_lifetime{6 * 3600};
  // Lifetime of a container instance's credentials; PollTasks hands the node
  // fresh ones once half of it has passed.
  std::chrono::seconds instance_credential_lifetime{12 * 3600};
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

  // Every declared operation, "<service>.<name>" (for tests that must cover them all).
  std::vector<std::string> OperationNames() const;

  // Injectable clock (seconds) for tests.
  void SetClock(std::function<std::time_t()> clock) { clock_ = std::move(clock); }

 private:
  // The operation tables, one per service (api/<service>/*_table.cc), keyed
  // "<service>.<name>": ecs, ssm, node (PortholeNodeService), iam, sts.
  void DeclareEcsOperations();
  void DeclareSsmOperations();
  void DeclareNodeOperations();
  void DeclareIamOperations();
  void DeclareStsOperations();
  void DeclareAdminOperations();
  void Add(const std::string& service, Operation operation);
  // Passes each check through Authorize (audited), or answers the first denial.
  Status AuthorizeChecks(const Caller& caller, const std::vector<AccessCheck>& checks);

  // ---- ECS (api/ecs). Handlers act on what their resolver resolved
  // (ecs/ecs_table.cc); they read other members of `in` only for what the
  // operation does, never to choose what it acts on.
  Result<Json> CreateCluster(const Json& in, const std::string& name);
  Result<Json> DescribeClusters(const Json& in, const std::vector<std::string>& names);
  Result<Json> ListClusters(const Json& in);
  Result<Json> DeleteCluster(const std::string& cluster_name);
  Result<Json> RegisterTaskDefinition(const Json& in);
  Result<Json> DescribeTaskDefinition(const Json& in, const model::TaskDefinition& definition);
  Result<Json> ListTaskDefinitions(const Json& in);
  Result<Json> DeregisterTaskDefinition(model::TaskDefinition definition);
  // Services (ecs/service_operations.cc).
  Result<Json> CreateService(const Json& in, const Caller& caller, const std::string& cluster_name,
                             const std::string& service_name, const model::TaskDefinition& definition);
  Result<Json> UpdateService(const Json& in, const std::string& cluster_name, const std::string& service_name,
                             const std::string& definition_arn);
  Result<Json> DescribeServices(const std::string& cluster_name, const std::vector<std::string>& service_names);
  Result<Json> ListServices(const std::string& cluster_name);
  Result<Json> DeleteService(const Json& in, const std::string& cluster_name, const std::string& service_name);
  std::string ServiceArn(const std::string& cluster, const std::string& name) const;

  // What CreateTasks needs: RunTask, StartTask and the service scheduler.
  struct TaskLaunch {
    model::Cluster cluster;
    model::TaskDefinition definition;
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
  Result<Json> RunTask(const Json& in, const Caller& caller, const std::string& cluster_name,
                       const model::TaskDefinition& definition, bool start_task);
  Result<Json> DescribeTasks(const Json& in, const std::string& cluster_name, const std::vector<std::string>& tasks);
  Result<Json> ListTasks(const Json& in, const std::string& cluster_name);
  Result<Json> StopTask(const Json& in, const std::string& cluster_name, const std::string& task_id);

  // What ExecuteCommand (and SSM StartSession) act on, resolved before
  // authorizing: the check names the task ARN with the cluster's and the
  // task's tags (E26) whether or not the task exists, so that a caller
  // without access learns nothing from the errors.
  struct ExecTarget {
    std::string cluster_name;
    std::optional<model::Cluster> cluster;  // when ACTIVE
    std::optional<model::Task> task;    // when it exists in that cluster
    std::string container_name;         // named, or a single-container task's only one
    bool container_named = false;
  };
  Result<Resolved<ExecTarget>> ResolveExec(const std::string& cluster, const std::string& task,
                                           const std::optional<std::string>& container, const std::string& action);
  Result<Json> ExecuteCommand(const Json& in, const Caller& caller, const net::HttpRequest& request,
                              const ExecTarget& target, const std::string& session_id_prefix = "ecs-execute-command-");

  // A taggable ECS resource named by an ARN of this account and region.
  struct TagTarget {
    std::string arn;  // canonical
    std::string kind;
    std::string key;
    std::string parent;
    const char* member;  // where the tags live in the document
    std::optional<store::Record> record;
  };
  Result<TagTarget> ResolveTagTarget(const std::string& arn_text);
  Result<Json> TagResource(const Json& in, const TagTarget& target);
  Result<Json> UntagResource(const Json& in, const TagTarget& target);
  Result<Json> ListTagsForResource(const TagTarget& target);

  // iam:PassRole on a role named in a request (taskRoleArn, executionRoleArn),
  // on its stored ARN when it exists, as ECS checks it.
  AccessCheck PassRoleCheck(const std::string& role_arn);

  // ---- IAM and STS over the query protocol (api/iam, api/sts).
  Result<std::string> IamOperation(const std::string& action, const QueryParams& params, const Caller& caller);
  Result<std::string> GetCallerIdentity(const Caller& caller);
  Result<std::string> AssumeRole(const QueryParams& params, const Caller& caller, const Json& role);

  // Authorization (authorization.cc). Root is allowed everything; users and
  // roles by their identity policies; container instances by their own
  // instance's policy; evaluated with the global condition keys plus `keys`.
  // Every decision is logged and recorded as an audit event; a decision that
  // cannot be recorded is an error (audit fails closed).
  Result<AuthorizationDecision> Authorize(const Caller& caller, const std::string& action,
                                          const std::string& resource, ConditionKeys keys = {});
  // A user's or role's inline and attached policies, named for reports.
  Result<std::vector<std::pair<std::string, auth::Policy>>> IdentityPolicies(bool role, const std::string& name);
  // IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy).
  Result<std::string> Simulate(const std::string& action, const QueryParams& params);
  // The ecs:ResourceTag/ and aws:ResourceTag/ keys from cluster and task tags (E26).
  ConditionKeys EcsResourceKeys(const model::Cluster& cluster, const model::Task& task,
                                const std::string& container_name) const;

  // ---- SSM session operations on ECS targets (api/ssm).
  Result<Json> SsmStartSession(const Json& in, const Caller& caller, const net::HttpRequest& request,
                               const ExecTarget& target, const std::string& command);
  // `session` is the stored session of that id, if there is one.
  Result<Json> SsmResumeSession(const std::string& id, const std::optional<model::Session>& session,
                                const Caller& caller, const net::HttpRequest& request);
  Result<Json> SsmTerminateSession(const std::string& id, const std::optional<model::Session>& session,
                                   const Caller& caller);
  Result<Json> SsmDescribeSessions(const Json& in, const Caller& caller);
  std::string SessionArn(const std::string& session_id) const;
  // The caller's unique identity, as a session's owner is recorded: the user
  // id, or the role id and session name (aws:userid); the account id for root.
  std::string OwnerIdentity(const Caller& caller) const;

  // ---- Node operations (api/node).
  Result<Json> RegisterContainerInstance(const Json& in, const Caller& caller, const net::RequestContext& context);
  boost::asio::awaitable<Result<Json>> PollTasks(const Json& in, const Caller& caller);
  Result<Json> SubmitTaskStateChange(const Json& in, model::Task task);
  Result<Json> CreateJoinToken(const Json& in, const Caller& caller);
  // The instance's tasks as PollTasks returns them; `renew_after` is set to
  // when the earliest of their agent credentials is next due for renewal.
  Result<Json> TasksForInstance(const std::string& instance_id, double* renew_after);
  void WakeInstance(const std::string& instance_id);
  // The long poll's change counter of an instance (see PollTasks' "generation").
  uint64_t Generation(const std::string& instance_id);
  // Credentials bound to (task, container) for that container's exec agent.
  Result<Json> IssueAgentCredentials(const model::Task& task, const std::string& container_name,
                                     const std::string& role_name);
  // Credentials bound to a container instance: what its node signs with.
  Result<Json> IssueInstanceCredentials(const std::string& instance_id);
  std::string ContainerInstanceArn(const std::string& instance_id) const;
  // The role a task's exec agent acts as: its taskRoleArn, which must trust
  // ecs-tasks.amazonaws.com; "" for an EC2/EXTERNAL task without one (the
  // container instance's identity, as ECS falls back to the instance role).
  // An error names why the agent cannot get credentials.
  Result<std::string> ResolveTaskRole(const model::Task& task, const model::TaskDefinition& definition);
  // Sets every ExecuteCommandAgent of the container (not on a stopped task).
  void SetManagedAgentState(const std::string& task_id, const std::string& container_name,
                            model::ContainerStatus status, const std::string& reason);

  // ---- Shared helpers (ecs_model.cc).
  Result<model::Cluster> LoadActiveCluster(const std::string& name_or_arn);
  Result<std::optional<model::Task>> LoadTask(const std::string& cluster_name, const std::string& task_id_or_arn);
  Result<model::TaskDefinition> LoadTaskDefinition(const std::string& reference);
  std::string Seal(std::string_view secret) const;
  std::optional<std::string> Unseal(const Json& sealed) const;
  Json ClusterView(const model::Cluster& cluster);
  std::string ClusterArn(const std::string& name) const;
  std::string TaskArn(const std::string& cluster, const std::string& id) const;
  // Stops the task's record (ECS's stop fields) and revokes its agents' credentials.
  void MarkTaskStopped(model::Task& task, const std::string& reason, const std::string& stop_code);
  // A stop the control plane asks for (StopTask, the scheduler): desired
  // STOPPED, and at once STOPPED when no node has picked it up yet.
  void RequestTaskStop(model::Task& task, const std::string& reason, const std::string& stop_code);

  boost::asio::any_io_executor executor_;
  store::Store& store_;
  store::TaskRepository tasks_{store_};
  store::ClusterRepository clusters_{store_};
  store::TaskDefinitionRepository definitions_{store_};
  store::ServiceRepository services_{store_};
  store::ContainerInstanceRepository instances_{store_};
  store::SessionRepository sessions_{store_};
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
  // The last full PollTasks answer to each instance. Its `token` (the
  // generation and a serial) is what the node echoes as "generation": the
  // proof it received that very answer. While the generation is the same and
  // no credentials in it are due, such a node is told "unchanged" instead.
  struct PollMemo {
    uint64_t generation = 0;
    std::string token;
    double renew_after = 0;
  };
  std::map<std::string, PollMemo> poll_memos_;
  uint64_t poll_answers_ = 0;
};

}  // namespace porthole::api
