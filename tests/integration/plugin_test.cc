// The `session-manager-plugin` drop-in (the porthole binary under that name):
// its command-line contract as the AWS CLI relies on it, and the AWS CLI's
// own `ecs execute-command` and `ssm start-session / describe-sessions /
// terminate-session / resume-session` against portholed through it
// (shared/protocol/session-data-channel.md §1, §2, §7, §8).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "harness.h"

namespace porthole::itest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kAws = "/usr/bin/aws";
constexpr const char* kInstalledText =
    "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n";

std::string Plugin() { return Bin("session-manager-plugin"); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// A plugin process that ended on its own with an ordinary status (not a
// crash, not a hang).
void ExpectCleanExit(const CommandResult& r) {
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_GE(r.exit_code, 0) << r;
  EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r;
}

// --- the command-line contract (no stack) -------------------------------------

class PluginContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A missing binary is a build problem, not a reason to skip.
    ASSERT_EQ(::access(Plugin().c_str(), X_OK), 0) << "missing " << Plugin() << " (build the porthole target)";
  }
  static CommandResult RunPlugin(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {Plugin()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", seconds(30), env);
  }
  // The six arguments of StartSession, with these two varied.
  static std::vector<std::string> StartSessionArgs(const std::string& session, const std::string& parameters,
                                                   const std::string& operation = "StartSession") {
    // Port 1 on loopback: nothing listens there, so no test can reach a real server.
    return {session, "us-east-1", operation, "", parameters, "https://127.0.0.1:1"};
  }
  static constexpr const char* kSession =
      R"({"sessionId": "ecs-execute-command-0a1b2c3d4e5f67890", "streamUrl": "wss://127.0.0.1:1/v1/data-channel/ecs-execute-command-0a1b2c3d4e5f67890?role=publish_subscribe&cell-number=AAEAAQ", "tokenValue": "FAKE-TOKEN"})";
  static constexpr const char* kParameters = R"({"Target": "ecs:demo_0123456789abcdef0123456789abcdef_0123456789abcdef0123456789abcdef-1234567890"})";
};

TEST_F(PluginContractTest, NoArgumentsPrintsTheInstalledText) {
  CommandResult r = RunPlugin({});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, kInstalledText) << r;
  EXPECT_EQ(r.err, "") << r;
}

TEST_F(PluginContractTest, VersionPrintsTheProtocolRelease) {
  CommandResult r = RunPlugin({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Tokens(r.out), std::vector<std::string>{"1.2.677.0"}) << r;
}

TEST_F(PluginContractTest, UnknownOperationExitsZero) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"bogus"}, {"bogus", "us-east-1"}}) {
    CommandResult r = RunPlugin(args);
    EXPECT_EQ(r.exit_code, 0) << r;  // as the real plugin
    EXPECT_THAT(r.out, HasSubstr("Unknown operation")) << r;
    EXPECT_THAT(r.out, HasSubstr("bogus")) << r;
  }
}

TEST_F(PluginContractTest, OperationOtherThanStartSessionIsInvalid) {
  CommandResult r = RunPlugin(StartSessionArgs(kSession, kParameters, "Bogus"));
  EXPECT_EQ(r.exit_code, 0) << r;  // as the real plugin
  EXPECT_THAT(r.out, HasSubstr("Invalid Operation")) << r;
  EXPECT_THAT(r.out, Not(HasSubstr("Starting session"))) << r;
}

TEST_F(PluginContractTest, MalformedSessionJsonIsAClearError) {
  CommandResult r = RunPlugin(StartSessionArgs("{not json", kParameters));
  ExpectCleanExit(r);
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, HasSubstr("JSON")) << r;
  EXPECT_THAT(r.out, Not(HasSubstr("Starting session"))) << r;
}

TEST_F(PluginContractTest, SessionWithoutTokenIsAClearError) {
  CommandResult r = RunPlugin(StartSessionArgs(R"({"SessionId": "s-1", "StreamUrl": "wss://127.0.0.1:1/x"})", kParameters));
  ExpectCleanExit(r);
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, HasSubstr("TokenValue")) << r;
}

TEST_F(PluginContractTest, ParametersWithoutTargetAreAClearError) {
  for (const std::string parameters : {"{}", R"({"Target": 5})", "[]", "not json"}) {
    CommandResult r = RunPlugin(StartSessionArgs(kSession, parameters));
    ExpectCleanExit(r);
    EXPECT_NE(r.exit_code, 0) << "parameters " << parameters << ": " << r;
    EXPECT_THAT(r.err, HasSubstr("Target")) << "parameters " << parameters << ": " << r;
    EXPECT_THAT(r.out, Not(HasSubstr("Starting session"))) << r;
  }
}

TEST_F(PluginContractTest, EnvironmentVariableFormWithoutTheVariableIsAClearError) {
  // Newer CLIs pass the response in AWS_SSM_START_SESSION_RESPONSE (§1.2);
  // the harness strips AWS_* from the environment, so it is unset here.
  CommandResult r = RunPlugin(StartSessionArgs("AWS_SSM_START_SESSION_RESPONSE", kParameters));
  ExpectCleanExit(r);
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_FALSE(r.err.empty()) << r;
}

TEST_F(PluginContractTest, TooFewStartSessionArgumentsAreAClearError) {
  CommandResult r = RunPlugin({kSession, "us-east-1", "StartSession"});
  ExpectCleanExit(r);
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_FALSE(r.err.empty()) << r;
}

// --- the AWS CLI through the plugin -------------------------------------------

class PluginAwsCliTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    if (::access(kAws, X_OK) != 0) {
      skip_reason_ = std::string(kAws) + " is not installed";
      return;
    }
    StartStack();
    if (!stack_ready()) return;
    cluster_ = UniqueName("plugin");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
    if (stack_->RegisterTaskDefinition("plugin-sleeper", Json::array({BusyboxContainer("app", {"sleep", "3600"})}))
            .empty())
      return SetSuiteError("register-task-definition failed");
    task_ = stack_->RunTask(cluster_, "plugin-sleeper", true);
    if (task_.empty()) return SetSuiteError("run-task failed");
    Json last;
    if (!stack_->WaitForExecAgent(cluster_, task_, seconds(60), &last))
      return SetSuiteError("the exec agent did not reach RUNNING; last describe-tasks: " + last.dump(2));
    task_id_ = task_.substr(task_.rfind('/') + 1);
    runtime_id_ = last["containers"][0].value("runtimeId", "");
    if (runtime_id_.empty()) return SetSuiteError("describe-tasks shows no runtimeId: " + last.dump(2));
  }
  static void TearDownTestSuite() { StopStack(); }

  // The stack's AWS environment with `first_on_path` (then the build's bin
  // directory) in front of PATH, so the AWS CLI finds session-manager-plugin.
  static std::vector<std::string> AwsEnv(const std::string& first_on_path = "") {
    std::vector<std::string> env = stack_->Env();
    const char* path = std::getenv("PATH");
    std::string value = BinDir() + ":" + (path ? path : "/usr/bin:/bin");
    if (!first_on_path.empty()) value = first_on_path + ":" + value;
    env.push_back("PATH=" + value);
    return env;
  }

  static std::vector<std::string> AwsArgv(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kAws};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--endpoint-url");
    argv.push_back(stack_->url());
    return argv;
  }

  // `aws <args...> --endpoint-url URL --output json`, parsed.
  static Json AwsJson(const std::vector<std::string>& args) {
    std::vector<std::string> argv = AwsArgv(args);
    argv.push_back("--output");
    argv.push_back("json");
    CommandResult r = RunCommand(argv, "", seconds(120), AwsEnv());
    if (r.exit_code != 0) {
      ADD_FAILURE() << "aws " << args[0] << " " << args[1] << " failed: " << r;
      return nullptr;
    }
    Json j = Json::parse(r.out, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "aws " << args[0] << " " << args[1] << " printed no JSON: " << r;
      return nullptr;
    }
    return j;
  }

  static std::vector<std::string> ExecuteCommandArgv() {
    return AwsArgv({"ecs", "execute-command", "--cluster", cluster_, "--task", task_, "--interactive", "--command",
                    "/bin/sh"});
  }

  static std::string Target() { return "ecs:" + cluster_ + "_" + task_id_ + "_" + runtime_id_; }

  // A directory holding a `session-manager-plugin` wrapper script: the
  // AWS CLI's probe (no arguments) goes to the real plugin; for a session it
  // writes its arguments, one a line, to <dir>/argv, then either runs the
  // real plugin and writes its exit status to <dir>/status (`run_plugin`),
  // or stops there and exits 0.
  static std::string WrapperDir(const std::string& name, bool run_plugin) {
    std::string dir = stack_->dir() + "/" + name;
    ::mkdir(dir.c_str(), 0700);
    std::string script = "#!/bin/sh\n"
                         "if [ $# -eq 0 ]; then exec '" + Plugin() + "'; fi\n"
                         "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + dir + "/argv'\n";
    if (run_plugin)
      script += "'" + Plugin() + "' \"$@\"\nstatus=$?\necho $status > '" + dir + "/status'\nexit $status\n";
    else
      script += "exit 0\n";
    std::string path = dir + "/session-manager-plugin";
    std::ofstream(path) << script;
    ::chmod(path.c_str(), 0700);
    return dir;
  }

  // Waits for the busybox root prompt after the plugin's banner.
  static void ExpectShell(PtyProcess& pty, const std::string& what) {
    ASSERT_TRUE(pty.WaitForText("Starting session with SessionId: ", seconds(60))) << what << ":\n" << pty.all_output();
    ASSERT_TRUE(pty.WaitForText("# ", seconds(30))) << what << ": no shell prompt:\n" << pty.all_output();
  }

  // Types `echo <word>` and waits for <word> on a line of its own (the echo
  // of the typed command line does not count).
  static bool EchoRoundTrip(PtyProcess& pty, const std::string& word) {
    pty.Consume();
    pty.Write("echo " + word + "\r");
    return pty.WaitForRegex(std::regex("(^|\n)" + word + "\r?\n"), seconds(20));
  }

  static Json FindSession(const Json& described, const std::string& id) {
    for (const auto& s : described.value("Sessions", Json::array()))
      if (s.value("SessionId", "") == id) return s;
    return nullptr;
  }

  static std::string cluster_;
  static std::string task_;
  static std::string task_id_;
  static std::string runtime_id_;
};

std::string PluginAwsCliTest::cluster_;
std::string PluginAwsCliTest::task_;
std::string PluginAwsCliTest::task_id_;
std::string PluginAwsCliTest::runtime_id_;

TEST_F(PluginAwsCliTest, EcsExecuteCommandOpensAShell) {
  auto terminal = RunInPty(ExecuteCommandArgv(), AwsEnv(), 24, 80);
  PtyProcess& pty = *terminal;
  ASSERT_TRUE(pty.started());
  ASSERT_NO_FATAL_FAILURE(ExpectShell(pty, "aws ecs execute-command"));
  // The CLI's probe run (no arguments) printed to the same terminal first.
  EXPECT_THAT(pty.all_output(), HasSubstr("The Session Manager plugin was installed successfully")) << pty.all_output();
  EXPECT_TRUE(EchoRoundTrip(pty, "plugin-ok")) << pty.all_output();
  pty.Write("exit 0\r");
  std::optional<int> status = pty.Wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << "aws did not exit after `exit 0`:\n" << pty.all_output();
  EXPECT_EQ(*status, 0) << pty.all_output();
}

TEST_F(PluginAwsCliTest, NonZeroRemoteStatusIsThePluginsStatus) {
  // The wrapper runs the real plugin with the CLI's arguments and records
  // the plugin's own status; the CLI turns any non-zero status into 255.
  std::string wrapper = WrapperDir("wrap-run", true);
  auto terminal = RunInPty(ExecuteCommandArgv(), AwsEnv(wrapper), 24, 80);
  PtyProcess& pty = *terminal;
  ASSERT_TRUE(pty.started());
  ASSERT_NO_FATAL_FAILURE(ExpectShell(pty, "aws ecs execute-command"));
  EXPECT_TRUE(EchoRoundTrip(pty, "before-exit")) << pty.all_output();
  pty.Write("exit 3\r");
  std::optional<int> status = pty.Wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << "aws did not exit after `exit 3`:\n" << pty.all_output();
  EXPECT_EQ(*status, 255) << pty.all_output();
  EXPECT_EQ(Tokens(ReadText(wrapper + "/status")), std::vector<std::string>{"3"})
      << "the plugin's own exit status; output:\n" << pty.all_output();

  // What the CLI passed (§1 table).
  std::vector<std::string> argv = Lines(ReadText(wrapper + "/argv"));
  ASSERT_EQ(argv.size(), 6u) << ReadText(wrapper + "/argv");
  Json session = Json::parse(argv[0], nullptr, false);
  ASSERT_TRUE(session.is_object()) << argv[0];
  EXPECT_THAT(session.value("sessionId", ""), HasSubstr("ecs-execute-command-")) << argv[0];
  EXPECT_EQ(argv[2], "StartSession");
  EXPECT_EQ(Json::parse(argv[4], nullptr, false), (Json{{"Target", Target()}})) << argv[4];
  EXPECT_EQ(argv[5], stack_->url());
}

TEST_F(PluginAwsCliTest, PluginRunDirectlyWithTheCliArgumentsExitsWithTheRemoteStatus) {
  // Capture the arguments the CLI passes (the wrapper does not start the
  // session), then run the plugin with exactly them.
  std::string wrapper = WrapperDir("wrap-capture", false);
  CommandResult cli = RunCommand(ExecuteCommandArgv(), "", seconds(120), AwsEnv(wrapper));
  ASSERT_EQ(cli.exit_code, 0) << cli;
  std::vector<std::string> args = Lines(ReadText(wrapper + "/argv"));
  ASSERT_EQ(args.size(), 6u) << ReadText(wrapper + "/argv");
  std::string session_id = Json::parse(args[0], nullptr, false).value("sessionId", "");
  ASSERT_FALSE(session_id.empty()) << args[0];

  std::vector<std::string> argv = {Plugin()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto terminal = RunInPty(argv, AwsEnv(), 24, 80);
  PtyProcess& pty = *terminal;
  ASSERT_TRUE(pty.started());
  ASSERT_NO_FATAL_FAILURE(ExpectShell(pty, "session-manager-plugin"));
  EXPECT_THAT(pty.all_output(), HasSubstr("Starting session with SessionId: " + session_id)) << pty.all_output();
  EXPECT_TRUE(EchoRoundTrip(pty, "direct-ok")) << pty.all_output();
  pty.Write("exit 3\r");
  std::optional<int> status = pty.Wait(seconds(30));
  ASSERT_TRUE(status.has_value()) << "the plugin did not exit after `exit 3`:\n" << pty.all_output();
  EXPECT_EQ(*status, 3) << pty.all_output();
}

TEST_F(PluginAwsCliTest, SsmStartSessionDescribeAndTerminate) {
  auto terminal = RunInPty(AwsArgv({"ssm", "start-session", "--target", Target()}), AwsEnv(), 24, 80);
  PtyProcess& pty = *terminal;
  ASSERT_TRUE(pty.started());
  ASSERT_NO_FATAL_FAILURE(ExpectShell(pty, "aws ssm start-session"));
  std::smatch m;
  std::string banner = pty.all_output();
  ASSERT_TRUE(std::regex_search(banner, m, std::regex("Starting session with SessionId: (\\S+)"))) << banner;
  std::string id = m[1];
  EXPECT_TRUE(EchoRoundTrip(pty, "ssm-ok")) << pty.all_output();

  Json active = AwsJson({"ssm", "describe-sessions", "--state", "Active"});
  ASSERT_FALSE(active.is_null());
  Json listed = FindSession(active, id);
  ASSERT_FALSE(listed.is_null()) << id << " is not listed as Active: " << active.dump(2);
  EXPECT_EQ(listed.value("Target", ""), Target()) << listed.dump(2);
  EXPECT_NE(listed.value("Status", ""), "Terminated") << listed.dump(2);

  Json terminated = AwsJson({"ssm", "terminate-session", "--session-id", id});
  ASSERT_FALSE(terminated.is_null());
  EXPECT_EQ(terminated.value("SessionId", ""), id) << terminated.dump(2);

  // The plugin (and so the CLI) ends with the session.
  std::optional<int> status = pty.Wait(seconds(30));
  EXPECT_TRUE(status.has_value()) << "aws ssm start-session still runs after terminate-session:\n"
                                  << pty.all_output();

  Json history = AwsJson({"ssm", "describe-sessions", "--state", "History"});
  ASSERT_FALSE(history.is_null());
  Json ended = FindSession(history, id);
  ASSERT_FALSE(ended.is_null()) << id << " is not in the History: " << history.dump(2);
  EXPECT_EQ(ended.value("Status", ""), "Terminated") << ended.dump(2);
  EXPECT_EQ(ended.value("Target", ""), Target()) << ended.dump(2);
  EXPECT_TRUE(ended.contains("EndDate")) << ended.dump(2);

  Json still_active = AwsJson({"ssm", "describe-sessions", "--state", "Active"});
  ASSERT_FALSE(still_active.is_null());
  EXPECT_TRUE(FindSession(still_active, id).is_null()) << still_active.dump(2);
}

TEST_F(PluginAwsCliTest, ResumeSessionForAnUnknownSessionHasNoToken) {
  Json resumed = AwsJson({"ssm", "resume-session", "--session-id", "bogus"});
  ASSERT_FALSE(resumed.is_null());
  EXPECT_FALSE(resumed.contains("TokenValue")) << resumed.dump(2);
  EXPECT_FALSE(resumed.contains("StreamUrl")) << resumed.dump(2);
}

TEST_F(PluginAwsCliTest, ResumeSessionForAnEndedSessionHasNoToken) {
  CommandResult r = stack_->Exec(cluster_, task_, "echo short-lived");
  ASSERT_EQ(r.exit_code, 0) << r;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("SessionId: (\\S+)"))) << r;
  std::string id = m[1];
  Json resumed = AwsJson({"ssm", "resume-session", "--session-id", id});
  ASSERT_FALSE(resumed.is_null());
  EXPECT_FALSE(resumed.contains("TokenValue")) << resumed.dump(2);
}

}  // namespace
}  // namespace porthole::itest
