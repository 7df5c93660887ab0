#include "api/control_plane.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"

namespace porthole::api {

namespace {
constexpr std::string_view kEcsPrefix = "AmazonEC2ContainerServiceV20141113.";
constexpr std::string_view kNodePrefix = "PortholeNodeService.";

std::string Truncate(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n); }
}  // namespace

ControlPlane::ControlPlane(boost::asio::any_io_executor executor, store::Store& store, ControlPlaneConfig config)
    : executor_(executor), store_(store), config_(std::move(config)), clock_([] { return std::time(nullptr); }) {
  if (config_.secret_key.size() != 32) throw std::invalid_argument("ControlPlaneConfig::secret_key must be 32 bytes");
  std::string random = crypto::RandomBytes(4);
  for (unsigned char c : random) generation_base_ = generation_base_ << 8 | c;
  generation_base_ <<= 16;
  RegisterOperations();
}

ControlPlane::~ControlPlane() = default;

std::string ControlPlane::Seal(std::string_view secret) const {
  return crypto::Base64Encode(crypto::AesGcmSeal(config_.secret_key, secret));
}

std::optional<std::string> ControlPlane::Unseal(const Json& sealed) const {
  if (!sealed.is_string()) return std::nullopt;
  auto raw = crypto::Base64Decode(sealed.get<std::string>());
  if (!raw) return std::nullopt;
  return crypto::AesGcmOpen(config_.secret_key, *raw);
}

void ControlPlane::RegisterOperations() {
  auto simple = [](Result<Json> (ControlPlane::*fn)(const Json&), ControlPlane* self) -> Operation {
    return [self, fn](const Json& in, const Caller&, const net::RequestContext&, const net::HttpRequest&) {
      return (self->*fn)(in);
    };
  };
  std::string e(kEcsPrefix);
  operations_[e + "CreateCluster"] = simple(&ControlPlane::CreateCluster, this);
  operations_[e + "DescribeClusters"] = simple(&ControlPlane::DescribeClusters, this);
  operations_[e + "ListClusters"] = simple(&ControlPlane::ListClusters, this);
  operations_[e + "DeleteCluster"] = simple(&ControlPlane::DeleteCluster, this);
  operations_[e + "RegisterTaskDefinition"] = simple(&ControlPlane::RegisterTaskDefinition, this);
  operations_[e + "DescribeTaskDefinition"] = simple(&ControlPlane::DescribeTaskDefinition, this);
  operations_[e + "ListTaskDefinitions"] = simple(&ControlPlane::ListTaskDefinitions, this);
  operations_[e + "DeregisterTaskDefinition"] = simple(&ControlPlane::DeregisterTaskDefinition, this);
  operations_[e + "RunTask"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                      const net::HttpRequest&) { return RunTask(in, c); };
  operations_[e + "StartTask"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                        const net::HttpRequest&) { return RunTask(in, c, true); };
  operations_[e + "CreateService"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                            const net::HttpRequest&) { return CreateService(in, c); };
  operations_[e + "UpdateService"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                            const net::HttpRequest&) { return UpdateService(in, c); };
  operations_[e + "DescribeServices"] = simple(&ControlPlane::DescribeServices, this);
  operations_[e + "ListServices"] = simple(&ControlPlane::ListServices, this);
  operations_[e + "DeleteService"] = simple(&ControlPlane::DeleteService, this);
  operations_[e + "DescribeTasks"] = simple(&ControlPlane::DescribeTasks, this);
  operations_[e + "ListTasks"] = simple(&ControlPlane::ListTasks, this);
  operations_[e + "StopTask"] = simple(&ControlPlane::StopTask, this);
  operations_[e + "ExecuteCommand"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                             const net::HttpRequest& r) { return ExecuteCommand(in, c, r); };
  operations_[e + "TagResource"] = simple(&ControlPlane::TagResource, this);
  operations_[e + "UntagResource"] = simple(&ControlPlane::UntagResource, this);
  operations_[e + "ListTagsForResource"] = simple(&ControlPlane::ListTagsForResource, this);
  std::string ssm = "AmazonSSM.";
  operations_[ssm + "StartSession"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                             const net::HttpRequest& r) { return SsmStartSession(in, c, r); };
  operations_[ssm + "ResumeSession"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                              const net::HttpRequest& r) { return SsmResumeSession(in, c, r); };
  operations_[ssm + "TerminateSession"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                                 const net::HttpRequest&) { return SsmTerminateSession(in, c); };
  operations_[ssm + "DescribeSessions"] = [this](const Json& in, const Caller& c, const net::RequestContext&,
                                                 const net::HttpRequest&) { return SsmDescribeSessions(in, c); };
  std::string n(kNodePrefix);
  operations_[n + "RegisterContainerInstance"] = [this](const Json& in, const Caller&,
                                                        const net::RequestContext& ctx,
                                                        const net::HttpRequest&) {
    return RegisterContainerInstance(in, ctx);
  };
  operations_[n + "SubmitTaskStateChange"] = simple(&ControlPlane::SubmitTaskStateChange, this);
}

Result<Caller> ControlPlane::Authenticate(const net::HttpRequest& request, std::string_view expected_service) const {
  std::optional<store::Record> key_record;
  auth::KeyLookup lookup = [&](std::string_view akid) -> std::optional<auth::KeyLookupResult> {
    if (akid.size() > 128) return std::nullopt;
    auto r = store_.Get(store::kind::kAccessKey, std::string(akid));
    if (!r.ok() || !r->has_value()) return std::nullopt;
    const Json& body = (*r)->body;
    if (body.value("status", "Active") != "Active") return std::nullopt;
    key_record = **r;
    auto secret = Unseal(body.value("secretSealed", Json()));
    if (!secret) return std::nullopt;
    return auth::KeyLookupResult{*secret};
  };
  auto verified = auth::VerifyRequest(request, lookup, clock_());
  if (!verified) return verified.error();
  if (verified->region != config_.region)
    return MakeError("InvalidSignatureException",
                     "Credential should be scoped to a valid region. This endpoint serves '" + config_.region + "'.",
                     403);
  if (verified->service != expected_service)
    return MakeError("InvalidSignatureException",
                     "Credential should be scoped to correct service: '" + std::string(expected_service) + "'.", 403);
  const Json& body = key_record->body;
  // Temporary credentials must present their session token and be unexpired.
  // Session tokens are kept as digests only.
  std::string expected_token = body.value("sessionTokenSha256", "");
  if (!expected_token.empty() || !verified->session_token.empty()) {
    if (!crypto::ConstantTimeEquals(expected_token, crypto::HexEncode(crypto::Sha256(verified->session_token))))
      return MakeError("UnrecognizedClientException", "The security token included in the request is invalid.", 403);
    if (body.value("expiration", 0.0) < static_cast<double>(clock_()))
      return MakeError("ExpiredTokenException", "The security token included in the request is expired", 403);
  }
  Caller caller;
  caller.access_key_id = verified->access_key_id;
  caller.principal_arn = body.value("principalArn", "");
  caller.type = body.value("type", "");
  caller.task_id = body.value("taskId", "");
  if (caller.type == "user") {
    caller.user_name = body.value("userName", "");
    auto user = store_.Get(store::kind::kIamUser, caller.user_name);
    if (!user || !*user)
      return MakeError("UnrecognizedClientException", "The security token included in the request is invalid.", 403);
    caller.user_id = (*user)->body.value("UserId", "");
    caller.principal_tags = (*user)->body.value("Tags", Json::array());
  } else if (caller.type == "assumed-role") {
    caller.role_name = body.value("roleName", "");
    auto role = store_.Get(store::kind::kIamRole, caller.role_name);
    if (!role || !*role)
      return MakeError("UnrecognizedClientException", "The security token included in the request is invalid.", 403);
    caller.user_id = (*role)->body.value("RoleId", "") + ":" + body.value("sessionName", "");
    caller.principal_tags = (*role)->body.value("Tags", Json::array());
  } else if (caller.type == "task") {
    caller.role_name = body.value("roleName", "");
  }
  return caller;
}

Result<auth::Credentials> ControlPlane::EnsureRootCredentials() {
  auto existing = store_.List(store::kind::kAccessKey, std::string("root"));
  if (!existing) return existing.error();
  for (const auto& r : *existing) {
    auto secret = Unseal(r.body.value("secretSealed", Json()));
    if (!secret) return MakeError("ConfigError", "the root access key cannot be opened with this master key", 500);
    return auth::Credentials{r.key, *secret, ""};
  }
  auth::Credentials creds;
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string random = crypto::RandomBytes(16);
  creds.access_key_id = "AKIA";
  for (unsigned char c : random) creds.access_key_id.push_back(kAlphabet[c % 32]);
  creds.secret_access_key = crypto::Base64Encode(crypto::RandomBytes(30));
  Json body = {{"type", "root"},
               {"secretSealed", Seal(creds.secret_access_key)},
               {"principalArn", "arn:aws:iam::" + config_.account_id + ":root"},
               {"status", "Active"},
               {"createDate", EpochSeconds()}};
  Status s = store_.Put(store::kind::kAccessKey, {creds.access_key_id, "root", body});
  if (!s) return s.error();
  return creds;
}

boost::asio::awaitable<net::HttpResponse> ControlPlane::Handle(net::HttpRequest request,
                                                               net::RequestContext context) {
  std::string target = request.Header("X-Amz-Target").value_or("");
  if (request.method != "POST") {
    co_return ErrorResponse(MakeError("UnknownOperationException", "Only POST requests are supported.", 404));
  }
  // IAM and STS speak the query protocol (no X-Amz-Target, a form body).
  if (target.empty() && request.Header("Content-Type").value_or("").rfind("application/x-www-form-urlencoded", 0) == 0) {
    std::string_view service = "iam";
    auto params = ParseQuery(request.body);
    if (params.ok()) {
      const std::string& action = (*params)["Action"];
      if (action == "GetCallerIdentity" || action == "AssumeRole" || action == "GetSessionToken") service = "sts";
    }
    auto caller = Authenticate(request, service);
    if (!caller) {
      Error e = caller.error();
      if (e.code == "InvalidSignatureException") e.code = "SignatureDoesNotMatch";
      if (e.code == "UnrecognizedClientException") e.code = "InvalidClientTokenId";
      co_return QueryErrorResponse(service == "sts" ? "https://sts.amazonaws.com/doc/2011-06-15/"
                                                    : "https://iam.amazonaws.com/doc/2010-05-08/",
                                   e);
    }
    if (caller->type == "task")
      co_return QueryErrorResponse("https://iam.amazonaws.com/doc/2010-05-08/",
                                   MakeError("AccessDenied", "Task credentials may only open exec agent channels.", 403));
    caller->source_ip = context.peer_ip;
    co_return HandleQuery(request, *caller, service);
  }
  // The service in the credential scope follows the target, as AWS's endpoints require.
  std::string_view service = target.rfind("AmazonSSM.", 0) == 0 ? "ssm" : "ecs";
  auto caller = Authenticate(request, service);
  if (!caller) {
    log::Info("denied " + Truncate(target, 100) + " from " + context.peer_ip + ": " + caller.error().code);
    co_return ErrorResponse(caller.error());
  }
  caller->source_ip = context.peer_ip;
  // Task credentials exist only for the exec agent's channels; node
  // operations are for the account root (the node's credentials).
  bool node_operation = target.rfind(kNodePrefix, 0) == 0;
  if (caller->type == "task" || (node_operation && caller->type != "root")) {
    co_return ErrorResponse(MakeError("AccessDeniedException",
                                      "User: " + caller->principal_arn + " is not authorized to perform: " +
                                          Truncate(target, 100),
                                      400));
  }
  Json input = Json::parse(request.body.empty() ? std::string("{}") : request.body, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    co_return ErrorResponse(MakeError("SerializationException", "The request body is not a valid JSON object."));
  }
  Result<Json> output = MakeError("UnknownOperationException", "Unknown operation " + Truncate(target, 100));
  if (!node_operation && operations_.count(target)) {
    auto allowed = AuthorizeOperation(target, input, *caller);
    if (!allowed) co_return ErrorResponse(allowed.error());
  }
  try {
    if (target == std::string(kNodePrefix) + "PollTasks") {
      output = co_await PollTasks(input);
    } else if (auto it = operations_.find(target); it != operations_.end()) {
      output = it->second(input, *caller, context, request);
    }
  } catch (const std::exception& e) {
    log::Error("operation " + target + " failed: " + e.what());
    output = MakeError("ServerException", "Internal error while handling " + Truncate(target, 100), 500);
  }
  if (!output) {
    log::Debug(target + " -> " + output.error().code + ": " + output.error().message);
    co_return ErrorResponse(output.error());
  }
  co_return JsonResponse(*output);
}

}  // namespace porthole::api
