// STS over the query protocol: GetCallerIdentity and AssumeRole.
#include "api/control_plane.h"
#include "api/iam/iam_common.h"
#include "auth/policy_engine.h"
#include "common/crypto.h"
#include "common/log.h"

namespace porthole::api {

using iam::Param;
using iam::RandomId;
using iam::ValidName;

void ControlPlane::DeclareStsOperations() {
  const std::string sts = "sts";
  // Answered for every principal, as on AWS: no policy can deny it.
  Add(sts, DeclarePublic("GetCallerIdentity", "sts:GetCallerIdentity", kOperators,
                         [this](const Call& call) -> Result<Json> {
                           auto xml = GetCallerIdentity(call.caller);
                           if (!xml) return xml.error();
                           return Json(*xml);
                         }));
  // Authorized on the role's stored ARN by the caller's identity policies
  // (the router), then by the role's trust policy (the handler).
  Add(sts, Declare<Json>(
               "AssumeRole", "sts:AssumeRole", kOperators,
               [this](const Call& call) -> Result<Resolved<Json>> {
                 auto role_arn = Param(call.params, "RoleArn");
                 if (!role_arn) return role_arn.error();
                 std::string role_name = role_arn->substr(role_arn->rfind('/') + 1);
                 auto record = store_.Get(store::kind::kIamRole, role_name);
                 if (!record) return record.error();
                 Json role = *record && (*record)->body.value("Arn", "") == *role_arn ? (*record)->body : Json();
                 return Resolved<Json>{{{"", *role_arn, ResourceTagKeys(role.is_null() ? Json::array() : role.value("Tags", Json::array()))}},
                                       role};
               },
               [this](const Call& call, Json& role) -> Result<Json> {
                 auto xml = AssumeRole(call.params, call.caller, role);
                 if (!xml) return xml.error();
                 return Json(*xml);
               }));
}

Result<std::string> ControlPlane::GetCallerIdentity(const Caller& caller) {
  return XmlElement("Arn", caller.principal_arn) + XmlElement("UserId", OwnerIdentity(caller)) +
         XmlElement("Account", config_.account_id);
}

Result<std::string> ControlPlane::AssumeRole(const QueryParams& params, const Caller& caller, const Json& role) {
  auto role_arn = Param(params, "RoleArn");
  if (!role_arn) return role_arn.error();
  auto session_name = Param(params, "RoleSessionName");
  if (!session_name) return session_name.error();
  if (session_name->size() < 2 || session_name->size() > 64)
    return MakeError("ValidationError", "RoleSessionName must be 2 to 64 characters.");
  if (Status s = ValidName(*session_name, "RoleSessionName", 64); !s) return s.error();
  std::string denied = "User: " + caller.principal_arn + " is not authorized to perform: sts:AssumeRole on resource: " +
                       *role_arn;
  if (role.is_null()) return MakeError("AccessDenied", denied, 403);
  const std::string role_name = role.value("RoleName", "");
  // The role's trust policy, evaluated with the keys AWS supplies about the
  // caller and the session it asks for.
  auto trust = auth::ParsePolicy(role.value("AssumeRolePolicyDocument", ""), auth::PolicyKind::kTrust, 1 << 20);
  if (!trust) return MakeError("AccessDenied", denied, 403);
  auth::RequestContext request;
  request.action = "sts:AssumeRole";
  request.resource = *role_arn;
  request.principal = std::make_pair(std::string("AWS"), caller.principal_arn);
  request.keys["aws:PrincipalArn"] = {caller.principal_arn};
  request.keys["aws:PrincipalAccount"] = {config_.account_id};
  request.keys["aws:userid"] = {OwnerIdentity(caller)};
  request.keys["aws:PrincipalType"] = {caller.kind == PrincipalKind::kRoot          ? "Account"
                                       : caller.kind == PrincipalKind::kAssumedRole ? "AssumedRole"
                                                                                    : "User"};
  if (caller.kind == PrincipalKind::kUser) request.keys["aws:username"] = {caller.user_name};
  request.keys["sts:RoleSessionName"] = {*session_name};
  if (!caller.source_ip.empty()) request.keys["aws:SourceIp"] = {caller.source_ip};
  request.keys["aws:SecureTransport"] = {"true"};
  for (const auto& tag : caller.principal_tags)
    if (tag.is_object() && tag.contains("Key") && tag["Key"].is_string())
      request.keys["aws:PrincipalTag/" + tag["Key"].get<std::string>()] = {tag.value("Value", "")};
  if (auth::Evaluate({{"trust", &*trust}}, request).decision != auth::Decision::kAllow)
    return MakeError("AccessDenied", denied, 403);

  int duration = 3600;
  if (params.count("DurationSeconds")) duration = std::atoi(params.at("DurationSeconds").c_str());
  if (duration < 900 || duration > role.value("MaxSessionDuration", 3600))
    return MakeError("ValidationError", "DurationSeconds must be between 900 and the role's MaxSessionDuration.");
  std::string akid = RandomId("ASIA");
  std::string secret = crypto::Base64Encode(crypto::RandomBytes(30));
  std::string token = crypto::Base64Encode(crypto::RandomBytes(64));
  double expiration = static_cast<double>(clock_() + duration);
  std::string assumed_arn = "arn:aws:sts::" + config_.account_id + ":assumed-role/" + role_name + "/" + *session_name;
  Json body = {{"type", "assumed-role"}, {"roleName", role_name}, {"sessionName", *session_name},
               {"principalArn", assumed_arn}, {"secretSealed", Seal(secret)},
               {"sessionTokenSha256", crypto::HexEncode(crypto::Sha256(token))}, {"expiration", expiration},
               {"status", "Active"}, {"createDate", EpochSeconds()}};
  Status s = store_.Put(store::kind::kAccessKey, {akid, "role:" + role_name, body});
  if (!s) return s.error();
  log::Info(caller.principal_arn + " assumed " + *role_arn + " as " + *session_name);
  return "<Credentials>" + XmlElement("AccessKeyId", akid) + XmlElement("SecretAccessKey", secret) +
         XmlElement("SessionToken", token) + XmlElement("Expiration", IsoTime(expiration)) +
         "</Credentials><AssumedRoleUser>" +
         XmlElement("AssumedRoleId", role.value("RoleId", "") + ":" + *session_name) +
         XmlElement("Arn", assumed_arn) + "</AssumedRoleUser>";
}

}  // namespace porthole::api
