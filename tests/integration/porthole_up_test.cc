// `porthole up` as a supervisor (issue 9, item 7): its control plane and node
// do not outlive it, it does not outlive either of them, and a data
// directory serves one of each at a time. Real processes and containers.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "harness.h"

namespace porthole::itest {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class PortholeUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string missing = MissingPrerequisite(); !missing.empty()) GTEST_SKIP() << missing;
    // Named as the harness names a stack's directory, so that a later test
    // program removes what a killed one left (its containers included: they
    // live under <dir>/node/runc here too).
    std::string pattern = (fs::temp_directory_path() / ("porthole-it-" + std::to_string(::getpid()) + "-up-XXXXXX")).string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    data_dir_ = pattern;
  }
  void TearDown() override {
    up_.reset();
    if (!data_dir_.empty()) {
      for (const std::string& id : RuncContainers())
        RunCommand({RuncPath(), "--root", data_dir_ + "/node/runc", "delete", "--force", id}, "", seconds(30));
      std::error_code ec;
      fs::remove_all(data_dir_, ec);
    }
  }

  // Starts `porthole up` on the test's data directory and waits for "ready".
  void StartUp() {
    up_ = std::make_unique<Daemon>(std::vector<std::string>{Bin("porthole"), "up", "--data-dir", data_dir_, "--port", "0"},
                                   std::vector<std::string>{}, SIGINT);
    ASSERT_TRUE(up_->Start());
    ASSERT_TRUE(up_->command().WaitForStdout("ready ", seconds(90)))
        << "porthole up did not get ready\n--- stderr ---\n" << up_->command().stderr_so_far();
  }

  // The environment `porthole env` prints for the data directory.
  std::vector<std::string> ClientEnv() {
    CommandResult printed = RunCommand({Bin("porthole"), "env", "--data-dir", data_dir_});
    EXPECT_EQ(printed.exit_code, 0) << printed;
    std::vector<std::string> env;
    std::istringstream lines(printed.out);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("export ", 0) == 0) env.push_back(line.substr(7));
    return env;
  }

  // Runs one task (a container that sleeps) and waits until it runs.
  void RunSleepingTask() {
    auto env = ClientEnv();
    auto cli = [&](std::vector<std::string> args) {
      args.insert(args.begin(), Bin("porthole"));
      CommandResult r = RunCommand(args, "", seconds(60), env);
      EXPECT_EQ(r.exit_code, 0) << r;
      return Json::parse(r.out, nullptr, false);
    };
    cli({"ecs", "create-cluster", "--cluster-name", "up"});
    cli({"ecs", "register-task-definition", "--family", "sleeper", "--container-definitions",
         R"([{"name":"app","image":"busybox","command":["sleep","3600"],"stopTimeout":2}])"});
    Json run = cli({"ecs", "run-task", "--cluster", "up", "--task-definition", "sleeper"});
    std::string arn = run["tasks"][0].value("taskArn", "");
    ASSERT_FALSE(arn.empty()) << run.dump();
    auto deadline = Clock::now() + seconds(60);
    std::string status;
    while (status != "RUNNING" && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(200));
      status = cli({"ecs", "describe-tasks", "--cluster", "up", "--tasks", arn})["tasks"][0].value("lastStatus", "");
    }
    ASSERT_EQ(status, "RUNNING");
    ASSERT_EQ(RuncContainers().size(), 1u);
  }

  std::vector<std::string> RuncContainers() {
    std::vector<std::string> ids;
    if (!fs::exists(data_dir_ + "/node/runc")) return ids;
    std::istringstream out(RunCommand({RuncPath(), "--root", data_dir_ + "/node/runc", "list", "-q"}).out);
    for (std::string id; out >> id;) ids.push_back(id);
    return ids;
  }

  // Porthole's daemons and containers still there for this data directory.
  std::string Leftovers() {
    std::string left;
    for (const char* program : {"portholed", "porthole-node"})
      for (pid_t pid : ProcessesOf(Bin(program), "--data-dir " + data_dir_ + "/"))
        left += std::string(program) + " " + std::to_string(pid) + "; ";
    for (const std::string& id : RuncContainers()) left += "container " + id + "; ";
    return left;
  }

  // Waits (a liveness bound, not a timing goal) until nothing is left.
  std::string LeftoversAfterAWhile() {
    auto deadline = Clock::now() + seconds(90);
    std::string left = Leftovers();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(200));
      left = Leftovers();
    }
    return left;
  }

  std::string data_dir_;
  std::unique_ptr<Daemon> up_;
};

TEST_F(PortholeUpTest, ADataDirectoryInUseIsRefusedNamingItsHolder) {
  StartUp();
  const std::string up_pid = std::to_string(up_->command().pid());

  CommandResult second = RunCommand({Bin("porthole"), "up", "--data-dir", data_dir_, "--port", "0"}, "", seconds(30));
  EXPECT_EQ(second.exit_code, 1) << second;
  EXPECT_THAT(second.err, HasSubstr("is in use by porthole up (pid " + up_pid + ")")) << second;

  std::vector<pid_t> control_planes = ProcessesOf(Bin("portholed"), "--data-dir " + data_dir_ + "/");
  ASSERT_EQ(control_planes.size(), 1u);
  CommandResult portholed = RunCommand(
      {Bin("portholed"), "--data-dir", data_dir_ + "/control-plane", "--listen", "127.0.0.1:0"}, "", seconds(30));
  EXPECT_NE(portholed.exit_code, 0) << portholed;
  EXPECT_THAT(portholed.err, HasSubstr("is in use by portholed (pid " + std::to_string(control_planes[0]) + ")"));

  std::vector<pid_t> nodes = ProcessesOf(Bin("porthole-node"), "--data-dir " + data_dir_ + "/");
  ASSERT_EQ(nodes.size(), 1u);
  CommandResult node = RunCommand({Bin("porthole-node"), "--data-dir", data_dir_ + "/node", "--endpoint",
                                   "https://127.0.0.1:1"},
                                  "", seconds(30), {"AWS_REGION=us-east-1", "PORTHOLE_JOIN_TOKEN=unused"});
  EXPECT_NE(node.exit_code, 0) << node;
  EXPECT_THAT(node.err, HasSubstr("is in use by porthole-node (pid " + std::to_string(nodes[0]) + ")"));

  // The refused ones changed nothing: the first stack still stops cleanly.
  CommandResult stopped = up_->Stop(seconds(120));
  EXPECT_EQ(stopped.exit_code, 0) << stopped;
  EXPECT_EQ(Leftovers(), "");
  // And once it is gone, the directory can be used again.
  StartUp();
  EXPECT_EQ(up_->Stop(seconds(120)).exit_code, 0);
}

TEST_F(PortholeUpTest, KilledUpTakesItsDaemonsAndContainersWithIt) {
  StartUp();
  RunSleepingTask();
  ASSERT_EQ(::kill(up_->command().pid(), SIGKILL), 0);
  EXPECT_EQ(up_->command().Wait(seconds(30)).exit_code, 128 + SIGKILL);
  EXPECT_EQ(LeftoversAfterAWhile(), "");
}

TEST_F(PortholeUpTest, DeadControlPlaneStopsTheNodeAndUpSaysWhy) {
  StartUp();
  RunSleepingTask();
  std::vector<pid_t> control_planes = ProcessesOf(Bin("portholed"), "--data-dir " + data_dir_ + "/");
  ASSERT_EQ(control_planes.size(), 1u);
  ASSERT_EQ(::kill(control_planes[0], SIGKILL), 0);
  CommandResult up = up_->command().Wait(seconds(120));
  EXPECT_FALSE(up.timed_out) << up;
  EXPECT_EQ(up.exit_code, 1) << up;
  EXPECT_THAT(up.err, HasSubstr("portholed was killed by signal 9")) << up;
  EXPECT_EQ(LeftoversAfterAWhile(), "") << "the node should have stopped its task and exited";
}

}  // namespace
}  // namespace porthole::itest
