// IAM users and identity policies end to end (E26, E27): the AWS CLI
// (/usr/bin/aws iam ...) creates a user, an access key and the seed's
// ExecuteCommand policies on a real portholed; then `porthole ecs
// execute-command` signed with that user's key runs on a real runc task
// where the policies allow it and is refused where they do not.
#include <unistd.h>

#include <algorithm>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;

constexpr const char* kAws = "/usr/bin/aws";
constexpr auto kAgentTimeout = seconds(60);

// shared/ecs-exec-seed.md: exec into tasks tagged environment=development in
// one cluster; `%TASKS%` is replaced by "arn:aws:ecs:<region>:<account>:task/<cluster>/*".
constexpr const char* kExecuteCommandAllow = R"({
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecs:ExecuteCommand",
                "ecs:DescribeTasks"
            ],
            "Resource": "%TASKS%",
            "Condition": {
                "StringEquals": {
                    "ecs:ResourceTag/environment": "development"
                }
            }
        }
    ]
})";

// shared/ecs-exec-seed.md: no execute-command into a container named production-app.
constexpr const char* kProductionAppDeny = R"({
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
})";

class IamPolicyTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    if (::access(kAws, X_OK) != 0) {
      skip_reason_ = std::string(kAws) + " is not installed";
      return;
    }
    StartStack();
    if (!stack_ready()) return;

    cluster_ = UniqueName("iam");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    std::string family = UniqueName("iam-web");
    Json containers = Json::array({BusyboxContainer("app", {"sleep", "3600"}),
                                   BusyboxContainer("production-app", {"sleep", "3600"})});
    if (stack_->RegisterTaskDefinition(family, containers).empty())
      return SetSuiteError("register-task-definition failed");
    Json ran = stack_->EcsJson({"run-task", "--cluster", cluster_, "--task-definition", family,
                                "--enable-execute-command", "--tags", "key=environment,value=development"});
    if (ran.is_null() || !ran.contains("tasks") || ran["tasks"].empty())
      return SetSuiteError("run-task with tags failed: " + ran.dump());
    tagged_task_ = ran["tasks"][0].value("taskArn", "");
    untagged_task_ = stack_->RunTask(cluster_, family, true);
    if (tagged_task_.empty() || untagged_task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, tagged_task_, kAgentTimeout, &last) ||
        !stack_->WaitForExecAgent(cluster_, untagged_task_, kAgentTimeout, &last))
      return SetSuiteError("the exec agent did not reach RUNNING; last describe-tasks: " + last.dump(2));

    // The user, made with the AWS CLI as the account root.
    user_name_ = UniqueName("iam-user");
    Json user = RootIam({"create-user", "--user-name", user_name_});
    if (user.is_null()) return SetSuiteError("aws iam create-user failed");
    user_arn_ = user["User"].value("Arn", "");
    Json key = RootIam({"create-access-key", "--user-name", user_name_});
    if (key.is_null()) return SetSuiteError("aws iam create-access-key failed");
    access_key_id_ = key["AccessKey"].value("AccessKeyId", "");
    secret_access_key_ = key["AccessKey"].value("SecretAccessKey", "");
    if (user_arn_.empty() || access_key_id_.empty() || secret_access_key_.empty())
      return SetSuiteError("aws iam answered no user ARN or key: " + user.dump() + " " + key.dump());

    // "arn:aws:ecs:<region>:<account>:task/<cluster>/<id>" → ".../task/<cluster>/*".
    std::string tasks = tagged_task_.substr(0, tagged_task_.rfind('/') + 1) + "*";
    std::string allow = kExecuteCommandAllow;
    allow.replace(allow.find("%TASKS%"), 7, tasks);
    if (RootIam({"put-user-policy", "--user-name", user_name_, "--policy-name", "exec-development",
                 "--policy-document", allow},
                /*json_output=*/false)
            .is_null() ||
        RootIam({"put-user-policy", "--user-name", user_name_, "--policy-name", "deny-production-app",
                 "--policy-document", kProductionAppDeny},
                false)
            .is_null())
      return SetSuiteError("aws iam put-user-policy failed");
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

  // The stack's environment with the user's access key in place of the
  // root's credentials file (and no profile).
  static std::vector<std::string> UserEnv() {
    std::vector<std::string> env;
    for (const auto& e : stack_->Env())
      if (e.rfind("AWS_SHARED_CREDENTIALS_FILE=", 0) != 0 && e.rfind("AWS_PROFILE=", 0) != 0) env.push_back(e);
    env.push_back("AWS_ACCESS_KEY_ID=" + access_key_id_);
    env.push_back("AWS_SECRET_ACCESS_KEY=" + secret_access_key_);
    return env;
  }

  // `porthole ecs execute-command` as the user.
  static CommandResult ExecAsUser(const std::string& task, const std::string& container, const std::string& command) {
    return RunCommand(stack_->ExecArgv(cluster_, task, command, container), "", seconds(60), UserEnv());
  }

  static std::string cluster_;
  static std::string tagged_task_;    // tags environment=development; containers app, production-app
  static std::string untagged_task_;  // the same task definition, no tags
  static std::string user_name_;
  static std::string user_arn_;
  static std::string access_key_id_;
  static std::string secret_access_key_;
};

std::string IamPolicyTest::cluster_;
std::string IamPolicyTest::tagged_task_;
std::string IamPolicyTest::untagged_task_;
std::string IamPolicyTest::user_name_;
std::string IamPolicyTest::user_arn_;
std::string IamPolicyTest::access_key_id_;
std::string IamPolicyTest::secret_access_key_;

TEST_F(IamPolicyTest, TheUserIsWhoTheCallsAreSignedAs) {
  std::vector<std::string> argv = {kAws, "sts", "get-caller-identity", "--endpoint-url", stack_->url(), "--output", "json"};
  CommandResult r = RunCommand(argv, "", seconds(120), UserEnv());
  ASSERT_EQ(r.exit_code, 0) << r;
  Json j = Json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r;
  EXPECT_EQ(j.value("Arn", ""), user_arn_) << r;
  EXPECT_THAT(user_arn_, HasSubstr(":user/" + user_name_));

  Json policies = RootIam({"list-user-policies", "--user-name", user_name_});
  ASSERT_FALSE(policies.is_null());
  std::vector<std::string> names = policies["PolicyNames"].get<std::vector<std::string>>();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"deny-production-app", "exec-development"})) << policies.dump(2);
}

TEST_F(IamPolicyTest, AllowedContainerOfTheTaggedTaskRuns) {
  CommandResult r = ExecAsUser(tagged_task_, "app", "sh -c 'echo iam-allowed-$((6*7))'");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("iam-allowed-42")) << r;
}

TEST_F(IamPolicyTest, ProductionAppContainerIsExplicitlyDenied) {
  CommandResult r = ExecAsUser(tagged_task_, "production-app", "echo must-not-run");
  EXPECT_EQ(r.exit_code, 254) << r;  // the AWS CLI's status for an error the service returned
  EXPECT_THAT(r.err, HasSubstr("An error occurred (AccessDeniedException) when calling the ExecuteCommand operation: "
                               "User: " + user_arn_ + " is not authorized to perform: ecs:ExecuteCommand on resource: " +
                               tagged_task_ + " with an explicit deny in an identity-based policy"))
      << r;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("must-not-run"))) << r;
}

TEST_F(IamPolicyTest, UntaggedTaskIsDenied) {
  CommandResult r = ExecAsUser(untagged_task_, "app", "echo must-not-run");
  EXPECT_EQ(r.exit_code, 254) << r;
  EXPECT_THAT(r.err, HasSubstr("An error occurred (AccessDeniedException) when calling the ExecuteCommand operation: "
                               "User: " + user_arn_ + " is not authorized to perform: ecs:ExecuteCommand on resource: " +
                               untagged_task_ +
                               " because no identity-based policy allows the ecs:ExecuteCommand action"))
      << r;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("must-not-run"))) << r;
}

// The seed's statement also allows ecs:DescribeTasks, on the same tagged tasks.
TEST_F(IamPolicyTest, DescribeTasksFollowsTheSameStatement) {
  auto describe = [](const std::string& task) {
    return RunCommand({Bin("porthole"), "ecs", "describe-tasks", "--cluster", cluster_, "--tasks", task,
                       "--endpoint-url", stack_->url()},
                      "", seconds(60), UserEnv());
  };
  CommandResult tagged = describe(tagged_task_);
  ASSERT_EQ(tagged.exit_code, 0) << tagged;
  Json j = Json::parse(tagged.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << tagged;
  ASSERT_EQ(j["tasks"].size(), 1u) << tagged;
  EXPECT_EQ(j["tasks"][0].value("taskArn", ""), tagged_task_) << tagged;

  CommandResult untagged = describe(untagged_task_);
  EXPECT_EQ(untagged.exit_code, 254) << untagged;
  EXPECT_THAT(untagged.err, HasSubstr("An error occurred (AccessDeniedException) when calling the DescribeTasks "
                                      "operation: User: " + user_arn_ +
                                      " is not authorized to perform: ecs:DescribeTasks on resource: " + untagged_task_))
      << untagged;
}

// The root's own credentials are not limited by the user's policies.
TEST_F(IamPolicyTest, RootStillReachesEveryContainer) {
  CommandResult r = stack_->Exec(cluster_, untagged_task_, "echo root-ok", "", "production-app");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("root-ok")) << r;
}

}  // namespace
}  // namespace porthole::itest
