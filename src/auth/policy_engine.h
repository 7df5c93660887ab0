#pragma once
// IAM-style policy documents: write-time validation and evaluation following
// AWS's logic. The rules, numbered as in shared/reference/security-and-reliability.md
// ("IAM policy evaluation rules"), are:
//   1. An applicable explicit Deny wins; else an applicable Allow allows; else
//      implicit deny.
//   2. Action: "service:Name", case-insensitive, '*' and '?' wildcards.
//      Resource: case-sensitive ARN glob; "*" matches everything. The first
//      five ARN fields (arn, partition, service, region, account) are matched
//      one by one, so a wildcard there never spans ':'; in the resource part
//      (everything after the fifth ':') '*' spans any characters, ':' and '/'
//      included. NotAction / NotResource / NotPrincipal: everything except.
//   3. Condition: operators ANDed, keys under one operator ANDed, the values
//      of one key ORed. Key names are case-insensitive. A missing key makes a
//      condition false, except negated operators (true), ...IfExists (true)
//      and Null. ArnEquals/ArnLike (which are the same operator in AWS)
//      compare per ARN field, with the rule-2 glob (a lone "*" matches any
//      value).
//   4. ForAnyValue: some request value matches; a missing/empty set is false.
//      ForAllValues: every request value matches; a missing/empty set is
//      TRUE (pair it with Null). Without a set operator, a key with several
//      request values never satisfies a condition, negated or not.
//   5. Policy variables ("${aws:username}", "${aws:PrincipalTag/team}",
//      "${key, 'default'}", and the escapes ${*} ${?} ${$}) are replaced in
//      Resource/NotResource and in String* and Arn* condition values, only
//      when Version is "2012-10-17". A replaced value is literal: its '*' and
//      '?' are not wildcards. A variable whose key is absent or multi-valued
//      (and has no default) cannot be resolved: that resource or condition
//      value matches nothing, and a condition key none of whose values
//      resolve is false whatever its operator.
//
// Evaluate() unions the policies it is given (identity and resource policies
// of one account). Intersections (permissions boundaries, session policies,
// cross-account access) are the caller's: evaluate each layer and AND them.
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace porthole::auth {

enum class PolicyKind {
  kIdentity,  // attached to a user or role: Principal/NotPrincipal forbidden; Resource or NotResource required
  kTrust,     // a role's trust policy: Principal or NotPrincipal required; Resource/NotResource forbidden
  kResource,  // attached to a resource: Principal or NotPrincipal required; Resource or NotResource required
};

// IAM's quota for a managed policy, in characters, white space (outside JSON
// strings) not counted. Inline user policies are 2048, inline role policies
// 10240, trust policies 2048 by default.
inline constexpr size_t kManagedPolicyMaxChars = 6144;

// A parsed, validated policy document. Immutable; cheap to copy.
class Policy {
 public:
  PolicyKind kind() const;
  // "2012-10-17", or "2008-10-17" (also when the document has no Version).
  const std::string& version() const;
  size_t statement_count() const;

  struct Rep;  // defined by the implementation

 private:
  explicit Policy(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}
  friend struct PolicyAccess;
  std::shared_ptr<const Rep> rep_;
};

// Parses and validates `json` as a policy of `kind`, as IAM does when a
// policy is written. Errors:
//   "LimitExceeded" (HTTP 409), "Cannot exceed quota for PolicySize: <n>",
//     when the document has more than `max_chars` characters not counting
//     white space outside strings (checked before parsing);
//   "MalformedPolicyDocument" (HTTP 400) otherwise, with a message naming the
//     problem, e.g. "Syntax errors in policy.", "Policy document should not
//     specify a principal.", "Missing required field Effect", "Invalid effect:
//     allow", "Invalid Condition type : StringEqual", "Actions/Conditions must
//     be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", "The policy failed
//     legacy parsing" (unknown Version), "Has prohibited field Resource",
//     "Resource kms-key-arn must be in ARN format or "*"." (fewer than six
//     ':'-separated fields).
// Beyond AWS: duplicate JSON keys, nesting deeper than 32, "NotPrincipal" with
// "Allow", and typed condition values that do not parse (numbers, dates, IP
// ranges, base64, Bool/Null other than true/false) are rejected.
Result<Policy> ParsePolicy(std::string_view json, PolicyKind kind, size_t max_chars = kManagedPolicyMaxChars);

struct RequestContext {
  std::string action;    // e.g. "ecs:ExecuteCommand"
  std::string resource;  // an ARN, or "*" for actions without resources
  // Condition keys, e.g. {"aws:username", {"alice"}}. Names are matched
  // case-insensitively (give each name once); an empty vector is the same as
  // an absent key; several values make a multi-valued key (rule 4).
  // BinaryEquals compares a key's raw bytes with the policy's base64 value.
  std::map<std::string, std::vector<std::string>> keys;
  // The caller, for Principal/NotPrincipal in trust and resource policies:
  // {"AWS", "arn:aws:iam::123456789012:user/alice"} or
  // {"Service", "ecs-tasks.amazonaws.com"}. Absent: matches only "*".
  // An account id or ":root" ARN in a policy matches every ARN of that account.
  std::optional<std::pair<std::string, std::string>> principal;
};

enum class Decision { kAllow, kExplicitDeny, kImplicitDeny };
std::string_view DecisionName(Decision decision);  // "Allow", "ExplicitDeny", "ImplicitDeny"

struct EvaluationResult {
  Decision decision = Decision::kImplicitDeny;
  // The statement that decided: the first applicable Deny, else the first
  // applicable Allow, in the order given. Empty/-1 for an implicit deny.
  std::string policy_name;
  std::string statement_id;  // its Sid; empty when it has none
  int statement_index = -1;  // its position in the policy's Statement array
};

struct NamedPolicy {
  std::string name;      // reported back in EvaluationResult::policy_name
  const Policy* policy;  // must stay live during Evaluate(); null entries are skipped
};

// Decides `request` against the union of `policies` (rule 1).
EvaluationResult Evaluate(const std::vector<NamedPolicy>& policies, const RequestContext& request);

}  // namespace porthole::auth
