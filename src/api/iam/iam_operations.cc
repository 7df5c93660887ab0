// IAM and STS over the query protocol: users, access keys, inline and
// managed policies, tags; STS GetCallerIdentity. Shapes follow the IAM API
// reference so `aws iam ...` and `aws sts ...` work with --endpoint-url.
#include <algorithm>

#include "api/control_plane.h"
#include "api/iam/iam_common.h"
#include "auth/policy_engine.h"
#include "common/crypto.h"
#include "common/log.h"

namespace porthole::api {

using iam::NoSuchEntity;
using iam::Param;
using iam::RandomId;
using iam::ParseTagParams;
using iam::ValidName;

namespace {

// IAM's quotas for inline policies and trust policies, in characters.
constexpr size_t kInlineUserPolicyMaxChars = 2048;
constexpr size_t kInlineRolePolicyMaxChars = 10240;
constexpr size_t kTrustPolicyMaxChars = 2048;

std::string TagsXml(const Json& tags) {
  std::string xml;
  for (const auto& t : tags)
    xml += "<member>" + XmlElement("Key", t.value("Key", "")) + XmlElement("Value", t.value("Value", "")) + "</member>";
  return xml;
}

std::string UserXml(const Json& u) {
  std::string xml = "<User>" + XmlElement("Path", u.value("Path", "/")) + XmlElement("UserName", u.value("UserName", "")) +
                    XmlElement("UserId", u.value("UserId", "")) + XmlElement("Arn", u.value("Arn", "")) +
                    XmlElement("CreateDate", IsoTime(u.value("CreateDate", 0.0)));
  if (!u.value("Tags", Json::array()).empty()) xml += "<Tags>" + TagsXml(u["Tags"]) + "</Tags>";
  return xml + "</User>";
}

std::string RoleXml(const Json& r) {
  std::string xml = "<Role>" + XmlElement("Path", r.value("Path", "/")) + XmlElement("RoleName", r.value("RoleName", "")) +
                    XmlElement("RoleId", r.value("RoleId", "")) + XmlElement("Arn", r.value("Arn", "")) +
                    XmlElement("CreateDate", IsoTime(r.value("CreateDate", 0.0))) +
                    XmlElement("AssumeRolePolicyDocument", UrlEncode(r.value("AssumeRolePolicyDocument", ""))) +
                    XmlElement("Description", r.value("Description", "")) +
                    XmlElement("MaxSessionDuration", std::to_string(r.value("MaxSessionDuration", 3600)));
  if (!r.value("Tags", Json::array()).empty()) xml += "<Tags>" + TagsXml(r["Tags"]) + "</Tags>";
  return xml + "</Role>";
}

std::string PolicyXml(const Json& p) {
  return "<Policy>" + XmlElement("PolicyName", p.value("PolicyName", "")) + XmlElement("PolicyId", p.value("PolicyId", "")) +
         XmlElement("Arn", p.value("Arn", "")) + XmlElement("Path", p.value("Path", "/")) +
         XmlElement("DefaultVersionId", "v1") +
         XmlElement("AttachmentCount", std::to_string(p.value("AttachmentCount", 0))) +
         XmlElement("IsAttachable", "true") + XmlElement("CreateDate", IsoTime(p.value("CreateDate", 0.0))) +
         XmlElement("UpdateDate", IsoTime(p.value("CreateDate", 0.0))) + "</Policy>";
}

}  // namespace

Result<std::string> ControlPlane::Simulate(const std::string& action, const QueryParams& params) {
  std::vector<std::pair<std::string, auth::Policy>> policies;
  if (action == "SimulatePrincipalPolicy") {
    auto source = Param(params, "PolicySourceArn");
    if (!source) return source.error();
    bool role = source->find(":role/") != std::string::npos;
    if (!role && source->find(":user/") == std::string::npos)
      return MakeError("InvalidInput", "PolicySourceArn must be a user or role ARN.");
    std::string name = source->substr(source->rfind('/') + 1);
    auto exists = store_.Get(role ? store::kind::kIamRole : store::kind::kIamUser, name);
    if (!exists) return exists.error();
    if (!*exists)
      return NoSuchEntity("The " + std::string(role ? "role" : "user") + " " + *source + " cannot be found.");
    auto identity = IdentityPolicies(role, name);
    if (!identity) return identity.error();
    policies = std::move(*identity);
  }
  auto inputs = MemberList(params, "PolicyInputList");
  for (size_t i = 0; i < inputs.size(); i++) {
    auto parsed = auth::ParsePolicy(inputs[i], auth::PolicyKind::kIdentity, 1 << 20);
    if (!parsed) return parsed.error();
    policies.emplace_back("PolicyInputList." + std::to_string(i + 1), *parsed);
  }
  auto actions = MemberList(params, "ActionNames");
  if (actions.empty()) return MakeError("ValidationError", "ActionNames must not be empty.");
  auto resources = MemberList(params, "ResourceArns");
  if (resources.empty()) resources.push_back("*");
  std::map<std::string, std::vector<std::string>> keys;
  for (int i = 1;; i++) {
    std::string base = "ContextEntries.member." + std::to_string(i);
    auto name = params.find(base + ".ContextKeyName");
    if (name == params.end()) break;
    keys[name->second] = MemberList(params, base + ".ContextKeyValues");
  }
  std::vector<auth::NamedPolicy> named;
  for (const auto& [n, p] : policies) named.push_back({n, &p});
  std::string xml = "<EvaluationResults>";
  for (const auto& a : actions) {
    for (const auto& r : resources) {
      auth::RequestContext request{a, r, keys, std::nullopt};
      auth::EvaluationResult result = auth::Evaluate(named, request);
      const char* decision = result.decision == auth::Decision::kAllow          ? "allowed"
                             : result.decision == auth::Decision::kExplicitDeny ? "explicitDeny"
                                                                                : "implicitDeny";
      xml += "<member>" + XmlElement("EvalActionName", a) + XmlElement("EvalResourceName", r) +
             XmlElement("EvalDecision", decision) + "<MatchedStatements>";
      if (!result.policy_name.empty())
        xml += "<member>" + XmlElement("SourcePolicyId", result.policy_name) +
               XmlElement("SourcePolicyType", "IAM Policy") + "</member>";
      xml += "</MatchedStatements><MissingContextValues/></member>";
    }
  }
  return xml + "</EvaluationResults><IsTruncated>false</IsTruncated>";
}

Result<std::string> ControlPlane::IamOperation(const std::string& action, const QueryParams& params,
                                               const Caller& caller) {
  auto user_arn = [&](const Json& u) { return u.value("Arn", ""); };
  auto it_user = params.find("UserName");
  // The user the call is about: the named one, else the caller (IAM's default).
  std::string user_name = it_user != params.end() ? it_user->second : caller.user_name;
  // Role actions work on the role named by RoleName; the rest on a user.
  const bool role_op = action.find("Role") != std::string::npos;
  std::string role_name = params.count("RoleName") ? params.at("RoleName") : "";
  if (action == "SimulatePrincipalPolicy" || action == "SimulateCustomPolicy") return Simulate(action, params);

  auto load_user = [&](const std::string& name) -> Result<Json> {
    if (name.empty()) return MakeError("ValidationError", "UserName is required for the account root.");
    auto r = store_.Get(store::kind::kIamUser, name);
    if (!r) return r.error();
    if (!*r) return NoSuchEntity("The user with name " + name + " cannot be found.");
    return (*r)->body;
  };
  auto save_user = [&](const Json& u) { return store_.Put(store::kind::kIamUser, {u["UserName"], "", u}); };
  // The user or role an inline/attached policy action is about.
  const char* entity_kind = role_op ? store::kind::kIamRole : store::kind::kIamUser;
  const std::string entity_name = role_op ? role_name : user_name;
  auto load_entity = [&]() -> Result<Json> {
    if (!role_op) return load_user(user_name);
    if (role_name.empty()) return MakeError("ValidationError", "RoleName is required.");
    auto r = store_.Get(store::kind::kIamRole, role_name);
    if (!r) return r.error();
    if (!*r) return NoSuchEntity("The role with name " + role_name + " cannot be found.");
    return (*r)->body;
  };
  auto save_entity = [&](const Json& e) { return store_.Put(entity_kind, {entity_name, "", e}); };
  const std::string noun = role_op ? "role" : "user";

  if (action == "CreateRole") {
    auto name = Param(params, "RoleName");
    if (!name) return name.error();
    if (Status s = ValidName(*name, "RoleName", 64); !s) return s.error();
    auto trust = Param(params, "AssumeRolePolicyDocument");
    if (!trust) return trust.error();
    auto parsed = auth::ParsePolicy(*trust, auth::PolicyKind::kTrust, kTrustPolicyMaxChars);
    if (!parsed) return parsed.error();
    auto tags = ParseTagParams(params);
    if (!tags) return tags.error();
    std::string path = params.count("Path") ? params.at("Path") : "/";
    if (path.empty() || path.front() != '/' || path.back() != '/')
      return MakeError("ValidationError", "Path must begin and end with '/'.");
    int max_session = 3600;
    if (params.count("MaxSessionDuration")) max_session = std::atoi(params.at("MaxSessionDuration").c_str());
    if (max_session < 3600 || max_session > 43200)
      return MakeError("ValidationError", "MaxSessionDuration must be between 3600 and 43200 seconds.");
    Json role = {{"RoleName", *name}, {"RoleId", RandomId("AROA")}, {"Path", path},
                 {"Arn", "arn:aws:iam::" + config_.account_id + ":role" + path + *name},
                 {"CreateDate", EpochSeconds()}, {"AssumeRolePolicyDocument", *trust},
                 {"MaxSessionDuration", max_session}, {"Tags", *tags}, {"InlinePolicies", Json::object()},
                 {"AttachedPolicies", Json::array()},
                 {"Description", params.count("Description") ? params.at("Description") : ""}};
    auto inserted = store_.Insert(store::kind::kIamRole, {*name, "", role});
    if (!inserted) return inserted.error();
    if (!*inserted) return MakeError("EntityAlreadyExists", "Role with name " + *name + " already exists.", 409);
    log::Info("IAM role " + *name + " created by " + caller.principal_arn);
    return RoleXml(role);
  }
  if (action == "GetRole") {
    auto role = load_entity();
    if (!role) return role.error();
    return RoleXml(*role);
  }
  if (action == "ListRoles") {
    auto all = store_.List(store::kind::kIamRole, std::nullopt);
    if (!all) return all.error();
    std::string xml = "<Roles>";
    for (const auto& r : *all) {
      std::string role = RoleXml(r.body);
      xml += "<member>" + role.substr(6, role.size() - 13) + "</member>";
    }
    return xml + "</Roles><IsTruncated>false</IsTruncated>";
  }
  if (action == "DeleteRole") {
    auto role = load_entity();
    if (!role) return role.error();
    if (!(*role)["InlinePolicies"].empty() || !(*role)["AttachedPolicies"].empty())
      return MakeError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409);
    Status s = store_.Delete(store::kind::kIamRole, role_name);
    if (!s) return s.error();
    return std::string();
  }

  if (action == "CreateUser") {
    auto name = Param(params, "UserName");
    if (!name) return name.error();
    if (Status s = ValidName(*name, "UserName", 64); !s) return s.error();
    auto tags = ParseTagParams(params);
    if (!tags) return tags.error();
    std::string path = params.count("Path") ? params.at("Path") : "/";
    if (path.empty() || path.front() != '/' || path.back() != '/')
      return MakeError("ValidationError", "Path must begin and end with '/'.");
    Json user = {{"UserName", *name}, {"UserId", RandomId("AIDA")}, {"Path", path},
                 {"Arn", "arn:aws:iam::" + config_.account_id + ":user" + path + *name},
                 {"CreateDate", EpochSeconds()}, {"Tags", *tags}, {"InlinePolicies", Json::object()},
                 {"AttachedPolicies", Json::array()}};
    auto inserted = store_.Insert(store::kind::kIamUser, {*name, "", user});
    if (!inserted) return inserted.error();
    if (!*inserted) return MakeError("EntityAlreadyExists", "User with name " + *name + " already exists.", 409);
    log::Info("IAM user " + *name + " created by " + caller.principal_arn);
    return UserXml(user);
  }
  if (action == "GetUser") {
    if (caller.kind == PrincipalKind::kRoot && it_user == params.end())
      return "<User>" + XmlElement("UserId", config_.account_id) +
             XmlElement("Arn", "arn:aws:iam::" + config_.account_id + ":root") + "</User>";
    auto user = load_user(user_name);
    if (!user) return user.error();
    return UserXml(*user);
  }
  if (action == "ListUsers") {
    auto all = store_.List(store::kind::kIamUser, std::nullopt);
    if (!all) return all.error();
    std::string xml = "<Users>";
    for (const auto& r : *all) {
      std::string user = UserXml(r.body);
      xml += "<member>" + user.substr(6, user.size() - 13) + "</member>";
    }
    return xml + "</Users><IsTruncated>false</IsTruncated>";
  }
  if (action == "DeleteUser") {
    auto user = load_user(user_name);
    if (!user) return user.error();
    auto keys = store_.List(store::kind::kAccessKey, "user:" + user_name);
    if (!keys) return keys.error();
    if (!keys->empty() || !(*user)["InlinePolicies"].empty() || !(*user)["AttachedPolicies"].empty())
      return MakeError("DeleteConflict", "Cannot delete entity, must delete policies and access keys first.", 409);
    Status s = store_.Delete(store::kind::kIamUser, user_name);
    if (!s) return s.error();
    return std::string();
  }
  if (action == "CreateAccessKey") {
    auto user = load_user(user_name);
    if (!user) return user.error();
    auto existing = store_.List(store::kind::kAccessKey, "user:" + user_name);
    if (!existing) return existing.error();
    if (existing->size() >= 2)
      return MakeError("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409);
    std::string akid = RandomId("AKIA");
    std::string secret = crypto::Base64Encode(crypto::RandomBytes(30));
    double now = EpochSeconds();
    Json body = {{"type", "user"}, {"userName", user_name}, {"principalArn", user_arn(*user)},
                 {"secretSealed", Seal(secret)}, {"status", "Active"}, {"createDate", now}};
    Status s = store_.Put(store::kind::kAccessKey, {akid, "user:" + user_name, body});
    if (!s) return s.error();
    return "<AccessKey>" + XmlElement("UserName", user_name) + XmlElement("AccessKeyId", akid) +
           XmlElement("Status", "Active") + XmlElement("SecretAccessKey", secret) +
           XmlElement("CreateDate", IsoTime(now)) + "</AccessKey>";
  }
  if (action == "ListAccessKeys") {
    auto user = load_user(user_name);
    if (!user) return user.error();
    auto keys = store_.List(store::kind::kAccessKey, "user:" + user_name);
    if (!keys) return keys.error();
    std::string xml = "<AccessKeyMetadata>";
    for (const auto& k : *keys)
      xml += "<member>" + XmlElement("UserName", user_name) + XmlElement("AccessKeyId", k.key) +
             XmlElement("Status", k.body.value("status", "Active")) +
             XmlElement("CreateDate", IsoTime(k.body.value("createDate", 0.0))) + "</member>";
    return xml + "</AccessKeyMetadata><IsTruncated>false</IsTruncated>";
  }
  if (action == "UpdateAccessKey" || action == "DeleteAccessKey") {
    auto akid = Param(params, "AccessKeyId");
    if (!akid) return akid.error();
    auto key = store_.Get(store::kind::kAccessKey, *akid);
    if (!key) return key.error();
    if (!*key || (*key)->parent != "user:" + user_name)
      return NoSuchEntity("The Access Key with id " + *akid + " cannot be found.");
    if (action == "DeleteAccessKey") {
      Status s = store_.Delete(store::kind::kAccessKey, *akid);
      if (!s) return s.error();
      return std::string();
    }
    auto status = Param(params, "Status");
    if (!status) return status.error();
    if (*status != "Active" && *status != "Inactive")
      return MakeError("ValidationError", "Status must be Active or Inactive.");
    Json body = (*key)->body;
    body["status"] = *status;
    Status s = store_.Put(store::kind::kAccessKey, {*akid, (*key)->parent, body});
    if (!s) return s.error();
    return std::string();
  }
  if (action == "PutUserPolicy" || action == "GetUserPolicy" || action == "DeleteUserPolicy" ||
      action == "ListUserPolicies" || action == "PutRolePolicy" || action == "GetRolePolicy" ||
      action == "DeleteRolePolicy" || action == "ListRolePolicies") {
    auto entity = load_entity();
    if (!entity) return entity.error();
    Json& inline_policies = (*entity)["InlinePolicies"];
    if (action == "ListUserPolicies" || action == "ListRolePolicies") {
      std::string xml = "<PolicyNames>";
      for (auto it = inline_policies.begin(); it != inline_policies.end(); ++it) xml += XmlElement("member", it.key());
      return xml + "</PolicyNames><IsTruncated>false</IsTruncated>";
    }
    auto name = Param(params, "PolicyName");
    if (!name) return name.error();
    if (Status s = ValidName(*name, "PolicyName", 128); !s) return s.error();
    if (action == "PutUserPolicy" || action == "PutRolePolicy") {
      auto document = Param(params, "PolicyDocument");
      if (!document) return document.error();
      // Malformed policies are refused when written, with the problem named.
      auto parsed = auth::ParsePolicy(*document, auth::PolicyKind::kIdentity,
                                      role_op ? kInlineRolePolicyMaxChars : kInlineUserPolicyMaxChars);
      if (!parsed) return parsed.error();
      inline_policies[*name] = *document;
      Status s = save_entity(*entity);
      if (!s) return s.error();
      log::Info("IAM policy " + *name + " put on " + noun + " " + entity_name + " by " + caller.principal_arn);
      return std::string();
    }
    if (!inline_policies.contains(*name))
      return NoSuchEntity("The " + noun + " policy with name " + *name + " cannot be found.");
    if (action == "GetUserPolicy" || action == "GetRolePolicy")
      return XmlElement(role_op ? "RoleName" : "UserName", entity_name) + XmlElement("PolicyName", *name) +
             XmlElement("PolicyDocument", UrlEncode(inline_policies[*name].get<std::string>()));
    inline_policies.erase(*name);
    Status s = save_entity(*entity);
    if (!s) return s.error();
    return std::string();
  }
  if (action == "CreatePolicy") {
    auto name = Param(params, "PolicyName");
    if (!name) return name.error();
    if (Status s = ValidName(*name, "PolicyName", 128); !s) return s.error();
    auto document = Param(params, "PolicyDocument");
    if (!document) return document.error();
    auto parsed = auth::ParsePolicy(*document, auth::PolicyKind::kIdentity);
    if (!parsed) return parsed.error();
    std::string path = params.count("Path") ? params.at("Path") : "/";
    std::string arn = "arn:aws:iam::" + config_.account_id + ":policy" + path + *name;
    Json policy = {{"PolicyName", *name}, {"PolicyId", RandomId("ANPA")}, {"Arn", arn}, {"Path", path},
                   {"Document", *document}, {"AttachmentCount", 0}, {"CreateDate", EpochSeconds()},
                   {"Description", params.count("Description") ? params.at("Description") : ""}};
    auto inserted = store_.Insert(store::kind::kIamPolicy, {arn, "", policy});
    if (!inserted) return inserted.error();
    if (!*inserted) return MakeError("EntityAlreadyExists", "A policy called " + *name + " already exists.", 409);
    return PolicyXml(policy);
  }
  if (action == "GetPolicy") {
    auto arn = Param(params, "PolicyArn");
    if (!arn) return arn.error();
    auto policy = store_.Get(store::kind::kIamPolicy, *arn);
    if (!policy) return policy.error();
    if (!*policy) return NoSuchEntity("Policy " + *arn + " was not found.");
    return PolicyXml((*policy)->body);
  }
  if (action == "AttachUserPolicy" || action == "DetachUserPolicy" || action == "ListAttachedUserPolicies" ||
      action == "AttachRolePolicy" || action == "DetachRolePolicy" || action == "ListAttachedRolePolicies") {
    auto entity = load_entity();
    if (!entity) return entity.error();
    Json& attached = (*entity)["AttachedPolicies"];
    if (action.rfind("ListAttached", 0) == 0) {
      std::string xml = "<AttachedPolicies>";
      for (const auto& arn : attached) {
        std::string a = arn;
        xml += "<member>" + XmlElement("PolicyName", a.substr(a.rfind('/') + 1)) + XmlElement("PolicyArn", a) +
               "</member>";
      }
      return xml + "</AttachedPolicies><IsTruncated>false</IsTruncated>";
    }
    auto arn = Param(params, "PolicyArn");
    if (!arn) return arn.error();
    auto policy = store_.Get(store::kind::kIamPolicy, *arn);
    if (!policy) return policy.error();
    if (!*policy) return NoSuchEntity("Policy " + *arn + " does not exist or is not attachable.");
    Json policy_body = (*policy)->body;
    auto pos = std::find(attached.begin(), attached.end(), Json(*arn));
    if (action.rfind("Attach", 0) == 0 && pos == attached.end()) {
      attached.push_back(*arn);
      policy_body["AttachmentCount"] = policy_body.value("AttachmentCount", 0) + 1;
    } else if (action.rfind("Detach", 0) == 0) {
      if (pos == attached.end()) return NoSuchEntity("Policy " + *arn + " was not found.");
      attached.erase(pos);
      policy_body["AttachmentCount"] = std::max(0, policy_body.value("AttachmentCount", 1) - 1);
    }
    Status s = store_.Transaction([&]() -> Status {
      Status a = save_entity(*entity);
      if (!a) return a;
      return store_.Put(store::kind::kIamPolicy, {*arn, "", policy_body});
    });
    if (!s) return s.error();
    return std::string();
  }
  if (action == "TagUser" || action == "TagRole") {
    auto entity = load_entity();
    if (!entity) return entity.error();
    auto tags = ParseTagParams(params);
    if (!tags) return tags.error();
    Json& existing = (*entity)["Tags"];
    for (const auto& t : *tags) {
      bool replaced = false;
      for (auto& e : existing)
        if (e["Key"] == t["Key"]) e["Value"] = t["Value"], replaced = true;
      if (!replaced) existing.push_back(t);
    }
    if (existing.size() > 50) return MakeError("LimitExceeded", "At most 50 tags are allowed.", 409);
    Status s = save_entity(*entity);
    if (!s) return s.error();
    return std::string();
  }
  return MakeError("InvalidAction", "The action " + action + " is not valid for this endpoint.");
}

}  // namespace porthole::api
