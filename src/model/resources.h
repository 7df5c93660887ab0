#pragma once
// The ECS and SSM resources besides tasks, as the control plane keeps them:
// clusters, task definitions, services, container instances and sessions.
// As for tasks (model/task.h), JSON appears only in the stored form (with
// internal members prefixed "_") and the public form the API answers with;
// FromStored functions are total: missing or mistyped members take defaults.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace porthole::model {

using Json = nlohmann::json;

// ACTIVE or INACTIVE: clusters, task definitions, services, container instances.
enum class ResourceStatus : uint8_t { kActive, kInactive };
std::string_view ResourceStatusName(ResourceStatus status);
std::optional<ResourceStatus> ParseResourceStatus(std::string_view name);

struct Cluster {
  std::string name;
  std::string arn;
  ResourceStatus status = ResourceStatus::kActive;
  Json tags = Json::array();      // [{"key","value"}]
  Json settings = Json::array();  // [{"name","value"}], ECS's and Porthole's own
  Json configuration;             // {"executeCommandConfiguration": ...}; null when none
  bool Active() const { return status == ResourceStatus::kActive; }
};
Json ToStored(const Cluster& cluster);
Cluster ClusterFromStored(const Json& stored);

struct TaskDefinition {
  std::string family;
  int revision = 0;
  std::string arn;
  ResourceStatus status = ResourceStatus::kActive;
  // The container definitions as registered (validated and with ECS's
  // defaults filled): the node reads them member by member.
  Json container_definitions = Json::array();
  Json volumes = Json::array();
  std::string task_role_arn;
  std::string execution_role_arn;
  // bridge, host, awsvpc or none; ECS's default is bridge (every stored
  // record has the member, so the default never reinterprets an old one).
  std::string network_mode = "bridge";
  std::optional<std::string> cpu, memory, pid_mode, ipc_mode;
  Json requires_compatibilities;  // null when not given
  Json runtime_platform;          // null when not given
  double registered_at = 0;
  std::optional<double> deregistered_at;
  Json tags = Json::array();  // shown only with include=TAGS
  bool Active() const { return status == ResourceStatus::kActive; }
  std::string Key() const { return family + ":" + std::to_string(revision); }
};
Json ToStored(const TaskDefinition& definition);
TaskDefinition TaskDefinitionFromStored(const Json& stored);
Json PublicView(const TaskDefinition& definition);

struct Deployment {
  std::string id;
  std::string status;  // PRIMARY or ACTIVE, as ECS names a service's deployments
  std::string task_definition;
  int64_t desired_count = 0;
  double created_at = 0;
};

struct Service {
  std::string name;
  std::string cluster_name;
  std::string arn;
  std::string cluster_arn;
  std::string task_definition;  // ARN of the primary deployment's revision
  int64_t desired_count = 0;
  int64_t running_count = 0;
  int64_t pending_count = 0;
  ResourceStatus status = ResourceStatus::kActive;
  std::string launch_type = "EC2";
  bool enable_execute_command = false;
  double created_at = 0;
  std::string created_by;
  Json tags = Json::array();
  std::vector<Deployment> deployments;  // primary first
  bool Active() const { return status == ResourceStatus::kActive; }
  std::string Key() const { return cluster_name + "/" + name; }
  // The primary deployment's id; empty when there is none.
  std::string PrimaryDeployment() const;
};
Json ToStored(const Service& service);
Service ServiceFromStored(const Json& stored);

struct ContainerInstance {
  std::string id;
  std::string arn;
  ResourceStatus status = ResourceStatus::kActive;
  bool agent_connected = false;
  std::string hostname;
  std::string runtime_version;
  double registered_at = 0;
  double last_seen = 0;
  std::string address;        // where it last registered from
  std::string registered_by;  // "join-token" or the IAM principal
};
Json ToStored(const ContainerInstance& instance);
ContainerInstance ContainerInstanceFromStored(const Json& stored);

// An exec session as SSM's DescribeSessions shows it.
enum class SessionStatus : uint8_t { kConnecting, kConnected, kDisconnected, kTerminated };
std::string_view SessionStatusName(SessionStatus status);

struct Session {
  std::string id;
  std::string target;  // ecs:<cluster>_<taskId>_<runtimeId>
  SessionStatus status = SessionStatus::kConnecting;
  double start_date = 0;
  std::optional<double> end_date;
  std::string owner_arn;       // "Owner": the starter's ARN
  std::string owner_identity;  // the starter's aws:userid: only it may resume or end the session
  std::string reason;
  std::string task_id;
  std::string task_arn;
  std::string container_name;
  std::string command;
  bool Active() const { return status != SessionStatus::kTerminated; }
};
Json ToStored(const Session& session);
Session SessionFromStored(const Json& stored);
Json PublicView(const Session& session);

}  // namespace porthole::model
