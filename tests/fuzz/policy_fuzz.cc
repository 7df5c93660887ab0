// Fuzzes the policy parser and evaluator (auth/policy_engine.h).
// Input: one byte choosing the policy kind (modulo 3: identity, trust,
// resource), the policy document, and optionally after a NUL byte a request
// context of lines: action, resource, principal ("Type value"), then
// "key=value" lines (a key given twice is multi-valued). Every policy that
// parses is evaluated against that context and three fixed ones.
//
// Properties, beyond "no crash, no throw":
//  * an error is MalformedPolicyDocument (400) or LimitExceeded (409);
//  * a parsed policy has the kind asked for and one of the two versions;
//  * an evaluation names the deciding statement (a valid index, the policy's
//    name) exactly when it is not an implicit deny, and is the same when the
//    policy is given twice or next to a null entry (a union with itself);
//  * the document re-serialized without white space (as IAM stores it)
//    parses too, and decides every context the same way.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/policy_engine.h"
#include "fuzz_support.h"

namespace porthole::auth {
namespace {

constexpr size_t kMaxChars = 1 << 16;

std::vector<RequestContext> FixedContexts() {
  std::vector<RequestContext> contexts(3);
  contexts[0].action = "ecs:ExecuteCommand";
  contexts[0].resource = "arn:aws:ecs:us-east-1:111122223333:task/cluster-name/0123456789abcdef";
  contexts[0].keys = {{"aws:username", {"alice"}},
                      {"ecs:container-name", {"app"}},
                      {"aws:PrincipalTag/team", {"blue"}},
                      {"ecs:ResourceTag/env", {"prod"}},
                      {"aws:SourceIp", {"10.1.2.3"}},
                      {"aws:CurrentTime", {"2024-10-15T12:00:00Z"}},
                      {"aws:SecureTransport", {"true"}},
                      {"aws:MultiFactorAuthAge", {"300"}}};
  contexts[0].principal = {{"AWS", "arn:aws:iam::111122223333:user/alice"}};
  contexts[1].action = "iam:CreateUser";
  contexts[1].resource = "*";
  contexts[2].action = "sts:AssumeRole";
  contexts[2].resource = "arn:aws:iam::111122223333:role/task-role";
  contexts[2].keys = {{"aws:TagKeys", {"team", "env"}}, {"aws:SourceIp", {"2001:db8::1"}}};
  contexts[2].principal = {{"Service", "ecs-tasks.amazonaws.com"}};
  return contexts;
}

RequestContext ParseContext(std::string_view text) {
  fuzz::InputReader lines(text);
  RequestContext context;
  context.action = std::string(lines.Until('\n'));
  context.resource = std::string(lines.Until('\n'));
  const std::string_view principal = lines.Until('\n');
  if (!principal.empty()) {
    const size_t space = principal.find(' ');
    context.principal = {{std::string(principal.substr(0, space)),
                          space == std::string_view::npos ? std::string() : std::string(principal.substr(space + 1))}};
  }
  while (!lines.empty()) {
    const std::string_view line = lines.Until('\n');
    const size_t eq = line.find('=');
    context.keys[std::string(line.substr(0, eq))].push_back(
        eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1)));
  }
  return context;
}

bool SameResult(const EvaluationResult& a, const EvaluationResult& b) {
  return a.decision == b.decision && a.policy_name == b.policy_name && a.statement_id == b.statement_id &&
         a.statement_index == b.statement_index;
}

// With `unions`, also checks that the policy given twice, or after a null
// entry, decides the same.
EvaluationResult CheckedEvaluate(const Policy& policy, const RequestContext& context, bool unions) {
  const EvaluationResult r = Evaluate({{"fuzz", &policy}}, context);
  if (r.decision == Decision::kImplicitDeny) {
    FUZZ_CHECK(r.statement_index == -1 && r.policy_name.empty() && r.statement_id.empty());
  } else {
    FUZZ_CHECK(r.statement_index >= 0 && static_cast<size_t>(r.statement_index) < policy.statement_count());
    FUZZ_CHECK(r.policy_name == "fuzz");
  }
  FUZZ_CHECK(!DecisionName(r.decision).empty());
  if (unions) {
    FUZZ_CHECK(SameResult(Evaluate({{"fuzz", &policy}, {"fuzz", &policy}}, context), r));
    FUZZ_CHECK(SameResult(Evaluate({{"null", nullptr}, {"fuzz", &policy}}, context), r));
  }
  return r;
}

}  // namespace
}  // namespace porthole::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::auth;
  using porthole::Result;
  static const std::vector<RequestContext> kFixed = FixedContexts();
  porthole::fuzz::InputReader input(data, size);
  const PolicyKind kind = static_cast<PolicyKind>(input.Byte() % 3);
  const std::string_view document = input.Until('\0');
  const bool has_context = !input.empty();
  std::vector<RequestContext> contexts = kFixed;
  if (has_context) contexts.push_back(ParseContext(input.Rest()));

  Result<Policy> policy = ParsePolicy(document, kind, kMaxChars);
  if (!policy.ok()) {
    const porthole::Error& e = policy.error();
    FUZZ_CHECK_MSG((e.code == "MalformedPolicyDocument" && e.http_status == 400) ||
                       (e.code == "LimitExceeded" && e.http_status == 409),
                   e.code);
    FUZZ_CHECK(!e.message.empty());
    return 0;
  }
  FUZZ_CHECK(policy->kind() == kind);
  FUZZ_CHECK(policy->version() == "2012-10-17" || policy->version() == "2008-10-17");

  std::vector<EvaluationResult> results;
  // The union checks on the last context only (the input's own, when it has one).
  for (size_t i = 0; i < contexts.size(); ++i) {
    results.push_back(CheckedEvaluate(*policy, contexts[i], i + 1 == contexts.size()));
  }

  const nlohmann::json parsed = nlohmann::json::parse(document.begin(), document.end(), nullptr, false);
  FUZZ_CHECK(!parsed.is_discarded());
  const std::string compact = parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  Result<Policy> again = ParsePolicy(compact, kind, kMaxChars);
  FUZZ_CHECK_MSG(again.ok(), again.ok() ? compact : again.error().message + " in " + compact);
  FUZZ_CHECK(again->version() == policy->version());
  FUZZ_CHECK(again->statement_count() == policy->statement_count());
  for (size_t i = 0; i < contexts.size(); ++i) {
    FUZZ_CHECK_MSG(SameResult(CheckedEvaluate(*again, contexts[i], false), results[i]), compact);
  }
  return 0;
}
