#include "api/control_plane.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/bounded_json.h"
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
  // Task records from before the instance index get their entry: once per
  // database, not on every start.
  constexpr const char* kTaskIndexSetting = "index/tasks-by-instance";
  auto indexed = store_.Get(store::kind::kSetting, kTaskIndexSetting);
  if (!indexed) throw std::runtime_error("cannot read the store: " + indexed.error().message);
  if (!*indexed) {
    auto reindexed = tasks_.Reindex();
    if (!reindexed) throw std::runtime_error("cannot index the stored tasks: " + reindexed.error().message);
    if (*reindexed > 0) log::Info("indexed " + std::to_string(*reindexed) + " stored tasks by container instance");
    Status marked = store_.Put(store::kind::kSetting, {kTaskIndexSetting, "", Json{{"done", true}}});
    if (!marked) throw std::runtime_error("cannot record the task index: " + marked.error().message);
  }
  DeclareEcsOperations();
  DeclareSsmOperations();
  DeclareNodeOperations();
  DeclareIamOperations();
  DeclareStsOperations();
  DeclareAdminOperations();
}

// Porthole's own operator operations (PortholeAdminService.*).
void ControlPlane::DeclareAdminOperations() {
  // What the gateway holds for sessions: bounded by design (DESIGN.md §4), and shown.
  Add("admin", Declare<int>(
                   "DescribeGateway", "porthole:DescribeGateway", kOperators,
                   [](const Call&) -> Result<Resolved<int>> { return Resolved<int>{{{"", "*", {}}}, 0}; },
                   [this](const Call&, int&) -> Result<Json> {
                     GatewayStats stats = broker_ ? broker_->Stats() : GatewayStats{};
                     return Json{{"sessions", stats.sessions},
                                 {"connectedAgents", stats.agents},
                                 {"queuedBytes", stats.queued_bytes},
                                 {"maxQueuedBytesPerEnd", stats.max_queued_bytes},
                                 {"pendingBytes", stats.pending_bytes},
                                 {"stalledEnds", stats.stalled_ends}};
                   }));
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

std::vector<std::string> ControlPlane::OperationNames() const {
  std::vector<std::string> names;
  for (const auto& [key, op] : operations_) names.push_back(key);
  return names;
}

void ControlPlane::Add(const std::string& service, Operation operation) {
  std::string key = service + "." + operation.name;
  if (!operations_.emplace(key, std::move(operation)).second)
    throw std::logic_error("operation declared twice: " + key);
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
  // Presigned (query-string) requests only where AWS's clients use them: STS
  // (a presigned GetCallerIdentity proves an identity to a third party).
  auth::VerifyOptions options;
  options.allow_presigned = expected_service == "sts";
  auto verified = auth::VerifyRequest(request, lookup, clock_(), options);
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
  caller.credential_expiration = body.value("expiration", 0.0);
  caller.principal_arn = body.value("principalArn", "");
  const std::string type = body.value("type", "");
  auto invalid = [] {
    return MakeError("UnrecognizedClientException", "The security token included in the request is invalid.", 403);
  };
  if (type == "root") {
    caller.kind = PrincipalKind::kRoot;
    caller.user_id = config_.account_id;
  } else if (type == "user") {
    caller.kind = PrincipalKind::kUser;
    caller.user_name = body.value("userName", "");
    auto user = store_.Get(store::kind::kIamUser, caller.user_name);
    if (!user || !*user) return invalid();
    caller.principal_arn = (*user)->body.value("Arn", caller.principal_arn);
    caller.user_id = (*user)->body.value("UserId", "");
    caller.principal_tags = (*user)->body.value("Tags", Json::array());
  } else if (type == "assumed-role") {
    caller.kind = PrincipalKind::kAssumedRole;
    caller.role_name = body.value("roleName", "");
    caller.session_name = body.value("sessionName", "");
    auto role = store_.Get(store::kind::kIamRole, caller.role_name);
    if (!role || !*role) return invalid();
    caller.user_id = (*role)->body.value("RoleId", "") + ":" + caller.session_name;
    caller.principal_tags = (*role)->body.value("Tags", Json::array());
  } else if (type == "task") {
    caller.kind = PrincipalKind::kTaskAgent;
    caller.task_id = body.value("taskId", "");
    caller.container_name = body.value("containerName", "");
    caller.role_name = body.value("roleName", "");
    // Credentials issued before they were bound to a container are void.
    if (caller.task_id.empty() || caller.container_name.empty()) return invalid();
  } else if (type == "instance") {
    caller.kind = PrincipalKind::kContainerInstance;
    caller.instance_id = body.value("instanceId", "");
    if (caller.instance_id.empty()) return invalid();
  } else {
    return invalid();
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

namespace {

// Where a request goes: its service's table and the operation's name there.
struct Route {
  std::string service;        // table: ecs, ssm, node, iam, sts
  std::string scope_service;  // the SigV4 credential scope it must be signed for
  std::string name;
  bool query = false;         // the query protocol (form body, XML answers)
};

constexpr std::string_view kIamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/";
constexpr std::string_view kStsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

std::optional<Route> RouteOf(const net::HttpRequest& request, const QueryParams& params) {
  std::string target = request.Header("X-Amz-Target").value_or("");
  if (target.empty()) {
    if (request.Header("Content-Type").value_or("").rfind("application/x-www-form-urlencoded", 0) != 0)
      return std::nullopt;
    auto action = params.find("Action");
    std::string name = action == params.end() ? "" : action->second;
    bool sts = name == "GetCallerIdentity" || name == "AssumeRole" || name == "GetSessionToken";
    return Route{sts ? "sts" : "iam", sts ? "sts" : "iam", name, true};
  }
  size_t dot = target.find('.');
  if (dot == std::string::npos) return Route{"", "ecs", target, false};
  std::string prefix = target.substr(0, dot + 1), name = target.substr(dot + 1);
  if (prefix == kEcsPrefix) return Route{"ecs", "ecs", name, false};
  if (prefix == "AmazonSSM.") return Route{"ssm", "ssm", name, false};
  if (prefix == kNodePrefix) return Route{"node", "ecs", name, false};
  if (prefix == "PortholeAdminService.") return Route{"admin", "ecs", name, false};
  return Route{"", "ecs", target, false};
}

bool Signed(const net::HttpRequest& request) {
  return request.Header("Authorization").has_value() || request.target.find("X-Amz-Signature=") != std::string::npos;
}

}  // namespace

Status ControlPlane::AuthorizeChecks(const Caller& caller, const std::vector<AccessCheck>& checks) {
  for (const auto& check : checks) {
    auto d = Authorize(caller, check.action, check.resource, check.keys);
    if (!d) return d.error();
  }
  return OkStatus();
}

boost::asio::awaitable<net::HttpResponse> ControlPlane::Handle(net::HttpRequest request,
                                                               net::RequestContext context) {
  if (request.method != "POST") {
    co_return ErrorResponse(MakeError("UnknownOperationException", "Only POST requests are supported.", 404));
  }
  QueryParams params;
  bool form = request.Header("X-Amz-Target").value_or("").empty();
  if (form) {
    auto parsed = ParseQuery(request.body);
    if (parsed) params = std::move(*parsed);
  }
  std::optional<Route> route = RouteOf(request, params);
  if (!route) co_return ErrorResponse(MakeError("UnknownOperationException", "The request names no operation."));
  std::string_view ns = route->service == "sts" ? kStsNamespace : kIamNamespace;
  // One error answer per protocol: the query protocol's names for the common ones.
  auto fail = [&](Error e) {
    if (!route->query) return ErrorResponse(e);
    if (e.code == "InvalidSignatureException") e.code = "SignatureDoesNotMatch";
    if (e.code == "UnrecognizedClientException") e.code = "InvalidClientTokenId";
    if (e.code == "AccessDeniedException") e = MakeError("AccessDenied", e.message, 403);
    return QueryErrorResponse(ns, e);
  };
  const std::string shown = Truncate(route->name, 100);
  auto found = operations_.find(route->service + "." + route->name);

  // Authenticate. Only joining with a join token is done unsigned.
  Caller caller;
  bool anonymous_join = route->service == "node" && route->name == "RegisterContainerInstance" && !Signed(request);
  if (anonymous_join) {
    // The join token is the proof: single-use, unexpired, kept as a digest.
    Json body = ParseBoundedJson(request.body.empty() ? std::string_view("{}") : std::string_view(request.body));
    std::string token = body.is_object() ? StringOr(body, "joinToken") : "";
    if (token.empty() || token.size() > 256)
      co_return fail(MakeError("MissingAuthenticationTokenException",
                               "Request is missing Authentication Token: sign it, or pass a joinToken.", 403));
    std::string digest = crypto::HexEncode(crypto::Sha256(token));
    auto record = store_.Get(store::kind::kJoinToken, digest);
    if (!record) co_return fail(record.error());
    if (!*record || (*record)->body.value("expiration", 0.0) < static_cast<double>(clock_())) {
      log::Info("refused a join from " + context.peer_ip + ": unknown, used or expired join token");
      co_return fail(MakeError("AccessDeniedException",
                               "The join token is not valid: it is unknown, has expired or was already used.", 400));
    }
    caller.kind = PrincipalKind::kAnonymous;
    caller.join_token = digest;
    caller.principal_arn = "join-token/" + digest.substr(0, 12);
  } else {
    auto authenticated = Authenticate(request, route->scope_service);
    if (!authenticated) {
      log::Info("denied " + shown + " from " + context.peer_ip + ": " + authenticated.error().code);
      co_return fail(authenticated.error());
    }
    caller = std::move(*authenticated);
  }
  caller.source_ip = context.peer_ip;
  if (found == operations_.end()) {
    if (route->query)
      co_return fail(MakeError("InvalidAction", "The action " + shown + " is not valid for this endpoint."));
    co_return fail(MakeError("UnknownOperationException", "Unknown operation " + shown));
  }
  const Operation& operation = found->second;
  // Before any policy: the kinds of principal the operation is for at all.
  if (!operation.callers.Contains(caller.kind)) {
    std::string why = caller.kind == PrincipalKind::kTaskAgent ? " (task credentials may only open exec agent channels)"
                      : caller.kind == PrincipalKind::kContainerInstance
                          ? " (container instance credentials may only report their own tasks)"
                          : "";
    std::string who = caller.kind == PrincipalKind::kAnonymous ? "anonymous" : caller.principal_arn;
    log::Info("refused " + shown + " for " + who + why);
    co_return fail(MakeError("AccessDeniedException",
                             "User: " + who + " is not authorized to perform: " + operation.action + why, 400));
  }
  Json input = Json::object();
  if (!route->query) {
    input = ParseBoundedJson(request.body.empty() ? std::string_view("{}") : std::string_view(request.body));
    if (input.is_discarded() || !input.is_object())
      co_return fail(MakeError("SerializationException", "The request body is not a valid JSON object (nested at most " +
                                                             std::to_string(kMaxPeerJsonDepth) + " levels)."));
  } else if (auto parsed = ParseQuery(request.body); !parsed) {
    co_return fail(parsed.error());
  }
  Call call{input, params, caller, context, request};
  Authorizer authorize = [this, &caller](const std::vector<AccessCheck>& checks) {
    return AuthorizeChecks(caller, checks);
  };
  Result<Json> output = MakeError("ServerException", "Internal error while handling " + shown, 500);
  try {
    output = co_await operation.run(call, authorize);
  } catch (const std::exception& e) {
    log::Error("operation " + route->service + "." + shown + " failed: " + e.what());
    output = MakeError("ServerException", "Internal error while handling " + shown, 500);
  }
  if (!output) {
    log::Debug(route->service + "." + shown + " -> " + output.error().code + ": " + output.error().message);
    co_return fail(output.error());
  }
  if (route->query) co_return QueryResponse(route->name, ns, output->is_string() ? output->get<std::string>() : "");
  co_return JsonResponse(*output);
}

}  // namespace porthole::api
