// Each test cites the rule it encodes: the numbered "IAM policy evaluation
// rules" of shared/reference/security-and-reliability.md (rules 1-5), the
// write-time validation of IAM's CreatePolicy ("Validation"), or the example
// policies of shared/ecs-exec-seed.md ("Seed").
#include "auth/policy_engine.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace porthole::auth {
namespace {

using Keys = std::map<std::string, std::vector<std::string>>;

constexpr char kAccount[] = "111122223333";
constexpr char kTaskArn[] = "arn:aws:ecs:us-east-1:111122223333:task/cluster-name/0123456789abcdef";
constexpr char kClusterArn[] = "arn:aws:ecs:us-east-1:111122223333:cluster/cluster-name";

Policy MustParse(const std::string& doc, PolicyKind kind = PolicyKind::kIdentity) {
  Result<Policy> p = ParsePolicy(doc, kind);
  if (!p.ok()) {
    ADD_FAILURE() << "policy rejected: " << p.error().message << "\n" << doc;
    return *ParsePolicy(R"({"Version":"2012-10-17","Statement":[]})", kind);
  }
  return *p;
}

// The MalformedPolicyDocument message for `doc`, or "" when it parses.
std::string RejectMessage(const std::string& doc, PolicyKind kind = PolicyKind::kIdentity) {
  Result<Policy> p = ParsePolicy(doc, kind);
  if (p.ok()) return "";
  EXPECT_EQ(p.error().code, "MalformedPolicyDocument") << p.error().message;
  EXPECT_EQ(p.error().http_status, 400);
  return p.error().message;
}

RequestContext Request(std::string action, std::string resource, Keys keys = {}) {
  RequestContext r;
  r.action = std::move(action);
  r.resource = std::move(resource);
  r.keys = std::move(keys);
  return r;
}

EvaluationResult EvaluateOne(const Policy& p, const RequestContext& r) { return Evaluate({{"p", &p}}, r); }
Decision DecideOne(const Policy& p, const RequestContext& r) { return EvaluateOne(p, r).decision; }

// An identity policy of one statement.
Policy Statement1(const std::string& statement, const std::string& version = "2012-10-17") {
  return MustParse(R"({"Version":")" + version + R"(","Statement":)" + statement + "}");
}

// "Allow ecs:ExecuteCommand on *" under `condition`.
Policy AllowIf(const std::string& condition, const std::string& version = "2012-10-17") {
  return Statement1(R"({"Effect":"Allow","Action":"ecs:ExecuteCommand","Resource":"*","Condition":)" + condition + "}",
                    version);
}

// Whether AllowIf(condition) allows a request carrying `keys`.
bool Holds(const std::string& condition, const Keys& keys) {
  return DecideOne(AllowIf(condition), Request("ecs:ExecuteCommand", kTaskArn, keys)) == Decision::kAllow;
}

bool ActionAllowed(const std::string& action_pattern, const std::string& action) {
  Policy p = Statement1(R"({"Effect":"Allow","Action":")" + action_pattern + R"(","Resource":"*"})");
  return DecideOne(p, Request(action, kTaskArn)) == Decision::kAllow;
}

bool ResourceAllowed(const std::string& resource_pattern, const std::string& resource, const Keys& keys = {},
                     const std::string& version = "2012-10-17") {
  Policy p = Statement1(R"({"Effect":"Allow","Action":"ecs:*","Resource":")" + resource_pattern + R"("})", version);
  return DecideOne(p, Request("ecs:ExecuteCommand", resource, keys)) == Decision::kAllow;
}

// ---- Rule 1: explicit deny > allow > implicit deny; the deciding statement is reported ----------

TEST(PolicyDecisionTest, NoPolicyMeansImplicitDeny) {
  // Rule 1: implicit deny is the default.
  EvaluationResult r = Evaluate({}, Request("ecs:ExecuteCommand", kTaskArn));
  EXPECT_EQ(r.decision, Decision::kImplicitDeny);
  EXPECT_EQ(r.policy_name, "");
  EXPECT_EQ(r.statement_id, "");
  EXPECT_EQ(r.statement_index, -1);
}

TEST(PolicyDecisionTest, NonMatchingAllowIsImplicitDenyWithNoStatement) {
  // Rule 1: with no applicable Allow the result is implicit deny, decided by no statement.
  Policy p = Statement1(R"({"Sid":"Describe","Effect":"Allow","Action":"ecs:DescribeTasks","Resource":"*"})");
  EvaluationResult r = EvaluateOne(p, Request("ecs:ExecuteCommand", kTaskArn));
  EXPECT_EQ(r.decision, Decision::kImplicitDeny);
  EXPECT_EQ(r.statement_index, -1);
  EXPECT_EQ(r.statement_id, "");
}

TEST(PolicyDecisionTest, AllowReportsPolicyAndStatement) {
  // Rule 1: an applicable Allow allows; the result names its policy, Sid and index.
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Sid":"First","Effect":"Allow","Action":"ecs:DescribeTasks","Resource":"*"},
      {"Sid":"Exec","Effect":"Allow","Action":"ecs:ExecuteCommand","Resource":"*"}]})");
  EvaluationResult r = Evaluate({{"exec-policy", &p}}, Request("ecs:ExecuteCommand", kTaskArn));
  EXPECT_EQ(r.decision, Decision::kAllow);
  EXPECT_EQ(r.policy_name, "exec-policy");
  EXPECT_EQ(r.statement_id, "Exec");
  EXPECT_EQ(r.statement_index, 1);
  EXPECT_EQ(DecisionName(r.decision), "Allow");
}

TEST(PolicyDecisionTest, ExplicitDenyInAnyPolicyBeatsAllowInAnother) {
  // Rule 1: an explicit Deny in any applicable policy wins, whatever the order of policies.
  Policy allow = Statement1(R"({"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"})");
  Policy deny = Statement1(R"({"Sid":"NoExec","Effect":"Deny","Action":"ecs:ExecuteCommand","Resource":"*"})");
  for (auto order : {std::vector<NamedPolicy>{{"allow", &allow}, {"deny", &deny}},
                     std::vector<NamedPolicy>{{"deny", &deny}, {"allow", &allow}}}) {
    EvaluationResult r = Evaluate(order, Request("ecs:ExecuteCommand", kTaskArn));
    EXPECT_EQ(r.decision, Decision::kExplicitDeny);
    EXPECT_EQ(r.policy_name, "deny");
    EXPECT_EQ(r.statement_id, "NoExec");
    EXPECT_EQ(r.statement_index, 0);
    EXPECT_EQ(DecisionName(r.decision), "ExplicitDeny");
  }
  EXPECT_EQ(Evaluate({{"allow", &allow}, {"deny", &deny}}, Request("ecs:DescribeTasks", kTaskArn)).decision,
            Decision::kAllow);
}

TEST(PolicyDecisionTest, DenyLaterInSamePolicyBeatsEarlierAllow) {
  // Rule 1: deny wins within one policy too; the deny statement is reported, not the first allow.
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"ecs:*","Resource":"*"},
      {"Effect":"Deny","Action":"ecs:ExecuteCommand","Resource":"*"}]})");
  EvaluationResult r = EvaluateOne(p, Request("ecs:ExecuteCommand", kTaskArn));
  EXPECT_EQ(r.decision, Decision::kExplicitDeny);
  EXPECT_EQ(r.statement_id, "");  // no Sid: reported by index
  EXPECT_EQ(r.statement_index, 1);
}

TEST(PolicyDecisionTest, DenyWhoseConditionFailsDoesNotApply) {
  // Rule 1: only an applicable (all conditions true) Deny wins.
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"ecs:*","Resource":"*"},
      {"Effect":"Deny","Action":"ecs:*","Resource":"*","Condition":{"StringEquals":{"ecs:container-name":"db"}}}]})");
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"web"}}})), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"db"}}})),
            Decision::kExplicitDeny);
}

TEST(PolicyDecisionTest, NullPolicyEntriesAreSkipped) {
  // Rule 1: only the policies given take part; a null entry is no policy.
  EXPECT_EQ(Evaluate({{"missing", nullptr}}, Request("ecs:ExecuteCommand", kTaskArn)).decision,
            Decision::kImplicitDeny);
}

// ---- Rule 2: Action matching ------------------------------------------------------------------

TEST(PolicyActionTest, ActionNamesAreCaseInsensitive) {
  // Rule 2: action names are case-insensitive (service prefix and name).
  EXPECT_TRUE(ActionAllowed("ecs:ExecuteCommand", "ECS:executecommand"));
  EXPECT_TRUE(ActionAllowed("ECS:EXECUTECOMMAND", "ecs:ExecuteCommand"));
  EXPECT_FALSE(ActionAllowed("ecs:ExecuteCommand", "ecs:ExecuteCommands"));
}

TEST(PolicyActionTest, StarAndQuestionWildcards) {
  // Rule 2: '*' and '?' wildcards in actions; "service:*" and "*".
  EXPECT_TRUE(ActionAllowed("ecs:Execute*", "ecs:ExecuteCommand"));
  EXPECT_TRUE(ActionAllowed("ecs:*Command", "ecs:ExecuteCommand"));
  EXPECT_TRUE(ActionAllowed("ecs:?xecuteCommand", "ecs:ExecuteCommand"));
  EXPECT_FALSE(ActionAllowed("ecs:?ExecuteCommand", "ecs:ExecuteCommand"));
  EXPECT_TRUE(ActionAllowed("ecs:*", "ecs:RunTask"));
  EXPECT_FALSE(ActionAllowed("ecs:*", "ssm:StartSession"));
  EXPECT_FALSE(ActionAllowed("ecs:Describe*", "ecs:ExecuteCommand"));
  EXPECT_TRUE(ActionAllowed("*", "ssm:StartSession"));
  EXPECT_TRUE(ActionAllowed("ss?:Start*", "ssm:StartSession"));
}

TEST(PolicyActionTest, ActionListMatchesAnyEntry) {
  // Rule 2: an Action array matches when any entry does.
  Policy p = Statement1(R"({"Effect":"Allow","Action":["ecs:RunTask","ecs:ExecuteCommand"],"Resource":"*"})");
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:RunTask", kTaskArn)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:StopTask", kTaskArn)), Decision::kImplicitDeny);
}

TEST(PolicyActionTest, NotActionWithAllowGrantsEverythingElse) {
  // Rule 2: NotAction applies to every action except those listed (with Allow: the classic over-grant).
  Policy p = Statement1(R"({"Effect":"Allow","NotAction":"iam:*","Resource":"*"})");
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("iam:CreateUser", "arn:aws:iam::111122223333:user/x")), Decision::kImplicitDeny);
}

TEST(PolicyActionTest, NotActionWithDenyDeniesEverythingExcept) {
  // Rule 2: Deny + NotAction is "deny everything except".
  Policy allow = Statement1(R"({"Effect":"Allow","Action":"*","Resource":"*"})");
  Policy deny = Statement1(R"({"Effect":"Deny","NotAction":["ecs:Describe*","ecs:List*"],"Resource":"*"})");
  std::vector<NamedPolicy> both = {{"allow", &allow}, {"deny", &deny}};
  EXPECT_EQ(Evaluate(both, Request("ecs:DescribeTasks", kTaskArn)).decision, Decision::kAllow);
  EXPECT_EQ(Evaluate(both, Request("ecs:listclusters", "*")).decision, Decision::kAllow);
  EXPECT_EQ(Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn)).decision, Decision::kExplicitDeny);
}

// ---- Rule 2: Resource matching ----------------------------------------------------------------

TEST(PolicyResourceTest, StarMatchesEverything) {
  // Rule 2: Resource "*" matches every resource, ARN or not.
  EXPECT_TRUE(ResourceAllowed("*", kTaskArn));
  EXPECT_TRUE(ResourceAllowed("*", "*"));
  EXPECT_TRUE(ResourceAllowed("*", ""));
}

TEST(PolicyResourceTest, ResourceMatchingIsCaseSensitive) {
  // Rule 2: Resource matching is case-sensitive.
  EXPECT_TRUE(ResourceAllowed(kTaskArn, kTaskArn));
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:us-east-1:111122223333:task/Cluster-Name/0123456789abcdef", kTaskArn));
  EXPECT_FALSE(ResourceAllowed("arn:aws:ECS:us-east-1:111122223333:task/cluster-name/0123456789abcdef", kTaskArn));
}

TEST(PolicyResourceTest, StarInResourcePartSpansSlashesAndColons) {
  // Rule 2: in the resource part (after the fifth ':') '*' spans '/' and ':'.
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:us-east-1:111122223333:task/cluster-name/*", kTaskArn));
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:us-east-1:111122223333:task/*", kTaskArn));
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:us-east-1:111122223333:*", kTaskArn));
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:us-east-1:111122223333:task/other/*", kTaskArn));
  // The CloudWatch Logs example of the seed: '*' after "log-group:...:" spans "log-stream:name".
  EXPECT_TRUE(ResourceAllowed("arn:aws:logs:us-east-1:111122223333:log-group:/aws/ecs/exec:*",
                              "arn:aws:logs:us-east-1:111122223333:log-group:/aws/ecs/exec:log-stream:s1"));
  EXPECT_FALSE(ResourceAllowed("arn:aws:logs:us-east-1:111122223333:log-group:/aws/ecs/exec:*",
                               "arn:aws:logs:us-east-1:111122223333:log-group:/aws/ecs/other:log-stream:s1"));
}

TEST(PolicyResourceTest, WildcardsDoNotCrossFixedArnFields) {
  // Rule 2: wildcards do not cross the ':' boundaries of the fixed ARN fields.
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:*:111122223333:task/cluster-name/*", kTaskArn));
  EXPECT_TRUE(ResourceAllowed("arn:*:ecs:us-*:*:task/cluster-name/*", kTaskArn));
  // A whole-string glob would let "us-*" swallow "east-1:444455556666" and match.
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:us-*:111122223333:task/*",
                               "arn:aws:ecs:us-east-1:444455556666:111122223333:task/x"));
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:*:111122223333:task/*",
                               "arn:aws:ecs:us-east-1:444455556666:task/111122223333:task/x"));
  // A non-ARN request resource matches only "*".
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:*:*:*", "not-an-arn"));
}

TEST(PolicyResourceTest, QuestionMarkMatchesOneCharacter) {
  // Rule 2: '?' matches exactly one character (a UTF-8 character, not a byte).
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:us-east-?:111122223333:task/*", kTaskArn));
  EXPECT_FALSE(ResourceAllowed("arn:aws:ecs:us-east-??:111122223333:task/*", kTaskArn));
  EXPECT_TRUE(ResourceAllowed("arn:aws:s3:::bucket/?.txt", "arn:aws:s3:::bucket/\xC3\xA9.txt"));
}

TEST(PolicyResourceTest, NotResourceAppliesToEverythingElse) {
  // Rule 2: NotResource applies to every resource except those listed.
  Policy p = Statement1(
      R"({"Effect":"Deny","Action":"ecs:ExecuteCommand","NotResource":"arn:aws:ecs:*:111122223333:task/sandbox/*"})");
  Policy allow = Statement1(R"({"Effect":"Allow","Action":"ecs:*","Resource":"*"})");
  std::vector<NamedPolicy> both = {{"allow", &allow}, {"deny", &p}};
  EXPECT_EQ(Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn)).decision, Decision::kExplicitDeny);
  EXPECT_EQ(Evaluate(both, Request("ecs:ExecuteCommand", "arn:aws:ecs:eu-west-1:111122223333:task/sandbox/1")).decision,
            Decision::kAllow);
}

TEST(PolicyResourceTest, ResourceListMatchesAnyEntry) {
  // Rule 2: a Resource array matches when any entry does.
  Policy p = Statement1(R"({"Effect":"Allow","Action":"ecs:ExecuteCommand",
      "Resource":["arn:aws:ecs:us-east-1:111122223333:cluster/cluster-name",
                  "arn:aws:ecs:us-east-1:111122223333:task/cluster-name/*"]})");
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kClusterArn)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", "arn:aws:ecs:us-east-1:111122223333:task/other/1")),
            Decision::kImplicitDeny);
}

// ---- Rule 2: Principal / NotPrincipal (trust and resource policies) ---------------------------

constexpr char kEcsTasksTrust[] = R"({"Version":"2012-10-17","Statement":[{"Sid":"Tasks","Effect":"Allow",
    "Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]})";

TEST(PolicyPrincipalTest, TrustPolicyMatchesServicePrincipal) {
  // Rule 1/2: an Allow applies only when its principal matches the caller.
  Policy p = MustParse(kEcsTasksTrust, PolicyKind::kTrust);
  RequestContext r = Request("sts:AssumeRole", "arn:aws:iam::111122223333:role/task");
  r.principal = {"Service", "ecs-tasks.amazonaws.com"};
  EXPECT_EQ(EvaluateOne(p, r).statement_id, "Tasks");
  EXPECT_EQ(DecideOne(p, r), Decision::kAllow);
  r.principal = {"Service", "ec2.amazonaws.com"};
  EXPECT_EQ(DecideOne(p, r), Decision::kImplicitDeny);
  r.principal = {"AWS", "ecs-tasks.amazonaws.com"};
  EXPECT_EQ(DecideOne(p, r), Decision::kImplicitDeny);
  r.principal.reset();
  EXPECT_EQ(DecideOne(p, r), Decision::kImplicitDeny);
}

TEST(PolicyPrincipalTest, AccountPrincipalMatchesItsPrincipals) {
  // Rule 2: "AWS": "<account>" (or its :root ARN) stands for the account's principals.
  for (const char* who : {"111122223333", "arn:aws:iam::111122223333:root"}) {
    Policy p = MustParse(std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":")") +
                             who + R"("},"Action":"sts:AssumeRole"}})",
                         PolicyKind::kTrust);
    RequestContext r = Request("sts:AssumeRole", "");
    r.principal = {"AWS", "arn:aws:iam::111122223333:user/alice"};
    EXPECT_EQ(DecideOne(p, r), Decision::kAllow) << who;
    r.principal = {"AWS", "arn:aws:iam::444455556666:user/alice"};
    EXPECT_EQ(DecideOne(p, r), Decision::kImplicitDeny) << who;
  }
  Policy exact = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
      "Principal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},"Action":"sts:AssumeRole"}})",
                           PolicyKind::kTrust);
  RequestContext r = Request("sts:AssumeRole", "");
  r.principal = {"AWS", "arn:aws:iam::111122223333:user/bob"};
  EXPECT_EQ(DecideOne(exact, r), Decision::kImplicitDeny);
  r.principal = {"AWS", "arn:aws:iam::111122223333:user/alice"};
  EXPECT_EQ(DecideOne(exact, r), Decision::kAllow);
}

TEST(PolicyPrincipalTest, StarPrincipalAndNotPrincipal) {
  // Rule 2: Principal "*" matches anyone; NotPrincipal (with Deny) applies to everyone but those listed.
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Principal":"*","Action":"ecs:ExecuteCommand","Resource":"*"},
      {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/admin"},
       "Action":"ecs:ExecuteCommand","Resource":"arn:aws:ecs:*:*:task/prod/*"}]})",
                       PolicyKind::kResource);
  RequestContext r = Request("ecs:ExecuteCommand", "arn:aws:ecs:us-east-1:111122223333:task/prod/1");
  r.principal = {"AWS", "arn:aws:iam::111122223333:role/admin"};
  EXPECT_EQ(DecideOne(p, r), Decision::kAllow);
  r.principal = {"AWS", "arn:aws:iam::111122223333:role/dev"};
  EXPECT_EQ(DecideOne(p, r), Decision::kExplicitDeny);
  r.resource = kTaskArn;
  EXPECT_EQ(DecideOne(p, r), Decision::kAllow);
}

// ---- Rule 3: condition block logic ------------------------------------------------------------

TEST(PolicyConditionTest, OperatorsAreAnded) {
  // Rule 3: several operators in a block must all hold.
  const char* cond = R"({"StringEquals":{"ecs:container-name":"web"},"Bool":{"aws:SecureTransport":"true"}})";
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"web"}}, {"aws:SecureTransport", {"true"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"web"}}, {"aws:SecureTransport", {"false"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"db"}}, {"aws:SecureTransport", {"true"}}}));
}

TEST(PolicyConditionTest, KeysUnderOneOperatorAreAnded) {
  // Rule 3: several keys under one operator must all hold.
  const char* cond = R"({"StringEquals":{"ecs:container-name":"web","ecs:cluster":"prod"}})";
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"web"}}, {"ecs:cluster", {"prod"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"web"}}, {"ecs:cluster", {"dev"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"web"}}}));
}

TEST(PolicyConditionTest, ValuesOfOneKeyAreOred) {
  // Rule 3: several values for one key: any may match.
  const char* cond = R"({"StringEquals":{"ecs:container-name":["web","api"]}})";
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"web"}}}));
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"api"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"db"}}}));
}

TEST(PolicyConditionTest, KeyNamesAreCaseInsensitive) {
  // Rule 3: condition key names are case-insensitive, in the policy and in the request.
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ECS:Container-Name":"web"}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ecs:container-name":"web"}})", {{"ECS:CONTAINER-NAME", {"web"}}}));
  EXPECT_TRUE(
      Holds(R"({"StringEquals":{"aws:ResourceTag/Environment":"dev"}})", {{"aws:resourcetag/environment", {"dev"}}}));
}

TEST(PolicyConditionTest, MissingKeyMakesNonNegatedOperatorsFalse) {
  // Rule 3: a missing key makes a non-negated operator false.
  for (const char* cond : {
           R"({"StringEquals":{"ecs:container-name":"web"}})",
           R"({"StringEqualsIgnoreCase":{"ecs:container-name":"web"}})",
           R"({"StringLike":{"ecs:container-name":"*"}})",
           R"({"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"0"}})",
           R"({"DateGreaterThan":{"aws:CurrentTime":"1970-01-01T00:00:00Z"}})",
           R"({"Bool":{"aws:SecureTransport":"false"}})",
           R"({"BinaryEquals":{"aws:Binary":"QmluYXJ5"}})",
           R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})",
           R"({"ArnLike":{"aws:SourceArn":"arn:*:*:*:*:*"}})",
           R"({"ArnEquals":{"ecs:cluster":"arn:aws:ecs:*:*:cluster/*"}})",
       }) {
    EXPECT_FALSE(Holds(cond, {})) << cond;
  }
}

TEST(PolicyConditionTest, MissingKeyMakesNegatedOperatorsTrue) {
  // Rule 3: negated operators are true when the key is absent.
  for (const char* cond : {
           R"({"StringNotEquals":{"ecs:container-name":"web"}})",
           R"({"StringNotEqualsIgnoreCase":{"ecs:container-name":"web"}})",
           R"({"StringNotLike":{"ecs:container-name":"*"}})",
           R"({"NumericNotEquals":{"aws:MultiFactorAuthAge":"0"}})",
           R"({"DateNotEquals":{"aws:CurrentTime":"2024-01-01"}})",
           R"({"NotIpAddress":{"aws:SourceIp":"0.0.0.0/0"}})",
           R"({"ArnNotLike":{"aws:SourceArn":"arn:*:*:*:*:*"}})",
           R"({"ArnNotEquals":{"aws:SourceArn":"arn:aws:ecs:us-east-1:1:cluster/a"}})",
       }) {
    EXPECT_TRUE(Holds(cond, {})) << cond;
  }
}

TEST(PolicyConditionTest, EmptyRequestValueListIsAnAbsentKey) {
  // Rule 3: a key given with no values is absent.
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"*"}})", {{"ecs:container-name", {}}}));
  EXPECT_TRUE(Holds(R"({"Null":{"ecs:container-name":"true"}})", {{"ecs:container-name", {}}}));
}

TEST(PolicyConditionTest, IfExistsIsTrueWhenKeyAbsent) {
  // Rule 3: ...IfExists: true when the key is absent, otherwise the base operator decides.
  const char* cond = R"({"StringEqualsIfExists":{"ecs:container-name":"web"}})";
  EXPECT_TRUE(Holds(cond, {}));
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"web"}}}));
  EXPECT_FALSE(Holds(cond, {{"ecs:container-name", {"db"}}}));
  EXPECT_TRUE(Holds(R"({"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}})", {}));
  EXPECT_FALSE(Holds(R"({"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}})",
                     {{"aws:MultiFactorAuthAge", {"7200"}}}));
  EXPECT_TRUE(Holds(R"({"ArnLikeIfExists":{"ecs:cluster":"arn:aws:ecs:*:*:cluster/prod"}})", {}));
  EXPECT_TRUE(Holds(R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}})", {}));
  EXPECT_FALSE(
      Holds(R"({"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}})", {{"aws:MultiFactorAuthPresent", {"false"}}}));
}

TEST(PolicyConditionTest, NullTrueMeansKeyAbsent) {
  // Rule 3: Null {"k": "true"} holds when k is absent; "false" when present.
  EXPECT_TRUE(Holds(R"({"Null":{"aws:TokenIssueTime":"true"}})", {}));
  EXPECT_FALSE(Holds(R"({"Null":{"aws:TokenIssueTime":"true"}})", {{"aws:TokenIssueTime", {"x"}}}));
  EXPECT_TRUE(Holds(R"({"Null":{"aws:TokenIssueTime":"false"}})", {{"aws:TokenIssueTime", {"x"}}}));
  EXPECT_FALSE(Holds(R"({"Null":{"aws:TokenIssueTime":false}})", {}));
  EXPECT_TRUE(Holds(R"({"Null":{"aws:TokenIssueTime":true}})", {}));
}

// ---- Rule 3: operators ------------------------------------------------------------------------

TEST(PolicyOperatorTest, StringEqualsIsExactAndCaseSensitive) {
  // Rule 3: StringEquals is case-sensitive and has no wildcards; StringNotEquals negates it.
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ecs:container-name":"Web"}})", {{"ecs:container-name", {"Web"}}}));
  EXPECT_FALSE(Holds(R"({"StringEquals":{"ecs:container-name":"Web"}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_FALSE(Holds(R"({"StringEquals":{"ecs:container-name":"w*"}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ecs:container-name":"w*"}})", {{"ecs:container-name", {"w*"}}}));
  EXPECT_TRUE(Holds(R"({"StringNotEquals":{"ecs:container-name":["db","cache"]}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_FALSE(Holds(R"({"StringNotEquals":{"ecs:container-name":["db","web"]}})", {{"ecs:container-name", {"web"}}}));
}

TEST(PolicyOperatorTest, StringEqualsIgnoreCase) {
  // Rule 3: value case depends on the operator: ...IgnoreCase folds case.
  EXPECT_TRUE(Holds(R"({"StringEqualsIgnoreCase":{"ecs:container-name":"WEB"}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_FALSE(Holds(R"({"StringEqualsIgnoreCase":{"ecs:container-name":"WEB"}})", {{"ecs:container-name", {"db"}}}));
  EXPECT_FALSE(
      Holds(R"({"StringNotEqualsIgnoreCase":{"ecs:container-name":"WEB"}})", {{"ecs:container-name", {"web"}}}));
  EXPECT_TRUE(Holds(R"({"StringNotEqualsIgnoreCase":{"ecs:container-name":"WEB"}})", {{"ecs:container-name", {"db"}}}));
}

TEST(PolicyOperatorTest, StringLikeUsesCaseSensitiveWildcards) {
  // Rule 3: StringLike: '*' and '?' wildcards, case-sensitive; StringNotLike negates.
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"web-*"}})", {{"ecs:container-name", {"web-1"}}}));
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"web-?"}})", {{"ecs:container-name", {"web-1"}}}));
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"web-?"}})", {{"ecs:container-name", {"web-12"}}}));
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"WEB-*"}})", {{"ecs:container-name", {"web-1"}}}));
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"*"}})", {{"ecs:container-name", {""}}}));
  EXPECT_FALSE(Holds(R"({"StringNotLike":{"ecs:container-name":"prod-*"}})", {{"ecs:container-name", {"prod-db"}}}));
  EXPECT_TRUE(Holds(R"({"StringNotLike":{"ecs:container-name":"prod-*"}})", {{"ecs:container-name", {"dev-db"}}}));
}

TEST(PolicyOperatorTest, NumericOperators) {
  // Rule 3: Numeric* compare the request value (left) with the policy value (right), as numbers.
  const Keys age = {{"aws:MultiFactorAuthAge", {"3600"}}};
  EXPECT_TRUE(Holds(R"({"NumericEquals":{"aws:MultiFactorAuthAge":"3600"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericEquals":{"aws:MultiFactorAuthAge":3600}})", age));  // JSON number
  EXPECT_TRUE(Holds(R"({"NumericEquals":{"aws:MultiFactorAuthAge":"3600.0"}})", age));
  EXPECT_FALSE(Holds(R"({"NumericNotEquals":{"aws:MultiFactorAuthAge":"3600"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericNotEquals":{"aws:MultiFactorAuthAge":"60"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"3601"}})", age));
  EXPECT_FALSE(Holds(R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericLessThanEquals":{"aws:MultiFactorAuthAge":"3600"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericGreaterThan":{"aws:MultiFactorAuthAge":"-1.5"}})", age));
  EXPECT_FALSE(Holds(R"({"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}})", age));
  EXPECT_TRUE(Holds(R"({"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"3600"}})", age));
  // A request value that is not a number never matches (and so satisfies the negated form).
  EXPECT_FALSE(Holds(R"({"NumericEquals":{"aws:MultiFactorAuthAge":"1"}})", {{"aws:MultiFactorAuthAge", {"one"}}}));
  EXPECT_TRUE(Holds(R"({"NumericNotEquals":{"aws:MultiFactorAuthAge":"1"}})", {{"aws:MultiFactorAuthAge", {"one"}}}));
}

TEST(PolicyOperatorTest, DateOperatorsAcceptIso8601AndEpochSeconds) {
  // Rule 3: Date* compare instants given in ISO 8601 or epoch seconds, on either side.
  const Keys now = {{"aws:CurrentTime", {"2024-06-01T12:00:00Z"}}};
  EXPECT_TRUE(Holds(R"({"DateEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}})", now));
  EXPECT_TRUE(Holds(R"({"DateEquals":{"aws:CurrentTime":"2024-06-01T14:00:00+02:00"}})", now));
  EXPECT_TRUE(Holds(R"({"DateEquals":{"aws:CurrentTime":"1717243200"}})", now));  // epoch seconds
  EXPECT_TRUE(Holds(R"({"DateEquals":{"aws:CurrentTime":1717243200}})", now));
  EXPECT_TRUE(Holds(R"({"DateNotEquals":{"aws:CurrentTime":"2024-06-01"}})", now));
  EXPECT_TRUE(Holds(R"({"DateLessThan":{"aws:CurrentTime":"2024-06-01T12:00:00.001Z"}})", now));
  EXPECT_FALSE(Holds(R"({"DateLessThan":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}})", now));
  EXPECT_TRUE(Holds(R"({"DateLessThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}})", now));
  EXPECT_TRUE(Holds(R"({"DateGreaterThan":{"aws:CurrentTime":"2024-06-01"}})", now));
  EXPECT_FALSE(Holds(R"({"DateGreaterThan":{"aws:CurrentTime":"2024-06-02"}})", now));
  EXPECT_TRUE(Holds(R"({"DateGreaterThanEquals":{"aws:CurrentTime":"2024-06-01T11:00-01:00"}})", now));
  EXPECT_TRUE(
      Holds(R"({"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}})", {{"aws:CurrentTime", {"1717243200"}}}));
  EXPECT_FALSE(Holds(R"({"DateLessThan":{"aws:CurrentTime":"2025-01-01"}})", {{"aws:CurrentTime", {"yesterday"}}}));
}

TEST(PolicyOperatorTest, BoolComparesTrueFalse) {
  // Rule 3: Bool compares with the strings "true"/"false" (JSON booleans accepted).
  EXPECT_TRUE(Holds(R"({"Bool":{"aws:SecureTransport":"true"}})", {{"aws:SecureTransport", {"true"}}}));
  EXPECT_TRUE(Holds(R"({"Bool":{"aws:SecureTransport":true}})", {{"aws:SecureTransport", {"TRUE"}}}));
  EXPECT_FALSE(Holds(R"({"Bool":{"aws:SecureTransport":"true"}})", {{"aws:SecureTransport", {"false"}}}));
  EXPECT_FALSE(Holds(R"({"Bool":{"aws:SecureTransport":"true"}})", {{"aws:SecureTransport", {"yes"}}}));
  EXPECT_TRUE(Holds(R"({"Bool":{"aws:SecureTransport":false}})", {{"aws:SecureTransport", {"false"}}}));
}

TEST(PolicyOperatorTest, BinaryEqualsComparesBase64DecodedBytes) {
  // Rule 3: BinaryEquals compares the key's bytes with the policy's base64 value.
  const char* cond = R"({"BinaryEquals":{"aws:Blob":"QmluYXJ5VmFsdWU="}})";  // "BinaryValue"
  EXPECT_TRUE(Holds(cond, {{"aws:Blob", {"BinaryValue"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:Blob", {"binaryvalue"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:Blob", {"QmluYXJ5VmFsdWU="}}}));
}

TEST(PolicyOperatorTest, IpAddressMatchesIpv4AndIpv6Cidrs) {
  // Rule 3: IpAddress / NotIpAddress test aws:SourceIp against IPv4 and IPv6 CIDR blocks.
  const char* cond = R"({"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}})";
  EXPECT_TRUE(Holds(cond, {{"aws:SourceIp", {"203.0.113.77"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:SourceIp", {"203.0.114.1"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:SourceIp", {"2001:db8:1234:5678::1"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:SourceIp", {"2001:db8:1234:5679::1"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:SourceIp", {"::ffff:203.0.113.9"}}}));  // IPv4-mapped
  EXPECT_FALSE(Holds(cond, {{"aws:SourceIp", {"not-an-ip"}}}));
  // A bare address is a /32 (or /128); an odd prefix length compares partial bytes.
  EXPECT_TRUE(Holds(R"({"IpAddress":{"aws:SourceIp":"10.0.0.1"}})", {{"aws:SourceIp", {"10.0.0.1"}}}));
  EXPECT_FALSE(Holds(R"({"IpAddress":{"aws:SourceIp":"10.0.0.1"}})", {{"aws:SourceIp", {"10.0.0.2"}}}));
  EXPECT_TRUE(Holds(R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/13"}})", {{"aws:SourceIp", {"10.7.255.255"}}}));
  EXPECT_FALSE(Holds(R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/13"}})", {{"aws:SourceIp", {"10.8.0.0"}}}));
  EXPECT_TRUE(Holds(R"({"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}})", {{"aws:SourceIp", {"192.0.2.1"}}}));
  EXPECT_FALSE(Holds(R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})", {{"aws:SourceIp", {"203.0.113.5"}}}));
  EXPECT_TRUE(Holds(R"({"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}})", {{"aws:SourceIp", {"198.51.100.5"}}}));
}

TEST(PolicyOperatorTest, ArnOperatorsComparePerField) {
  // Rule 3: ArnEquals/ArnLike compare each ARN field separately, with wildcards inside fields.
  const Keys cluster = {{"ecs:cluster", {kClusterArn}}};
  EXPECT_TRUE(
      Holds(R"({"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/cluster-name"}})", cluster));
  EXPECT_TRUE(Holds(R"({"ArnEquals":{"ecs:cluster":"arn:aws:ecs:*:111122223333:cluster/*"}})", cluster));
  EXPECT_TRUE(Holds(R"({"ArnLike":{"ecs:cluster":"arn:aws:ecs:us-east-?:*:cluster/cluster-*"}})", cluster));
  EXPECT_FALSE(Holds(R"({"ArnLike":{"ecs:cluster":"arn:aws:ecs:*:444455556666:cluster/*"}})", cluster));
  EXPECT_FALSE(Holds(R"({"ArnLike":{"ecs:cluster":"arn:aws:ecs:*:111122223333:cluster/Cluster-Name"}})", cluster));
  // "us-*" may not swallow the account field.
  EXPECT_FALSE(Holds(R"({"ArnLike":{"aws:SourceArn":"arn:aws:ecs:us-*:111122223333:cluster/x"}})",
                     {{"aws:SourceArn", {"arn:aws:ecs:us-east-1:444455556666:111122223333:cluster/x"}}}));
  EXPECT_FALSE(Holds(R"({"ArnLike":{"aws:SourceArn":"arn:aws:ecs:*:*:*"}})", {{"aws:SourceArn", {"cluster-name"}}}));
  EXPECT_TRUE(Holds(R"({"ArnNotEquals":{"ecs:cluster":"arn:aws:ecs:*:*:cluster/other"}})", cluster));
  EXPECT_FALSE(Holds(R"({"ArnNotLike":{"ecs:cluster":"arn:aws:ecs:*:*:cluster/*"}})", cluster));
}

// ---- Rule 4: set operators --------------------------------------------------------------------

TEST(PolicySetOperatorTest, ForAnyValueNeedsOneMatchingValue) {
  // Rule 4: ForAnyValue: any request value matching any policy value; empty or missing set is false.
  const char* cond = R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}})";
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {"owner", "team"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {"env"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:TagKeys", {"owner", "cost"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:TagKeys", {}}}));
  EXPECT_FALSE(Holds(cond, {}));
  // With a negated operator: some request value matches none of the policy values.
  EXPECT_TRUE(Holds(R"({"ForAnyValue:StringNotLike":{"aws:TagKeys":"env*"}})", {{"aws:TagKeys", {"env", "x"}}}));
  EXPECT_FALSE(Holds(R"({"ForAnyValue:StringNotLike":{"aws:TagKeys":"env*"}})", {{"aws:TagKeys", {"env"}}}));
  EXPECT_FALSE(Holds(R"({"ForAnyValue:StringNotLike":{"aws:TagKeys":"env*"}})", {}));
}

TEST(PolicySetOperatorTest, ForAllValuesIsVacuouslyTrueOnEmptySet) {
  // Rule 4: ForAllValues: every request value matches; an empty or missing set is TRUE (the hole).
  const char* cond = R"({"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}})";
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {"env", "team"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {"env"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:TagKeys", {"env", "owner"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {}}}));
  EXPECT_TRUE(Holds(cond, {}));
  // With a negated operator: no request value matches any policy value.
  EXPECT_TRUE(Holds(R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":"admin"}})", {{"aws:TagKeys", {"a", "b"}}}));
  EXPECT_FALSE(Holds(R"({"ForAllValues:StringNotEquals":{"aws:TagKeys":"admin"}})", {{"aws:TagKeys", {"a", "admin"}}}));
}

TEST(PolicySetOperatorTest, NullClosesTheForAllValuesHole) {
  // Rule 4: pair ForAllValues with Null so that a missing set no longer passes.
  const char* cond = R"({"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]},
                         "Null":{"aws:TagKeys":"false"}})";
  EXPECT_FALSE(Holds(cond, {}));
  EXPECT_TRUE(Holds(cond, {{"aws:TagKeys", {"env"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:TagKeys", {"secret"}}}));
}

TEST(PolicySetOperatorTest, SetOperatorsWithIfExistsAndOtherFamilies) {
  // Rule 4 with rule 3: ...IfExists makes a missing set true even for ForAnyValue; other families work per value.
  EXPECT_TRUE(Holds(R"({"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"env"}})", {}));
  EXPECT_TRUE(Holds(R"({"ForAllValues:NumericLessThan":{"aws:Sizes":"10"}})", {{"aws:Sizes", {"1", "9"}}}));
  EXPECT_FALSE(Holds(R"({"ForAllValues:NumericLessThan":{"aws:Sizes":"10"}})", {{"aws:Sizes", {"1", "10"}}}));
  EXPECT_TRUE(Holds(R"({"ForAnyValue:IpAddress":{"aws:Ips":"10.0.0.0/8"}})", {{"aws:Ips", {"192.0.2.1", "10.1.1.1"}}}));
  EXPECT_TRUE(Holds(R"({"forallvalues:stringlike":{"aws:TagKeys":"env-*"}})", {{"aws:TagKeys", {"env-a", "env-b"}}}));
}

TEST(PolicySetOperatorTest, MultiValuedKeyWithoutSetOperatorNeverHolds) {
  // Rule 4: a single-valued operator on a multi-valued key holds for neither form (a set operator is required).
  const Keys two = {{"aws:TagKeys", {"env", "team"}}};
  EXPECT_FALSE(Holds(R"({"StringEquals":{"aws:TagKeys":["env","team"]}})", two));
  EXPECT_FALSE(Holds(R"({"StringNotEquals":{"aws:TagKeys":"admin"}})", two));
  EXPECT_TRUE(Holds(R"({"StringEquals":{"aws:TagKeys":"env"}})", {{"aws:TagKeys", {"env"}}}));
}

// ---- Rule 5: policy variables -----------------------------------------------------------------

TEST(PolicyVariableTest, UsernameInResourceIsReplacedWith2012Version) {
  // Rule 5: ${aws:username} is replaced in Resource with Version 2012-10-17.
  const std::string pattern = "arn:aws:s3:::home/${aws:username}/*";
  EXPECT_TRUE(ResourceAllowed(pattern, "arn:aws:s3:::home/alice/notes.txt", {{"aws:username", {"alice"}}}));
  EXPECT_FALSE(ResourceAllowed(pattern, "arn:aws:s3:::home/bob/notes.txt", {{"aws:username", {"alice"}}}));
  EXPECT_TRUE(ResourceAllowed(pattern, "arn:aws:s3:::home/alice/x", {{"AWS:UserName", {"alice"}}}));
  EXPECT_TRUE(ResourceAllowed("arn:aws:ecs:*:*:task/${aws:PrincipalTag/team}/*",
                              "arn:aws:ecs:us-east-1:111122223333:task/payments/1",
                              {{"aws:PrincipalTag/team", {"payments"}}}));
}

TEST(PolicyVariableTest, VariablesAreLiteralWith2008Version) {
  // Rule 5: variables resolve only with Version 2012-10-17; with 2008-10-17 (or no Version) they are literal text.
  const Keys alice = {{"aws:username", {"alice"}}};
  EXPECT_FALSE(ResourceAllowed("arn:aws:s3:::home/${aws:username}", "arn:aws:s3:::home/alice", alice, "2008-10-17"));
  EXPECT_TRUE(
      ResourceAllowed("arn:aws:s3:::home/${aws:username}", "arn:aws:s3:::home/${aws:username}", alice, "2008-10-17"));
  Policy no_version = MustParse(
      R"({"Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*",
          "Condition":{"StringEquals":{"ecs:container-name":"${aws:username}"}}}})");
  EXPECT_EQ(no_version.version(), "2008-10-17");
  EXPECT_EQ(DecideOne(no_version, Request("ecs:ExecuteCommand", kTaskArn,
                                          {{"aws:username", {"alice"}}, {"ecs:container-name", {"alice"}}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(
      DecideOne(no_version, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"${aws:username}"}}})),
      Decision::kAllow);
}

TEST(PolicyVariableTest, UnresolvableVariableFailsTheMatch) {
  // Rule 5: an unresolved variable (absent or multi-valued key) makes the match fail.
  const std::string pattern = "arn:aws:s3:::home/${aws:username}/*";
  EXPECT_FALSE(ResourceAllowed(pattern, "arn:aws:s3:::home//x"));
  EXPECT_FALSE(ResourceAllowed(pattern, "arn:aws:s3:::home/${aws:username}/x"));
  EXPECT_FALSE(ResourceAllowed(pattern, "arn:aws:s3:::home/a/x", {{"aws:username", {"a", "b"}}}));
  // In conditions: the value matches nothing, and a key with no resolvable value is false even when negated.
  EXPECT_FALSE(Holds(R"({"StringEquals":{"ecs:container-name":"${aws:username}"}})", {{"ecs:container-name", {""}}}));
  EXPECT_FALSE(
      Holds(R"({"StringNotEquals":{"ecs:container-name":"${aws:username}"}})", {{"ecs:container-name", {"x"}}}));
  EXPECT_TRUE(
      Holds(R"({"StringEquals":{"ecs:container-name":["${aws:username}","web"]}})", {{"ecs:container-name", {"web"}}}));
}

TEST(PolicyVariableTest, VariablesInConditionValues) {
  // Rule 5: variables are replaced in String* and Arn* condition values.
  const Keys same_team = {{"aws:PrincipalTag/team", {"payments"}}, {"ecs:ResourceTag/team", {"payments"}}};
  const Keys other_team = {{"aws:PrincipalTag/team", {"payments"}}, {"ecs:ResourceTag/team", {"search"}}};
  const char* cond = R"({"StringEquals":{"ecs:ResourceTag/team":"${aws:PrincipalTag/team}"}})";
  EXPECT_TRUE(Holds(cond, same_team));
  EXPECT_FALSE(Holds(cond, other_team));
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"${aws:username}-*"}})",
                    {{"aws:username", {"alice"}}, {"ecs:container-name", {"alice-debug"}}}));
  EXPECT_TRUE(Holds(R"({"ArnLike":{"ecs:cluster":"arn:aws:ecs:*:${aws:PrincipalAccount}:cluster/*"}})",
                    {{"aws:PrincipalAccount", {kAccount}}, {"ecs:cluster", {kClusterArn}}}));
}

TEST(PolicyVariableTest, ReplacedValuesAreLiteralNotWildcards) {
  // Rule 5: a replaced value is literal: a username "*" does not become a wildcard.
  const std::string pattern = "arn:aws:s3:::home/${aws:username}/*";
  EXPECT_FALSE(ResourceAllowed(pattern, "arn:aws:s3:::home/alice/x", {{"aws:username", {"*"}}}));
  EXPECT_TRUE(ResourceAllowed(pattern, "arn:aws:s3:::home/*/x", {{"aws:username", {"*"}}}));
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"${aws:username}"}})",
                     {{"aws:username", {"w?b"}}, {"ecs:container-name", {"web"}}}));
}

TEST(PolicyVariableTest, EscapesForStarQuestionAndDollar) {
  // Rule 5: ${*}, ${?} and ${$} stand for literal '*', '?' and '$'.
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"a${*}b"}})", {{"ecs:container-name", {"a*b"}}}));
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"a${*}b"}})", {{"ecs:container-name", {"axxb"}}}));
  EXPECT_TRUE(Holds(R"({"StringLike":{"ecs:container-name":"a${?}"}})", {{"ecs:container-name", {"a?"}}}));
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":"a${?}"}})", {{"ecs:container-name", {"ab"}}}));
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ecs:container-name":"${$}{aws:username}"}})",
                    {{"aws:username", {"x"}}, {"ecs:container-name", {"${aws:username}"}}}));
}

TEST(PolicyVariableTest, DefaultValues) {
  // Rule 5: ${key, 'default'} resolves to the default when the key cannot be resolved.
  const char* cond = R"({"StringEquals":{"ecs:container-name":"${aws:PrincipalTag/app, 'shared'}"}})";
  EXPECT_TRUE(Holds(cond, {{"ecs:container-name", {"shared"}}}));
  EXPECT_TRUE(Holds(cond, {{"aws:PrincipalTag/app", {"web"}}, {"ecs:container-name", {"web"}}}));
  EXPECT_FALSE(Holds(cond, {{"aws:PrincipalTag/app", {"web"}}, {"ecs:container-name", {"shared"}}}));
  EXPECT_TRUE(Holds(R"({"StringEquals":{"ecs:container-name":"${aws:x, 'it''s {ok}'}"}})",
                    {{"ecs:container-name", {"it's {ok}"}}}));
}

// ---- Validation: MalformedPolicyDocument at write time ----------------------------------------

TEST(PolicyValidationTest, AcceptsStatementObjectOrArrayAndBothVersions) {
  // Validation: Statement is an object or an array; Version is 2012-10-17 or 2008-10-17; Id is allowed.
  Policy one =
      MustParse(R"({"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}})");
  EXPECT_EQ(one.version(), "2008-10-17");
  EXPECT_EQ(one.statement_count(), 1u);
  EXPECT_EQ(one.kind(), PolicyKind::kIdentity);
  Policy two = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Deny","Action":"*","Resource":"*"},{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]})");
  EXPECT_EQ(two.version(), "2012-10-17");
  EXPECT_EQ(two.statement_count(), 2u);
}

TEST(PolicyValidationTest, RejectsInvalidJson) {
  // Validation: JSON that does not parse is "Syntax errors in policy.".
  for (const char* doc : {"", "{", "{\"Version\":\"2012-10-17\",}", "[]x", "nul", "{\"a\":1}}", "\xff"}) {
    EXPECT_NE(RejectMessage(doc).find("Syntax errors in policy."), std::string::npos) << doc;
  }
  EXPECT_NE(RejectMessage("[]").find("Syntax errors in policy."), std::string::npos);
  EXPECT_NE(RejectMessage(R"("policy")").find("Syntax errors in policy."), std::string::npos);
}

TEST(PolicyValidationTest, RejectsDuplicateKeys) {
  // Validation: a duplicate key would leave reviewers and the engine reading different policies.
  std::string msg = RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Effect":"Allow",
      "Action":"*","Resource":"*"}})");
  EXPECT_NE(msg.find("duplicate key \"Effect\""), std::string::npos) << msg;
}

TEST(PolicyValidationTest, RejectsUnknownElements) {
  // Validation: unknown top-level and statement elements are named.
  std::string top = RejectMessage(R"({"Version":"2012-10-17","Statment":[]})");
  EXPECT_NE(top.find("\"Statment\""), std::string::npos) << top;
  std::string st = RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*",
      "Resource":"*","Conditions":{}}})");
  EXPECT_NE(st.find("\"Conditions\""), std::string::npos) << st;
  std::string lower =
      RejectMessage(R"({"Version":"2012-10-17","Statement":{"effect":"Allow","Action":"*","Resource":"*"}})");
  EXPECT_NE(lower.find("\"effect\""), std::string::npos) << lower;
}

TEST(PolicyValidationTest, RejectsBadVersion) {
  // Validation: Version other than 2008-10-17 / 2012-10-17 fails legacy parsing.
  for (const char* v : {R"("2012-10-18")", R"("2012-10-17 ")", "20121017", "null"}) {
    std::string msg = RejectMessage(std::string(R"({"Version":)") + v +
                                    R"(,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})");
    EXPECT_NE(msg.find("The policy failed legacy parsing"), std::string::npos) << v << ": " << msg;
  }
}

TEST(PolicyValidationTest, RejectsBadStatementShape) {
  // Validation: Statement must exist and be an object or an array of objects.
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17"})"), "Missing required field Statement");
  for (const char* st : {R"("Allow")", "42", "[\"x\"]", "[[]]", "null"}) {
    std::string msg = RejectMessage(std::string(R"({"Version":"2012-10-17","Statement":)") + st + "}");
    EXPECT_NE(msg.find("Syntax errors in policy."), std::string::npos) << st << ": " << msg;
  }
}

TEST(PolicyValidationTest, RejectsMissingOrInvalidEffect) {
  // Validation: Effect is required and is exactly "Allow" or "Deny".
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}})"),
            "Missing required field Effect");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}})"),
            "Invalid effect: allow");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}})"),
            "Invalid effect: Permit");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":true,"Action":"*","Resource":"*"}})"),
            "Invalid effect: true");
}

TEST(PolicyValidationTest, ActionAndNotActionAreExclusiveAndRequired) {
  // Validation / rule 2: exactly one of Action and NotAction.
  std::string both = RejectMessage(
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"}})");
  EXPECT_NE(both.find("both Action and NotAction"), std::string::npos) << both;
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}})"),
            "Policy statement must contain actions.");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}})"),
            "Policy statement must contain actions.");
}

TEST(PolicyValidationTest, ResourceAndNotResourceAreExclusiveAndRequired) {
  // Validation / rule 2: exactly one of Resource and NotResource in identity policies; ARN format or "*".
  std::string both = RejectMessage(
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}})");
  EXPECT_NE(both.find("both Resource and NotResource"), std::string::npos) << both;
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}})"),
            "Policy statement must contain resources.");
  EXPECT_EQ(
      RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"kms-key-arn"}})"),
      "Resource kms-key-arn must be in ARN format or \"*\".");
  EXPECT_NE(RejectMessage(
                R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:ecs:*"}})"),
            "");
}

TEST(PolicyValidationTest, RejectsNonStringActionsAndMissingVendor) {
  // Validation: actions are strings "vendor:name" (or "*").
  for (const char* a : {"42", "[\"ecs:RunTask\",7]", "{\"a\":1}", "null", "true"}) {
    std::string msg = RejectMessage(std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":)") +
                                    a + R"(,"Resource":"*"}})");
    EXPECT_NE(msg.find("Syntax errors in policy."), std::string::npos) << a << ": " << msg;
  }
  for (const char* a : {"ExecuteCommand", ":ExecuteCommand", "ecs:", "", "ecs*"}) {
    EXPECT_EQ(RejectMessage(std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":")") + a +
                            R"(","Resource":"*"}})"),
              "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
        << a;
  }
}

TEST(PolicyValidationTest, PrincipalRulesPerPolicyKind) {
  // Validation: identity policies must not name a principal; trust policies must, and must not name resources.
  const std::string with_principal = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
      "Principal":{"AWS":"111122223333"},"Action":"ecs:*","Resource":"*"}})";
  EXPECT_EQ(RejectMessage(with_principal), "Policy document should not specify a principal.");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Deny",
      "NotPrincipal":{"AWS":"111122223333"},"Action":"ecs:*","Resource":"*"}})"),
            "Policy document should not specify a principal.");
  EXPECT_EQ(RejectMessage(with_principal, PolicyKind::kResource), "");
  EXPECT_EQ(RejectMessage(with_principal, PolicyKind::kTrust), "Has prohibited field Resource");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}})",
                          PolicyKind::kTrust),
            "Missing required field Principal");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}})",
                          PolicyKind::kResource),
            "Missing required field Principal");
  for (const char* bad : {R"("someone")", R"({"Human":"x"})", R"({"AWS":"bob"})", R"({"AWS":[]})", R"({})", "3"}) {
    std::string msg =
        RejectMessage(std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":)") + bad +
                          R"(,"Action":"sts:AssumeRole"}})",
                      PolicyKind::kTrust);
    EXPECT_NE(msg.find("Invalid principal in policy"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_NE(RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
      "NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}})",
                          PolicyKind::kTrust)
                .find("NotPrincipal"),
            std::string::npos);
}

TEST(PolicyValidationTest, RejectsUnknownConditionOperators) {
  // Validation: unknown condition operators are "Invalid Condition type".
  auto with = [](const std::string& cond) {
    return RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
        "Condition":)" + cond +
                         "}}");
  };
  EXPECT_EQ(with(R"({"StringEqual":{"aws:username":"a"}})"), "Invalid Condition type : StringEqual");
  EXPECT_EQ(with(R"({"ForSomeValues:StringEquals":{"aws:username":"a"}})"),
            "Invalid Condition type : ForSomeValues:StringEquals");
  EXPECT_EQ(with(R"({"NullIfExists":{"aws:username":"true"}})"), "Invalid Condition type : NullIfExists");
  EXPECT_EQ(with(R"({"StringEqualsIfExistsIfExists":{"aws:username":"a"}})"),
            "Invalid Condition type : StringEqualsIfExistsIfExists");
  EXPECT_EQ(with(R"({"StringEquals":{"username":"a"}})"),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
  EXPECT_NE(with(R"({"StringEquals":{"aws:username":{"a":1}}})"), "");
  EXPECT_NE(with(R"({"StringEquals":{"aws:username":[]}})"), "");
  EXPECT_NE(with(R"({"StringEquals":{"aws:username":null}})"), "");
  EXPECT_NE(with(R"({"StringEquals":"aws:username"})"), "");
  EXPECT_NE(with(R"(["StringEquals"])"), "");
}

TEST(PolicyValidationTest, RejectsTypedConditionValuesThatDoNotParse) {
  // Validation: typed condition values must parse when the policy is written.
  auto with = [](const std::string& cond) {
    return RejectMessage(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
        "Condition":)" + cond +
                         "}}");
  };
  EXPECT_NE(with(R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"soon"}})").find("not a number"), std::string::npos);
  EXPECT_NE(with(R"({"NumericLessThan":{"aws:MultiFactorAuthAge":"${aws:x}"}})"), "");
  EXPECT_NE(with(R"({"DateLessThan":{"aws:CurrentTime":"2024-02-30"}})"), "");
  EXPECT_NE(with(R"({"DateLessThan":{"aws:CurrentTime":"2024-01-01T25:00:00Z"}})"), "");
  EXPECT_NE(with(R"({"Bool":{"aws:SecureTransport":"yes"}})"), "");
  EXPECT_NE(with(R"({"Null":{"aws:SecureTransport":"maybe"}})"), "");
  EXPECT_NE(with(R"({"BinaryEquals":{"aws:Blob":"not base64!"}})"), "");
  EXPECT_NE(with(R"({"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}})"), "");
  EXPECT_NE(with(R"({"IpAddress":{"aws:SourceIp":"10.0.0"}})"), "");
  EXPECT_NE(with(R"({"IpAddress":{"aws:SourceIp":"2001:db8::/129"}})"), "");
  EXPECT_EQ(with(R"({"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.1"]}})"), "");
}

TEST(PolicyValidationTest, SidsAreAlphanumericAndUnique) {
  // Validation: Sids are alphanumeric (identity and trust policies) and unique within a policy.
  EXPECT_EQ(
      RejectMessage(
          R"({"Version":"2012-10-17","Statement":{"Sid":"no spaces","Effect":"Allow","Action":"*","Resource":"*"}})"),
      "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
      "[0-9A-Za-z]*");
  EXPECT_EQ(RejectMessage(R"({"Version":"2012-10-17","Statement":[
      {"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]})"),
            "Statement IDs (SID) in a single policy must be unique.");
}

TEST(PolicyValidationTest, SizeLimitIgnoresWhitespaceAndIsAParameter) {
  // Validation: IAM's PolicySize quota (6144 for managed policies) counts characters other than white space.
  const std::string head = R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":")";
  const std::string tail = R"("}})";
  const std::string arn_prefix = "arn:aws:s3:::";
  std::string exact = head + arn_prefix + std::string(6144 - head.size() - tail.size() - arn_prefix.size(), 'a') + tail;
  ASSERT_EQ(exact.size(), 6144u);
  EXPECT_TRUE(ParsePolicy(exact, PolicyKind::kIdentity).ok());
  std::string over = head + arn_prefix + std::string(6145 - head.size() - tail.size() - arn_prefix.size(), 'a') + tail;
  Result<Policy> big = ParsePolicy(over, PolicyKind::kIdentity);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, "LimitExceeded");
  EXPECT_EQ(big.error().message, "Cannot exceed quota for PolicySize: 6144");
  EXPECT_EQ(big.error().http_status, 409);

  std::string padded = exact;
  padded.insert(1, 10000, ' ');
  padded.insert(padded.size() - 1, 100, '\n');
  EXPECT_TRUE(ParsePolicy(padded, PolicyKind::kIdentity).ok());
  EXPECT_FALSE(ParsePolicy(exact, PolicyKind::kIdentity, 2048).ok());
  EXPECT_TRUE(ParsePolicy(over, PolicyKind::kIdentity, 10240).ok());
}

TEST(PolicyValidationTest, RejectsDeepNesting) {
  // Validation: nesting far deeper than any policy needs is refused.
  std::string deep =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":)";
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  deep += "}}";
  EXPECT_NE(RejectMessage(deep).find("nested too deeply"), std::string::npos);
}

// ---- Seed: the example policies of shared/ecs-exec-seed.md ------------------------------------

TEST(PolicySeedExamplesTest, ExecuteCommandAllowedByTaskTagInNamedCluster) {
  // Seed ("tasks with a tag environment=development in cluster cluster-name"), rules 2 and 3.
  Policy p = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:ExecuteCommand",
                "ecs:DescribeTasks"
            ],
            "Resource": "arn:aws:ecs:region:aws-account-id:task/cluster-name/*",
            "Condition": {
                "StringEquals": {
                    "ecs:ResourceTag/environment": "development"
                }
            }
        }
    ]
  })");
  const std::string task = "arn:aws:ecs:region:aws-account-id:task/cluster-name/abc123";
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", task, {{"ecs:ResourceTag/environment", {"development"}}})),
            Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:DescribeTasks", task, {{"ecs:ResourceTag/environment", {"development"}}})),
            Decision::kAllow);
  // Denied: other tag value, no tag, another cluster, another action.
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", task, {{"ecs:ResourceTag/environment", {"production"}}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", task)), Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", "arn:aws:ecs:region:aws-account-id:task/other/abc123",
                                 {{"ecs:ResourceTag/environment", {"development"}}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(p, Request("ecs:StopTask", task, {{"ecs:ResourceTag/environment", {"development"}}})),
            Decision::kImplicitDeny);
}

TEST(PolicySeedExamplesTest, ExecuteCommandAllowedByTagAndArnEqualsOnCluster) {
  // Seed variant with the ecs:cluster condition key (listed in the seed) under ArnEquals: rules 2 and 3.
  Policy p = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["ecs:ExecuteCommand", "ecs:DescribeTasks"],
        "Resource": ["arn:aws:ecs:us-east-1:111122223333:task/*", "arn:aws:ecs:us-east-1:111122223333:cluster/*"],
        "Condition": {
            "StringEquals": {"ecs:ResourceTag/environment": "development"},
            "ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/cluster-name"}
        }
    }]
  })");
  const Keys ok = {{"ecs:ResourceTag/environment", {"development"}}, {"ecs:cluster", {kClusterArn}}};
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, ok)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kClusterArn, ok)), Decision::kAllow);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn,
                                 {{"ecs:ResourceTag/environment", {"development"}},
                                  {"ecs:cluster", {"arn:aws:ecs:us-east-1:111122223333:cluster/prod"}}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:ResourceTag/environment", {"development"}}})),
            Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:cluster", {kClusterArn}}})),
            Decision::kImplicitDeny);
}

TEST(PolicySeedExamplesTest, ExecuteCommandDeniedForProductionAppContainer) {
  // Seed ("users can't use execute-command when the container name is production-app"), rules 1 and 3.
  Policy deny = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": [
                "ecs:ExecuteCommand"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "ecs:container-name": "production-app"
                }
            }
        }
    ]
  })");
  Policy allow = Statement1(R"({"Sid":"ExecAnywhere","Effect":"Allow","Action":"ecs:ExecuteCommand","Resource":"*"})");
  std::vector<NamedPolicy> both = {{"exec", &allow}, {"no-prod", &deny}};
  EvaluationResult denied =
      Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"production-app"}}}));
  EXPECT_EQ(denied.decision, Decision::kExplicitDeny);
  EXPECT_EQ(denied.policy_name, "no-prod");
  EXPECT_EQ(denied.statement_index, 0);
  EvaluationResult allowed =
      Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"sidecar"}}}));
  EXPECT_EQ(allowed.decision, Decision::kAllow);
  EXPECT_EQ(allowed.statement_id, "ExecAnywhere");
  // StringEquals is case-sensitive: "Production-App" is not denied (a StringEqualsIgnoreCase deny would be safer).
  EXPECT_EQ(
      Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"Production-App"}}})).decision,
      Decision::kAllow);
  // The deny alone never allows.
  EXPECT_EQ(DecideOne(deny, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:container-name", {"sidecar"}}})),
            Decision::kImplicitDeny);
}

TEST(PolicySeedExamplesTest, LaunchOnlyWithExecTurnedOff) {
  // Seed ("users can only launch tasks when ECS Exec is turned off"), rules 2 and 3.
  Policy p = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:RunTask",
                "ecs:StartTask",
                "ecs:CreateService",
                "ecs:UpdateService"
            ],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "ecs:enable-execute-command": "false"
                }
            }
        }
    ]
  })");
  for (const char* action : {"ecs:RunTask", "ecs:StartTask", "ecs:CreateService", "ecs:UpdateService"}) {
    EXPECT_EQ(DecideOne(p, Request(action, "*", {{"ecs:enable-execute-command", {"false"}}})), Decision::kAllow)
        << action;
    EXPECT_EQ(DecideOne(p, Request(action, "*", {{"ecs:enable-execute-command", {"true"}}})), Decision::kImplicitDeny)
        << action;
    EXPECT_EQ(DecideOne(p, Request(action, "*")), Decision::kImplicitDeny) << action;
  }
  EXPECT_EQ(DecideOne(p, Request("ecs:ExecuteCommand", kTaskArn, {{"ecs:enable-execute-command", {"false"}}})),
            Decision::kImplicitDeny);
}

TEST(PolicySeedExamplesTest, StartSessionDeniedByClusterArnWildcard) {
  // Seed ("deny ssm:start-session for tasks in all Regions with a specified cluster name"), rules 1 and 2.
  Policy deny = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": "arn:aws:ecs:*:111122223333:task/cluster-name/*"
        }
    ]
  })");
  Policy allow = Statement1(R"({"Effect":"Allow","Action":["ssm:StartSession","ecs:ExecuteCommand"],"Resource":"*"})");
  std::vector<NamedPolicy> both = {{"allow", &allow}, {"deny", &deny}};
  EXPECT_EQ(Evaluate(both, Request("ssm:StartSession", kTaskArn)).decision, Decision::kExplicitDeny);
  EXPECT_EQ(
      Evaluate(both, Request("ssm:StartSession", "arn:aws:ecs:eu-west-1:111122223333:task/cluster-name/9")).decision,
      Decision::kExplicitDeny);
  EXPECT_EQ(Evaluate(both, Request("SSM:startsession", kTaskArn)).decision, Decision::kExplicitDeny);
  // Allowed: another cluster, another account, or through ECS Exec itself.
  EXPECT_EQ(Evaluate(both, Request("ssm:StartSession", "arn:aws:ecs:us-east-1:111122223333:task/other/1")).decision,
            Decision::kAllow);
  EXPECT_EQ(
      Evaluate(both, Request("ssm:StartSession", "arn:aws:ecs:us-east-1:444455556666:task/cluster-name/1")).decision,
      Decision::kAllow);
  EXPECT_EQ(Evaluate(both, Request("ecs:ExecuteCommand", kTaskArn)).decision, Decision::kAllow);
}

TEST(PolicySeedExamplesTest, StartSessionDeniedByResourceTag) {
  // Seed ("deny ssm:start-session on resources tagged Task-Tag-Key=Exec-Task"), rules 1 and 3.
  Policy deny = MustParse(R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/Task-Tag-Key": "Exec-Task"
                }
            }
        }
    ]
  })");
  Policy allow = Statement1(R"({"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"})");
  std::vector<NamedPolicy> both = {{"allow", &allow}, {"deny", &deny}};
  EXPECT_EQ(
      Evaluate(both, Request("ssm:StartSession", kTaskArn, {{"aws:ResourceTag/Task-Tag-Key", {"Exec-Task"}}})).decision,
      Decision::kExplicitDeny);
  EXPECT_EQ(
      Evaluate(both, Request("ssm:StartSession", kTaskArn, {{"aws:resourcetag/task-tag-key", {"Exec-Task"}}})).decision,
      Decision::kExplicitDeny);
  EXPECT_EQ(
      Evaluate(both, Request("ssm:StartSession", kTaskArn, {{"aws:ResourceTag/Task-Tag-Key", {"Other"}}})).decision,
      Decision::kAllow);
  EXPECT_EQ(Evaluate(both, Request("ssm:StartSession", kTaskArn)).decision, Decision::kAllow);
}

TEST(PolicySeedExamplesTest, OtherSeedPoliciesParse) {
  // Seed: the task-role and logging policies are valid identity policies.
  Policy task_role = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[
      "ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"}]})");
  EXPECT_EQ(DecideOne(task_role, Request("ssmmessages:OpenDataChannel", "*")), Decision::kAllow);
  EXPECT_EQ(DecideOne(task_role, Request("ssmmessages:DeleteChannel", "*")), Decision::kImplicitDeny);
  Policy s3 = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":["s3:GetBucketLocation"],"Resource":"*"},
      {"Effect":"Allow","Action":["s3:GetEncryptionConfiguration"],"Resource":"arn:aws:s3:::s3-bucket-name"},
      {"Effect":"Allow","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::s3-bucket-name/*"}]})");
  EXPECT_EQ(DecideOne(s3, Request("s3:PutObject", "arn:aws:s3:::s3-bucket-name/exec/1.log")), Decision::kAllow);
  EXPECT_EQ(DecideOne(s3, Request("s3:PutObject", "arn:aws:s3:::s3-bucket-name")), Decision::kImplicitDeny);
  EXPECT_EQ(DecideOne(s3, Request("s3:PutObject", "arn:aws:s3:::other-bucket/x")), Decision::kImplicitDeny);
}

// ---- Robustness: ParsePolicy never crashes on garbage -----------------------------------------

TEST(PolicyRobustnessTest, GarbageAndMutatedPoliciesNeverCrash) {
  // Validation: any input yields a Policy or an error; accepted mutants evaluate without crashing.
  const std::string seed = R"({"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow",
      "Action":["ecs:Execute*","ssm:StartSession"],"Resource":"arn:aws:ecs:*:111122223333:task/${aws:username}/*",
      "Condition":{"StringLike":{"ecs:container-name":["web-*","${aws:PrincipalTag/app, 'x'}"]},
      "ForAllValues:StringEquals":{"aws:TagKeys":["a"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
      "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},
      "ArnLike":{"ecs:cluster":"arn:aws:ecs:*:*:cluster/*"},"Null":{"aws:TokenIssueTime":"false"}}},
      {"Effect":"Deny","NotAction":"ecs:*","NotResource":"*"}]})";
  const std::string alphabet = "{}[]\":,*?$ \\ntrue0123456789-.:/aAzZ${}'\x01\xc3\xa9\xff";
  const RequestContext request = Request("ecs:ExecuteCommand", kTaskArn,
                                         {{"aws:username", {"cluster-name"}},
                                          {"aws:TagKeys", {"a"}},
                                          {"aws:SourceIp", {"10.1.2.3"}},
                                          {"aws:CurrentTime", {"2025-01-01T00:00:00Z"}},
                                          {"aws:MultiFactorAuthAge", {"10"}},
                                          {"ecs:cluster", {kClusterArn}},
                                          {"ecs:container-name", {"web-1"}},
                                          {"aws:TokenIssueTime", {"x"}}});
  Policy original = MustParse(seed);
  EXPECT_EQ(DecideOne(original, request), Decision::kAllow);

  std::mt19937 rng(20240601);  // fixed seed: failures reproduce
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc;
    if (i % 4 == 0) {  // pure garbage
      size_t len = pick(64);
      for (size_t k = 0; k < len; ++k) doc += alphabet[pick(alphabet.size())];
    } else {  // a few byte edits of a valid policy
      doc = seed;
      for (size_t edits = 1 + pick(3); edits > 0; --edits) {
        size_t at = pick(doc.size());
        switch (pick(3)) {
          case 0:
            doc[at] = alphabet[pick(alphabet.size())];
            break;
          case 1:
            doc.erase(at, 1 + pick(8));
            break;
          default:
            doc.insert(at, 1, alphabet[pick(alphabet.size())]);
            break;
        }
      }
    }
    for (PolicyKind kind : {PolicyKind::kIdentity, PolicyKind::kTrust}) {
      Result<Policy> p = ParsePolicy(doc, kind);
      if (p.ok()) {
        ++accepted;
        (void)Evaluate({{"fuzz", &*p}}, request);
      } else {
        EXPECT_FALSE(p.error().message.empty());
      }
    }
  }
  EXPECT_GT(accepted, 0);
}

TEST(PolicyRobustnessTest, PathologicalWildcardsStayFast) {
  // Rule 2/3: wildcard matching is linear-backtracking (no regex): many stars against a long value finish quickly.
  std::string stars;
  for (int i = 0; i < 200; ++i) stars += "*a";
  stars += "b";
  std::string value(20000, 'a');
  EXPECT_FALSE(Holds(R"({"StringLike":{"ecs:container-name":")" + stars + R"("}})", {{"ecs:container-name", {value}}}));
}

}  // namespace
}  // namespace porthole::auth
