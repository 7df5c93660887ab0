// The rest of the seed's example policies end to end (shared/ecs-exec-seed.md):
// the AWS CLI (/usr/bin/aws) creates IAM users, access keys and roles on a
// real portholed, and real runc tasks show what the policies decide:
//  - RunTask only when ECS Exec is turned off (ecs:enable-execute-command);
//  - the two ssm:StartSession denies (by cluster ARN wildcard, by task tag);
//  - task roles: the exec agent acts as the task definition's taskRoleArn,
//    which must trust ecs-tasks.amazonaws.com and allow the four
//    ssmmessages actions (README "Task roles").
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAws = "/usr/bin/aws";
constexpr auto kAgentTimeout = seconds(60);

// shared/ecs-exec-seed.md: users can only launch tasks when ECS Exec is
// turned off. Porthole implements only RunTask of the four actions; the
// others stay in the document as the seed has them.
constexpr const char* kRunTaskWithoutExec = R"({
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
})";

// What the StartSession denies are subtracted from.
constexpr const char* kStartSessionAllow = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "ssm:StartSession",
            "Resource": "*"
        }
    ]
})";

// shared/ecs-exec-seed.md: no ssm:StartSession on the tasks of one cluster;
// `%TASKS%` is replaced by "arn:aws:ecs:<region>:<account>:task/<cluster>/*".
constexpr const char* kStartSessionClusterDeny = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": "%TASKS%"
        }
    ]
})";

// shared/ecs-exec-seed.md: no ssm:StartSession on tasks tagged Task-Tag-Key=Exec-Task.
constexpr const char* kStartSessionTagDeny = R"({
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
})";

constexpr const char* kEcsTasksTrust = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }
    ]
})";

constexpr const char* kEc2Trust = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }
    ]
})";

// shared/ecs-exec-seed.md: what the task role needs for ECS Exec.
constexpr const char* kSsmMessages = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel"
            ],
            "Resource": "*"
        }
    ]
})";

struct User {
  std::string name;
  std::string arn;
  std::string access_key_id;
  std::string secret_access_key;
};

class IamSeedPoliciesTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    if (::access(kAws, X_OK) != 0) {
      skip_reason_ = std::string(kAws) + " is not installed";
      return;
    }
    StartStack();
    if (!stack_ready()) return;

    cluster_ = UniqueName("seed");
    denied_cluster_ = UniqueName("seed-denied");
    if (!stack_->CreateCluster(cluster_) || !stack_->CreateCluster(denied_cluster_))
      return SetSuiteError("create-cluster failed");
    family_ = UniqueName("seed-app");
    Json containers = Json::array({BusyboxContainer("app", {"sleep", "3600"})});
    if (stack_->RegisterTaskDefinition(family_, containers).empty())
      return SetSuiteError("register-task-definition failed");

    // Task roles (made with the AWS CLI), and a task definition for each.
    role_ok_arn_ = CreateRole(UniqueName("seed-role-ok"), kEcsTasksTrust, kSsmMessages);
    role_no_ssm_arn_ = CreateRole(UniqueName("seed-role-no-ssm"), kEcsTasksTrust, nullptr);
    role_untrusted_arn_ = CreateRole(UniqueName("seed-role-ec2"), kEc2Trust, kSsmMessages);
    if (role_ok_arn_.empty() || role_no_ssm_arn_.empty() || role_untrusted_arn_.empty())
      return SetSuiteError("aws iam create-role failed");
    std::string family_ok = RegisterWithRole("seed-role-ok", role_ok_arn_, containers);
    std::string family_no_ssm = RegisterWithRole("seed-role-no-ssm", role_no_ssm_arn_, containers);
    std::string family_untrusted = RegisterWithRole("seed-role-ec2", role_untrusted_arn_, containers);
    if (family_ok.empty() || family_no_ssm.empty() || family_untrusted.empty())
      return SetSuiteError("register-task-definition --task-role-arn failed");

    // Every task is started before any is waited for, so they come up together.
    denied_cluster_task_ = stack_->RunTask(denied_cluster_, family_, true);
    plain_task_ = stack_->RunTask(cluster_, family_, true);
    Json ran = stack_->EcsJson({"run-task", "--cluster", cluster_, "--task-definition", family_,
                                "--enable-execute-command", "--tags", "key=Task-Tag-Key,value=Exec-Task"});
    if (!ran.is_null() && ran.contains("tasks") && !ran["tasks"].empty())
      tagged_task_ = ran["tasks"][0].value("taskArn", "");
    role_ok_task_ = stack_->RunTask(cluster_, family_ok, true);
    role_no_ssm_task_ = stack_->RunTask(cluster_, family_no_ssm, true);
    role_untrusted_task_ = stack_->RunTask(cluster_, family_untrusted, true);
    ran = stack_->EcsJson({"run-task", "--cluster", cluster_, "--task-definition", family_, "--launch-type",
                           "FARGATE", "--enable-execute-command"});
    if (!ran.is_null() && ran.contains("tasks") && !ran["tasks"].empty())
      fargate_task_ = ran["tasks"][0].value("taskArn", "");
    for (const std::string* task : {&denied_cluster_task_, &plain_task_, &tagged_task_, &role_ok_task_,
                                    &role_no_ssm_task_, &role_untrusted_task_, &fargate_task_})
      if (task->empty()) return SetSuiteError("run-task failed");

    // The StartSession targets: "ecs:<cluster>_<taskId>_<runtimeId>".
    for (auto [task, cluster, target] : {std::make_tuple(&denied_cluster_task_, &denied_cluster_, &denied_target_),
                                         std::make_tuple(&plain_task_, &cluster_, &plain_target_),
                                         std::make_tuple(&tagged_task_, &cluster_, &tagged_target_)}) {
      Json last;
      if (!stack_->WaitForExecAgent(*cluster, *task, kAgentTimeout, &last))
        return SetSuiteError("the exec agent did not reach RUNNING; last describe-tasks: " + last.dump(2));
      std::string runtime_id = last["containers"][0].value("runtimeId", "");
      if (runtime_id.empty()) return SetSuiteError("describe-tasks shows no runtimeId: " + last.dump(2));
      *target = "ecs:" + *cluster + "_" + task->substr(task->rfind('/') + 1) + "_" + runtime_id;
    }
  }
  static void TearDownTestSuite() { StopStack(); }

  // `aws iam <args...> --endpoint-url URL --output json` as the account root
  // (the stack's credentials file). Null (and a recorded failure) if it
  // fails; an empty object for commands that print nothing when
  // `json_output` is false.
  static Json RootIam(const std::vector<std::string>& args, bool json_output = true) {
    std::vector<std::string> argv = {kAws, "iam"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string a : {"--endpoint-url", stack_->url().c_str(), "--output", "json"}) argv.push_back(a);
    CommandResult r = RunCommand(argv, "", seconds(120), stack_->Env());
    if (r.exit_code != 0) {
      ADD_FAILURE() << "aws iam " << args[0] << " failed: " << r;
      return nullptr;
    }
    if (!json_output) return Json::object();
    Json j = Json::parse(r.out, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "aws iam " << args[0] << " printed no JSON: " << r;
      return nullptr;
    }
    return j;
  }

  // A role with `trust` as its trust policy and, unless null, `inline_policy`
  // as its one inline policy. The role's ARN, or "" (with a recorded failure).
  static std::string CreateRole(const std::string& name, const char* trust, const char* inline_policy) {
    Json role = RootIam({"create-role", "--role-name", name, "--assume-role-policy-document", trust});
    if (role.is_null()) return "";
    std::string arn = role["Role"].value("Arn", "");
    if (arn.empty()) {
      ADD_FAILURE() << "aws iam create-role answered no ARN: " << role.dump();
      return "";
    }
    if (inline_policy != nullptr &&
        RootIam({"put-role-policy", "--role-name", name, "--policy-name", "ecs-exec", "--policy-document",
                 inline_policy},
                false)
            .is_null())
      return "";
    return arn;
  }

  // Registers a new family with `containers` and taskRoleArn `role_arn`; the family, or "".
  static std::string RegisterWithRole(const std::string& prefix, const std::string& role_arn, const Json& containers) {
    std::string family = UniqueName(prefix);
    Json j = stack_->EcsJson({"register-task-definition", "--family", family, "--task-role-arn", role_arn,
                              "--container-definitions", containers.dump()});
    if (j.is_null()) return "";
    if (j["taskDefinition"].value("taskRoleArn", "") != role_arn) {
      ADD_FAILURE() << "the task definition does not show the task role: " << j.dump(2);
      return "";
    }
    return family;
  }

  // A user with an access key and the given inline policies (name, document).
  static User CreateUser(const std::string& prefix, const std::vector<std::pair<std::string, std::string>>& policies) {
    User u;
    u.name = UniqueName(prefix);
    Json user = RootIam({"create-user", "--user-name", u.name});
    if (user.is_null()) return {};
    u.arn = user["User"].value("Arn", "");
    Json key = RootIam({"create-access-key", "--user-name", u.name});
    if (key.is_null()) return {};
    u.access_key_id = key["AccessKey"].value("AccessKeyId", "");
    u.secret_access_key = key["AccessKey"].value("SecretAccessKey", "");
    if (u.arn.empty() || u.access_key_id.empty() || u.secret_access_key.empty()) {
      ADD_FAILURE() << "aws iam answered no user ARN or key: " << user.dump() << " " << key.dump();
      return {};
    }
    for (const auto& [name, document] : policies)
      if (RootIam({"put-user-policy", "--user-name", u.name, "--policy-name", name, "--policy-document", document},
                  false)
              .is_null())
        return {};
    return u;
  }

  // The stack's environment with the user's access key in place of the
  // root's credentials file (and no profile), and the build's bin directory
  // first on PATH (so the AWS CLI runs Porthole's session-manager-plugin).
  static std::vector<std::string> UserEnv(const User& user) {
    std::vector<std::string> env;
    for (const auto& e : stack_->Env())
      if (e.rfind("AWS_SHARED_CREDENTIALS_FILE=", 0) != 0 && e.rfind("AWS_PROFILE=", 0) != 0) env.push_back(e);
    env.push_back("AWS_ACCESS_KEY_ID=" + user.access_key_id);
    env.push_back("AWS_SECRET_ACCESS_KEY=" + user.secret_access_key);
    const char* path = std::getenv("PATH");
    env.push_back("PATH=" + BinDir() + ":" + (path ? path : "/usr/bin:/bin"));
    return env;
  }

  // `aws <args...> --endpoint-url URL` as the user.
  static CommandResult AwsAsUser(const User& user, const std::vector<std::string>& args,
                                 const std::string& stdin_text = "", milliseconds timeout = seconds(120)) {
    std::vector<std::string> argv = {kAws};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--endpoint-url");
    argv.push_back(stack_->url());
    return RunCommand(argv, stdin_text, timeout, UserEnv(user));
  }

  // `aws ssm start-session --target T` as the user, its stdin a pipe that
  // runs one command and exits.
  static CommandResult StartSessionAsUser(const User& user, const std::string& target) {
    return AwsAsUser(user, {"ssm", "start-session", "--target", target}, "echo ssm-seed-$((6*7))\nexit\n",
                     seconds(90));
  }

  static void ExpectSessionRan(const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_FALSE(r.timed_out) << r;
    EXPECT_THAT(r.out, HasSubstr("Starting session with SessionId: ")) << r;
    EXPECT_THAT(r.out, HasSubstr("ssm-seed-42")) << r;
    EXPECT_THAT(r.err, Not(HasSubstr("AccessDeniedException"))) << r;
  }

  static void ExpectStartSessionDenied(const CommandResult& r, const User& user, const std::string& task) {
    EXPECT_EQ(r.exit_code, 254) << r;  // the AWS CLI's status for an error the service returned
    EXPECT_THAT(r.err, HasSubstr("An error occurred (AccessDeniedException) when calling the StartSession operation: "
                                 "User: " + user.arn + " is not authorized to perform: ssm:StartSession on resource: " +
                                 task + " with an explicit deny in an identity-based policy"))
        << r;
    EXPECT_THAT(r.out, Not(HasSubstr("Starting session"))) << r;
    EXPECT_THAT(r.out, Not(HasSubstr("ssm-seed-42"))) << r;
  }

  // Waits until the task is RUNNING and its ExecuteCommandAgent is STOPPED
  // with a reason containing `reason`; then execute-command must fail as on ECS.
  static void ExpectAgentStoppedBecause(const std::string& task, const std::string& reason) {
    bool ok = false;
    Json last = stack_->WaitForTask(
        cluster_, task,
        [&](const Json& t) {
          if (t.value("lastStatus", "") != "RUNNING" || !t.contains("containers") || t["containers"].empty())
            return false;
          const Json& c = t["containers"][0];
          if (!c.contains("managedAgents") || c["managedAgents"].empty()) return false;
          const Json& a = c["managedAgents"][0];
          return a.value("lastStatus", "") == "STOPPED" && a.value("reason", "").find(reason) != std::string::npos;
        },
        kAgentTimeout, &ok);
    ASSERT_TRUE(ok) << "the ExecuteCommandAgent is not STOPPED with a reason naming \"" << reason
                    << "\"; last describe-tasks: " << last.dump(2);
    const Json& agent = last["containers"][0]["managedAgents"][0];
    EXPECT_EQ(agent.value("name", ""), "ExecuteCommandAgent") << last.dump(2);

    CommandResult r = stack_->Exec(cluster_, task, "echo must-not-run");
    EXPECT_EQ(r.exit_code, 254) << r;
    EXPECT_THAT(r.err, HasSubstr("An error occurred (InvalidParameterException) when calling the ExecuteCommand "
                                 "operation: The execute command failed because execute command was not enabled "
                                 "when the task was run or the execute command agent isn't running."))
        << r;
    EXPECT_THAT(r.out, Not(HasSubstr("must-not-run"))) << r;
  }

  static std::string cluster_;
  static std::string denied_cluster_;
  static std::string family_;  // one busybox container "app", no task role
  static std::string denied_cluster_task_;
  static std::string plain_task_;   // in cluster_, no tags
  static std::string tagged_task_;  // in cluster_, Task-Tag-Key=Exec-Task
  static std::string denied_target_, plain_target_, tagged_target_;
  static std::string role_ok_arn_, role_no_ssm_arn_, role_untrusted_arn_;
  static std::string role_ok_task_, role_no_ssm_task_, role_untrusted_task_, fargate_task_;
};

std::string IamSeedPoliciesTest::cluster_;
std::string IamSeedPoliciesTest::denied_cluster_;
std::string IamSeedPoliciesTest::family_;
std::string IamSeedPoliciesTest::denied_cluster_task_;
std::string IamSeedPoliciesTest::plain_task_;
std::string IamSeedPoliciesTest::tagged_task_;
std::string IamSeedPoliciesTest::denied_target_;
std::string IamSeedPoliciesTest::plain_target_;
std::string IamSeedPoliciesTest::tagged_target_;
std::string IamSeedPoliciesTest::role_ok_arn_;
std::string IamSeedPoliciesTest::role_no_ssm_arn_;
std::string IamSeedPoliciesTest::role_untrusted_arn_;
std::string IamSeedPoliciesTest::role_ok_task_;
std::string IamSeedPoliciesTest::role_no_ssm_task_;
std::string IamSeedPoliciesTest::role_untrusted_task_;
std::string IamSeedPoliciesTest::fargate_task_;

// ---------------------------------------------------------------- RunTask

TEST_F(IamSeedPoliciesTest, RunTaskIsAllowedOnlyWithExecTurnedOff) {
  User user = CreateUser("seed-runner", {{"run-task-without-exec", kRunTaskWithoutExec}});
  ASSERT_FALSE(user.arn.empty());

  CommandResult plain = AwsAsUser(user, {"ecs", "run-task", "--cluster", cluster_, "--task-definition", family_,
                                         "--output", "json"});
  ASSERT_EQ(plain.exit_code, 0) << plain;
  Json j = Json::parse(plain.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << plain;
  ASSERT_EQ(j.value("tasks", Json::array()).size(), 1u) << plain;
  EXPECT_EQ(j["tasks"][0].value("enableExecuteCommand", true), false) << plain;
  EXPECT_THAT(j["tasks"][0].value("taskArn", ""), HasSubstr(":task/" + cluster_ + "/")) << plain;

  CommandResult exec = AwsAsUser(user, {"ecs", "run-task", "--cluster", cluster_, "--task-definition", family_,
                                        "--enable-execute-command", "--output", "json"});
  EXPECT_EQ(exec.exit_code, 254) << exec;
  EXPECT_THAT(exec.err, HasSubstr("An error occurred (AccessDeniedException) when calling the RunTask operation: "
                                  "User: " + user.arn + " is not authorized to perform: ecs:RunTask on resource: "))
      << exec;
  EXPECT_THAT(exec.err, HasSubstr("because no identity-based policy allows the ecs:RunTask action")) << exec;
  EXPECT_THAT(exec.out, Not(HasSubstr("taskArn"))) << exec;
}

// ---------------------------------------------------------------- ssm:StartSession denies

TEST_F(IamSeedPoliciesTest, StartSessionDeniedForTheTasksOfOneCluster) {
  // "arn:aws:ecs:<region>:<account>:task/<cluster>/<id>" → ".../task/<cluster>/*".
  std::string tasks = denied_cluster_task_.substr(0, denied_cluster_task_.rfind('/') + 1) + "*";
  std::string deny = kStartSessionClusterDeny;
  deny.replace(deny.find("%TASKS%"), 7, tasks);
  User user = CreateUser("seed-ssm-cluster", {{"start-session", kStartSessionAllow}, {"deny-cluster", deny}});
  ASSERT_FALSE(user.arn.empty());

  ExpectStartSessionDenied(StartSessionAsUser(user, denied_target_), user, denied_cluster_task_);
  ExpectSessionRan(StartSessionAsUser(user, plain_target_));  // another cluster
}

TEST_F(IamSeedPoliciesTest, StartSessionDeniedForTasksWithTheTag) {
  User user = CreateUser("seed-ssm-tag", {{"start-session", kStartSessionAllow}, {"deny-tag", kStartSessionTagDeny}});
  ASSERT_FALSE(user.arn.empty());

  ExpectStartSessionDenied(StartSessionAsUser(user, tagged_target_), user, tagged_task_);
  ExpectSessionRan(StartSessionAsUser(user, plain_target_));  // same cluster, no tag
}

// ---------------------------------------------------------------- task roles

TEST_F(IamSeedPoliciesTest, TaskRoleAllowingSsmmessagesRunsTheAgent) {
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, role_ok_task_, kAgentTimeout, &last))
      << "last describe-tasks: " << last.dump(2);
  CommandResult r = stack_->Exec(cluster_, role_ok_task_, "sh -c 'echo role-ok-$((6*7))'");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("role-ok-42")) << r;
}

TEST_F(IamSeedPoliciesTest, TaskRoleWithoutSsmmessagesStopsTheAgent) {
  ExpectAgentStoppedBecause(role_no_ssm_task_, "ssmmessages:CreateControlChannel");
}

TEST_F(IamSeedPoliciesTest, TaskRoleThatDoesNotTrustEcsTasksStopsTheAgent) {
  ExpectAgentStoppedBecause(role_untrusted_task_, "does not trust ecs-tasks.amazonaws.com");
}

TEST_F(IamSeedPoliciesTest, FargateTaskWithoutTaskRoleHasNoAgent) {
  ExpectAgentStoppedBecause(fargate_task_, "no task role");
}

}  // namespace
}  // namespace porthole::itest
