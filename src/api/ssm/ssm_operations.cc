// The SSM session APIs the AWS CLI and session-manager-plugin call on the
// same endpoint (shared/protocol/session-data-channel.md §1.2, §8), for ECS
// targets "ecs:<cluster>_<taskId>_<runtimeId>".
#include "api/control_plane.h"
#include "common/arn.h"
#include "common/log.h"

namespace porthole::api {

namespace {

struct EcsTarget {
  std::string cluster;
  std::string task_id;
  std::string runtime_id;
};

// Cluster names may contain '_'; task ids and runtime ids do not, so split from the right.
Result<EcsTarget> ParseEcsTarget(const std::string& target) {
  auto bad = MakeError("InvalidParameterException",
                       "Target must look like ecs:<cluster>_<taskId>_<containerRuntimeId>.");
  if (target.rfind("ecs:", 0) != 0 || target.size() > 600) return bad;
  std::string rest = target.substr(4);
  size_t last = rest.rfind('_');
  if (last == std::string::npos || last == 0) return bad;
  size_t middle = rest.rfind('_', last - 1);
  if (middle == std::string::npos || middle == 0) return bad;
  EcsTarget t{rest.substr(0, middle), rest.substr(middle + 1, last - middle - 1), rest.substr(last + 1)};
  if (t.task_id.empty() || t.runtime_id.empty()) return bad;
  return t;
}


}  // namespace

std::string ControlPlane::SessionArn(const std::string& session_id) const {
  return "arn:aws:ssm:" + config_.region + ":" + config_.account_id + ":session/" + session_id;
}

std::string ControlPlane::OwnerIdentity(const Caller& caller) const {
  return caller.kind == PrincipalKind::kRoot ? config_.account_id : caller.user_id;
}

void ControlPlane::DeclareSsmOperations() {
  const std::string ssm = "ssm";
  struct StartTarget {
    ExecTarget exec;
    std::string command;
    std::string target_text;
  };
  Add(ssm, Declare<StartTarget>(
               "StartSession", "ssm:StartSession", kOperators,
               [this](const Call& call) -> Result<Resolved<StartTarget>> {
                 const Json& in = call.input;
                 auto target_text = RequiredString(in, "Target");
                 if (!target_text) return target_text.error();
                 auto target = ParseEcsTarget(*target_text);
                 if (!target) return target.error();
                 auto document = OptionalString(in, "DocumentName");
                 if (!document) return document.error();
                 StartTarget start;
                 start.target_text = *target_text;
                 start.command = "/bin/sh";
                 const Json parameters = in.value("Parameters", Json::object());
                 if (!parameters.is_object())
                   return MakeError("SerializationException", "Member 'Parameters' must be a map.");
                 std::string doc = document->value_or("");
                 if (doc == "AWS-StartInteractiveCommand" || doc == "AmazonECS-ExecuteCommand") {
                   const Json commands = parameters.value("command", Json::array());
                   if (!commands.is_array() || commands.empty() || !commands[0].is_string())
                     return MakeError("InvalidParameters", "The document " + doc + " needs the parameter command.");
                   start.command = commands[0];
                 } else if (!doc.empty() && doc != "SSM-SessionManagerRunShell") {
                   return MakeError("InvalidDocument",
                                    "Document " + doc.substr(0, 128) + " is not supported for ECS targets.");
                 }
                 // The container with that runtime id, if the task exists; whether
                 // it does is said only after authorizing.
                 std::optional<std::string> container;
                 auto record = LoadTask(target->cluster, target->task_id);
                 if (!record) return record.error();
                 if (*record)
                   for (const auto& c : (*record)->containers)
                     if (!c.runtime_id.empty() && c.runtime_id == target->runtime_id) container = c.name;
                 // Authorized as ssm:StartSession on the task, with its tags (E28).
                 auto exec = ResolveExec(target->cluster, target->task_id, container.value_or(""),
                                         "ssm:StartSession");
                 if (!exec) return exec.error();
                 if (!container) exec->target.task.reset();
                 start.exec = std::move(exec->target);
                 return Resolved<StartTarget>{std::move(exec->checks), std::move(start)};
               },
               [this](const Call& call, StartTarget& start) {
                 return SsmStartSession(call.input, call.caller, call.request, start.exec, start.command);
               }));

  // The session an operation acts on, by its ARN.
  struct SessionTarget {
    std::string id;
    std::optional<model::Session> session;  // when there is such a session
  };
  auto resolve_session = [this](const Call& call) -> Result<Resolved<SessionTarget>> {
    auto id = RequiredString(call.input, "SessionId");
    if (!id) return id.error();
    if (id->empty() || id->size() > 96)
      return MakeError("ValidationException", "SessionId must be 1 to 96 characters.");
    auto session = sessions_.Get(*id);
    if (!session) return session.error();
    SessionTarget target{*id, std::move(*session)};
    return Resolved<SessionTarget>{{{"", SessionArn(*id), {}}}, std::move(target)};
  };
  Add(ssm, Declare<SessionTarget>(
               "ResumeSession", "ssm:ResumeSession", kOperators, resolve_session,
               [this](const Call& call, SessionTarget& target) {
                 return SsmResumeSession(target.id, target.session, call.caller, call.request);
               }));
  Add(ssm, Declare<SessionTarget>(
               "TerminateSession", "ssm:TerminateSession", kOperators, resolve_session,
               [this](const Call& call, SessionTarget& target) {
                 return SsmTerminateSession(target.id, target.session, call.caller);
               }));
  Add(ssm, Declare<int>(
               "DescribeSessions", "ssm:DescribeSessions", kOperators,
               [](const Call&) -> Result<Resolved<int>> { return Resolved<int>{{{"", "*", {}}}, 0}; },
               [this](const Call& call, int&) { return SsmDescribeSessions(call.input, call.caller); }));
}

Result<Json> ControlPlane::SsmStartSession(const Json& in, const Caller& caller, const net::HttpRequest& request,
                                           const ExecTarget& target, const std::string& command) {
  std::string target_text = StringOr(in, "Target");
  if (!target.task) return MakeError("TargetNotConnected", target_text + " is not connected.");
  Json exec = {{"command", command}, {"interactive", true}};
  // SSM names a session after whoever started it: the user, or the role session.
  std::string name = caller.kind == PrincipalKind::kUser          ? caller.user_name
                     : caller.kind == PrincipalKind::kAssumedRole ? caller.session_name
                                                                  : "root";
  auto out = ExecuteCommand(exec, caller, request, target, name + "-");
  if (!out) {
    if (out.error().code == "InvalidParameterException" || out.error().code == "TargetNotConnectedException")
      return MakeError("TargetNotConnected", target_text + " is not connected: " + out.error().message);
    return out.error();
  }
  const Json& session = (*out)["session"];
  return Json{{"SessionId", session["sessionId"]}, {"StreamUrl", session["streamUrl"]},
              {"TokenValue", session["tokenValue"]}};
}

namespace {
// Sessions belong to whoever started them, by the credential's unique
// identity (aws:userid), not a name: another user, or another session name
// under the same role, is not the owner. Root owns every session.
Status CheckOwner(const model::Session& session, const Caller& caller, const std::string& owner_identity) {
  if (caller.kind == PrincipalKind::kRoot) return OkStatus();
  if (!session.owner_identity.empty() && session.owner_identity == owner_identity) return OkStatus();
  return MakeError("AccessDeniedException", "User: " + caller.principal_arn + " is not authorized to act on session " +
                                                session.id + ": it belongs to another principal.");
}
}  // namespace

Result<Json> ControlPlane::SsmResumeSession(const std::string& id, const std::optional<model::Session>& session,
                                            const Caller& caller, const net::HttpRequest& request) {
  // A session that is gone answers 200 without a token: the plugin then
  // reports a timeout instead of hanging (§8).
  if (!session || !broker_) return Json{{"SessionId", id}};
  PORTHOLE_TRY(CheckOwner(*session, caller, OwnerIdentity(caller)));
  auto grant = broker_->ResumeSession(id, request.Header("Host").value_or("127.0.0.1"));
  if (!grant) return Json{{"SessionId", id}};
  log::Info("session " + id + " resumed by " + caller.principal_arn);
  return Json{{"SessionId", grant->session_id}, {"StreamUrl", grant->stream_url}, {"TokenValue", grant->token_value}};
}

Result<Json> ControlPlane::SsmTerminateSession(const std::string& id, const std::optional<model::Session>& session,
                                               const Caller& caller) {
  if (session) {
    PORTHOLE_TRY(CheckOwner(*session, caller, OwnerIdentity(caller)));
    if (broker_) broker_->TerminateSession(id);
  }
  return Json{{"SessionId", id}};
}

Result<Json> ControlPlane::SsmDescribeSessions(const Json& in, const Caller& caller) {
  PORTHOLE_TRY_ASSIGN(state, RequiredString(in, "State"));
  if (state != "Active" && state != "History")
    return MakeError("ValidationException", "State must be Active or History.");
  std::string target_filter;
  for (const auto& f : in.value("Filters", Json::array()))
    if (f.is_object() && f.value("key", "") == "Target") target_filter = f.value("value", "");
  PORTHOLE_TRY_ASSIGN(all, sessions_.List());
  const std::string me = OwnerIdentity(caller);
  Json sessions = Json::array();
  for (const auto& session : all) {
    if ((state == "Active") != session.Active()) continue;
    if (!target_filter.empty() && session.target != target_filter) continue;
    if (caller.kind != PrincipalKind::kRoot && session.owner_identity != me) continue;
    sessions.push_back(model::PublicView(session));
  }
  return Json{{"Sessions", sessions}};
}

}  // namespace porthole::api
