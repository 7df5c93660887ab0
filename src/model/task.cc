#include "model/task.h"
#include "model/stored_fields.h"

#include <array>
#include <utility>

namespace porthole::model {

namespace {

using namespace stored;

constexpr std::array<std::pair<TaskStatus, std::string_view>, 4> kTaskStatuses = {{
    {TaskStatus::kProvisioning, "PROVISIONING"},
    {TaskStatus::kPending, "PENDING"},
    {TaskStatus::kRunning, "RUNNING"},
    {TaskStatus::kStopped, "STOPPED"},
}};
constexpr std::array<std::pair<ContainerStatus, std::string_view>, 3> kContainerStatuses = {{
    {ContainerStatus::kPending, "PENDING"},
    {ContainerStatus::kRunning, "RUNNING"},
    {ContainerStatus::kStopped, "STOPPED"},
}};

template <class Status>
Status StatusOr(const Json& j, const char* member, std::optional<Status> (*parse)(std::string_view), Status fallback) {
  auto parsed = parse(Str(j, member));
  return parsed ? *parsed : fallback;
}
Json AgentToJson(const ManagedAgent& a) {
  Json out = {{"name", a.name}, {"lastStatus", ContainerStatusName(a.status)}};
  if (!a.reason.empty()) out["reason"] = a.reason;
  if (a.last_started_at) out["lastStartedAt"] = *a.last_started_at;
  return out;
}

// A member of a reported entry, when it is there with the right type and bounds.
bool ReportedString(const Json& entry, const char* member, std::string* out) {
  const Json* m = Member(entry, member);
  if (!m || !m->is_string() || m->get_ref<const std::string&>().size() > kMaxReportedStringBytes) return false;
  *out = m->get<std::string>();
  return true;
}
bool ReportedPort(const Json& entry, const char* member, int lowest, int* out) {
  const Json* m = Member(entry, member);
  if (!m || !m->is_number_integer()) return false;
  // (Unsigned apart: a huge unsigned value read as int64_t would wrap.)
  if (m->is_number_unsigned() && m->get<uint64_t>() > 65535) return false;
  int64_t port = m->get<int64_t>();
  if (port < lowest || port > 65535) return false;
  *out = static_cast<int>(port);
  return true;
}

template <class Entry>
std::vector<Entry> EntriesFrom(const Json& reported, std::optional<Entry> (*parse)(const Json&)) {
  std::vector<Entry> out;
  if (!reported.is_array()) return out;
  for (const auto& entry : reported) {
    if (out.size() == kMaxReportedEntries) break;
    if (auto parsed = parse(entry)) out.push_back(std::move(*parsed));
  }
  return out;
}

std::optional<NetworkBinding> BindingFrom(const Json& e) {
  NetworkBinding b;
  if (!ReportedString(e, "bindIP", &b.bind_ip) || !ReportedPort(e, "containerPort", 1, &b.container_port) ||
      !ReportedPort(e, "hostPort", 0, &b.host_port) || !ReportedString(e, "protocol", &b.protocol) ||
      (b.protocol != "tcp" && b.protocol != "udp"))
    return std::nullopt;
  return b;
}
std::optional<NetworkInterface> InterfaceFrom(const Json& e) {
  NetworkInterface i;
  if (!ReportedString(e, "attachmentId", &i.attachment_id) ||
      !ReportedString(e, "privateIpv4Address", &i.private_ipv4_address))
    return std::nullopt;
  return i;
}
std::optional<AttachmentDetail> DetailFrom(const Json& e) {
  AttachmentDetail d;
  if (!ReportedString(e, "name", &d.name) || !ReportedString(e, "value", &d.value)) return std::nullopt;
  return d;
}
std::optional<Attachment> AttachmentFrom(const Json& e) {
  Attachment a;
  if (!ReportedString(e, "id", &a.id) || !ReportedString(e, "type", &a.type) || !ReportedString(e, "status", &a.status))
    return std::nullopt;
  if (const Json* details = Member(e, "details")) {
    if (!details->is_array()) return std::nullopt;
    a.details = EntriesFrom(*details, DetailFrom);
  }
  return a;
}

Json BindingsToJson(const std::vector<NetworkBinding>& bindings) {
  Json out = Json::array();
  for (const auto& b : bindings)
    out.push_back({{"bindIP", b.bind_ip}, {"containerPort", b.container_port}, {"hostPort", b.host_port},
                   {"protocol", b.protocol}});
  return out;
}
Json InterfacesToJson(const std::vector<NetworkInterface>& interfaces) {
  Json out = Json::array();
  for (const auto& i : interfaces)
    out.push_back({{"attachmentId", i.attachment_id}, {"privateIpv4Address", i.private_ipv4_address}});
  return out;
}
Json AttachmentsToJson(const std::vector<Attachment>& attachments) {
  Json out = Json::array();
  for (const auto& a : attachments) {
    Json details = Json::array();
    for (const auto& d : a.details) details.push_back({{"name", d.name}, {"value", d.value}});
    out.push_back({{"id", a.id}, {"type", a.type}, {"status", a.status}, {"details", details}});
  }
  return out;
}

Json ContainerToJson(const Container& c, const std::string& task_arn) {
  Json agents = Json::array();
  for (const auto& a : c.managed_agents) agents.push_back(AgentToJson(a));
  Json out = {{"containerArn", c.arn},
              {"taskArn", task_arn},
              {"name", c.name},
              {"image", c.image},
              {"lastStatus", ContainerStatusName(c.status)},
              {"networkBindings", BindingsToJson(c.network_bindings)},
              {"networkInterfaces", InterfacesToJson(c.network_interfaces)},
              {"healthStatus", "UNKNOWN"},
              {"managedAgents", agents}};
  if (!c.runtime_id.empty()) out["runtimeId"] = c.runtime_id;
  if (c.exit_code) out["exitCode"] = *c.exit_code;
  if (!c.reason.empty()) out["reason"] = c.reason;
  return out;
}

}  // namespace

std::vector<NetworkBinding> NetworkBindingsFrom(const Json& reported) { return EntriesFrom(reported, BindingFrom); }
std::vector<NetworkInterface> NetworkInterfacesFrom(const Json& reported) { return EntriesFrom(reported, InterfaceFrom); }
std::vector<Attachment> AttachmentsFrom(const Json& reported) { return EntriesFrom(reported, AttachmentFrom); }

std::string_view TaskStatusName(TaskStatus status) {
  for (const auto& [s, name] : kTaskStatuses)
    if (s == status) return name;
  return "UNKNOWN";
}
std::optional<TaskStatus> ParseTaskStatus(std::string_view name) {
  for (const auto& [s, n] : kTaskStatuses)
    if (n == name) return s;
  return std::nullopt;
}
std::string_view ContainerStatusName(ContainerStatus status) {
  for (const auto& [s, name] : kContainerStatuses)
    if (s == status) return name;
  return "UNKNOWN";
}
std::optional<ContainerStatus> ParseContainerStatus(std::string_view name) {
  for (const auto& [s, n] : kContainerStatuses)
    if (n == name) return s;
  return std::nullopt;
}

ManagedAgent* Container::ExecAgent() {
  for (auto& a : managed_agents)
    if (a.name == kExecuteCommandAgent) return &a;
  return nullptr;
}
const ManagedAgent* Container::ExecAgent() const { return const_cast<Container*>(this)->ExecAgent(); }

void Container::SetAgents(ContainerStatus status, const std::string& reason, double now) {
  for (auto& a : managed_agents) {
    a.status = status;
    a.reason = reason;
    if (status == ContainerStatus::kRunning) a.last_started_at = now;
  }
}

Container* Task::FindContainer(std::string_view name) {
  for (auto& c : containers)
    if (c.name == name) return &c;
  return nullptr;
}
const Container* Task::FindContainer(std::string_view name) const { return const_cast<Task*>(this)->FindContainer(name); }

void Task::MarkStopped(const std::string& reason, const std::string& code, double now) {
  last_status = TaskStatus::kStopped;
  desired_status = TaskStatus::kStopped;
  if (stopped_reason.empty()) stopped_reason = reason;
  if (stop_code.empty()) stop_code = code;
  if (!stopping_at) stopping_at = now;
  stopped_at = now;
  for (auto& c : containers) {
    c.status = ContainerStatus::kStopped;
    for (auto& a : c.managed_agents) a.status = ContainerStatus::kStopped;
  }
  for (auto& a : attachments) a.status = "DELETED";
  version++;
  agent_credentials_sealed = nullptr;  // a stopped task's agent credentials die with it
}

Json ToStored(const Task& t) {
  Json containers = Json::array();
  for (const auto& c : t.containers) containers.push_back(ContainerToJson(c, t.arn));
  Json out = {{"taskArn", t.arn},
              {"clusterArn", t.cluster_arn},
              {"taskDefinitionArn", t.task_definition_arn},
              {"containerInstanceArn", t.container_instance_arn},
              {"lastStatus", TaskStatusName(t.last_status)},
              {"desiredStatus", TaskStatusName(t.desired_status)},
              {"enableExecuteCommand", t.enable_execute_command},
              {"launchType", t.launch_type},
              {"createdAt", t.created_at},
              {"group", t.group},
              {"containers", containers},
              {"overrides", t.overrides},
              {"tags", t.tags},
              {"attachments", AttachmentsToJson(t.attachments)},
              {"connectivity", "CONNECTED"},
              {"version", t.version},
              {"_instanceId", t.instance_id},
              {"_startedByPrincipal", t.started_by_principal}};
  if (t.started_by) out["startedBy"] = *t.started_by;
  if (t.cpu) out["cpu"] = *t.cpu;
  if (t.memory) out["memory"] = *t.memory;
  if (t.started_at) {
    out["startedAt"] = *t.started_at;
    out["pullStartedAt"] = *t.started_at;
    out["pullStoppedAt"] = *t.started_at;
  }
  if (t.stopping_at) out["stoppingAt"] = *t.stopping_at;
  if (t.stopped_at) {
    out["stoppedAt"] = *t.stopped_at;
    out["executionStoppedAt"] = *t.stopped_at;
  }
  if (!t.stopped_reason.empty()) out["stoppedReason"] = t.stopped_reason;
  if (!t.stop_code.empty()) out["stopCode"] = t.stop_code;
  if (!t.deployment_id.empty()) out["_deploymentId"] = t.deployment_id;
  if (!t.agent_credentials_sealed.is_null()) out["_agentCredentials"] = t.agent_credentials_sealed;
  return out;
}

Task TaskFromStored(const Json& j) {
  Task t;
  if (!j.is_object()) return t;
  t.arn = Str(j, "taskArn");
  // task/<cluster>/<id>
  std::string rest = t.arn.substr(t.arn.find(":task/") == std::string::npos ? t.arn.size() : t.arn.find(":task/") + 6);
  t.cluster_name = rest.substr(0, rest.find('/'));
  t.id = rest.substr(rest.rfind('/') + 1);
  t.cluster_arn = Str(j, "clusterArn");
  t.task_definition_arn = Str(j, "taskDefinitionArn");
  t.container_instance_arn = Str(j, "containerInstanceArn");
  t.instance_id = Str(j, "_instanceId");
  t.last_status = StatusOr(j, "lastStatus", ParseTaskStatus, TaskStatus::kProvisioning);
  t.desired_status = StatusOr(j, "desiredStatus", ParseTaskStatus, TaskStatus::kRunning);
  t.enable_execute_command = Bool(j, "enableExecuteCommand");
  t.launch_type = Str(j, "launchType", "EC2");
  t.group = Str(j, "group");
  t.started_by = OptStr(j, "startedBy");
  t.cpu = OptStr(j, "cpu");
  t.memory = OptStr(j, "memory");
  t.overrides = j.contains("overrides") && j["overrides"].is_object() ? j["overrides"] : Json::object();
  t.tags = ArrayOr(j, "tags");
  t.version = Int(j, "version", 1);
  t.created_at = OptNum(j, "createdAt").value_or(0);
  t.started_at = OptNum(j, "startedAt");
  t.stopping_at = OptNum(j, "stoppingAt");
  t.stopped_at = OptNum(j, "stoppedAt");
  t.stopped_reason = Str(j, "stoppedReason");
  t.stop_code = Str(j, "stopCode");
  t.started_by_principal = Str(j, "_startedByPrincipal");
  t.deployment_id = Str(j, "_deploymentId");
  if (j.contains("_agentCredentials")) t.agent_credentials_sealed = j["_agentCredentials"];
  t.attachments = AttachmentsFrom(ValueOrNull(j, "attachments"));
  for (const auto& cj : ArrayOr(j, "containers")) {
    if (!cj.is_object()) continue;
    Container c;
    c.arn = Str(cj, "containerArn");
    c.name = Str(cj, "name");
    c.image = Str(cj, "image");
    c.status = StatusOr(cj, "lastStatus", ParseContainerStatus, ContainerStatus::kPending);
    c.runtime_id = Str(cj, "runtimeId");
    if (const Json* code = Member(cj, "exitCode"); code && code->is_number_integer()) c.exit_code = code->get<int64_t>();
    c.reason = Str(cj, "reason");
    for (const auto& aj : ArrayOr(cj, "managedAgents")) {
      if (!aj.is_object()) continue;
      ManagedAgent a;
      a.name = Str(aj, "name", std::string(kExecuteCommandAgent));
      a.status = StatusOr(aj, "lastStatus", ParseContainerStatus, ContainerStatus::kPending);
      a.reason = Str(aj, "reason");
      a.last_started_at = OptNum(aj, "lastStartedAt");
      c.managed_agents.push_back(std::move(a));
    }
    c.network_bindings = NetworkBindingsFrom(ValueOrNull(cj, "networkBindings"));
    c.network_interfaces = NetworkInterfacesFrom(ValueOrNull(cj, "networkInterfaces"));
    t.containers.push_back(std::move(c));
  }
  return t;
}

Json PublicView(const Task& task, bool with_tags) {
  Json stored = ToStored(task);
  Json out = Json::object();
  for (auto it = stored.begin(); it != stored.end(); ++it)
    if (it.key().empty() || it.key()[0] != '_') out[it.key()] = it.value();
  if (!with_tags) out.erase("tags");
  return out;
}

}  // namespace porthole::model
