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

ConditionKeys ControlPlane::EcsResourceKeys(const model::Cluster& cluster, const model::Task& task,
                                             const std::string& container_name) const {
  ConditionKeys keys;
  keys["ecs:cluster"] = {cluster.arn};
  keys["ecs:task"] = {task.arn};
  if (!container_name.empty()) keys["ecs:container-name"] = {container_name};
  // Only the cluster's and the task's tags count for ExecuteCommand (E26);
  // the task's tag wins where both have the key.
  for (const Json* tags : {&cluster.tags, &task.tags}) {
    for (const auto& [key, value] : ResourceTagKeys(*tags)) {
      keys[key] = value;
      keys["ecs:ResourceTag/" + key.substr(std::string_view("aws:ResourceTag/").size())] = value;
    }
  }
  return keys;
}

const char* PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kAnonymous: return "anonymous";
    case PrincipalKind::kRoot: return "root";
    case PrincipalKind::kUser: return "user";
    case PrincipalKind::kAssumedRole: return "assumed-role";
    case PrincipalKind::kTaskAgent: return "task";
    case PrincipalKind::kContainerInstance: return "container-instance";
  }
  return "unknown";
}

namespace {
// A tag in either of AWS's spellings: ECS {"key","value"}, IAM {"Key","Value"}.
std::optional<std::pair<std::string, std::string>> TagPair(const Json& tag) {
  if (!tag.is_object()) return std::nullopt;
  for (auto [k, v] : {std::pair{"key", "value"}, std::pair{"Key", "Value"}})
    if (tag.contains(k) && tag[k].is_string())
      return std::make_pair(tag[k].get<std::string>(), tag.contains(v) && tag[v].is_string() ? tag[v].get<std::string>() : "");
  return std::nullopt;
}
}  // namespace

ConditionKeys RequestTagKeys(const Json& tags) {
  ConditionKeys keys;
  if (!tags.is_array() || tags.empty()) return keys;
  auto& names = keys["aws:TagKeys"];
  for (const auto& tag : tags)
    if (auto kv = TagPair(tag)) {
      keys["aws:RequestTag/" + kv->first] = {kv->second};
      names.push_back(kv->first);
    }
  return keys;
}

ConditionKeys ResourceTagKeys(const Json& tags) {
  ConditionKeys keys;
  if (!tags.is_array()) return keys;
  for (const auto& tag : tags)
    if (auto kv = TagPair(tag)) keys["aws:ResourceTag/" + kv->first] = {kv->second};
  return keys;
}

void MergeKeys(ConditionKeys& into, const ConditionKeys& from) {
  for (const auto& [k, v] : from) into[k] = v;
}

namespace {
// What a container instance's credentials allow: the node protocol on its own
// instance ARN only. Node operations resolve a task to the instance it is
// placed on, so a node can poll and report only its own tasks.
Result<auth::Policy> InstancePolicy(const std::string& instance_arn) {
  Json document = {{"Version", "2012-10-17"},
                   {"Statement", Json::array({{{"Sid", "OwnInstance"},
                                               {"Effect", "Allow"},
                                               {"Action", Json::array({"ecs:Poll", "ecs:SubmitTaskStateChange", "ecs:RegisterContainerInstance"})},
                                               {"Resource", instance_arn}}})}};
  return auth::ParsePolicy(document.dump(), auth::PolicyKind::kIdentity, 1 << 16);
}
}  // namespace

Result<AuthorizationDecision> ControlPlane::Authorize(const Caller& caller, const std::string& action,
                                                      const std::string& resource,
                                                      ConditionKeys keys) {
  AuthorizationDecision d;
  const PrincipalKind kind = caller.kind;
  if (kind == PrincipalKind::kRoot) {
    d = {true, "Allow", "account root", ""};
  } else if (kind == PrincipalKind::kAnonymous) {
    // A verified join token allows exactly one thing: joining.
    bool joins = !caller.join_token.empty() && action == "ecs:RegisterContainerInstance";
    d = {joins, joins ? "Allow" : "ImplicitDeny", joins ? "join token" : "", ""};
  } else if (kind == PrincipalKind::kTaskAgent && caller.role_name.empty()) {
    // An EC2/EXTERNAL task without a task role acts as its container
    // instance (see ResolveTaskRole), for its own channels only.
    bool channel = action.rfind("ssmmessages:", 0) == 0;
    d = {channel, channel ? "Allow" : "ImplicitDeny", channel ? "container instance role" : "", ""};
  } else if (kind == PrincipalKind::kUser || kind == PrincipalKind::kAssumedRole || kind == PrincipalKind::kTaskAgent ||
             kind == PrincipalKind::kContainerInstance) {
    const bool is_role = kind == PrincipalKind::kAssumedRole || kind == PrincipalKind::kTaskAgent;
    std::vector<std::pair<std::string, auth::Policy>> policies;
    if (kind == PrincipalKind::kContainerInstance) {
      auto own = InstancePolicy(ContainerInstanceArn(caller.instance_id));
      if (!own) return own.error();
      policies.emplace_back("container-instance/" + caller.instance_id, std::move(*own));
    } else {
      // The user's (or the role's) inline and attached managed policies.
      auto identity = IdentityPolicies(is_role, is_role ? caller.role_name : caller.user_name);
      if (!identity) return identity.error();
      policies = std::move(*identity);
    }
    std::vector<auth::NamedPolicy> named;
    for (const auto& [name, policy] : policies) named.push_back({name, &policy});

    auth::RequestContext request;
    request.action = action;
    request.resource = resource;
    request.keys = std::move(keys);
    std::time_t now = clock_();
    if (kind == PrincipalKind::kUser) request.keys["aws:username"] = {caller.user_name};
    request.keys["aws:userid"] = {caller.user_id};
    request.keys["aws:PrincipalArn"] = {caller.principal_arn};
    request.keys["aws:PrincipalAccount"] = {config_.account_id};
    request.keys["aws:PrincipalType"] = {is_role ? "AssumedRole" : "User"};
    if (kind == PrincipalKind::kAssumedRole) request.keys["sts:RoleSessionName"] = {caller.session_name};
    request.keys["aws:CurrentTime"] = {IsoTime(static_cast<double>(now))};
    request.keys["aws:EpochTime"] = {std::to_string(now)};
    request.keys["aws:SecureTransport"] = {"true"};  // the listener is TLS only
    request.keys["aws:RequestedRegion"] = {config_.region};
    if (!caller.source_ip.empty()) request.keys["aws:SourceIp"] = {caller.source_ip};
    for (const auto& tag : caller.principal_tags)
      if (auto kv = TagPair(tag)) request.keys["aws:PrincipalTag/" + kv->first] = {kv->second};
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
  // A decision that cannot be recorded is not made (DESIGN.md §4): the call
  // fails before its handler runs, so nothing it would change is changed.
  Status recorded =
      store_.Put(store::kind::kAuditEvent, {IsoTime(EpochSeconds()) + "-" + ids::RandomHex(8), caller.principal_arn, event});
  if (!recorded) {
    log::Error("audit trail write failed; refusing " + action + " for " + caller.principal_arn + ": " +
               recorded.error().message);
    return MakeError("InternalFailure", "The request could not be recorded in the audit trail; it was not carried out.",
                     500);
  }
  // Root's routine calls go to the audit records; the log keeps the rest.
  (kind == PrincipalKind::kRoot ? log::Debug : log::Info)("authz " + d.decision + " " + caller.principal_arn + " " + action + " on " + resource +
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

}  // namespace porthole::api
