// PortholeNodeService: what porthole-node calls. The node dials out, registers
// once (keeping its instance id across restarts), long-polls for the tasks
// placed on it, and reports task and container state.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>

#include "api/control_plane.h"
#include "api/iam/iam_common.h"
#include "auth/policy_engine.h"
#include "common/arn.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"

namespace porthole::api {

struct ControlPlane::Waiter {
  explicit Waiter(boost::asio::any_io_executor ex) : timer(ex) {}
  boost::asio::steady_timer timer;
};

namespace {
bool ValidInstanceId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

// A container's portMappings as the node takes them: every member present,
// host port 0 where the definition gave none. Definitions are validated when
// registered; ones stored before portMappings were validated may hold
// anything, so malformed mappings are left out.
Json PortMappingsForNode(const Json& mappings) {
  Json out = Json::array();
  if (!mappings.is_array()) return out;
  // The port, or -1 when it is not an integer in 0-65535.
  auto port = [](const Json& m, const char* member) -> int64_t {
    auto it = m.find(member);
    if (it == m.end() || !it->is_number_integer()) return -1;
    if (it->is_number_unsigned() && it->get<uint64_t>() > 65535) return -1;
    int64_t value = it->get<int64_t>();
    return value >= 0 && value <= 65535 ? value : -1;
  };
  for (const auto& m : mappings) {
    if (!m.is_object()) continue;
    int64_t container_port = port(m, "containerPort");
    int64_t host_port = m.contains("hostPort") ? port(m, "hostPort") : 0;
    if (container_port < 1 || host_port < 0) continue;
    if (m.contains("protocol") && !m["protocol"].is_string()) continue;
    std::string protocol = StringOr(m, "protocol", "tcp");
    for (char& ch : protocol) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (protocol != "tcp" && protocol != "udp") continue;
    out.push_back({{"containerPort", container_port}, {"hostPort", host_port}, {"protocol", protocol}});
  }
  return out;
}
}  // namespace

uint64_t ControlPlane::Generation(const std::string& instance_id) {
  auto it = generations_.find(instance_id);
  return generation_base_ + (it == generations_.end() ? 0 : it->second);
}

void ControlPlane::WakeInstance(const std::string& instance_id) {
  if (instance_id.empty()) return;
  generations_[instance_id]++;
  auto range = waiters_.equal_range(instance_id);
  for (auto it = range.first; it != range.second; ++it) it->second->timer.cancel();
}

std::string ControlPlane::ContainerInstanceArn(const std::string& instance_id) const {
  return porthole::ContainerInstanceArn(config_.region, config_.account_id, "default", instance_id);
}

// ---------------------------------------------------------------- joining

// Join tokens are kept as digests: the store never holds one that could be used.
Result<Json> ControlPlane::CreateJoinToken(const Json& in, const Caller& caller) {
  auto ttl = OptionalInt(in, "expiresInSeconds");
  if (!ttl) return ttl.error();
  int64_t seconds = ttl->value_or(3600);
  if (seconds < 60 || seconds > 7 * 24 * 3600)
    return MakeError("InvalidParameterException", "expiresInSeconds must be between 60 and 604800.");
  auto instance = OptionalString(in, "instanceId");
  if (!instance) return instance.error();
  if (*instance && !ValidInstanceId(**instance))
    return MakeError("InvalidParameterException", "instanceId must be 1-64 letters, digits or '-'.");
  std::string token = "phjt-" + ids::RandomToken(32);
  std::string digest = crypto::HexEncode(crypto::Sha256(token));
  double expiration = static_cast<double>(clock_() + seconds);
  Json body = {{"expiration", expiration}, {"createdBy", caller.principal_arn}, {"createdAt", EpochSeconds()}};
  if (*instance) body["instanceId"] = **instance;
  if (Status s = store_.Put(store::kind::kJoinToken, {digest, "", body}); !s) return s.error();
  log::Info(caller.principal_arn + " created a node join token valid for " + std::to_string(seconds) + " s" +
            (*instance ? " for instance " + **instance : ""));
  return Json{{"joinToken", token}, {"expiration", expiration}};
}

Result<Json> ControlPlane::IssueInstanceCredentials(const std::string& instance_id) {
  std::string akid = iam::RandomId("ASIA");
  std::string secret = crypto::Base64Encode(crypto::RandomBytes(30));
  std::string token = crypto::Base64Encode(crypto::RandomBytes(48));
  double expiration = static_cast<double>(clock_() + config_.instance_credential_lifetime.count());
  Json body = {{"type", "instance"},
               {"secretSealed", Seal(secret)},
               {"sessionTokenSha256", crypto::HexEncode(crypto::Sha256(token))},
               {"expiration", expiration},
               {"instanceId", instance_id},
               {"principalArn", ContainerInstanceArn(instance_id)},
               {"status", "Active"}};
  Status s = store_.Put(store::kind::kAccessKey, {akid, "instance:" + instance_id, body});
  if (!s) return s.error();
  return Json{{"accessKeyId", akid}, {"secretAccessKey", secret}, {"sessionToken", token}, {"expiration", expiration}};
}

Result<Json> ControlPlane::RegisterContainerInstance(const Json& in, const Caller& caller,
                                                     const net::RequestContext& context) {
  auto requested = OptionalString(in, "instanceId");
  if (!requested) return requested.error();
  std::string id = requested->value_or("");
  if (!id.empty() && !ValidInstanceId(id))
    return MakeError("InvalidParameterException", "instanceId must be 1-64 letters, digits or '-'.");
  Json token;  // the join token's record, when joining with one
  if (caller.kind == PrincipalKind::kAnonymous) {
    auto record = store_.Get(store::kind::kJoinToken, caller.join_token);
    if (!record) return record.error();
    if (!*record)
      return MakeError("AccessDeniedException",
                       "The join token is not valid: it is unknown, has expired or was already used.", 400);
    token = (*record)->body;
    // A token made for an instance re-registers that instance and no other;
    // any other token makes a new one.
    std::string bound = token.value("instanceId", "");
    if (!bound.empty()) id = bound;
    else if (!id.empty()) {
      auto existing = instances_.Get(id);
      if (!existing) return existing.error();
      if (*existing) id.clear();
    }
  } else if (caller.kind == PrincipalKind::kContainerInstance) {
    id = caller.instance_id;  // an instance re-registers itself only
  }
  if (id.empty()) id = ids::RandomHex(16);
  auto existing = instances_.Get(id);
  if (!existing) return existing.error();
  model::ContainerInstance instance = existing->value_or(model::ContainerInstance{});
  instance.id = id;
  instance.arn = ContainerInstanceArn(id);
  instance.status = model::ResourceStatus::kActive;
  instance.agent_connected = true;
  instance.hostname = StringOr(in, "hostname");
  instance.runtime_version = StringOr(in, "runtimeVersion");
  if (!*existing) instance.registered_at = EpochSeconds();
  instance.last_seen = EpochSeconds();
  instance.address = context.peer_ip;
  instance.registered_by = caller.kind == PrincipalKind::kAnonymous ? "join-token" : caller.principal_arn;
  Json credentials;
  Status s = store_.Transaction([&]() -> Status {
    // Single use: the token is gone with the registration it made.
    if (caller.kind == PrincipalKind::kAnonymous)
      if (Status d = store_.Delete(store::kind::kJoinToken, caller.join_token); !d) return d;
    // A re-registration replaces the instance's earlier credentials.
    auto old = store_.List(store::kind::kAccessKey, "instance:" + id);
    if (!old) return old.error();
    for (const auto& k : *old)
      if (Status d = store_.Delete(store::kind::kAccessKey, k.key); !d) return d;
    auto issued = IssueInstanceCredentials(id);
    if (!issued) return issued.error();
    credentials = *issued;
    return instances_.Put(instance);
  });
  if (!s) return s.error();
  log::Info("node " + id + " registered from " + context.peer_ip + " by " + instance.registered_by);
  return Json{{"instanceId", id}, {"containerInstanceArn", instance.arn}, {"credentials", credentials}};
}

Result<std::string> ControlPlane::ResolveTaskRole(const model::Task& task, const model::TaskDefinition& definition) {
  std::string role_arn = StringOr(task.overrides, "taskRoleArn", definition.task_role_arn);
  if (role_arn.empty()) {
    if (task.launch_type == "FARGATE")
      return MakeError("InitFailed", "The task has no task role: the execute command agent needs one that allows "
                                     "ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel and "
                                     "OpenDataChannel.");
    return std::string();
  }
  std::string role_name = role_arn.substr(role_arn.rfind('/') + 1);
  auto role = store_.Get(store::kind::kIamRole, role_name);
  if (!role) return role.error();
  if (!*role || (*role)->body.value("Arn", "") != role_arn)
    return MakeError("InitFailed", "The task role " + role_arn + " does not exist.");
  auto trust = auth::ParsePolicy((*role)->body.value("AssumeRolePolicyDocument", ""), auth::PolicyKind::kTrust, 1 << 20);
  auth::RequestContext request;
  request.action = "sts:AssumeRole";
  request.resource = role_arn;
  request.principal = std::make_pair(std::string("Service"), std::string("ecs-tasks.amazonaws.com"));
  if (!trust || auth::Evaluate({{"trust", &*trust}}, request).decision != auth::Decision::kAllow)
    return MakeError("InitFailed", "The task role " + role_arn + " does not trust ecs-tasks.amazonaws.com.");
  return role_name;
}

Result<Json> ControlPlane::IssueAgentCredentials(const model::Task& task, const std::string& container_name,
                                                 const std::string& role_name) {
  std::string akid = iam::RandomId("ASIA");
  std::string secret = crypto::Base64Encode(crypto::RandomBytes(30));
  std::string token = crypto::Base64Encode(crypto::RandomBytes(48));
  double expiration = static_cast<double>(clock_() + config_.agent_credential_lifetime.count());
  const std::string& task_id = task.id;
  Json body = {{"type", "task"},
               {"secretSealed", Seal(secret)},
               {"sessionTokenSha256", crypto::HexEncode(crypto::Sha256(token))},
               {"expiration", expiration},
               {"taskId", task_id},
               {"containerName", container_name},
               {"principalArn", role_name.empty() ? task.arn
                                                  : "arn:aws:sts::" + config_.account_id + ":assumed-role/" +
                                                        role_name + "/" + task_id},
               {"roleName", role_name},
               {"status", "Active"}};
  Status s = store_.Put(store::kind::kAccessKey, {akid, "task:" + task_id, body});
  if (!s) return s.error();
  return Json{{"accessKeyId", akid}, {"secretAccessKey", secret}, {"sessionToken", token}, {"expiration", expiration}};
}

Result<Json> ControlPlane::TasksForInstance(const std::string& instance_id, double* renew_after) {
  // Recomputed at least this often even without a change, so what it checks
  // on the way (a task role deleted meanwhile) is seen within minutes.
  *renew_after = static_cast<double>(clock_()) + 300;
  auto placed = tasks_.OnInstance(instance_id);
  if (!placed) return placed.error();
  Json out = Json::array();
  for (auto& task : *placed) {
    if (task.Stopped()) continue;
    auto ref = ParseTaskDefinitionRef(task.task_definition_arn);
    if (!ref || !ref->revision) continue;
    auto definition = definitions_.Get(ref->family + ":" + std::to_string(*ref->revision));
    if (!definition) return definition.error();
    if (!*definition) continue;
    const model::TaskDefinition& def = **definition;
    const Json container_overrides = task.overrides.value("containerOverrides", Json::array());
    Json containers = Json::array();
    for (Json c : def.container_definitions) {
      for (const auto& o : container_overrides) {
        if (!o.is_object() || o.value("name", "") != c["name"]) continue;
        if (o.contains("command")) c["command"] = o["command"];
        if (o.contains("environment")) {
          Json env = c.value("environment", Json::array());
          for (const auto& kv : o["environment"]) env.push_back(kv);
          c["environment"] = env;
        }
      }
      Json spec = {{"name", c["name"]},
                   {"image", c["image"]},
                   {"essential", c.value("essential", true)},
                   {"command", c.value("command", Json::array())},
                   {"entryPoint", c.value("entryPoint", Json::array())},
                   {"environment", c.value("environment", Json::array())},
                   {"user", c.value("user", "")},
                   {"workingDirectory", c.value("workingDirectory", "")},
                   {"readonlyRootFilesystem", c.value("readonlyRootFilesystem", false)},
                   {"stopTimeout", c.value("stopTimeout", 30)},
                   {"initProcessEnabled", c.value("linuxParameters", Json::object()).value("initProcessEnabled", false)},
                   {"capabilities", c.value("linuxParameters", Json::object()).value("capabilities", Json::object())},
                   {"portMappings", PortMappingsForNode(c.value("portMappings", Json::array()))}};
      // Limits, as registered (validated there); the node applies them with cgroups.
      for (const char* member : {"cpu", "memory", "memoryReservation"})
        if (c.contains(member) && c[member].is_number_integer()) spec[member] = c[member];
      if (c.contains("ulimits") && c["ulimits"].is_array()) spec["ulimits"] = c["ulimits"];
      const Json linux_parameters = c.value("linuxParameters", Json::object());
      if (linux_parameters.contains("sharedMemorySize") && linux_parameters["sharedMemorySize"].is_number_integer())
        spec["sharedMemorySize"] = linux_parameters["sharedMemorySize"];
      if (linux_parameters.contains("tmpfs") && linux_parameters["tmpfs"].is_array())
        spec["tmpfs"] = linux_parameters["tmpfs"];
      containers.push_back(spec);
    }
    Json entry = {{"taskArn", task.arn},
                  {"taskId", task.id},
                  {"cluster", task.cluster_name},
                  {"desiredStatus", model::TaskStatusName(task.desired_status)},
                  {"lastStatus", model::TaskStatusName(task.last_status)},
                  {"enableExecuteCommand", task.enable_execute_command},
                  {"networkMode", def.network_mode},
                  {"containers", containers}};
    // The cluster's cap on each exec session (porthole:session* settings).
    if (auto cluster = clusters_.Get(task.cluster_name); cluster && *cluster) {
      Json limits = Json::object();
      for (const auto& setting : (*cluster)->settings)
        if (setting.is_object() && setting.value("name", "") == "porthole:sessionMemory")
          limits["memory"] = std::atoll(setting.value("value", "0").c_str());
        else if (setting.is_object() && setting.value("name", "") == "porthole:sessionCpu")
          limits["cpu"] = std::atoll(setting.value("value", "0").c_str());
      if (!limits.empty()) entry["sessionLimits"] = limits;
    }
    // The task's own size (RunTask's overrides, else the definition's), for its cgroup.
    if (auto cpu = task.cpu ? task.cpu : def.cpu) entry["cpu"] = *cpu;
    if (auto memory = task.memory ? task.memory : def.memory) entry["memory"] = *memory;
    if (task.enable_execute_command && task.desired_status == model::TaskStatus::kRunning) {
      auto role = ResolveTaskRole(task, def);
      if (!role) {
        // No credentials, so the agent never connects: say why (E31).
        bool changed = false;
        for (auto& c : task.containers)
          for (auto& a : c.managed_agents)
            if (a.reason != role.error().message) {
              a.status = model::ContainerStatus::kStopped;
              a.reason = role.error().message;
              changed = true;
            }
        if (changed)
          if (Status s = tasks_.Put(task); !s) return s.error();
        out.push_back(entry);
        continue;
      }
      // One set per container, bound to (task, container): one container's
      // agent cannot speak for another's. Reused until half their lifetime
      // has passed; kept in the task record sealed, like every secret at rest.
      Json creds;
      if (auto opened = Unseal(task.agent_credentials_sealed)) creds = Json::parse(*opened, nullptr, false);
      if (!creds.is_object()) creds = Json::object();
      double half = static_cast<double>(config_.agent_credential_lifetime.count()) / 2;
      bool renewed = false;
      for (const auto& c : task.containers) {
        const Json current = creds.value(c.name, Json());
        if (current.is_object() && current.value("expiration", 0.0) - static_cast<double>(clock_()) >= half) continue;
        auto issued = IssueAgentCredentials(task, c.name, *role);
        if (!issued) return issued.error();
        creds[c.name] = *issued;
        renewed = true;
      }
      if (renewed) {
        task.agent_credentials_sealed = Seal(creds.dump());
        if (Status s = tasks_.Put(task); !s) return s.error();
      }
      for (const auto& c : task.containers)
        if (const Json current = creds.value(c.name, Json()); current.is_object())
          *renew_after = std::min(*renew_after, current.value("expiration", 0.0) - half);
      entry["agent"] = {{"credentials", creds}, {"region", config_.region}};
    }
    out.push_back(entry);
  }
  return out;
}

boost::asio::awaitable<Result<Json>> ControlPlane::PollTasks(const Json& in, const Caller& caller) {
  // The instance is the caller's own: the resolver authorized nothing else.
  const std::string id = caller.instance_id;
  auto known = instances_.Get(id);
  if (!known) co_return known.error();
  if (!*known)
    co_return MakeError("ContainerInstanceNotFoundException", "Unknown container instance " + id + ": register first.");
  auto wait = OptionalInt(in, "waitSeconds");
  if (!wait) co_return wait.error();
  int64_t wait_seconds = std::clamp<int64_t>(wait->value_or(0), 0, 20);
  // The answer this node holds, if it is still the current one.
  auto holds_current = [&] {
    auto memo = poll_memos_.find(id);
    return memo != poll_memos_.end() && memo->second.generation == Generation(id) &&
           StringOr(in, "generation") == memo->second.token;
  };

  if (wait_seconds > 0 && holds_current()) {
    auto waiter = std::make_shared<Waiter>(executor_);
    waiter->timer.expires_after(std::chrono::seconds(wait_seconds));
    auto it = waiters_.emplace(id, waiter);
    boost::system::error_code ec;
    co_await waiter->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    waiters_.erase(it);
  }
  // Heartbeat (the instance as it is now: it may have re-registered
  // meanwhile); written at most every few seconds, however often it polls.
  const double now = EpochSeconds();
  if (auto current = instances_.Get(id); current && *current &&
                                         (!(*current)->agent_connected || now - (*current)->last_seen >= 5)) {
    (*current)->last_seen = now;
    (*current)->agent_connected = true;
    if (Status s = instances_.Put(**current); !s) log::Warn("cannot record the heartbeat of " + id + ": " + s.error().message);
  }
  Json out;
  if (holds_current() && static_cast<double>(clock_()) < poll_memos_[id].renew_after) {
    out = {{"generation", poll_memos_[id].token}, {"unchanged", true}};
  } else {
    PollMemo memo;
    memo.generation = Generation(id);
    memo.token = std::to_string(memo.generation) + "." + std::to_string(++poll_answers_);
    auto tasks = TasksForInstance(id, &memo.renew_after);
    if (!tasks) co_return tasks.error();
    out = {{"generation", memo.token}, {"tasks", std::move(*tasks)}};
    poll_memos_[id] = std::move(memo);
  }
  // Fresh instance credentials once half of the current ones' life has passed;
  // the old ones stay valid until they expire, so the switch needs no pause.
  double half = static_cast<double>(config_.instance_credential_lifetime.count()) / 2;
  if (caller.credential_expiration - static_cast<double>(clock_()) < half) {
    auto issued = IssueInstanceCredentials(id);
    if (!issued) co_return issued.error();
    out["instanceCredentials"] = *issued;
  }
  co_return out;
}

Result<Json> ControlPlane::SubmitTaskStateChange(const Json& in, model::Task task) {
  auto status_name = RequiredString(in, "status");
  if (!status_name) return status_name.error();
  auto status = model::ParseTaskStatus(*status_name);
  if (!status || *status == model::TaskStatus::kProvisioning)
    return MakeError("InvalidParameterException", "status must be PENDING, RUNNING or STOPPED.");
  if (task.Stopped()) return Json::object();  // terminal
  double now = EpochSeconds();

  const Json updates = in.contains("containers") && in["containers"].is_array() ? in["containers"] : Json::array();
  for (const auto& update : updates) {
    if (!update.is_object()) continue;
    model::Container* c = task.FindContainer(StringOr(update, "name"));
    if (!c) continue;
    if (update.contains("runtimeId") && update["runtimeId"].is_string()) c->runtime_id = update["runtimeId"];
    if (auto s = model::ParseContainerStatus(StringOr(update, "status"))) c->status = *s;
    if (update.contains("exitCode") && update["exitCode"].is_number_integer()) c->exit_code = update["exitCode"].get<int64_t>();
    if (update.contains("reason") && update["reason"].is_string()) c->reason = update["reason"];
    // The node may only report an agent as failed; RUNNING comes from the gateway.
    if (update.contains("managedAgentReason") && update["managedAgentReason"].is_string())
      c->SetAgents(model::ContainerStatus::kStopped, update["managedAgentReason"], now);
    // What the node made of the task's network; a list replaces the last one
    // reported, keeping only its well-formed entries (model/task.h).
    if (update.contains("networkBindings") && update["networkBindings"].is_array())
      c->network_bindings = model::NetworkBindingsFrom(update["networkBindings"]);
    if (update.contains("networkInterfaces") && update["networkInterfaces"].is_array())
      c->network_interfaces = model::NetworkInterfacesFrom(update["networkInterfaces"]);
  }
  if (in.contains("attachments") && in["attachments"].is_array())
    task.attachments = model::AttachmentsFrom(in["attachments"]);
  if (*status == model::TaskStatus::kRunning && task.last_status != model::TaskStatus::kRunning) {
    task.last_status = model::TaskStatus::kRunning;
    task.started_at = now;
  } else if (*status == model::TaskStatus::kPending && task.last_status == model::TaskStatus::kProvisioning) {
    task.last_status = model::TaskStatus::kPending;
  } else if (*status == model::TaskStatus::kStopped) {
    if (in.contains("reason") && in["reason"].is_string() && task.desired_status != model::TaskStatus::kStopped) {
      task.stopped_reason = in["reason"];
      task.stop_code = StringOr(in, "stopCode", "EssentialContainerExited");
    }
    // (Also revokes the task's agent credentials.)
    MarkTaskStopped(task, StringOr(in, "reason", "Task stopped"), StringOr(in, "stopCode", "EssentialContainerExited"));
    if (broker_) broker_->EndTaskSessions(task.id, "The task stopped.");
  }
  task.version++;
  if (Status s = tasks_.Put(task); !s) return s.error();
  log::Info("task " + task.id + " is " + std::string(model::TaskStatusName(task.last_status)));
  return Json::object();
}

void ControlPlane::SetManagedAgentState(const std::string& task_id, const std::string& container_name,
                                        model::ContainerStatus status, const std::string& reason) {
  auto task = tasks_.Get(task_id);
  if (!task) {
    log::Error("cannot record the exec agent state of task " + task_id + ": " + task.error().message);
    return;
  }
  if (!*task || (*task)->Stopped()) return;  // a stopped task's agents stay STOPPED
  model::Container* c = (*task)->FindContainer(container_name);
  if (!c) return;
  c->SetAgents(status, reason, EpochSeconds());
  if (Status s = tasks_.Put(**task); !s)
    log::Error("cannot record the exec agent state of task " + task_id + ": " + s.error().message);
}

void ControlPlane::DeclareNodeOperations() {
  const std::string node = "node";
  // Operators make join tokens; a node joins with one (unsigned: the token
  // is its proof), with IAM credentials allowed ecs:RegisterContainerInstance,
  // or, to re-register, with its own instance credentials.
  Add(node, Declare<int>(
                "CreateJoinToken", "porthole:CreateNodeJoinToken", kOperators,
                [this](const Call&) -> Result<Resolved<int>> {
                  return Resolved<int>{{{"", ClusterArn("default"), {}}}, 0};
                },
                [this](const Call& call, int&) { return CreateJoinToken(call.input, call.caller); }));
  Add(node, Declare<int>(
                "RegisterContainerInstance", "ecs:RegisterContainerInstance",
                {PrincipalKind::kAnonymous, PrincipalKind::kRoot, PrincipalKind::kUser, PrincipalKind::kAssumedRole,
                 PrincipalKind::kContainerInstance},
                [this](const Call& call) -> Result<Resolved<int>> {
                  // An instance re-registering is authorized on its own ARN.
                  std::string resource = call.caller.kind == PrincipalKind::kContainerInstance
                                             ? ContainerInstanceArn(call.caller.instance_id)
                                             : ClusterArn("default");
                  return Resolved<int>{{{"", resource, {}}}, 0};
                },
                [this](const Call& call, int&) {
                  return RegisterContainerInstance(call.input, call.caller, call.context);
                }));
  // PollTasks is ECS's ecs:Poll: the caller's own instance, whatever the request says.
  Add(node, DeclareAsync<int>(
                "PollTasks", "ecs:Poll", kNodes,
                [this](const Call& call) -> Result<Resolved<int>> {
                  auto named = OptionalString(call.input, "instanceId");
                  if (!named) return named.error();
                  // A node naming another instance is asking for its tasks: refused by policy.
                  std::string id = named->value_or(call.caller.instance_id);
                  return Resolved<int>{{{"", ContainerInstanceArn(id), {}}}, 0};
                },
                [this](const Call& call, int&) { return PollTasks(call.input, call.caller); }));
  // A report is authorized on the instance the task is placed on, from the
  // task's record: a node can report only its own tasks.
  Add(node, Declare<model::Task>(
                "SubmitTaskStateChange", "ecs:SubmitTaskStateChange", kNodes,
                [this](const Call& call) -> Result<Resolved<model::Task>> {
                  auto task_arn = RequiredString(call.input, "taskArn");
                  if (!task_arn) return task_arn.error();
                  auto task = tasks_.Get(TaskIdFrom(*task_arn));
                  if (!task) return task.error();
                  if (!*task) return MakeError("InvalidParameterException", "The referenced task was not found.");
                  std::string placed = (*task)->instance_id;
                  return Resolved<model::Task>{{{"", ContainerInstanceArn(placed), {{"ecs:task", {(*task)->arn}}}}},
                                               std::move(**task)};
                },
                [this](const Call& call, model::Task& task) { return SubmitTaskStateChange(call.input, task); }));
}

void ControlPlane::OnAgentConnected(const std::string& task_id, const std::string& container_name) {
  SetManagedAgentState(task_id, container_name, model::ContainerStatus::kRunning, "");
}

void ControlPlane::OnAgentRefused(const std::string& task_id, const std::string& container_name,
                                  const std::string& reason) {
  SetManagedAgentState(task_id, container_name, model::ContainerStatus::kStopped, reason);
}

void ControlPlane::OnAgentDisconnected(const std::string& task_id, const std::string& container_name) {
  SetManagedAgentState(task_id, container_name, model::ContainerStatus::kPending,
                       "The execute command agent lost its connection and is reconnecting.");
}

}  // namespace porthole::api
