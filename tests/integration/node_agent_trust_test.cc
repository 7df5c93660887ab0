// Trust boundaries between the parts of a Porthole deployment, with real
// processes and real runc containers:
//   - an exec agent's credentials speak for its own (task, container) only,
//     and a live control channel is not displaced by a second agent;
//   - killing a container's exec agent does not disable exec (the node starts
//     it again);
//   - a node's instance credentials reach the node protocol only, never the
//     ECS, SSM or IAM APIs;
//   - a join token registers one node, once;
//   - a node's data directory never holds the account root's key (neither
//     the harness's node nor the one `porthole up` starts).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "harness.h"

namespace porthole::itest {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAws = "/usr/bin/aws";
constexpr auto kAgentTimeout = seconds(60);
constexpr uintmax_t kLargestScannedFile = 10 * 1024 * 1024;

std::string TaskId(const std::string& task_arn) { return task_arn.substr(task_arn.rfind('/') + 1); }

// The value of `name` (e.g. "aws_access_key_id") in a shared credentials file.
std::string CredentialsValue(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line;
  std::regex pattern("^\\s*" + name + "\\s*=\\s*(\\S+)\\s*$");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, pattern)) return m[1];
  return "";
}

// The lines of `text` that contain `needle`.
std::vector<std::string> LinesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) lines.push_back(line);
  return lines;
}

// Regular files under `dir` (symlinks not followed, files over 10 MiB
// skipped) that contain any of `secrets`, as "path: which". `*scanned`
// receives the paths that were read.
std::vector<std::string> FilesHolding(const std::string& dir, const std::vector<std::string>& secrets,
                                      std::vector<std::string>* scanned) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->symlink_status(e).type() != fs::file_type::regular) continue;
    if (it->file_size(e) > kLargestScannedFile || e) continue;
    std::string path = it->path().string();
    std::string content = ReadWholeFile(path);
    scanned->push_back(path);
    for (const auto& s : secrets)
      if (!s.empty() && content.find(s) != std::string::npos) found.push_back(path + ": " + s.substr(0, 6) + "...");
  }
  if (ec) found.push_back(dir + ": cannot walk: " + ec.message());
  return found;
}

bool AnyEndsWith(const std::vector<std::string>& paths, const std::string& suffix) {
  for (const auto& p : paths)
    if (p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  return false;
}

// "R", "S", "Z", ... from /proc/<pid>/stat; "" when there is no such process.
std::string ProcessState(pid_t pid) {
  std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return "";
  return stat.substr(paren + 2, 1);
}

class NodeAgentTrustTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    if (::access(kAws, X_OK) != 0) {
      skip_reason_ = std::string(kAws) + " is not installed";
      return;
    }
    StartStack();
    if (!stack_ready()) return;
    // Every task of the suite starts here: the join-token test registers a
    // second container instance, and nothing may be placed on it.
    cluster_ = UniqueName("trust");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    pair_family_ = UniqueName("trust-pair");
    single_family_ = UniqueName("trust-single");
    if (stack_
            ->RegisterTaskDefinition(pair_family_, Json::array({BusyboxContainer("app", {"sleep", "3600"}),
                                                                BusyboxContainer("sidecar", {"sleep", "3600"})}))
            .empty() ||
        stack_->RegisterTaskDefinition(single_family_, Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    pair_task_ = stack_->RunTask(cluster_, pair_family_, true);
    single_task_ = stack_->RunTask(cluster_, single_family_, true);
    if (pair_task_.empty() || single_task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, pair_task_, kAgentTimeout, &last) ||
        !stack_->WaitForExecAgent(cluster_, single_task_, kAgentTimeout, &last))
      return SetSuiteError("the exec agents did not reach RUNNING; last describe-tasks: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  // The directory (named for the container's runtime id) that holds the
  // agent.json of `container` of `task_arn`, under managed-agents/config/<taskId>/.
  static std::string AgentConfigDir(const std::string& task_arn, const std::string& container) {
    std::error_code ec;
    fs::path task_dir = fs::path(stack_->node_dir()) / "managed-agents/config" / TaskId(task_arn);
    for (const auto& entry : fs::directory_iterator(task_dir, ec)) {
      Json config = Json::parse(ReadWholeFile((entry.path() / "agent.json").string()), nullptr, false);
      if (config.is_object() && config.value("containerName", "") == container) return entry.path().string();
    }
    return "";
  }

  // The bundle of that container: tasks/<taskId>/<runtimeId>.
  static std::string BundleDir(const std::string& task_arn, const std::string& container) {
    std::string config_dir = AgentConfigDir(task_arn, container);
    if (config_dir.empty()) return "";
    return stack_->node_dir() + "/tasks/" + TaskId(task_arn) + "/" + fs::path(config_dir).filename().string();
  }

  static std::string AgentStatus(const std::string& task_arn, const std::string& container) {
    Json task = stack_->DescribeTask(cluster_, task_arn);
    if (task.is_null()) return "";
    for (const auto& c : task.value("containers", Json::array())) {
      if (c.value("name", "") != container) continue;
      for (const auto& a : c.value("managedAgents", Json::array()))
        if (a.value("name", "") == "ExecuteCommandAgent") return a.value("lastStatus", "");
    }
    return "";
  }

  // Runs `echo <word>` in the container until it prints <word> or `timeout` passes.
  static CommandResult ExecUntilItWorks(const std::string& task, const std::string& container, const std::string& word,
                                        milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    CommandResult r;
    for (;;) {
      r = stack_->Exec(cluster_, task, "echo " + word, "", container, seconds(30));
      if (r.exit_code == 0 && r.out.find(word) != std::string::npos) return r;
      if (Clock::now() >= deadline) return r;
      std::this_thread::sleep_for(seconds(1));
    }
  }

  // porthole-exec-agent --config `config` on the host, until its stderr
  // shows `refusal` at least `attempts` times or 30 s pass; then SIGKILL.
  static CommandResult RunAgentOnHost(const std::string& config, const std::string& refusal, size_t attempts) {
    // On the host the agent dials the gateway itself: the node's socket
    // path in the config is where containers see it.
    Json host_config = Json::parse(ReadWholeFile(config), nullptr, false);
    if (host_config.is_object()) {
      host_config.erase("nodeSocket");
      std::ofstream(config) << host_config.dump();
    }
    Daemon agent({Bin("porthole-exec-agent"), "--config", config}, {}, SIGKILL);
    if (!agent.Start()) {
      CommandResult failed;
      failed.err = "could not start porthole-exec-agent";
      return failed;
    }
    agent.WaitUntil([&] { return LinesWith(agent.command().stderr_so_far(), refusal).size() >= attempts; },
                    seconds(30));
    return agent.Stop(seconds(10));
  }

  // The stack's environment for a child that must not see the root's
  // credentials file, plus `extra`.
  static std::vector<std::string> EnvWithoutRootCredentials(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (const auto& e : stack_->Env())
      if (e.rfind("AWS_SHARED_CREDENTIALS_FILE=", 0) != 0) env.push_back(e);
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }

  // `aws <service> <args...>` against the stack with the credentials file `credentials`.
  static CommandResult Aws(const std::string& credentials, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kAws};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string a : {"--endpoint-url", stack_->url().c_str(), "--output", "json"}) argv.push_back(a);
    return RunCommand(argv, "", seconds(120), EnvWithoutRootCredentials({"AWS_SHARED_CREDENTIALS_FILE=" + credentials}));
  }

  // porthole-node with its own data directory `data_dir` and `join_token_file`.
  static std::unique_ptr<Daemon> StartExtraNode(const std::string& data_dir, const std::string& join_token_file) {
    auto node = std::make_unique<Daemon>(
        std::vector<std::string>{Bin("porthole-node"), "--data-dir", data_dir, "--endpoint", stack_->url(),
                                 "--join-token-file", join_token_file},
        EnvWithoutRootCredentials({"AWS_SHARED_CREDENTIALS_FILE=/dev/null"}), SIGTERM);
    if (!node->Start()) {
      ADD_FAILURE() << "could not start porthole-node";
      return nullptr;
    }
    return node;
  }

  // A shared credentials file at <stack>/<name> holding `c` (accessKeyId,
  // secretAccessKey, sessionToken as in node.json and agent.json).
  static std::string WriteCredentialsFile(const std::string& name, const Json& c) {
    std::string path = stack_->dir() + "/" + name;
    std::ofstream(path) << "[default]\naws_access_key_id = " << c.value("accessKeyId", "")
                        << "\naws_secret_access_key = " << c.value("secretAccessKey", "")
                        << "\naws_session_token = " << c.value("sessionToken", "") << "\n";
    return path;
  }

  // ECS, IAM and SSM (with the AWS CLI) and CreateJoinToken (with porthole)
  // all refuse the credentials in `path`; the refused RunTask starts nothing.
  static void ExpectDeniedEveryAccountApi(const std::string& path) {
    Json tasks_before = stack_->EcsJson({"list-tasks", "--cluster", cluster_});
    ASSERT_FALSE(tasks_before.is_null());
    struct Call {
      std::vector<std::string> args;
      std::string error;  // as the AWS CLI prints it
    };
    const std::vector<Call> calls = {
        {{"ecs", "list-clusters"}, "An error occurred (AccessDeniedException) when calling the ListClusters operation"},
        {{"ecs", "run-task", "--cluster", cluster_, "--task-definition", single_family_, "--enable-execute-command"},
         "An error occurred (AccessDeniedException) when calling the RunTask operation"},
        {{"iam", "list-users"}, "An error occurred (AccessDenied) when calling the ListUsers operation"},
        {{"ssm", "describe-sessions", "--state", "Active"},
         "An error occurred (AccessDeniedException) when calling the DescribeSessions operation"},
    };
    for (const auto& call : calls) {
      CommandResult r = Aws(path, call.args);
      EXPECT_EQ(r.exit_code, 254) << call.args[0] << " " << call.args[1] << ": " << r;
      EXPECT_THAT(r.err, HasSubstr(call.error)) << r;
    }
    CommandResult token = RunCommand({Bin("porthole"), "node-token", "create", "--endpoint-url", stack_->url()}, "",
                                     seconds(30), EnvWithoutRootCredentials({"AWS_SHARED_CREDENTIALS_FILE=" + path}));
    EXPECT_EQ(token.exit_code, 254) << token;
    EXPECT_THAT(token.err, HasSubstr("(AccessDeniedException) when calling the CreateJoinToken operation")) << token;
    EXPECT_THAT(token.out, Not(HasSubstr("phjt-"))) << token;

    Json tasks_after = stack_->EcsJson({"list-tasks", "--cluster", cluster_});
    ASSERT_FALSE(tasks_after.is_null());
    EXPECT_EQ(tasks_after["taskArns"].size(), tasks_before["taskArns"].size()) << tasks_after.dump(2);
  }

  // An agent run by RunAgentOnHost was refused with `refusal` on every
  // attempt (none was accepted and later closed).
  static void ExpectEveryAttemptRefused(const CommandResult& agent, const std::string& refusal) {
    EXPECT_THAT(agent.err, HasSubstr(refusal)) << agent;
    std::vector<std::string> attempts = LinesWith(agent.err, "reconnecting in");
    EXPECT_FALSE(attempts.empty()) << agent;
    for (const auto& line : attempts) EXPECT_THAT(line, HasSubstr(refusal)) << agent;
  }

  static std::string WriteTokenFile(const std::string& name, const std::string& token) {
    std::string path = stack_->dir() + "/" + name;
    std::ofstream(path) << token << "\n";
    return path;
  }

  static std::string cluster_;
  static std::string pair_family_;    // containers app and sidecar
  static std::string single_family_;  // container app
  static std::string pair_task_;
  static std::string single_task_;
};

std::string NodeAgentTrustTest::cluster_;
std::string NodeAgentTrustTest::pair_family_;
std::string NodeAgentTrustTest::single_family_;
std::string NodeAgentTrustTest::pair_task_;
std::string NodeAgentTrustTest::single_task_;

// The sidecar's credentials, presented for "app", are refused by the
// gateway; app's own agent is undisturbed.
TEST_F(NodeAgentTrustTest, AgentCredentialsSpeakForTheirOwnContainerOnly) {
  std::string sidecar_dir = AgentConfigDir(pair_task_, "sidecar");
  ASSERT_FALSE(sidecar_dir.empty()) << "no agent.json for sidecar under " << stack_->node_dir();
  ASSERT_NE(sidecar_dir, AgentConfigDir(pair_task_, "app"));
  Json sidecar = Json::parse(ReadWholeFile(sidecar_dir + "/agent.json"), nullptr, false);
  ASSERT_TRUE(sidecar.is_object());
  Json app = Json::parse(ReadWholeFile(AgentConfigDir(pair_task_, "app") + "/agent.json"), nullptr, false);
  ASSERT_TRUE(app.is_object());
  // Per container: the two agents hold different keys.
  ASSERT_TRUE(sidecar["credentials"].is_object()) << sidecar.dump(2);
  EXPECT_NE(sidecar["credentials"].value("accessKeyId", ""), app["credentials"].value("accessKeyId", ""));

  Json forged = sidecar;
  forged["containerName"] = "app";
  std::string forged_path = stack_->dir() + "/forged-agent.json";
  std::ofstream(forged_path) << forged.dump();

  const std::string refusal = "AccessDeniedException: these credentials belong to container sidecar, not app";
  ExpectEveryAttemptRefused(RunAgentOnHost(forged_path, refusal, 4), refusal);
  EXPECT_THAT(ReadWholeFile(stack_->dir() + "/portholed.log"), HasSubstr("control channel refused: " + refusal));

  // App's own agent was not disturbed: exec works at once.
  CommandResult r = stack_->Exec(cluster_, pair_task_, "echo app-ok", "", "app");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("app-ok")) << r;
  EXPECT_EQ(AgentStatus(pair_task_, "app"), "RUNNING");
  EXPECT_EQ(AgentStatus(pair_task_, "sidecar"), "RUNNING");
}

// The sidecar's credentials, presented for a container of another task,
// are refused too.
TEST_F(NodeAgentTrustTest, AgentCredentialsSpeakForTheirOwnTaskOnly) {
  Json forged = Json::parse(ReadWholeFile(AgentConfigDir(pair_task_, "sidecar") + "/agent.json"), nullptr, false);
  ASSERT_TRUE(forged.is_object());
  forged["taskId"] = TaskId(single_task_);
  forged["containerName"] = "app";
  std::string forged_path = stack_->dir() + "/forged-task-agent.json";
  std::ofstream(forged_path) << forged.dump();

  const std::string refusal = "AccessDeniedException: these credentials do not belong to task " + TaskId(single_task_);
  ExpectEveryAttemptRefused(RunAgentOnHost(forged_path, refusal, 4), refusal);
  CommandResult r = stack_->Exec(cluster_, single_task_, "echo single-ok", "", "app");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("single-ok")) << r;
  EXPECT_EQ(AgentStatus(single_task_, "app"), "RUNNING");
}

// An exec agent's credentials (in a file mounted into its container) reach
// none of the account's APIs.
TEST_F(NodeAgentTrustTest, AgentCredentialsAreDeniedEveryAccountApi) {
  Json app = Json::parse(ReadWholeFile(AgentConfigDir(pair_task_, "app") + "/agent.json"), nullptr, false);
  ASSERT_TRUE(app.is_object() && app["credentials"].is_object());
  ASSERT_FALSE(app["credentials"].value("accessKeyId", "").empty()) << app.dump(2);
  ExpectDeniedEveryAccountApi(WriteCredentialsFile("app-agent-credentials", app["credentials"]));
}

// A copy of the sidecar's own, unforged config cannot take over the live
// control channel of the sidecar's agent.
TEST_F(NodeAgentTrustTest, SecondAgentForAContainerIsRefusedWhileTheFirstIsConnected) {
  std::string sidecar_dir = AgentConfigDir(pair_task_, "sidecar");
  ASSERT_FALSE(sidecar_dir.empty());
  std::string copy = stack_->dir() + "/sidecar-agent-copy.json";
  std::ofstream(copy) << ReadWholeFile(sidecar_dir + "/agent.json");

  const std::string refusal = "ConflictException: the exec agent of container sidecar already holds a control channel";
  ExpectEveryAttemptRefused(RunAgentOnHost(copy, refusal, 4), refusal);

  // The real sidecar agent still serves exec: the command runs in the
  // container (busybox's hostname is the task id's first 12 characters),
  // not on this host.
  CommandResult r = stack_->Exec(cluster_, pair_task_, "hostname", "", "sidecar");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr(TaskId(pair_task_).substr(0, 12))) << r;
  EXPECT_EQ(AgentStatus(pair_task_, "sidecar"), "RUNNING");
}

TEST_F(NodeAgentTrustTest, KilledAgentIsStartedAgainAndExecWorks) {
  std::string bundle = BundleDir(single_task_, "app");
  ASSERT_FALSE(bundle.empty());
  std::string pid_text = ReadWholeFile(bundle + "/agent.pid");
  pid_t pid = static_cast<pid_t>(std::atol(pid_text.c_str()));
  ASSERT_GT(pid, 1) << bundle << "/agent.pid holds \"" << pid_text << "\"";
  std::string cmdline = ReadWholeFile("/proc/" + std::to_string(pid) + "/cmdline");
  ASSERT_THAT(cmdline, HasSubstr("porthole-exec-agent")) << "pid " << pid << " is not the exec agent";
  CommandResult before = stack_->Exec(cluster_, single_task_, "echo before-kill", "", "app");
  ASSERT_EQ(before.exit_code, 0) << before;

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Gone (or a zombie nobody reaped: that is reported below).
  auto deadline = Clock::now() + seconds(10);
  while (ProcessState(pid) != "" && ProcessState(pid) != "Z" && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(50));
  std::string state = ProcessState(pid);
  ASSERT_TRUE(state.empty() || state == "Z") << "the agent survived SIGKILL (state " << state << ")";

  CommandResult after = ExecUntilItWorks(single_task_, "app", "after-kill", seconds(60));
  EXPECT_EQ(after.exit_code, 0) << after << "\nthe killed agent's state: \"" << ProcessState(pid) << "\"";
  EXPECT_THAT(after.out, HasSubstr("after-kill")) << after;
  pid_t restarted = static_cast<pid_t>(std::atol(ReadWholeFile(bundle + "/agent.pid").c_str()));
  EXPECT_NE(restarted, pid);
  EXPECT_THAT(ReadWholeFile("/proc/" + std::to_string(restarted) + "/cmdline"), HasSubstr("porthole-exec-agent"));
  bool running = false;
  deadline = Clock::now() + seconds(30);
  while (!(running = AgentStatus(single_task_, "app") == "RUNNING") && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(250));
  EXPECT_TRUE(running) << stack_->DescribeTask(cluster_, single_task_).dump(2);
}

// The instance credentials in node.json reach none of the account's APIs.
TEST_F(NodeAgentTrustTest, NodeCredentialsAreDeniedEveryAccountApi) {
  std::string state_path = stack_->node_dir() + "/node.json";
  struct stat st {};
  ASSERT_EQ(::stat(state_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Json state = Json::parse(ReadWholeFile(state_path), nullptr, false);
  ASSERT_TRUE(state.is_object() && state["credentials"].is_object()) << state_path;
  const Json& c = state["credentials"];
  ASSERT_FALSE(c.value("accessKeyId", "").empty()) << state.dump(2);
  ASSERT_FALSE(c.value("sessionToken", "").empty()) << "instance credentials carry a session token";
  std::string path = WriteCredentialsFile("node-instance-credentials", c);
  ExpectDeniedEveryAccountApi(path);

  // Nor do they make an exec agent: the gateway takes only agent credentials.
  Json forged = Json::parse(ReadWholeFile(AgentConfigDir(single_task_, "app") + "/agent.json"), nullptr, false);
  ASSERT_TRUE(forged.is_object());
  forged["credentials"] = c;
  std::string forged_path = stack_->dir() + "/node-as-agent.json";
  std::ofstream(forged_path) << forged.dump();
  const std::string refusal = "AccessDeniedException: these credentials do not belong to task " + TaskId(single_task_);
  ExpectEveryAttemptRefused(RunAgentOnHost(forged_path, refusal, 3), refusal);
  EXPECT_EQ(AgentStatus(single_task_, "app"), "RUNNING");
}

// No file of the node's data directory, and nothing in its environment,
// holds the root's access key id or secret.
TEST_F(NodeAgentTrustTest, NodeDataDirectoryHoldsNoRootKey) {
  std::string credentials = stack_->control_plane_dir() + "/credentials";
  std::string key_id = CredentialsValue(credentials, "aws_access_key_id");
  std::string secret = CredentialsValue(credentials, "aws_secret_access_key");
  ASSERT_FALSE(key_id.empty()) << credentials;
  ASSERT_FALSE(secret.empty()) << credentials;

  std::vector<std::string> scanned;
  EXPECT_THAT(FilesHolding(stack_->node_dir(), {key_id, secret}, &scanned), ::testing::IsEmpty());
  // The scan read the files that hold credentials of some kind.
  EXPECT_TRUE(AnyEndsWith(scanned, "/node.json"));
  EXPECT_TRUE(AnyEndsWith(scanned, "/agent.json"));

  std::vector<pid_t> nodes = ProcessesOf(Bin("porthole-node"), "--data-dir " + stack_->node_dir() + " ", ::getpid());
  ASSERT_EQ(nodes.size(), 1u);
  std::string environ_text = ReadWholeFile("/proc/" + std::to_string(nodes[0]) + "/environ");
  EXPECT_THAT(environ_text, Not(HasSubstr(key_id)));
  EXPECT_THAT(environ_text, Not(HasSubstr(secret)));
  EXPECT_THAT(environ_text, Not(HasSubstr(credentials)));
}

// The same for the node `porthole up` starts beside its control plane.
TEST_F(NodeAgentTrustTest, PortholeUpGivesItsNodeNoRootKey) {
  std::string data_dir = stack_->dir() + "/up";
  Daemon up({Bin("porthole"), "up", "--data-dir", data_dir, "--port", "0"}, {}, SIGINT);
  ASSERT_TRUE(up.Start());
  ASSERT_TRUE(up.command().WaitForStdout("ready ", seconds(90)))
      << "porthole up did not print its ready line\n--- stdout ---\n"
      << up.command().stdout_so_far() << "\n--- stderr ---\n"
      << up.command().stderr_so_far();

  std::string credentials = data_dir + "/control-plane/credentials";
  std::string key_id = CredentialsValue(credentials, "aws_access_key_id");
  std::string secret = CredentialsValue(credentials, "aws_secret_access_key");
  ASSERT_FALSE(key_id.empty()) << credentials;
  ASSERT_FALSE(secret.empty()) << credentials;
  EXPECT_NE(key_id, CredentialsValue(stack_->control_plane_dir() + "/credentials", "aws_access_key_id"));

  std::vector<std::string> scanned;
  EXPECT_THAT(FilesHolding(data_dir + "/node", {key_id, secret}, &scanned), ::testing::IsEmpty());
  EXPECT_TRUE(AnyEndsWith(scanned, "/node.json"));
  Json state = Json::parse(ReadWholeFile(data_dir + "/node/node.json"), nullptr, false);
  ASSERT_TRUE(state.is_object());
  EXPECT_NE(state["credentials"].value("accessKeyId", ""), key_id) << "the node signs with the root key";

  std::vector<pid_t> nodes = ProcessesOf(Bin("porthole-node"), "--data-dir " + data_dir + "/node ", up.command().pid());
  ASSERT_EQ(nodes.size(), 1u);
  std::string environ_text = ReadWholeFile("/proc/" + std::to_string(nodes[0]) + "/environ");
  EXPECT_THAT(environ_text, Not(HasSubstr(key_id)));
  EXPECT_THAT(environ_text, Not(HasSubstr(secret)));
  EXPECT_THAT(environ_text, Not(HasSubstr(credentials)));

  CommandResult stopped = up.Stop(seconds(120));
  EXPECT_EQ(stopped.exit_code, 0) << stopped;
  EXPECT_FALSE(stopped.timed_out) << stopped;
  EXPECT_TRUE(ProcessesOf(Bin("porthole-node"), data_dir).empty());
  EXPECT_TRUE(ProcessesOf(Bin("portholed"), data_dir).empty());
}

// Registers a second container instance: keep it the suite's last test (no
// task may be placed on an instance that is not running).
TEST_F(NodeAgentTrustTest, JoinTokenRegistersOneNodeOnce) {
  CommandResult created = RunCommand(
      {Bin("porthole"), "node-token", "create", "--expires-in", "600", "--endpoint-url", stack_->url()}, "",
      seconds(30), stack_->Env());
  ASSERT_EQ(created.exit_code, 0) << created;
  Json token = Json::parse(created.out, nullptr, false);
  ASSERT_TRUE(token.is_object() && token["joinToken"].is_string()) << created;
  EXPECT_GT(token.value("expiration", 0.0), static_cast<double>(std::time(nullptr))) << created;
  std::string token_file = WriteTokenFile("second-join-token", token["joinToken"].get<std::string>());
  std::string stack_instance =
      Json::parse(ReadWholeFile(stack_->node_dir() + "/node.json"), nullptr, false).value("instanceId", "");

  // First use: the node registers as a new instance.
  std::string first_dir = stack_->dir() + "/join-first";
  {
    auto node = StartExtraNode(first_dir, token_file);
    ASSERT_NE(node, nullptr);
    bool registered = node->WaitUntil([&] { return fs::exists(first_dir + "/node.json"); }, seconds(30));
    CommandResult stopped = node->Stop(seconds(30));
    ASSERT_TRUE(registered) << stopped;
    EXPECT_EQ(stopped.exit_code, 0) << stopped;
  }
  Json first = Json::parse(ReadWholeFile(first_dir + "/node.json"), nullptr, false);
  ASSERT_TRUE(first.is_object());
  EXPECT_FALSE(first.value("instanceId", "").empty()) << first.dump(2);
  EXPECT_NE(first.value("instanceId", ""), stack_instance);

  // Second use, by another node: refused.
  const std::string refusal = "The join token is not valid";
  std::string second_dir = stack_->dir() + "/join-second";
  {
    auto node = StartExtraNode(second_dir, token_file);
    ASSERT_NE(node, nullptr);
    bool refused = node->WaitForStderr(refusal, seconds(30));
    CommandResult stopped = node->Stop(seconds(30));
    EXPECT_TRUE(refused) << stopped;
    EXPECT_NE(stopped.exit_code, 0) << stopped;
  }
  EXPECT_FALSE(fs::exists(second_dir + "/node.json"));

  // A token nobody issued: refused the same way.
  std::string bogus_file = WriteTokenFile("bogus-join-token", "phjt-notarealtokennotarealtokennotarealtoken");
  std::string bogus_dir = stack_->dir() + "/join-bogus";
  {
    auto node = StartExtraNode(bogus_dir, bogus_file);
    ASSERT_NE(node, nullptr);
    bool refused = node->WaitForStderr(refusal, seconds(30));
    CommandResult stopped = node->Stop(seconds(30));
    EXPECT_TRUE(refused) << stopped;
  }
  EXPECT_FALSE(fs::exists(bogus_dir + "/node.json"));

  // Lifetimes under a minute are not issued (expiry itself is unit-tested).
  CommandResult short_lived = RunCommand(
      {Bin("porthole"), "node-token", "create", "--expires-in", "59", "--endpoint-url", stack_->url()}, "",
      seconds(30), stack_->Env());
  EXPECT_EQ(short_lived.exit_code, 254) << short_lived;
  EXPECT_THAT(short_lived.err, HasSubstr("InvalidParameterException")) << short_lived;
}

}  // namespace
}  // namespace porthole::itest
