// The IAM operation table. Every action is authorized on the entity it acts
// on as stored — the user's or role's real ARN, with its path — with that
// entity's tags as aws:ResourceTag/*, the tags being written as
// aws:RequestTag/* and aws:TagKeys, and the policy being attached or
// detached as iam:PolicyARN. Creating an entity with tags also needs the
// tagging action on it, as on AWS.
#include "api/control_plane.h"
#include "api/iam/iam_common.h"

namespace porthole::api {

namespace {

enum class Subject { kUser, kRole, kPolicy, kUserList, kRoleList, kSimulatedPrincipal, kNone };

struct IamEntry {
  const char* action;
  Subject subject;
};

// IAM's operations, each with what it acts on. The handler is IamOperation.
constexpr IamEntry kIamOperations[] = {
    {"CreateUser", Subject::kUser},
    {"GetUser", Subject::kUser},
    {"ListUsers", Subject::kUserList},
    {"DeleteUser", Subject::kUser},
    {"CreateAccessKey", Subject::kUser},
    {"ListAccessKeys", Subject::kUser},
    {"UpdateAccessKey", Subject::kUser},
    {"DeleteAccessKey", Subject::kUser},
    {"PutUserPolicy", Subject::kUser},
    {"GetUserPolicy", Subject::kUser},
    {"ListUserPolicies", Subject::kUser},
    {"DeleteUserPolicy", Subject::kUser},
    {"AttachUserPolicy", Subject::kUser},
    {"DetachUserPolicy", Subject::kUser},
    {"ListAttachedUserPolicies", Subject::kUser},
    {"TagUser", Subject::kUser},
    {"CreateRole", Subject::kRole},
    {"GetRole", Subject::kRole},
    {"ListRoles", Subject::kRoleList},
    {"DeleteRole", Subject::kRole},
    {"PutRolePolicy", Subject::kRole},
    {"GetRolePolicy", Subject::kRole},
    {"ListRolePolicies", Subject::kRole},
    {"DeleteRolePolicy", Subject::kRole},
    {"AttachRolePolicy", Subject::kRole},
    {"DetachRolePolicy", Subject::kRole},
    {"ListAttachedRolePolicies", Subject::kRole},
    {"TagRole", Subject::kRole},
    {"CreatePolicy", Subject::kPolicy},
    {"GetPolicy", Subject::kPolicy},
    {"SimulatePrincipalPolicy", Subject::kSimulatedPrincipal},
    {"SimulateCustomPolicy", Subject::kNone},
};

std::string ParamOr(const QueryParams& params, const char* name, const std::string& fallback = "") {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

}  // namespace

void ControlPlane::DeclareIamOperations() {
  const std::string account = "arn:aws:iam::" + config_.account_id + ":";
  for (const IamEntry& entry : kIamOperations) {
    const std::string action = entry.action;
    const Subject subject = entry.subject;
    auto resolve = [this, account, action, subject](const Call& call) -> Result<Resolved<int>> {
      const QueryParams& params = call.params;
      AccessCheck check;
      Json stored;  // the entity as stored, when it exists
      if (subject == Subject::kUser || subject == Subject::kRole) {
        const bool role = subject == Subject::kRole;
        // The user the call is about: the named one, else the calling user (IAM's default).
        std::string name = ParamOr(params, role ? "RoleName" : "UserName", role ? "" : call.caller.user_name);
        if (name.size() > 128) return MakeError("ValidationError", "The name is longer than 128 characters.");
        if (name.empty()) {
          check.resource = call.caller.principal_arn;  // the call is about the caller itself
        } else {
          auto record = store_.Get(role ? store::kind::kIamRole : store::kind::kIamUser, name);
          if (!record) return record.error();
          if (*record) stored = (*record)->body;
          check.resource = stored.is_object() ? stored.value("Arn", "")
                                              : account + (role ? "role" : "user") + ParamOr(params, "Path", "/") + name;
        }
        if (stored.is_object()) check.keys = ResourceTagKeys(stored.value("Tags", Json::array()));
        if (params.count("PolicyArn")) check.keys["iam:PolicyARN"] = {params.at("PolicyArn")};
      } else if (subject == Subject::kPolicy) {
        check.resource = action == "CreatePolicy"
                             ? account + "policy" + ParamOr(params, "Path", "/") + ParamOr(params, "PolicyName")
                             : ParamOr(params, "PolicyArn", "*");
      } else if (subject == Subject::kUserList || subject == Subject::kRoleList) {
        check.resource = account + (subject == Subject::kUserList ? "user" : "role") + ParamOr(params, "PathPrefix", "/");
      } else if (subject == Subject::kSimulatedPrincipal) {
        check.resource = ParamOr(params, "PolicySourceArn", "*");
      } else {
        check.resource = "*";
      }
      std::vector<AccessCheck> checks;
      bool creates = action == "CreateUser" || action == "CreateRole";
      if (action == "TagUser" || action == "TagRole" || creates) {
        auto tags = iam::ParseTagParams(params);
        if (!tags) return tags.error();
        ConditionKeys request_keys = RequestTagKeys(*tags);
        MergeKeys(check.keys, request_keys);
        if (creates && !tags->empty())
          checks.push_back({action == "CreateUser" ? "iam:TagUser" : "iam:TagRole", check.resource, request_keys});
      }
      checks.insert(checks.begin(), std::move(check));
      return Resolved<int>{std::move(checks), 0};
    };
    Add("iam", Declare<int>(action, "iam:" + action, kOperators, resolve,
                            [this, action](const Call& call, int&) -> Result<Json> {
                              auto xml = IamOperation(action, call.params, call.caller);
                              if (!xml) return xml.error();
                              return Json(*xml);
                            }));
  }
}

}  // namespace porthole::api
