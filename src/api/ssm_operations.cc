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

Json SessionView(const Json& record) {
  Json out = {{"SessionId", record.value("SessionId", "")},
              {"Target", record.value("Target", "")},
              {"Status", record.value("Status", "")},
              {"StartDate", record.value("StartDate", 0.0)},
              {"Owner", record.value("Owner", "")}};
  if (record.contains("EndDate")) out["EndDate"] = record["EndDate"];
  if (!record.value("Reason", "").empty()) out["Reason"] = record["Reason"];
  if (!record.value("documentName", "").empty()) out["DocumentName"] = record["documentName"];
  return out;
}

}  // namespace

Result<Json> ControlPlane::SsmStartSession(const Json& in, const Caller& caller, const net::HttpRequest& request) {
  auto target_text = RequiredString(in, "Target");
  if (!target_text) return target_text.error();
  auto target = ParseEcsTarget(*target_text);
  if (!target) return target.error();
  auto document = OptionalString(in, "DocumentName");
  if (!document) return document.error();
  std::string command = "/bin/sh";
  const Json parameters = in.value("Parameters", Json::object());
  if (!parameters.is_object()) return MakeError("SerializationException", "Member 'Parameters' must be a map.");
  std::string doc = document->value_or("");
  if (doc == "AWS-StartInteractiveCommand" || doc == "AmazonECS-ExecuteCommand") {
    const Json commands = parameters.value("command", Json::array());
    if (!commands.is_array() || commands.empty() || !commands[0].is_string())
      return MakeError("InvalidParameters", "The document " + doc + " needs the parameter command.");
    command = commands[0];
  } else if (!doc.empty() && doc != "SSM-SessionManagerRunShell") {
    return MakeError("InvalidDocument", "Document " + doc.substr(0, 128) + " is not supported for ECS targets.");
  }
  // Find the container by runtime id, then go through the ExecuteCommand path.
  auto record = LoadTask(target->cluster, target->task_id);
  if (!record) return record.error();
  if (!*record) return MakeError("TargetNotConnected", *target_text + " is not connected.");
  std::string container;
  for (const auto& c : (*record)->body["containers"])
    if (c.value("runtimeId", "") == target->runtime_id) container = c.value("name", "");
  if (container.empty()) return MakeError("TargetNotConnected", *target_text + " is not connected.");
  Json exec = {{"cluster", target->cluster},
               {"task", target->task_id},
               {"container", container},
               {"command", command},
               {"interactive", true}};
  // Authorized as ssm:StartSession on the task, with its tags (E28).
  auto out = ExecuteCommand(exec, caller, request, "ssm:StartSession");
  if (!out) {
    if (out.error().code == "InvalidParameterException" || out.error().code == "TargetNotConnectedException")
      return MakeError("TargetNotConnected", *target_text + " is not connected: " + out.error().message);
    return out.error();
  }
  const Json& session = (*out)["session"];
  return Json{{"SessionId", session["sessionId"]}, {"StreamUrl", session["streamUrl"]},
              {"TokenValue", session["tokenValue"]}};
}

Result<Json> ControlPlane::LoadOwnedSession(const std::string& session_id, const Caller& caller) {
  auto record = store_.Get(store::kind::kSession, session_id);
  if (!record) return record.error();
  if (!*record) return Json();
  const Json& body = (*record)->body;
  if (body.value("Owner", "") != caller.principal_arn && caller.type != "root")
    return MakeError("AccessDeniedException", "User: " + caller.principal_arn +
                                                  " is not authorized to act on session " + session_id + ".");
  return body;
}

Result<Json> ControlPlane::SsmResumeSession(const Json& in, const Caller& caller, const net::HttpRequest& request) {
  auto id = RequiredString(in, "SessionId");
  if (!id) return id.error();
  auto session = LoadOwnedSession(*id, caller);
  if (!session) return session.error();
  // A session that is gone answers 200 without a token: the plugin then
  // reports a timeout instead of hanging (§8).
  if (session->is_null() || !broker_) return Json{{"SessionId", *id}};
  auto grant = broker_->ResumeSession(*id, request.Header("Host").value_or("127.0.0.1"));
  if (!grant) return Json{{"SessionId", *id}};
  log::Info("session " + *id + " resumed by " + caller.principal_arn);
  return Json{{"SessionId", grant->session_id}, {"StreamUrl", grant->stream_url}, {"TokenValue", grant->token_value}};
}

Result<Json> ControlPlane::SsmTerminateSession(const Json& in, const Caller& caller) {
  auto id = RequiredString(in, "SessionId");
  if (!id) return id.error();
  auto session = LoadOwnedSession(*id, caller);
  if (!session) return session.error();
  if (!session->is_null() && broker_) broker_->TerminateSession(*id);
  return Json{{"SessionId", *id}};
}

Result<Json> ControlPlane::SsmDescribeSessions(const Json& in, const Caller& caller) {
  auto state = RequiredString(in, "State");
  if (!state) return state.error();
  if (*state != "Active" && *state != "History")
    return MakeError("ValidationException", "State must be Active or History.");
  std::string target_filter;
  for (const auto& f : in.value("Filters", Json::array()))
    if (f.is_object() && f.value("key", "") == "Target") target_filter = f.value("value", "");
  auto all = store_.List(store::kind::kSession, std::nullopt);
  if (!all) return all.error();
  Json sessions = Json::array();
  for (const auto& r : *all) {
    bool active = r.body.value("Status", "") != "Terminated";
    if ((*state == "Active") != active) continue;
    if (!target_filter.empty() && r.body.value("Target", "") != target_filter) continue;
    if (caller.type != "root" && r.body.value("Owner", "") != caller.principal_arn) continue;
    sessions.push_back(SessionView(r.body));
  }
  return Json{{"Sessions", sessions}};
}

}  // namespace porthole::api
