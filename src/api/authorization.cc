// Authorization of API calls against identity policies
// (shared/reference/security-and-reliability.md, "IAM policy evaluation rules").
#include <ctime>

#include "api/control_plane.h"
#include "auth/policy_engine.h"
#include "common/arn.h"
#include "common/ids.h"
#include "common/log.h"

namespace porthole::api {

namespace {
// Identity policies may be large when stored inline; IAM's own quotas are
// enforced when they are written.
constexpr size_t kEvaluationMaxChars = 128 * 1024;
}  // namespace

Result<std::vector<std::pair<std::string, auth::Policy>>> ControlPlane::IdentityPolicies(
    bool role, const std::string& name) {
  std::vector<std::pair<std::string, auth::Policy>> out;
  auto entity = store_.Get(role ? store::kind::kIamRole : store::kind::kIamUser, name);
  if (!entity) return entity.error();
  if (!*entity) return out;
  const Json& body = (*entity)->body;
  const Json inline_policies = body.value("InlinePolicies", Json::object());
  for (auto it = inline_policies.begin(); it != inline_policies.end(); ++it) {
    if (!it.value().is_string()) continue;
    auto parsed = auth::ParsePolicy(it.value().get<std::string>(), auth::PolicyKind::kIdentity, kEvaluationMaxChars);
    if (parsed) out.emplace_back((role ? "role/" : "user/") + name + "/inline/" + it.key(), *parsed);
  }
  for (const auto& arn : body.value("AttachedPolicies", Json::array())) {
    if (!arn.is_string()) continue;
    auto managed = store_.Get(store::kind::kIamPolicy, arn.get<std::string>());
    if (!managed || !*managed) continue;
    auto parsed =
        auth::ParsePolicy((*managed)->body.value("Document", ""), auth::PolicyKind::kIdentity, kEvaluationMaxChars);
    if (parsed) out.emplace_back(arn.get<std::string>(), *parsed);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> ControlPlane::EcsResourceKeys(const Json& cluster, const Json& task,
                                                                              const std::string& container_name) const {
  std::map<std::string, std::vector<std::string>> keys;
  keys["ecs:cluster"] = {cluster.value("clusterArn", "")};
  keys["ecs:task"] = {task.value("taskArn", "")};
  if (!container_name.empty()) keys["ecs:container-name"] = {container_name};
  // Only the cluster's and the task's tags count for ExecuteCommand (E26);
  // the task's tag wins where both have the key.
  for (const Json* source : {&cluster, &task}) {
    for (const auto& tag : source->value("tags", Json::array())) {
      if (!tag.is_object() || !tag.contains("key")) continue;
      std::string value = tag.value("value", "");
      keys["ecs:ResourceTag/" + tag["key"].get<std::string>()] = {value};
      keys["aws:ResourceTag/" + tag["key"].get<std::string>()] = {value};
    }
  }
  return keys;
}

Result<AuthorizationDecision> ControlPlane::Authorize(const Caller& caller, const std::string& action,
                                                      const std::string& resource,
                                                      std::map<std::string, std::vector<std::string>> keys) {
  AuthorizationDecision d;
  if (caller.type == "root") {
    d = {true, "Allow", "account root", ""};
  } else if (caller.type == "task" && caller.role_name.empty()) {
    // An EC2/EXTERNAL task without a task role acts as its container
    // instance, whose credentials are the node's (see ResolveTaskRole).
    d = {true, "Allow", "container instance role", ""};
  } else if (caller.type == "user" || caller.type == "assumed-role" || caller.type == "task") {
    // The user's (or the role's) inline and attached managed policies.
    const bool is_role = caller.type != "user";
    const std::string& entity_name = is_role ? caller.role_name : caller.user_name;
    auto identity = IdentityPolicies(is_role, entity_name);
    if (!identity) return identity.error();
    std::vector<auth::NamedPolicy> named;
    for (const auto& [name, policy] : *identity) named.push_back({name, &policy});

    auth::RequestContext request;
    request.action = action;
    request.resource = resource;
    request.keys = std::move(keys);
    std::time_t now = clock_();
    if (!is_role) request.keys["aws:username"] = {caller.user_name};
    request.keys["aws:userid"] = {caller.user_id};
    request.keys["aws:PrincipalArn"] = {caller.principal_arn};
    request.keys["aws:PrincipalAccount"] = {config_.account_id};
    request.keys["aws:PrincipalType"] = {is_role ? "AssumedRole" : "User"};
    request.keys["aws:CurrentTime"] = {IsoTime(static_cast<double>(now))};
    request.keys["aws:EpochTime"] = {std::to_string(now)};
    request.keys["aws:SecureTransport"] = {"true"};  // the listener is TLS only
    request.keys["aws:RequestedRegion"] = {config_.region};
    if (!caller.source_ip.empty()) request.keys["aws:SourceIp"] = {caller.source_ip};
    for (const auto& tag : caller.principal_tags)
      if (tag.is_object() && tag.contains("Key"))
        request.keys["aws:PrincipalTag/" + tag.value("Key", "")] = {tag.value("Value", "")};
    request.principal = std::make_pair(std::string("AWS"), caller.principal_arn);

    auth::EvaluationResult result = auth::Evaluate(named, request);
    d.allowed = result.decision == auth::Decision::kAllow;
    d.decision = std::string(auth::DecisionName(result.decision));
    d.policy = result.policy_name;
    d.statement = !result.statement_id.empty()
                      ? result.statement_id
                      : (result.statement_index >= 0 ? "#" + std::to_string(result.statement_index) : "");
  } else {
    d = {false, "ImplicitDeny", "", ""};
  }

  // The audit trail: every decision, with the statement that made it.
  Json event = {{"eventTime", EpochSeconds()},
                {"principalArn", caller.principal_arn},
                {"accessKeyId", caller.access_key_id},
                {"sourceIPAddress", caller.source_ip},
                {"action", action},
                {"resource", resource},
                {"decision", d.decision},
                {"decidingPolicy", d.policy},
                {"decidingStatement", d.statement}};
  (void)store_.Put(store::kind::kAuditEvent,
                   {IsoTime(EpochSeconds()) + "-" + ids::RandomHex(8), caller.principal_arn, event});
  // Root's routine calls go to the audit records; the log keeps the rest.
  (caller.type == "root" ? log::Debug : log::Info)("authz " + d.decision + " " + caller.principal_arn + " " + action + " on " + resource +
            (d.policy.empty() ? "" : " by " + d.policy + (d.statement.empty() ? "" : " " + d.statement)));
  if (d.allowed) return d;
  std::string why = d.decision == "ExplicitDeny" ? "with an explicit deny in an identity-based policy"
                                                  : "because no identity-based policy allows the " + action + " action";
  return MakeError("AccessDeniedException", "User: " + caller.principal_arn + " is not authorized to perform: " +
                                                action + " on resource: " + resource + " " + why);
}

}  // namespace porthole::api

namespace porthole::api {

Status ControlPlane::AuthorizeAgentChannel(const Caller& caller, const std::string& action) {
  auto d = Authorize(caller, action, "*");
  if (!d) return d.error();
  return OkStatus();
}

Status ControlPlane::AuthorizeOperation(const std::string& target, const Json& input, const Caller& caller) {
  size_t dot = target.find('.');
  std::string prefix = target.substr(0, dot);
  std::string op = target.substr(dot + 1);
  std::string service = prefix == "AmazonSSM" ? "ssm" : "ecs";
  if (op == "ExecuteCommand" || op == "RunTask" || op == "StartTask" || op == "StartSession" ||
      op == "CreateService" || op == "UpdateService")
    return OkStatus();
  // The resource AWS names for the operation, where the request names one.
  std::vector<std::string> resources;
  std::string cluster = ClusterNameFrom(StringOr(input, "cluster"));
  // Task resources are decided with their cluster's and their own tags and
  // ecs:cluster / ecs:task, as for ExecuteCommand, so that statements
  // conditioned on them (the seed's ExecuteCommand+DescribeTasks allow, E27)
  // decide as written. A task that does not exist has no keys.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> task_keys;  // by task ARN
  auto add_task = [&](const std::string& task) {
    std::string arn = TaskArn(cluster, TaskIdFrom(task));
    resources.push_back(arn);
    auto cluster_record = store_.Get(store::kind::kCluster, cluster);
    auto task_record = LoadTask(cluster, task);
    if (cluster_record.ok() && *cluster_record && task_record.ok() && *task_record)
      task_keys[arn] = EcsResourceKeys((*cluster_record)->body, (*task_record)->body, "");
  };
  if (input.contains("resourceArn") && input["resourceArn"].is_string()) {
    resources.push_back(input["resourceArn"]);
  } else if (op == "StopTask" && input.contains("task") && input["task"].is_string()) {
    add_task(input["task"].get<std::string>());
  } else if (op == "DescribeTasks" && input.contains("tasks") && input["tasks"].is_array()) {
    for (const auto& t : input["tasks"])
      if (t.is_string()) add_task(t.get<std::string>());
  } else if ((op == "DescribeServices" && input.contains("services") && input["services"].is_array()) ||
             (op == "DeleteService" && input.contains("service") && input["service"].is_string())) {
    // Services are authorized on their own ARNs.
    Json names = op == "DeleteService" ? Json::array({input["service"]}) : input["services"];
    for (const auto& n : names)
      if (n.is_string()) {
        std::string name = n.get<std::string>();
        resources.push_back(ServiceArn(cluster, name.substr(name.rfind('/') + 1)));
      }
  } else if (input.contains("taskDefinition") && input["taskDefinition"].is_string()) {
    auto ref = ParseTaskDefinitionRef(input["taskDefinition"].get<std::string>());
    resources.push_back(ref && ref->revision
                            ? porthole::TaskDefinitionArn(config_.region, config_.account_id, ref->family, *ref->revision)
                            : "*");
  } else if (op == "CreateCluster") {
    resources.push_back(ClusterArn(ClusterNameFrom(StringOr(input, "clusterName"))));
  } else if (input.contains("cluster") || op == "ListTasks" || op == "DeleteCluster") {
    resources.push_back(ClusterArn(cluster));
  } else {
    resources.push_back("*");
  }
  for (const auto& resource : resources) {
    auto keys = task_keys.find(resource);
    auto d = Authorize(caller, service + ":" + op, resource,
                       keys == task_keys.end() ? std::map<std::string, std::vector<std::string>>() : keys->second);
    if (!d) return d.error();
  }
  return OkStatus();
}

}  // namespace porthole::api
