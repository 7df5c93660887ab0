#pragma once
// One API operation, declared once beside its handler (DESIGN.md §1, "One
// operation table per service"): its IAM action, who may call it at all, a
// resolver that computes the resources it acts on from the server's own
// records, and the handler. The router (ControlPlane::Handle) runs every call
// in one order: authenticate → resolve → authorize and audit each check →
// handle. A handler acts only on the target its resolver produced, so no
// request member can be authorized in place of the one acted on.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "api/query_protocol.h"
#include "common/result.h"
#include "net/http.h"
#include "net/https_server.h"

namespace porthole::api {

using Json = nlohmann::json;
using ConditionKeys = std::map<std::string, std::vector<std::string>>;

// The kinds of principal a credential can belong to (DESIGN.md §1, "Principals").
enum class PrincipalKind : uint8_t {
  kAnonymous,          // an unsigned request (only RegisterContainerInstance with a join token)
  kRoot,               // the account root: the first-start key
  kUser,               // an IAM user's access key
  kAssumedRole,        // STS AssumeRole session credentials
  kTaskAgent,          // an exec agent's credentials, bound to (task, container)
  kContainerInstance,  // a node's credentials, bound to its instance id
};
const char* PrincipalKindName(PrincipalKind kind);

// A set of PrincipalKind: which principals may call an operation before any policy is consulted.
class Principals {
 public:
  constexpr Principals() = default;
  constexpr Principals(std::initializer_list<PrincipalKind> kinds) {
    for (PrincipalKind k : kinds) bits_ |= Bit(k);
  }
  constexpr bool Contains(PrincipalKind kind) const { return (bits_ & Bit(kind)) != 0; }

 private:
  static constexpr uint32_t Bit(PrincipalKind k) { return 1u << static_cast<uint32_t>(k); }
  uint32_t bits_ = 0;
};
// People and their roles: the operator-facing APIs.
inline constexpr Principals kOperators{PrincipalKind::kRoot, PrincipalKind::kUser, PrincipalKind::kAssumedRole};
// A node's own credentials: the node protocol.
inline constexpr Principals kNodes{PrincipalKind::kContainerInstance};

// Who signed a request.
struct Caller {
  PrincipalKind kind = PrincipalKind::kAnonymous;
  std::string access_key_id;
  std::string principal_arn;
  std::string task_id;         // kTaskAgent: the task the credentials are bound to
  std::string container_name;  // kTaskAgent: the container the credentials are bound to
  std::string instance_id;     // kContainerInstance: the instance the credentials are bound to
  std::string user_name;       // kUser
  std::string role_name;       // kAssumedRole, or kTaskAgent acting as its task role
  std::string session_name;    // kAssumedRole: the RoleSessionName
  std::string user_id;         // aws:userid: the user's id, or "<role id>:<session name>"
  Json principal_tags = Json::array();  // [{"Key","Value"}] of the user or role
  std::string source_ip;
  double credential_expiration = 0;  // temporary credentials: when they expire (epoch seconds)
  std::string join_token;            // kAnonymous: the digest of the verified join token it presented
};

// One authorization an operation needs: `action` on `resource` with `keys`
// (added to the global keys). An empty action means the operation's own.
struct AccessCheck {
  std::string action;
  std::string resource;
  ConditionKeys keys;
};

// What one call carries. `input` is the JSON body (AWS JSON 1.1 services);
// `params` the form parameters (query-protocol services: IAM, STS).
struct Call {
  const Json& input;
  const QueryParams& params;
  const Caller& caller;
  const net::RequestContext& context;
  const net::HttpRequest& request;
};

// What a resolver found: the checks to pass, and the target the handler acts on.
template <class Target>
struct Resolved {
  std::vector<AccessCheck> checks;
  Target target;
};

// Passes every check (recording each decision) or answers the first denial.
using Authorizer = std::function<Status(const std::vector<AccessCheck>&)>;

struct Operation {
  std::string name;    // "StopTask": the X-Amz-Target suffix, or the query protocol's Action
  std::string action;  // "ecs:StopTask"
  Principals callers;
  // Resolve, authorize, handle. Query-protocol handlers answer the result
  // XML as a JSON string.
  std::function<boost::asio::awaitable<Result<Json>>(const Call&, const Authorizer&)> run;
};

namespace detail {
// A resolver must name at least one resource: an operation that authorizes nothing is a bug,
// refused rather than run.
inline Status CheckResolution(std::vector<AccessCheck>& checks, const std::string& action) {
  if (checks.empty()) return MakeError("InternalFailure", "The operation resolved no resource to authorize.", 500);
  for (auto& c : checks)
    if (c.action.empty()) c.action = action;
  return OkStatus();
}
}  // namespace detail

template <class Target>
using Resolver = std::function<Result<Resolved<Target>>(const Call&)>;
template <class Target>
using Handler = std::function<Result<Json>(const Call&, Target&)>;
template <class Target>
using AsyncHandler = std::function<boost::asio::awaitable<Result<Json>>(const Call&, Target&)>;

template <class Target>
Operation DeclareAsync(std::string name, std::string action, Principals callers, Resolver<Target> resolve,
                       AsyncHandler<Target> handle) {
  Operation op{std::move(name), action, callers, nullptr};
  op.run = [action, resolve = std::move(resolve), handle = std::move(handle)](
               const Call& call, const Authorizer& authorize) -> boost::asio::awaitable<Result<Json>> {
    auto resolved = resolve(call);
    if (!resolved) co_return resolved.error();
    if (Status s = detail::CheckResolution(resolved->checks, action); !s) co_return s.error();
    if (Status s = authorize(resolved->checks); !s) co_return s.error();
    co_return co_await handle(call, resolved->target);
  };
  return op;
}

// A handler that does not wait: run as an async one.
template <class Target>
Operation Declare(std::string name, std::string action, Principals callers, Resolver<Target> resolve,
                  Handler<Target> handle) {
  return DeclareAsync<Target>(
      std::move(name), std::move(action), callers, std::move(resolve),
      [handle = std::move(handle)](const Call& call, Target& target) -> boost::asio::awaitable<Result<Json>> {
        co_return handle(call, target);
      });
}

// An operation no policy decides, as on AWS (sts:GetCallerIdentity): the
// handler runs for every caller the operation is for. Kept to that one case.
inline Operation DeclarePublic(std::string name, std::string action, Principals callers,
                               std::function<Result<Json>(const Call&)> handle) {
  Operation op{std::move(name), std::move(action), callers, nullptr};
  op.run = [handle = std::move(handle)](const Call& call, const Authorizer&) -> boost::asio::awaitable<Result<Json>> {
    co_return handle(call);
  };
  return op;
}

// Keys AWS supplies on a request that writes tags (aws:RequestTag/<key>,
// aws:TagKeys), from ECS-shaped [{"key","value"}] or IAM-shaped [{"Key","Value"}] tags.
ConditionKeys RequestTagKeys(const Json& tags);
// aws:ResourceTag/<key> for a resource's stored tags (either shape).
ConditionKeys ResourceTagKeys(const Json& tags);
// Merges `from` into `into` (values of a key already present are replaced).
void MergeKeys(ConditionKeys& into, const ConditionKeys& from);

}  // namespace porthole::api
