// The AWS CLI v2 (Debian's /usr/bin/aws) against portholed with
// --endpoint-url: the ECS operations Porthole serves, ECS's failure shapes,
// and SigV4 rejections.
#include <fstream>
#include <regex>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr const char* kAws = "/usr/bin/aws";

class AwsCliTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    if (::access(kAws, X_OK) != 0) {
      skip_reason_ = std::string(kAws) + " is not installed";
      return;
    }
    StartStack();
  }
  static void TearDownTestSuite() { StopStack(); }

  // `aws ecs <args...> --endpoint-url URL --output json`, with `env_overrides` after Env().
  CommandResult Aws(const std::vector<std::string>& args, const std::vector<std::string>& env_overrides = {}) const {
    std::vector<std::string> argv = {kAws, "ecs"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string a : {"--endpoint-url", stack_->url().c_str(), "--output", "json"}) argv.push_back(a);
    std::vector<std::string> env = stack_->Env();
    env.insert(env.end(), env_overrides.begin(), env_overrides.end());
    return RunCommand(argv, "", seconds(120), env);
  }

  Json AwsJson(const std::vector<std::string>& args) const {
    CommandResult r = Aws(args);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "aws ecs " << args[0] << " failed: " << r;
      return nullptr;
    }
    Json j = Json::parse(r.out, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "aws ecs " << args[0] << " printed no JSON: " << r;
      return nullptr;
    }
    return j;
  }

  // The root access key id from the control plane's credentials file.
  std::string AccessKeyId() const {
    std::ifstream in(stack_->control_plane_dir() + "/credentials");
    std::string line;
    std::regex key(R"(^\s*aws_access_key_id\s*=\s*(\S+)\s*$)");
    std::smatch m;
    while (std::getline(in, line))
      if (std::regex_match(line, m, key)) return m[1];
    return "";
  }

  // A credentials file with `key_id` and a secret the server never issued.
  std::string WriteCredentials(const std::string& name, const std::string& key_id) const {
    std::string path = stack_->dir() + "/" + name;
    std::ofstream(path) << "[default]\naws_access_key_id = " << key_id
                        << "\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    return path;
  }
};

TEST_F(AwsCliTest, TaskLifecycle) {
  std::string cluster = UniqueName("awscli");
  Json created = AwsJson({"create-cluster", "--cluster-name", cluster});
  ASSERT_FALSE(created.is_null());
  EXPECT_EQ(created["cluster"].value("clusterName", ""), cluster) << created.dump(2);
  EXPECT_EQ(created["cluster"].value("status", ""), "ACTIVE") << created.dump(2);

  Json containers = Json::array({BusyboxContainer("app", {"sleep", "3600"})});
  Json registered = AwsJson({"register-task-definition", "--family", "awscli-web", "--container-definitions",
                             containers.dump()});
  ASSERT_FALSE(registered.is_null());
  EXPECT_EQ(registered["taskDefinition"].value("family", ""), "awscli-web") << registered.dump(2);
  EXPECT_GE(registered["taskDefinition"].value("revision", 0), 1) << registered.dump(2);

  Json ran = AwsJson({"run-task", "--cluster", cluster, "--task-definition", "awscli-web", "--enable-execute-command"});
  ASSERT_FALSE(ran.is_null());
  ASSERT_EQ(ran["tasks"].size(), 1u) << ran.dump(2);
  EXPECT_TRUE(ran["failures"].empty()) << ran.dump(2);
  std::string task = ran["tasks"][0].value("taskArn", "");
  ASSERT_FALSE(task.empty()) << ran.dump(2);

  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster, task, seconds(60), &last)) << last.dump(2);

  Json described = AwsJson({"describe-tasks", "--cluster", cluster, "--tasks", task});
  ASSERT_FALSE(described.is_null());
  ASSERT_EQ(described["tasks"].size(), 1u) << described.dump(2);
  const Json& t = described["tasks"][0];
  EXPECT_EQ(t.value("taskArn", ""), task);
  EXPECT_EQ(t.value("enableExecuteCommand", false), true) << t.dump(2);
  EXPECT_EQ(t.value("lastStatus", ""), "RUNNING") << t.dump(2);
  ASSERT_EQ(t["containers"].size(), 1u) << t.dump(2);
  const Json& agents = t["containers"][0]["managedAgents"];
  ASSERT_TRUE(agents.is_array() && !agents.empty()) << t.dump(2);
  EXPECT_EQ(agents[0].value("name", ""), "ExecuteCommandAgent") << t.dump(2);
  EXPECT_EQ(agents[0].value("lastStatus", ""), "RUNNING") << t.dump(2);

  Json listed = AwsJson({"list-tasks", "--cluster", cluster});
  ASSERT_FALSE(listed.is_null());
  EXPECT_EQ(listed["taskArns"], Json::array({task})) << listed.dump(2);

  Json stopped = AwsJson({"stop-task", "--cluster", cluster, "--task", task, "--reason", "done with it"});
  ASSERT_FALSE(stopped.is_null());
  EXPECT_EQ(stopped["task"].value("desiredStatus", ""), "STOPPED") << stopped.dump(2);
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  EXPECT_EQ(last.value("stoppedReason", ""), "done with it") << last.dump(2);

  Json running = AwsJson({"list-tasks", "--cluster", cluster, "--desired-status", "RUNNING"});
  ASSERT_FALSE(running.is_null());
  EXPECT_TRUE(running["taskArns"].empty()) << running.dump(2);
}

TEST_F(AwsCliTest, DescribeClustersReportsMissingClusters) {
  std::string missing = UniqueName("missing");
  Json j = AwsJson({"describe-clusters", "--clusters", missing});
  ASSERT_FALSE(j.is_null());
  EXPECT_TRUE(j["clusters"].empty()) << j.dump(2);
  ASSERT_EQ(j["failures"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["failures"][0].value("reason", ""), "MISSING") << j.dump(2);
  EXPECT_THAT(j["failures"][0].value("arn", ""), HasSubstr(missing)) << j.dump(2);
}

TEST_F(AwsCliTest, WrongSecretIsRejected) {
  std::string key_id = AccessKeyId();
  ASSERT_FALSE(key_id.empty());
  std::string path = WriteCredentials("bad-secret-credentials", key_id);
  CommandResult r = Aws({"list-clusters"}, {"AWS_SHARED_CREDENTIALS_FILE=" + path});
  EXPECT_EQ(r.exit_code, 254) << r;  // the AWS CLI's status for an error the service returned
  EXPECT_THAT(r.err, AnyOf(HasSubstr("InvalidSignatureException"), HasSubstr("UnrecognizedClientException"))) << r;
  EXPECT_THAT(r.err, HasSubstr("ListClusters")) << r;
}

TEST_F(AwsCliTest, UnknownAccessKeyIsRejected) {
  std::string path = WriteCredentials("unknown-key-credentials", "AKIAIOSFODNN7EXAMPLE");
  CommandResult r = Aws({"list-clusters"}, {"AWS_SHARED_CREDENTIALS_FILE=" + path});
  EXPECT_EQ(r.exit_code, 254) << r;  // the AWS CLI's status for an error the service returned
  EXPECT_THAT(r.err, HasSubstr("UnrecognizedClientException")) << r;
}

}  // namespace
}  // namespace porthole::itest
