#pragma once
// A task as the control plane keeps it: its containers, their managed agents,
// and the statuses ECS reports (shared/ecs-exec.md). JSON appears only in the
// two (de)serialisers: the stored form (everything, internal members
// prefixed "_") and the public form the ECS API answers with.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace porthole::model {

using Json = nlohmann::json;

// A task's lastStatus/desiredStatus (the subset of ECS's lifecycle Porthole
// moves through).
enum class TaskStatus : uint8_t { kProvisioning, kPending, kRunning, kStopped };
// A container's and a managed agent's lastStatus.
enum class ContainerStatus : uint8_t { kPending, kRunning, kStopped };

std::string_view TaskStatusName(TaskStatus status);
std::optional<TaskStatus> ParseTaskStatus(std::string_view name);
std::string_view ContainerStatusName(ContainerStatus status);
std::optional<ContainerStatus> ParseContainerStatus(std::string_view name);

// ECS's name for the exec agent among a container's managed agents.
inline constexpr std::string_view kExecuteCommandAgent = "ExecuteCommandAgent";

struct ManagedAgent {
  std::string name{kExecuteCommandAgent};
  ContainerStatus status = ContainerStatus::kPending;
  std::string reason;                    // why it is not RUNNING; empty when none
  std::optional<double> last_started_at;
};

// A task's network as its node reports it, in ECS's shapes (DescribeTasks'
// containers[].networkBindings, containers[].networkInterfaces, attachments).
struct NetworkBinding {  // bridge, host: a published port
  std::string bind_ip;
  int container_port = 0;  // 1-65535
  int host_port = 0;       // 0-65535
  std::string protocol;    // "tcp" or "udp"
};
struct NetworkInterface {  // awsvpc: the task's own interface
  std::string attachment_id;
  std::string private_ipv4_address;
};
struct AttachmentDetail {
  std::string name;
  std::string value;
};
struct Attachment {  // awsvpc: ECS's ElasticNetworkInterface attachment
  std::string id;
  std::string type;
  std::string status;  // as reported; "DELETED" once the task is STOPPED
  std::vector<AttachmentDetail> details;
};

// What is kept of a node's report: entries per list, bytes per string.
inline constexpr size_t kMaxReportedEntries = 100;
inline constexpr size_t kMaxReportedStringBytes = 256;

// The well-formed entries of a reported list in ECS's JSON shape, in order,
// at most kMaxReportedEntries. The node is only semi-trusted, so nothing here
// fails: a value that is not a list gives none, and an entry is dropped
// unless it is an object with every member above (an attachment's details
// may be absent) of the right JSON type, ports in range, protocol "tcp" or
// "udp", and strings of at most kMaxReportedStringBytes; members not listed
// are not kept. Also how the stored form is read.
std::vector<NetworkBinding> NetworkBindingsFrom(const Json& reported);
std::vector<NetworkInterface> NetworkInterfacesFrom(const Json& reported);
std::vector<Attachment> AttachmentsFrom(const Json& reported);

struct Container {
  std::string arn;
  std::string name;
  std::string image;
  ContainerStatus status = ContainerStatus::kPending;
  std::string runtime_id;  // as the node reported it; empty until then
  std::optional<int64_t> exit_code;
  std::string reason;
  std::vector<ManagedAgent> managed_agents;
  std::vector<NetworkBinding> network_bindings;      // as last reported; kept once STOPPED
  std::vector<NetworkInterface> network_interfaces;  // as last reported

  ManagedAgent* ExecAgent();
  const ManagedAgent* ExecAgent() const;
  // Every managed agent takes `status` and `reason` (RUNNING also stamps `now`).
  void SetAgents(ContainerStatus status, const std::string& reason, double now);
};

struct Task {
  // Identity: the id (the ARN's last segment) and the cluster's name.
  std::string id;
  std::string cluster_name;
  std::string arn;
  std::string cluster_arn;
  std::string task_definition_arn;
  std::string container_instance_arn;
  std::string instance_id;  // the container instance it is placed on
  TaskStatus last_status = TaskStatus::kProvisioning;
  TaskStatus desired_status = TaskStatus::kRunning;
  bool enable_execute_command = false;
  std::string launch_type = "EC2";
  std::string group;
  std::optional<std::string> started_by;
  std::optional<std::string> cpu, memory;
  Json overrides = Json::object();  // {"containerOverrides": [...], ...} as RunTask took them
  Json tags = Json::array();        // [{"key","value"}]
  std::vector<Container> containers;
  std::vector<Attachment> attachments;  // as last reported
  int64_t version = 1;
  double created_at = 0;
  std::optional<double> started_at, stopping_at, stopped_at;
  std::string stopped_reason;
  std::string stop_code;
  // Internal: who started it, its service deployment, and its exec agents'
  // credentials (sealed).
  std::string started_by_principal;
  std::string deployment_id;
  Json agent_credentials_sealed;  // null when none were issued

  bool Stopped() const { return last_status == TaskStatus::kStopped; }
  Container* FindContainer(std::string_view name);
  const Container* FindContainer(std::string_view name) const;
  // lastStatus STOPPED with ECS's stop fields (a reason and code already set
  // win); attachments become DELETED, as ECS shows a stopped task's.
  void MarkStopped(const std::string& reason, const std::string& stop_code, double now);
};

// The stored form, and back. FromStored is total: members missing or of the
// wrong type take their defaults (records written by older versions load).
Json ToStored(const Task& task);
Task TaskFromStored(const Json& stored);
// What DescribeTasks shows (no internal members); tags only when asked.
Json PublicView(const Task& task, bool with_tags);

}  // namespace porthole::model
