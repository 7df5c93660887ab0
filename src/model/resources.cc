#include "model/resources.h"
#include "model/stored_fields.h"
#include "common/ecs_network_modes.h"

namespace porthole::model {

namespace {

using namespace stored;

ResourceStatus StatusOf(const Json& j) {
  return ParseResourceStatus(Str(j, "status")).value_or(ResourceStatus::kActive);
}
Json WithoutInternal(const Json& stored) {
  Json out = Json::object();
  for (auto it = stored.begin(); it != stored.end(); ++it)
    if (it.key().empty() || it.key()[0] != '_') out[it.key()] = it.value();
  return out;
}

}  // namespace

std::string_view ResourceStatusName(ResourceStatus status) {
  return status == ResourceStatus::kActive ? "ACTIVE" : "INACTIVE";
}
std::optional<ResourceStatus> ParseResourceStatus(std::string_view name) {
  if (name == "ACTIVE") return ResourceStatus::kActive;
  if (name == "INACTIVE") return ResourceStatus::kInactive;
  return std::nullopt;
}

// ---------------------------------------------------------------- clusters

Json ToStored(const Cluster& c) {
  Json out = {{"clusterArn", c.arn},
              {"clusterName", c.name},
              {"status", ResourceStatusName(c.status)},
              {"statistics", Json::array()},
              {"tags", c.tags},
              {"settings", c.settings},
              {"capacityProviders", Json::array()},
              {"defaultCapacityProviderStrategy", Json::array()}};
  if (!c.configuration.is_null()) out["configuration"] = c.configuration;
  return out;
}

Cluster ClusterFromStored(const Json& j) {
  Cluster c;
  c.name = Str(j, "clusterName");
  c.arn = Str(j, "clusterArn");
  c.status = StatusOf(j);
  c.tags = ArrayOr(j, "tags");
  c.settings = ArrayOr(j, "settings");
  c.configuration = ValueOrNull(j, "configuration");
  return c;
}

// ---------------------------------------------------------------- task definitions

Json ToStored(const TaskDefinition& d) {
  Json out = {{"taskDefinitionArn", d.arn},
              {"family", d.family},
              {"revision", d.revision},
              {"status", ResourceStatusName(d.status)},
              {"containerDefinitions", d.container_definitions},
              {"volumes", d.volumes},
              {"placementConstraints", Json::array()},
              {"compatibilities", Json::array({"EC2", "EXTERNAL"})},
              {"requiresAttributes", Json::array()},
              {"registeredAt", d.registered_at},
              {"networkMode", d.network_mode},
              {"_tags", d.tags}};
  if (!d.task_role_arn.empty()) out["taskRoleArn"] = d.task_role_arn;
  if (!d.execution_role_arn.empty()) out["executionRoleArn"] = d.execution_role_arn;
  if (d.cpu) out["cpu"] = *d.cpu;
  if (d.memory) out["memory"] = *d.memory;
  if (d.pid_mode) out["pidMode"] = *d.pid_mode;
  if (d.ipc_mode) out["ipcMode"] = *d.ipc_mode;
  if (!d.requires_compatibilities.is_null()) out["requiresCompatibilities"] = d.requires_compatibilities;
  if (!d.runtime_platform.is_null()) out["runtimePlatform"] = d.runtime_platform;
  if (d.deregistered_at) out["deregisteredAt"] = *d.deregistered_at;
  return out;
}

TaskDefinition TaskDefinitionFromStored(const Json& j) {
  TaskDefinition d;
  d.family = Str(j, "family");
  d.revision = static_cast<int>(Int(j, "revision"));
  d.arn = Str(j, "taskDefinitionArn");
  d.status = StatusOf(j);
  d.container_definitions = ArrayOr(j, "containerDefinitions");
  d.volumes = ArrayOr(j, "volumes");
  d.task_role_arn = Str(j, "taskRoleArn");
  d.execution_role_arn = Str(j, "executionRoleArn");
  d.network_mode = Str(j, "networkMode", std::string(NetworkModeName(kDefaultNetworkMode)));
  d.cpu = OptStr(j, "cpu");
  d.memory = OptStr(j, "memory");
  d.pid_mode = OptStr(j, "pidMode");
  d.ipc_mode = OptStr(j, "ipcMode");
  d.requires_compatibilities = ValueOrNull(j, "requiresCompatibilities");
  d.runtime_platform = ValueOrNull(j, "runtimePlatform");
  d.registered_at = Num(j, "registeredAt");
  d.deregistered_at = OptNum(j, "deregisteredAt");
  d.tags = ArrayOr(j, "_tags");
  return d;
}

Json PublicView(const TaskDefinition& d) { return WithoutInternal(ToStored(d)); }

// ---------------------------------------------------------------- services

std::string Service::PrimaryDeployment() const {
  return Active() && !deployments.empty() ? deployments.front().id : "";
}

Json ToStored(const Service& s) {
  Json deployments = Json::array();
  for (const auto& d : s.deployments)
    deployments.push_back({{"id", d.id},
                           {"status", d.status},
                           {"taskDefinition", d.task_definition},
                           {"desiredCount", d.desired_count},
                           {"createdAt", d.created_at}});
  return Json{{"serviceArn", s.arn},
              {"serviceName", s.name},
              {"clusterArn", s.cluster_arn},
              {"taskDefinition", s.task_definition},
              {"desiredCount", s.desired_count},
              {"runningCount", s.running_count},
              {"pendingCount", s.pending_count},
              {"status", ResourceStatusName(s.status)},
              {"launchType", s.launch_type},
              {"enableExecuteCommand", s.enable_execute_command},
              {"schedulingStrategy", "REPLICA"},
              {"createdAt", s.created_at},
              {"createdBy", s.created_by},
              {"tags", s.tags},
              {"deployments", deployments},
              {"events", Json::array()}};
}

Service ServiceFromStored(const Json& j) {
  Service s;
  s.name = Str(j, "serviceName");
  s.arn = Str(j, "serviceArn");
  s.cluster_arn = Str(j, "clusterArn");
  s.cluster_name = s.cluster_arn.substr(s.cluster_arn.rfind('/') + 1);
  s.task_definition = Str(j, "taskDefinition");
  s.desired_count = Int(j, "desiredCount");
  s.running_count = Int(j, "runningCount");
  s.pending_count = Int(j, "pendingCount");
  s.status = StatusOf(j);
  s.launch_type = Str(j, "launchType", "EC2");
  s.enable_execute_command = Bool(j, "enableExecuteCommand");
  s.created_at = Num(j, "createdAt");
  s.created_by = Str(j, "createdBy");
  s.tags = ArrayOr(j, "tags");
  for (const auto& d : ArrayOr(j, "deployments"))
    s.deployments.push_back(
        {Str(d, "id"), Str(d, "status"), Str(d, "taskDefinition"), Int(d, "desiredCount"), Num(d, "createdAt")});
  return s;
}

// ---------------------------------------------------------------- container instances

Json ToStored(const ContainerInstance& i) {
  return Json{{"containerInstanceArn", i.arn},
              {"status", ResourceStatusName(i.status)},
              {"agentConnected", i.agent_connected},
              {"hostname", i.hostname},
              {"versionInfo", {{"agentVersion", PORTHOLE_VERSION}, {"dockerVersion", i.runtime_version}}},
              {"registeredAt", i.registered_at},
              {"_lastSeen", i.last_seen},
              {"_address", i.address},
              {"_registeredBy", i.registered_by}};
}

ContainerInstance ContainerInstanceFromStored(const Json& j) {
  ContainerInstance i;
  i.arn = Str(j, "containerInstanceArn");
  i.id = i.arn.substr(i.arn.rfind('/') + 1);
  i.status = StatusOf(j);
  i.agent_connected = Bool(j, "agentConnected");
  i.hostname = Str(j, "hostname");
  i.runtime_version = Str(j.is_object() ? j.value("versionInfo", Json::object()) : Json(), "dockerVersion");
  i.registered_at = Num(j, "registeredAt");
  i.last_seen = Num(j, "_lastSeen");
  i.address = Str(j, "_address");
  i.registered_by = Str(j, "_registeredBy");
  return i;
}

// ---------------------------------------------------------------- sessions

std::string_view SessionStatusName(SessionStatus status) {
  switch (status) {
    case SessionStatus::kConnecting: return "Connecting";
    case SessionStatus::kConnected: return "Connected";
    case SessionStatus::kDisconnected: return "Disconnected";
    case SessionStatus::kTerminated: return "Terminated";
  }
  return "Terminated";
}

Json ToStored(const Session& s) {
  Json out = {{"SessionId", s.id},
              {"Target", s.target},
              {"Status", SessionStatusName(s.status)},
              {"StartDate", s.start_date},
              {"Owner", s.owner_arn},
              {"_owner", s.owner_identity},
              {"Reason", s.reason},
              {"taskArn", s.task_arn},
              {"containerName", s.container_name},
              {"command", s.command}};
  if (s.end_date) out["EndDate"] = *s.end_date;
  return out;
}

Session SessionFromStored(const Json& j) {
  Session s;
  s.id = Str(j, "SessionId");
  s.target = Str(j, "Target");
  std::string status = Str(j, "Status");
  for (SessionStatus candidate : {SessionStatus::kConnecting, SessionStatus::kConnected, SessionStatus::kDisconnected,
                                  SessionStatus::kTerminated})
    if (SessionStatusName(candidate) == status) s.status = candidate;
  s.start_date = Num(j, "StartDate");
  s.end_date = OptNum(j, "EndDate");
  s.owner_arn = Str(j, "Owner");
  s.owner_identity = Str(j, "_owner");
  s.reason = Str(j, "Reason");
  s.task_arn = Str(j, "taskArn");
  s.task_id = s.task_arn.substr(s.task_arn.rfind('/') + 1);
  s.container_name = Str(j, "containerName");
  s.command = Str(j, "command");
  return s;
}

Json PublicView(const Session& s) {
  Json out = {{"SessionId", s.id},
              {"Target", s.target},
              {"Status", SessionStatusName(s.status)},
              {"StartDate", s.start_date},
              {"Owner", s.owner_arn}};
  if (s.end_date) out["EndDate"] = *s.end_date;
  if (!s.reason.empty()) out["Reason"] = s.reason;
  return out;
}

}  // namespace porthole::model
