// The ECS operations. Shapes and error texts follow the ECS API
// (shared/protocol/session-data-channel.md §1.1, shared/ecs-exec.md).
#include <algorithm>
#include <charconv>
#include <array>
#include <cctype>
#include <set>
#include <utility>

#include "api/control_plane.h"
#include "api/ecs_text.h"
#include "common/arn.h"
#include "common/ecs_network_modes.h"
#include "common/ecs_ulimits.h"
#include "common/ids.h"
#include "common/linux_capabilities.h"
#include "common/log.h"

namespace porthole::api {

namespace {

const std::vector<std::string> kContainerStringMembers = {"name", "image", "user", "workingDirectory", "hostname"};

// ECS's network modes for the EC2 launch type; a definition that names none is bridge.
constexpr size_t kMaxPortMappings = 100;

// The port number `member` of a port mapping, when present: an integer in [lowest, 65535].
Result<std::optional<int>> PortMappingPort(const Json& mapping, const char* member, int lowest) {
  auto it = mapping.find(member);
  if (it == mapping.end()) return std::optional<int>();
  const Json& v = *it;
  // (Unsigned apart: a huge unsigned value read as int64_t would wrap.)
  bool in_range = v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > 65535) &&
                  v.get<int64_t>() >= lowest && v.get<int64_t>() <= 65535;
  if (!in_range)
    return MakeError("ClientException", std::string("Container.portMappings.") + member + " must be an integer between " +
                                            std::to_string(lowest) + " and 65535.");
  return std::optional<int>(v.get<int>());
}

// Validates one container's portMappings under `network_mode` (ECS's rules
// for the EC2 launch type) and returns them as stored: ECS's members only,
// protocol lowercase ("tcp" when not given), hostPort only when given (0 or
// absent in bridge mode: the node chooses one). Mappings of different
// containers are checked against each other by CheckHostPortsUnique.
Result<Json> NormalizePortMappings(const Json& mappings, const std::string& network_mode) {
  if (!mappings.is_array()) return MakeError("ClientException", "Container.portMappings must be a list of port mappings.");
  if (mappings.size() > kMaxPortMappings)
    return MakeError("ClientException", "Too many port mappings: at most 100 are allowed per container.");
  if (network_mode == "none" && !mappings.empty())
    return MakeError("ClientException", "Port mappings are not valid when networkMode=none: the task has no network.");
  Json out = Json::array();
  for (const auto& m : mappings) {
    if (!m.is_object()) return MakeError("ClientException", "Container.portMappings entries must be structures.");
    if (m.contains("containerPortRange"))
      return MakeError("ClientException", "Container.portMappings.containerPortRange is not supported: map each port.");
    if (!m.contains("containerPort"))
      return MakeError("ClientException", "Container.portMappings.containerPort should not be null.");
    PORTHOLE_TRY_ASSIGN(container_port, PortMappingPort(m, "containerPort", 1));
    PORTHOLE_TRY_ASSIGN(host_port, PortMappingPort(m, "hostPort", 0));
    std::string protocol = "tcp";
    if (m.contains("protocol")) {
      if (!m["protocol"].is_string()) return MakeError("ClientException", "Container.portMappings.protocol must be tcp or udp.");
      protocol = m["protocol"].get<std::string>();
      for (char& ch : protocol) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (protocol != "tcp" && protocol != "udp")
        return MakeError("ClientException", "Container.portMappings.protocol must be tcp or udp, not \"" +
                                                m["protocol"].get<std::string>().substr(0, 32) + "\".");
    }
    if ((network_mode == "awsvpc" || network_mode == "host") && host_port && *host_port != *container_port)
      return MakeError("ClientException", "When networkMode=" + network_mode +
                                              ", the host ports and container ports in port mappings must match.");
    Json normalized = {{"containerPort", *container_port}, {"protocol", protocol}};
    if (host_port) normalized["hostPort"] = *host_port;
    for (const char* member : {"name", "appProtocol"}) {
      if (!m.contains(member)) continue;
      if (!m[member].is_string())
        return MakeError("ClientException", std::string("Container.portMappings.") + member + " must be a string.");
      normalized[member] = m[member];
    }
    out.push_back(std::move(normalized));
  }
  return out;
}

// A host port and protocol is published at most once per task: the node
// could not bind it twice. In awsvpc and host mode a mapping's host port is
// its container port; in bridge mode host port 0 (or none) is the node's choice.
Status CheckHostPortsUnique(const Json& containers, const std::string& network_mode) {
  std::set<std::pair<int, std::string>> published;
  for (const auto& c : containers)
    for (const auto& m : c["portMappings"]) {
      int host_port = m.value("hostPort", 0);
      if (network_mode != "bridge") host_port = m["containerPort"].get<int>();
      if (host_port == 0) continue;
      const std::string protocol = m["protocol"];
      if (!published.insert({host_port, protocol}).second)
        return MakeError("ClientException", "Container.portMappings: host port " + std::to_string(host_port) + "/" +
                                                protocol + " is mapped more than once in the task definition.");
    }
  return OkStatus();
}

// CreateCluster's settings: ECS's containerInsights, and Porthole's own caps
// on every exec session's control group (node/cgroups.h), which ECS would
// refuse as unknown names:
//   porthole:sessionMemory  MiB a session's processes may use together
//   porthole:sessionCpu     CPU units (1024 = one CPU) they may use together
constexpr int64_t kMinSessionMemoryMib = 6, kMinSessionCpuUnits = 1, kMaxSessionCap = 1 << 24;

Error SessionCapError(const std::string& name, bool memory) {
  return MakeError("InvalidParameterException",
                   name + " must be a whole number of " + (memory ? "MiB, at least 6." : "CPU units, at least 1."));
}

Status ValidateClusterSettings(const Json& settings) {
  for (const auto& setting : settings) {
    if (!setting.is_object() || !setting.contains("name") || !setting["name"].is_string() ||
        !setting.contains("value") || !setting["value"].is_string())
      return MakeError("InvalidParameterException", "Cluster settings need a string name and value.");
    const std::string name = setting["name"], value = setting["value"];
    if (name == "containerInsights") {
      if (value != "enabled" && value != "disabled" && value != "enhanced")
        return MakeError("InvalidParameterException", "containerInsights must be enabled, disabled or enhanced.");
      continue;
    }
    if (name != "porthole:sessionMemory" && name != "porthole:sessionCpu")
      return MakeError("InvalidParameterException",
                       "Unknown cluster setting " + name.substr(0, 64) +
                           ": valid names are containerInsights, porthole:sessionMemory and porthole:sessionCpu.");
    const bool memory = name == "porthole:sessionMemory";
    const int64_t low = memory ? kMinSessionMemoryMib : kMinSessionCpuUnits;
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc() || end != value.data() + value.size() || parsed < low || parsed > kMaxSessionCap)
      return SessionCapError(name, memory);
  }
  return OkStatus();
}

bool IsIntegerIn(const Json& v, int64_t low, int64_t high) {
  return v.is_number_integer() && v.get<int64_t>() >= low && v.get<int64_t>() <= high;
}

// cpu, memory, memoryReservation, ulimits, linuxParameters.sharedMemorySize
// and .tmpfs, as ECS checks them.
Status ValidateContainerLimits(const Json& c) {
  const std::string name = c.value("name", "");
  if (c.contains("cpu") && !IsIntegerIn(c["cpu"], 0, 10 * 1024))
    return MakeError("ClientException",
                     "Invalid 'cpu' setting for container '" + name + "': an integer of CPU units (1024 = one vCPU).");
  for (const char* member : {"memory", "memoryReservation"})
    if (c.contains(member) && !IsIntegerIn(c[member], 6, 1 << 24))
      return MakeError("ClientException", std::string("Invalid '") + member + "' setting for container '" + name +
                                              "'. The memory must be at least 6 MiB (an integer of MiB).");
  if (c.contains("memory") && c.contains("memoryReservation") &&
      c["memoryReservation"].get<int64_t>() > c["memory"].get<int64_t>())
    return MakeError("ClientException", "Invalid setting for container '" + name +
                                            "'. The memory reservation must be less than or equal to memory.");
  if (c.contains("ulimits")) {
    if (!c["ulimits"].is_array() || c["ulimits"].size() > 16)
      return MakeError("ClientException", "Container.ulimits must be a list of at most 16 ulimits.");
    for (const auto& u : c["ulimits"]) {
      if (!u.is_object() || !u.contains("name") || !u["name"].is_string() || !IsEcsUlimitName(u["name"].get<std::string>()))
        return MakeError("ClientException", "Container.ulimits.name must be one of core, cpu, data, fsize, locks, "
                                            "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, "
                                            "stack.");
      if (!IsIntegerIn(u.value("softLimit", Json()), 0, INT64_MAX) ||
          !IsIntegerIn(u.value("hardLimit", Json()), 0, INT64_MAX))
        return MakeError("ClientException", "Container.ulimits: softLimit and hardLimit must be non-negative integers.");
      if (u["softLimit"].get<int64_t>() > u["hardLimit"].get<int64_t>())
        return MakeError("ClientException", "Container.ulimits " + u["name"].get<std::string>() +
                                                ": softLimit must not be above hardLimit.");
    }
  }
  const Json lp = c.value("linuxParameters", Json::object());
  if (!lp.is_object()) return OkStatus();  // reported by the caller
  if (lp.contains("sharedMemorySize") && !IsIntegerIn(lp["sharedMemorySize"], 1, 1 << 20))
    return MakeError("ClientException", "linuxParameters.sharedMemorySize must be a positive integer of MiB.");
  if (lp.contains("tmpfs")) {
    if (!lp["tmpfs"].is_array() || lp["tmpfs"].size() > 32)
      return MakeError("ClientException", "linuxParameters.tmpfs must be a list of at most 32 mounts.");
    for (const auto& t : lp["tmpfs"]) {
      if (!t.is_object() || !t.contains("containerPath") || !t["containerPath"].is_string() ||
          t["containerPath"].get<std::string>().empty() || t["containerPath"].get<std::string>()[0] != '/')
        return MakeError("ClientException", "linuxParameters.tmpfs.containerPath must be an absolute path.");
      if (!IsIntegerIn(t.value("size", Json()), 1, 1 << 20))
        return MakeError("ClientException", "linuxParameters.tmpfs.size must be a positive integer of MiB.");
      for (const auto& o : t.value("mountOptions", Json::array()))
        if (!o.is_string() || o.get<std::string>().empty() || o.get<std::string>().find(',') != std::string::npos)
          return MakeError("ClientException", "linuxParameters.tmpfs.mountOptions must be a list of mount options.");
    }
  }
  return OkStatus();
}

// Validates one container definition under the task's `network_mode` and fills ECS's defaults.
Result<Json> NormalizeContainerDefinition(const Json& in, const std::string& network_mode) {
  if (!in.is_object()) return MakeError("ClientException", "Container definitions must be structures.");
  Json c = in;
  for (const auto& m : kContainerStringMembers)
    if (c.contains(m) && !c[m].is_string()) return MakeError("ClientException", "Container." + m + " must be a string.");
  if (!c.contains("name")) return MakeError("ClientException", "Container.name should not be null or empty.");
  PORTHOLE_TRY(ValidateContainerName(c["name"].get<std::string>()));
  if (!c.contains("image") || c["image"].get<std::string>().empty())
    return MakeError("ClientException", "Container.image should not be null or empty.");
  for (const char* list : {"command", "entryPoint"}) {
    if (!c.contains(list)) continue;
    if (!c[list].is_array()) return MakeError("ClientException", std::string("Container.") + list + " must be a list of strings.");
    for (const auto& v : c[list])
      if (!v.is_string()) return MakeError("ClientException", std::string("Container.") + list + " must be a list of strings.");
  }
  if (c.contains("environment")) {
    if (!c["environment"].is_array()) return MakeError("ClientException", "Container.environment must be a list.");
    for (const auto& kv : c["environment"])
      if (!kv.is_object() || !kv.contains("name") || !kv["name"].is_string() ||
          (kv.contains("value") && !kv["value"].is_string()))
        return MakeError("ClientException", "Container.environment entries need a string name and value.");
  }
  for (const char* flag : {"essential", "readonlyRootFilesystem"})
    if (c.contains(flag) && !c[flag].is_boolean())
      return MakeError("ClientException", std::string("Container.") + flag + " must be a boolean.");
  if (c.contains("linuxParameters")) {
    if (!c["linuxParameters"].is_object()) return MakeError("ClientException", "Container.linuxParameters must be a structure.");
    const Json& lp = c["linuxParameters"];
    if (lp.contains("initProcessEnabled") && !lp["initProcessEnabled"].is_boolean())
      return MakeError("ClientException", "linuxParameters.initProcessEnabled must be a boolean.");
    if (lp.contains("capabilities")) {
      const Json& caps = lp["capabilities"];
      if (!caps.is_object()) return MakeError("ClientException", "linuxParameters.capabilities must be a structure.");
      for (const char* list : {"add", "drop"}) {
        if (!caps.contains(list)) continue;
        if (!caps[list].is_array() || caps[list].size() > 64)
          return MakeError("ClientException", std::string("linuxParameters.capabilities.") + list +
                                                  " must be a list of at most 64 capability names.");
        for (const auto& name : caps[list]) {
          bool all = name.is_string() && (name == "ALL" || name == "all");
          if (!name.is_string() || (!all && !CanonicalCapability(name.get<std::string>())))
            return MakeError("ClientException",
                             std::string("linuxParameters.capabilities.") + list + ": " +
                                 (name.is_string() ? "\"" + name.get<std::string>().substr(0, 64) + "\"" : name.dump().substr(0, 64)) +
                                 " is not a Linux capability (e.g. SYS_PTRACE, NET_ADMIN, or ALL).");
        }
      }
    }
  }
  if (c.contains("portMappings")) {
    PORTHOLE_TRY_ASSIGN(mappings, NormalizePortMappings(c["portMappings"], network_mode));
    c["portMappings"] = std::move(mappings);
  }
  PORTHOLE_TRY(ValidateContainerLimits(c));
  if (!c.contains("essential")) c["essential"] = true;
  for (const char* list : {"portMappings", "environment", "mountPoints", "volumesFrom"})
    if (!c.contains(list)) c[list] = Json::array();
  return c;
}

}  // namespace

// ---------------------------------------------------------------- clusters

Result<Json> ControlPlane::CreateCluster(const Json& in, const std::string& name) {
  PORTHOLE_TRY(ExpectType(in, "configuration", Json::value_t::object));
  PORTHOLE_TRY(ExpectType(in, "settings", Json::value_t::array));
  PORTHOLE_TRY(ValidateClusterSettings(in.value("settings", Json::array())));
  PORTHOLE_TRY_ASSIGN(tags, ParseTags(in, "tags"));
  if (in.contains("configuration") && in["configuration"].contains("executeCommandConfiguration")) {
    PORTHOLE_TRY(ExpectType(in["configuration"], "executeCommandConfiguration", Json::value_t::object));
    const Json& ecc = in["configuration"]["executeCommandConfiguration"];
    PORTHOLE_TRY_ASSIGN(logging_opt, OptionalString(ecc, "logging"));
    std::string logging = logging_opt.value_or("DEFAULT");
    if (logging != "NONE" && logging != "DEFAULT" && logging != "OVERRIDE")
      return MakeError("InvalidParameterException", "executeCommandConfiguration.logging must be NONE, DEFAULT or OVERRIDE.");
    if (logging == "OVERRIDE" && !ecc.contains("logConfiguration"))
      return MakeError("InvalidParameterException",
                       "logConfiguration is required when executeCommandConfiguration.logging is OVERRIDE.");
  }
  PORTHOLE_TRY_ASSIGN(existing, clusters_.Get(name));
  if (existing && existing->Active()) return Json{{"cluster", ClusterView(*existing)}};  // ECS: CreateCluster is idempotent
  model::Cluster cluster;
  cluster.name = name;
  cluster.arn = ClusterArn(name);
  cluster.tags = tags;
  cluster.settings = in.value("settings", Json::array({{{"name", "containerInsights"}, {"value", "disabled"}}}));
  if (in.contains("configuration")) cluster.configuration = in["configuration"];
  PORTHOLE_TRY(clusters_.Put(cluster));
  log::Info("created cluster " + name);
  return Json{{"cluster", ClusterView(cluster)}};
}

Result<Json> ControlPlane::DescribeClusters(const Json& in, const std::vector<std::string>& names) {
  PORTHOLE_TRY_ASSIGN(include, StringList(in, "include"));
  bool with_tags = std::find(include.begin(), include.end(), "TAGS") != include.end();
  bool with_config = std::find(include.begin(), include.end(), "CONFIGURATIONS") != include.end();
  Json clusters = Json::array(), failures = Json::array();
  for (const auto& n : names) {
    std::string name = ClusterNameFrom(n);
    PORTHOLE_TRY_ASSIGN(cluster, clusters_.Get(name));
    if (!cluster) {
      failures.push_back({{"arn", n.rfind("arn:", 0) == 0 ? n : ClusterArn(name)}, {"reason", "MISSING"}});
      continue;
    }
    Json view = ClusterView(*cluster);
    if (!with_tags) view.erase("tags");
    if (!with_config) view.erase("configuration");
    clusters.push_back(view);
  }
  return Json{{"clusters", clusters}, {"failures", failures}};
}

Result<Json> ControlPlane::ListClusters(const Json& in) {
  PORTHOLE_TRY_ASSIGN(all, clusters_.List());
  Json arns = Json::array();
  for (const auto& c : all)
    if (c.Active()) arns.push_back(c.arn);
  return Json{{"clusterArns", arns}};
}

Result<Json> ControlPlane::DeleteCluster(const std::string& cluster_name) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(tasks, tasks_.InCluster(cluster.name));
  for (const auto& t : tasks)
    if (!t.Stopped())
      return MakeError("ClusterContainsTasksException",
                       "The Cluster cannot be deleted while Tasks are active.");
  cluster.status = model::ResourceStatus::kInactive;
  PORTHOLE_TRY(clusters_.Put(cluster));
  return Json{{"cluster", ClusterView(cluster)}};
}

// ---------------------------------------------------------------- task definitions

Result<Json> ControlPlane::RegisterTaskDefinition(const Json& in) {
  PORTHOLE_TRY_ASSIGN(family, RequiredString(in, "family"));
  PORTHOLE_TRY(ValidateFamilyName(family));
  PORTHOLE_TRY_ASSIGN(tags, ParseTags(in, "tags"));
  if (!in.contains("containerDefinitions") || !in["containerDefinitions"].is_array() ||
      in["containerDefinitions"].empty())
    return MakeError("ClientException", "Container list cannot be empty.");
  if (in["containerDefinitions"].size() > 10)
    return MakeError("ClientException", "Too many containers: at most 10 are allowed.");
  for (const char* s : {"taskRoleArn", "executionRoleArn", "networkMode", "cpu", "memory", "pidMode", "ipcMode"})
    if (in.contains(s) && !in[s].is_string()) return MakeError("ClientException", std::string(s) + " must be a string.");
  const std::string network_mode = StringOr(in, "networkMode", std::string(NetworkModeName(kDefaultNetworkMode)));
  if (!ParseNetworkMode(network_mode))
    return MakeError("ClientException", "Invalid networkMode: " + network_mode.substr(0, 64) +
                                            ". Valid values are bridge, host, awsvpc and none.");
  Json containers = Json::array();
  std::vector<std::string> names;
  bool any_essential = false;
  for (const auto& c : in["containerDefinitions"]) {
    PORTHOLE_TRY_ASSIGN(normalized, NormalizeContainerDefinition(c, network_mode));
    std::string name = normalized["name"];
    if (std::find(names.begin(), names.end(), name) != names.end())
      return MakeError("ClientException", "Duplicate container name: " + name + ".");
    names.push_back(name);
    any_essential = any_essential || normalized["essential"].get<bool>();
    containers.push_back(normalized);
  }
  if (!any_essential) return MakeError("ClientException", "At least one container must be essential.");
  PORTHOLE_TRY(CheckHostPortsUnique(containers, network_mode));

  if (in.contains("volumes") && !in["volumes"].is_array()) return MakeError("ClientException", "volumes must be a list.");
  model::TaskDefinition definition;
  definition.family = family;
  definition.container_definitions = containers;
  definition.volumes = in.value("volumes", Json::array());
  definition.task_role_arn = StringOr(in, "taskRoleArn");
  definition.execution_role_arn = StringOr(in, "executionRoleArn");
  definition.network_mode = network_mode;
  for (auto [member, field] : {std::pair{"cpu", &definition.cpu}, std::pair{"memory", &definition.memory},
                               std::pair{"pidMode", &definition.pid_mode}, std::pair{"ipcMode", &definition.ipc_mode}})
    if (in.contains(member)) *field = in[member].get<std::string>();
  if (in.contains("requiresCompatibilities")) definition.requires_compatibilities = in["requiresCompatibilities"];
  if (in.contains("runtimePlatform")) definition.runtime_platform = in["runtimePlatform"];
  definition.registered_at = EpochSeconds();
  definition.tags = tags;
  PORTHOLE_TRY(store_.Transaction([&]() -> Status {
    auto revisions = definitions_.List(family);
    if (!revisions) return revisions.error();
    definition.revision = 1;
    for (const auto& r : *revisions) definition.revision = std::max(definition.revision, r.revision + 1);
    definition.arn = porthole::TaskDefinitionArn(config_.region, config_.account_id, family, definition.revision);
    return definitions_.Put(definition);
  }));
  log::Info("registered task definition " + definition.Key());
  return Json{{"taskDefinition", model::PublicView(definition)}, {"tags", tags}};
}

Result<Json> ControlPlane::DescribeTaskDefinition(const Json& in, const model::TaskDefinition& definition) {
  PORTHOLE_TRY_ASSIGN(include, StringList(in, "include"));
  Json out = {{"taskDefinition", model::PublicView(definition)}};
  if (std::find(include.begin(), include.end(), "TAGS") != include.end()) out["tags"] = definition.tags;
  return out;
}

Result<Json> ControlPlane::ListTaskDefinitions(const Json& in) {
  PORTHOLE_TRY_ASSIGN(prefix, OptionalString(in, "familyPrefix"));
  PORTHOLE_TRY_ASSIGN(status, OptionalString(in, "status"));
  PORTHOLE_TRY_ASSIGN(sort, OptionalString(in, "sort"));
  std::string wanted = status.value_or("ACTIVE");
  if (wanted != "ACTIVE" && wanted != "INACTIVE" && wanted != "DELETE_IN_PROGRESS")
    return MakeError("InvalidParameterException", "status must be ACTIVE or INACTIVE.");
  PORTHOLE_TRY_ASSIGN(all, definitions_.List());
  std::vector<std::pair<std::pair<std::string, int>, std::string>> found;
  for (const auto& d : all) {
    if (model::ResourceStatusName(d.status) != wanted) continue;
    if (prefix && d.family.rfind(*prefix, 0) != 0) continue;
    found.push_back({{d.family, d.revision}, d.arn});
  }
  std::sort(found.begin(), found.end());
  if (sort.value_or("ASC") == "DESC") std::reverse(found.begin(), found.end());
  Json arns = Json::array();
  for (const auto& f : found) arns.push_back(f.second);
  return Json{{"taskDefinitionArns", arns}};
}

Result<Json> ControlPlane::DeregisterTaskDefinition(model::TaskDefinition definition) {
  definition.status = model::ResourceStatus::kInactive;
  definition.deregistered_at = EpochSeconds();
  PORTHOLE_TRY(definitions_.Put(definition));
  return Json{{"taskDefinition", model::PublicView(definition)}};
}

// ---------------------------------------------------------------- tasks

Result<Json> ControlPlane::RunTask(const Json& in, const Caller& caller, const std::string& cluster_name,
                                  const model::TaskDefinition& definition, bool start_task) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(count_opt, OptionalInt(in, "count"));
  PORTHOLE_TRY_ASSIGN(exec_opt, OptionalBool(in, "enableExecuteCommand"));
  PORTHOLE_TRY_ASSIGN(launch_type, OptionalString(in, "launchType"));
  PORTHOLE_TRY_ASSIGN(started_by, OptionalString(in, "startedBy"));
  PORTHOLE_TRY_ASSIGN(group, OptionalString(in, "group"));
  PORTHOLE_TRY_ASSIGN(tags, ParseTags(in, "tags"));
  PORTHOLE_TRY(ExpectType(in, "overrides", Json::value_t::object));
  int64_t count = count_opt.value_or(1);
  if (count < 1 || count > 10) return MakeError("InvalidParameterException", "count must be between 1 and 10.");
  // StartTask: one task on each named container instance.
  PORTHOLE_TRY_ASSIGN(requested_instances, StringList(in, "containerInstances"));
  if (start_task) {
    if (requested_instances.empty() || requested_instances.size() > 10)
      return MakeError("InvalidParameterException", "containerInstances must name 1 to 10 container instances.");
    count = static_cast<int64_t>(requested_instances.size());
  }
  if (!definition.Active())
    return MakeError("ClientException", "TaskDefinition is inactive");
  bool exec = exec_opt.value_or(false);

  Json overrides = in.contains("overrides") && in["overrides"].is_object() ? in["overrides"] : Json::object();
  Json container_overrides = overrides.value("containerOverrides", Json::array());
  if (!container_overrides.is_array())
    return MakeError("SerializationException", "Member 'overrides.containerOverrides' must be a list.");
  for (const auto& o : container_overrides) {
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
      return MakeError("InvalidParameterException", "Container overrides need a container name.");
    bool known = false;
    for (const auto& c : definition.container_definitions) known = known || c["name"] == o["name"];
    if (!known)
      return MakeError("InvalidParameterException",
                       "Override for container named " + o["name"].get<std::string>() +
                           " is not a container in the TaskDefinition.");
    if (o.contains("command") && (!o["command"].is_array() ||
                                  !std::all_of(o["command"].begin(), o["command"].end(),
                                               [](const Json& v) { return v.is_string(); })))
      return MakeError("SerializationException", "Member 'containerOverrides.command' must be a list of strings.");
    // The node builds the container's environment from these: same rules as Container.environment.
    if (o.contains("environment") &&
        (!o["environment"].is_array() ||
         !std::all_of(o["environment"].begin(), o["environment"].end(), [](const Json& kv) {
           return kv.is_object() && kv.contains("name") && kv["name"].is_string() &&
                  (!kv.contains("value") || kv["value"].is_string());
         })))
      return MakeError("SerializationException",
                       "Member 'containerOverrides.environment' must be a list of string name/value pairs.");
  }

  TaskLaunch launch;
  launch.cluster = cluster;
  launch.definition = definition;
  launch.count = count;
  launch.exec = exec;
  launch.container_overrides = container_overrides;
  launch.tags = tags;
  launch.launch_type = launch_type.value_or("EC2");
  launch.started_by = started_by;
  launch.group = group.value_or("family:" + definition.family);
  launch.principal = caller.principal_arn;
  launch.start_task = start_task;
  launch.requested_instances = requested_instances;
  return CreateTasks(launch);
}

Result<Json> ControlPlane::CreateTasks(const TaskLaunch& launch) {
  const model::Cluster& cluster = launch.cluster;
  const model::TaskDefinition& definition = launch.definition;
  const std::string cluster_name = cluster.name;
  const bool start_task = launch.start_task;
  const bool exec = launch.exec;
  int64_t count = launch.count;
  // Place on the least loaded node seen recently.
  PORTHOLE_TRY_ASSIGN(nodes, instances_.List());
  double now = EpochSeconds();
  std::vector<std::string> live;
  for (const auto& n : nodes)
    if (n.status == model::ResourceStatus::kActive && now - n.last_seen < 60) live.push_back(n.id);
  Json failures = Json::array();
  std::vector<std::string> placements;  // StartTask: the named instances that are live
  if (start_task) {
    for (const auto& requested : launch.requested_instances) {
      std::string id = requested.substr(requested.rfind('/') + 1);
      if (std::find(live.begin(), live.end(), id) != live.end()) placements.push_back(id);
      else failures.push_back({{"arn", requested}, {"reason", "MISSING"}});
    }
    count = static_cast<int64_t>(placements.size());
  } else if (live.empty()) {
    return MakeError("InvalidParameterException", "No Container Instances were found in your cluster.");
  }
  std::map<std::string, int> load;
  for (const auto& id : live) load[id] = 0;
  for (const auto& id : live) {
    PORTHOLE_TRY_ASSIGN(placed, tasks_.OnInstance(id));
    for (const auto& t : placed) load[id] += t.Stopped() ? 0 : 1;
  }

  Json tasks_out = Json::array();
  std::vector<std::string> woken;
  Status s = store_.Transaction([&]() -> Status {
    for (int64_t i = 0; i < count; i++) {
      std::string instance = start_task ? placements[static_cast<size_t>(i)] : live[0];
      if (!start_task)
        for (const auto& id : live)
          if (load[id] < load[instance]) instance = id;
      load[instance]++;
      model::Task task;
      task.id = ids::NewTaskId();
      task.cluster_name = cluster_name;
      task.arn = TaskArn(cluster_name, task.id);
      task.cluster_arn = cluster.arn;
      task.task_definition_arn = definition.arn;
      task.instance_id = instance;
      task.container_instance_arn =
          porthole::ContainerInstanceArn(config_.region, config_.account_id, cluster_name, instance);
      task.enable_execute_command = exec;
      task.launch_type = launch.launch_type;
      task.created_at = now;
      task.group = launch.group;
      task.overrides = {{"containerOverrides", launch.container_overrides},
                        {"inferenceAcceleratorOverrides", Json::array()}};
      task.tags = launch.tags;
      task.started_by = launch.started_by;
      task.started_by_principal = launch.principal;
      task.deployment_id = launch.deployment_id;
      task.cpu = definition.cpu;
      task.memory = definition.memory;
      for (const auto& c : definition.container_definitions) {
        model::Container container;
        container.arn = porthole::ContainerArn(config_.region, config_.account_id, cluster_name, task.id, ids::NewUuid());
        container.name = c.value("name", "");
        container.image = c.value("image", "");
        if (exec) container.managed_agents.push_back(model::ManagedAgent{});
        task.containers.push_back(std::move(container));
      }
      Status put = tasks_.Put(task);
      if (!put) return put;
      tasks_out.push_back(model::PublicView(task, true));
      woken.push_back(instance);
    }
    return OkStatus();
  });
  PORTHOLE_TRY(s);
  for (const auto& id : woken) WakeInstance(id);
  return Json{{"tasks", tasks_out}, {"failures", failures}};
}

Result<Json> ControlPlane::DescribeTasks(const Json& in, const std::string& cluster_name,
                                        const std::vector<std::string>& ids_in) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(include, StringList(in, "include"));
  bool with_tags = std::find(include.begin(), include.end(), "TAGS") != include.end();
  Json tasks = Json::array(), failures = Json::array();
  for (const auto& id : ids_in) {
    PORTHOLE_TRY_ASSIGN(record, LoadTask(cluster_name, id));
    if (!record) {
      std::string arn = id.rfind("arn:", 0) == 0 ? id : TaskArn(cluster_name, TaskIdFrom(id));
      failures.push_back({{"arn", arn}, {"reason", "MISSING"}});
      continue;
    }
    tasks.push_back(model::PublicView(*record, with_tags));
  }
  return Json{{"tasks", tasks}, {"failures", failures}};
}

Result<Json> ControlPlane::ListTasks(const Json& in, const std::string& cluster_name) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(family, OptionalString(in, "family"));
  PORTHOLE_TRY_ASSIGN(desired, OptionalString(in, "desiredStatus"));
  PORTHOLE_TRY_ASSIGN(started_by, OptionalString(in, "startedBy"));
  std::string wanted = desired.value_or("RUNNING");
  if (wanted != "RUNNING" && wanted != "PENDING" && wanted != "STOPPED")
    return MakeError("InvalidParameterException", "desiredStatus must be RUNNING, PENDING or STOPPED.");
  PORTHOLE_TRY_ASSIGN(all, tasks_.InCluster(cluster_name));
  Json arns = Json::array();
  for (const auto& t : all) {
    if (model::TaskStatusName(t.desired_status) != wanted) continue;
    if (family && t.group != "family:" + *family) continue;
    if (started_by && t.started_by.value_or("") != *started_by) continue;
    arns.push_back(t.arn);
  }
  return Json{{"taskArns", arns}};
}

Result<Json> ControlPlane::StopTask(const Json& in, const std::string& cluster_name, const std::string& task_id) {
  PORTHOLE_TRY_ASSIGN(cluster, LoadActiveCluster(cluster_name));
  PORTHOLE_TRY_ASSIGN(reason, OptionalString(in, "reason"));
  if (reason && reason->size() > 255) return MakeError("InvalidParameterException", "reason must be at most 255 characters.");
  PORTHOLE_TRY_ASSIGN(record, LoadTask(cluster_name, task_id));
  if (!record) return MakeError("InvalidParameterException", "The referenced task was not found.");
  model::Task& task = *record;
  if (task.desired_status != model::TaskStatus::kStopped) {
    RequestTaskStop(task, reason.value_or("Task stopped by user"), "UserInitiated");
    PORTHOLE_TRY(tasks_.Put(task));
    WakeInstance(task.instance_id);
    if (broker_) broker_->EndTaskSessions(task.id, "The task is stopping.");
  }
  return Json{{"task", model::PublicView(task, true)}};
}

// ---------------------------------------------------------------- exec

Result<Resolved<ControlPlane::ExecTarget>> ControlPlane::ResolveExec(const std::string& cluster_param,
                                                                       const std::string& task_param,
                                                                       const std::optional<std::string>& container,
                                                                       const std::string& action) {
  ExecTarget target;
  target.cluster_name = ClusterNameFrom(cluster_param);
  auto cluster = LoadActiveCluster(target.cluster_name);
  if (cluster) {
    target.cluster = *cluster;
    PORTHOLE_TRY_ASSIGN(loaded, LoadTask(target.cluster_name, task_param));
    target.task = std::move(loaded);
  }
  target.container_named = container.has_value();
  target.container_name = container.value_or("");
  if (!container && target.task && target.task->containers.size() == 1)
    target.container_name = target.task->containers[0].name;
  std::string task_arn = target.task ? target.task->arn : TaskArn(target.cluster_name, TaskIdFrom(task_param));
  ConditionKeys keys;
  if (target.cluster && target.task) {
    keys = EcsResourceKeys(*target.cluster, *target.task, target.container_name);
  } else {
    keys["ecs:cluster"] = {ClusterArn(target.cluster_name)};
    keys["ecs:task"] = {task_arn};
    if (!target.container_name.empty()) keys["ecs:container-name"] = {target.container_name};
  }
  return Resolved<ExecTarget>{{{action, task_arn, keys}}, std::move(target)};
}

Result<Json> ControlPlane::ExecuteCommand(const Json& in, const Caller& caller, const net::HttpRequest& request,
                                          const ExecTarget& target, const std::string& session_id_prefix) {
  PORTHOLE_TRY_ASSIGN(command, RequiredString(in, "command"));
  PORTHOLE_TRY_ASSIGN(interactive, OptionalBool(in, "interactive"));
  if (!interactive.has_value())
    return MakeError("InvalidParameterException", "interactive can not be blank.");
  if (!*interactive) return MakeError("InvalidParameterException", std::string(text::kInteractiveOnly));
  if (command.size() > 4096)
    return MakeError("InvalidParameterException", "command must be at most 4096 characters.");
  // Porthole's own members: the client may cap its session below the
  // cluster's porthole:session* settings (the node keeps the lower).
  PORTHOLE_TRY_ASSIGN(session_memory, OptionalInt(in, "portholeSessionMemory"));
  PORTHOLE_TRY_ASSIGN(session_cpu, OptionalInt(in, "portholeSessionCpu"));
  if (session_memory && (*session_memory < kMinSessionMemoryMib || *session_memory > kMaxSessionCap))
    return SessionCapError("portholeSessionMemory", true);
  if (session_cpu && (*session_cpu < kMinSessionCpuUnits || *session_cpu > kMaxSessionCap))
    return SessionCapError("portholeSessionCpu", false);
  if (!target.cluster) return MakeError("ClusterNotFoundException", "Cluster not found.");
  const model::Cluster& cluster = *target.cluster;
  if (!target.task) return MakeError("InvalidParameterException", std::string(text::kTaskNotFound));
  const model::Task& task = *target.task;
  const std::string& cluster_name = target.cluster_name;
  const std::string& container_name = target.container_name;
  const model::Container* container = nullptr;
  if (target.container_named) {
    container = task.FindContainer(container_name);
    if (!container)
      return MakeError("InvalidParameterException",
                       "The container " + container_name + " does not exist in the task.");
  } else if (task.containers.size() == 1) {
    container = &task.containers[0];
  } else {
    return MakeError("InvalidParameterException", std::string(text::kContainerRequired));
  }
  const model::ManagedAgent* agent = container->ExecAgent();
  bool agent_running = agent && agent->status == model::ContainerStatus::kRunning;
  if (!task.enable_execute_command || task.last_status != model::TaskStatus::kRunning || !agent_running)
    return MakeError("InvalidParameterException", std::string(text::kExecNotEnabledOrAgentNotRunning));
  if (!broker_ || !broker_->AgentConnected(task.id, container_name))
    return MakeError("TargetNotConnectedException", std::string(text::kTargetNotConnected));

  SessionRequest session;
  session.cluster_name = cluster_name;
  session.task_id = task.id;
  session.task_arn = task.arn;
  session.container_name = container_name;
  session.runtime_id = container->runtime_id;
  session.command = command;
  session.interactive = true;
  session.principal_arn = caller.principal_arn;
  session.owner = OwnerIdentity(caller);
  session.id_prefix = session_id_prefix;
  session.stream_host = request.Header("Host").value_or("127.0.0.1");
  session.memory_mib = session_memory.value_or(0);
  session.cpu_units = session_cpu.value_or(0);
  PORTHOLE_TRY_ASSIGN(grant, broker_->StartSession(session));
  log::Info("ExecuteCommand by " + caller.principal_arn + " on " + session.task_arn + " container " + container_name +
            ": session " + grant.session_id);
  return Json{{"clusterArn", cluster.arn},
              {"containerArn", container->arn},
              {"containerName", container_name},
              {"interactive", true},
              {"session", {{"sessionId", grant.session_id}, {"streamUrl", grant.stream_url}, {"tokenValue", grant.token_value}}},
              {"taskArn", task.arn}};
}

// ---------------------------------------------------------------- tags

Result<ControlPlane::TagTarget> ControlPlane::ResolveTagTarget(const std::string& arn_text) {
  auto arn = ParseArn(arn_text);
  auto invalid = MakeError("InvalidParameterException", "The ARN " + arn_text.substr(0, 256) +
                                                            " is not a valid ECS resource ARN of this account and region.");
  if (!arn || arn->service != "ecs" || arn->region != config_.region || arn->account != config_.account_id)
    return invalid;
  const std::string& r = arn->resource;
  TagTarget target;
  if (r.rfind("cluster/", 0) == 0) {
    target = {ClusterArn(r.substr(8)), store::kind::kCluster, r.substr(8), "", "tags", std::nullopt};
  } else if (r.rfind("task/", 0) == 0) {
    std::string rest = r.substr(5);
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return MakeError("InvalidParameterException", "Task ARNs must name the cluster.");
    std::string cluster = rest.substr(0, slash), id = rest.substr(slash + 1);
    target = {TaskArn(cluster, id), store::kind::kTask, id, cluster, "tags", std::nullopt};
  } else if (r.rfind("task-definition/", 0) == 0) {
    auto ref = ParseTaskDefinitionRef(r.substr(16));
    if (!ref || !ref->revision) return invalid;
    std::string key = ref->family + ":" + std::to_string(*ref->revision);
    target = {porthole::TaskDefinitionArn(config_.region, config_.account_id, ref->family, *ref->revision),
              store::kind::kTaskDefinition, key, ref->family, "_tags", std::nullopt};
  } else {
    return MakeError("InvalidParameterException", "Tagging is not supported for " + arn_text.substr(0, 256) + ".");
  }
  PORTHOLE_TRY_ASSIGN(record, store_.Get(target.kind, target.key));
  if (record && record->parent == target.parent) target.record = std::move(record);
  return target;
}

Result<Json> ControlPlane::TagResource(const Json& in, const TagTarget& target) {
  PORTHOLE_TRY_ASSIGN(tags, ParseTags(in, "tags"));
  if (!target.record) return MakeError("ResourceNotFoundException", "The specified resource could not be found.");
  const store::Record* record = &*target.record;
  Json doc = record->body;
  Json merged = doc.value(target.member, Json::array());
  for (const auto& t : tags) {
    bool replaced = false;
    for (auto& existing : merged)
      if (existing["key"] == t["key"]) existing["value"] = t["value"], replaced = true;
    if (!replaced) merged.push_back(t);
  }
  if (merged.size() > 50) return MakeError("InvalidParameterException", "Too many tags: at most 50 are allowed.");
  doc[target.member] = merged;
  PORTHOLE_TRY(store_.Put(target.kind, {target.key, record->parent, doc, record->secondary}));
  return Json::object();
}

Result<Json> ControlPlane::UntagResource(const Json& in, const TagTarget& target) {
  PORTHOLE_TRY_ASSIGN(keys, StringList(in, "tagKeys"));
  if (!target.record) return MakeError("ResourceNotFoundException", "The specified resource could not be found.");
  const store::Record* record = &*target.record;
  Json doc = record->body;
  Json kept = Json::array();
  for (const auto& t : doc.value(target.member, Json::array()))
    if (std::find(keys.begin(), keys.end(), t["key"].get<std::string>()) == keys.end()) kept.push_back(t);
  doc[target.member] = kept;
  PORTHOLE_TRY(store_.Put(target.kind, {target.key, record->parent, doc, record->secondary}));
  return Json::object();
}

Result<Json> ControlPlane::ListTagsForResource(const TagTarget& target) {
  if (!target.record) return MakeError("ResourceNotFoundException", "The specified resource could not be found.");
  const store::Record* record = &*target.record;
  return Json{{"tags", record->body.value(target.member, Json::array())}};
}

}  // namespace porthole::api
