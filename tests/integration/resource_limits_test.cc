// Limits and process trees (issue 9, items 3 and 4), with real runc
// containers: a container's memory limit is enforced and an OOM kill is
// reported as ECS reports it, the node's pids limit stops a fork bomb, and an
// exec session's processes — daemons that left its process group included —
// end with the session.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"

namespace porthole::itest {
namespace {

constexpr int kPidsLimit = 64;

class ResourceLimitsTest : public StackTest {
 protected:
  static void SetUpTestSuite() {
    StackOptions options;
    options.node_args = {"--pids-limit", std::to_string(kPidsLimit)};
    StartStack(options);
    if (!stack_ready()) return;
    cluster_ = UniqueName("limits");
    if (!stack_->CreateCluster(cluster_)) return SetSuiteError("create-cluster failed");
  }
  static void TearDownTestSuite() { StopStack(); }

  static std::string Run(const std::string& family, const Json& container, bool exec) {
    if (stack_->RegisterTaskDefinition(family, Json::array({container})).empty()) return "";
    return stack_->RunTask(cluster_, family, exec);
  }

  static std::string cluster_;
};

std::string ResourceLimitsTest::cluster_;

std::string TaskId(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

TEST_F(ResourceLimitsTest, AContainerPastItsMemoryIsKilledAndTheReasonReported) {
  Json hog = BusyboxContainer("hog", {"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  hog["memory"] = 32;
  std::string task = Run(UniqueName("oom"), hog, false);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  const Json& c = last["containers"][0];
  EXPECT_EQ(c.value("reason", ""), "OutOfMemoryError: Container killed due to memory usage") << last.dump(2);
  EXPECT_EQ(c.value("exitCode", 0), 137) << last.dump(2);
  EXPECT_EQ(last.value("stopCode", ""), "EssentialContainerExited") << last.dump(2);
}

// The container's supervisor, which outlives the node, watches for the
// kill: one while the node is down is still reported.
TEST_F(ResourceLimitsTest, AKillForMemoryWhileTheNodeIsDownIsStillReported) {
  // It allocates once /go appears in its root file system.
  Json hog = BusyboxContainer("hog", {"sh", "-c",
                                      "while [ ! -e /go ]; do sleep 0.1; done; "
                                      "exec dd if=/dev/zero of=/dev/null bs=64M count=1"});
  hog["memory"] = 32;
  std::string task = Run(UniqueName("oom-down"), hog, false);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "RUNNING", seconds(60), &last)) << last.dump(2);
  stack_->KillNode();
  std::string rootfs;
  for (const auto& entry : std::filesystem::directory_iterator(stack_->node_dir() + "/tasks/" + TaskId(task)))
    if (std::filesystem::is_directory(entry.path() / "rootfs")) rootfs = (entry.path() / "rootfs").string();
  ASSERT_FALSE(rootfs.empty());
  std::ofstream(rootfs + "/go") << "";
  // The container is gone (its supervisor has recorded it) before the node is back.
  const std::string exit_file = std::filesystem::path(rootfs).parent_path() / "exit_code";
  for (int i = 0; i < 200 && !std::filesystem::exists(exit_file); i++) std::this_thread::sleep_for(milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(exit_file));
  ASSERT_EQ(stack_->StartNode(), "");
  ASSERT_TRUE(stack_->WaitForLastStatus(cluster_, task, "STOPPED", seconds(60), &last)) << last.dump(2);
  const Json& c = last["containers"][0];
  EXPECT_EQ(c.value("reason", ""), "OutOfMemoryError: Container killed due to memory usage") << last.dump(2);
  EXPECT_EQ(c.value("exitCode", 0), 137) << last.dump(2);
}

TEST_F(ResourceLimitsTest, LimitsAreThoseOfTheDefinition) {
  Json app = BusyboxContainer("app", {"sleep", "3600"});
  app["memory"] = 96;
  app["memoryReservation"] = 48;
  app["cpu"] = 512;
  std::string task = Run(UniqueName("sized"), app, true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task, seconds(60), &last)) << last.dump(2);
  const std::string runtime_id = last["containers"][0].value("runtimeId", "");
  const std::string group = stack_->cgroup_parent() + "/" + TaskId(task) + "/" + runtime_id;
  auto value = [&](const std::string& controller, const std::string& file) {
    std::string v = ReadWholeFile("/sys/fs/cgroup/" + controller + "/" + group + "/" + file);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  EXPECT_EQ(value("memory", "memory.limit_in_bytes"), std::to_string(96 << 20));
  EXPECT_EQ(value("memory", "memory.soft_limit_in_bytes"), std::to_string(48 << 20));
  EXPECT_EQ(value("cpu", "cpu.shares"), "512");
  EXPECT_EQ(value("pids", "pids.max"), std::to_string(kPidsLimit));
  // The container's processes, the exec agent's sessions among them, are in
  // it: a session in a group of its own (freezer, which holds its tree),
  // under the container's memory limit (no cap of its own asked for).
  CommandResult r = stack_->Exec(cluster_, task, "cat /proc/self/cgroup");
  EXPECT_NE(r.out.find("freezer:/" + group + "/session-"), std::string::npos) << r;
  EXPECT_NE(r.out.find("memory:/" + group + "/main"), std::string::npos) << r;
}

TEST_F(ResourceLimitsTest, TheNodesPidsLimitStopsAForkBomb) {
  std::string task = Run(UniqueName("forks"), BusyboxContainer("app", {"sleep", "3600"}), true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task, seconds(60), &last)) << last.dump(2);
  // A subshell forks 200 children that each note they started and stay a
  // while (ash gives up at the first fork that fails); once they are gone,
  // the count is read.
  CommandResult r = stack_->Exec(
      cluster_, task,
      "sh -c '(n=0; while [ $n -lt 200 ]; do (echo x >> /tmp/forked; exec sleep 3) & n=$((n+1)); done) 2>/dev/null; "
      "sleep 4; echo forked=$(wc -l < /tmp/forked)'",
      "", "", seconds(90));
  auto at = r.out.find("forked=");
  ASSERT_NE(at, std::string::npos) << r;
  int forked = std::atoi(r.out.c_str() + at + 7);
  EXPECT_LT(forked, kPidsLimit) << r;
  EXPECT_GT(forked, kPidsLimit / 2) << r;  // it did fork, up to the limit
}

TEST_F(ResourceLimitsTest, NothingOfASessionOutlivesIt) {
  std::string task = Run(UniqueName("trees"), BusyboxContainer("app", {"sleep", "3600"}), true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(cluster_, task, seconds(60), &last)) << last.dump(2);
  // A background job, a setsid daemon and a double-forked one; the command
  // itself exits at once.
  CommandResult r = stack_->Exec(cluster_, task,
                                 "sh -c 'sleep 4241 & setsid sleep 4242 & (setsid sh -c \"sleep 4243 &\" &); "
                                 "sleep 1; echo started'");
  EXPECT_NE(r.out.find("started"), std::string::npos) << r;
  std::vector<pid_t> left;
  for (int attempt = 0; attempt < 50; attempt++) {
    left.clear();
    for (const char* needle : {"4241", "4242", "4243"}) {
      auto found = ProcessesOf("sleep", needle);
      left.insert(left.end(), found.begin(), found.end());
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " processes of the ended session are still running";
  // The container's own process is untouched, and the next session works.
  CommandResult next = stack_->Exec(cluster_, task, "echo next");
  EXPECT_NE(next.out.find("next"), std::string::npos) << next;
}

TEST_F(ResourceLimitsTest, TheClustersSessionCapHoldsAndSparesTheApplication) {
  const std::string capped = UniqueName("capped");
  Json created = stack_->EcsJson({"create-cluster", "--cluster-name", capped, "--settings",
                                  R"([{"name":"porthole:sessionMemory","value":"32"}])"});
  ASSERT_FALSE(created.is_null());
  const std::string family = UniqueName("capped-app");
  ASSERT_FALSE(stack_->RegisterTaskDefinition(family, Json::array({BusyboxContainer("app", {"sleep", "3600"})})).empty());
  std::string task = stack_->RunTask(capped, family, true);
  ASSERT_FALSE(task.empty());
  Json last;
  ASSERT_TRUE(stack_->WaitForExecAgent(capped, task, seconds(60), &last)) << last.dump(2);
  // A session that wants 64 MiB at once is killed at its cap of 32 ...
  CommandResult hog = stack_->Exec(capped, task, "dd if=/dev/zero of=/dev/null bs=64M count=1");
  EXPECT_EQ(hog.exit_code, 137) << hog;
  // ... and the application, and the next session, carry on.
  CommandResult next = stack_->Exec(capped, task, "sh -c 'kill -0 1 && echo app-alive'");
  EXPECT_NE(next.out.find("app-alive"), std::string::npos) << next;
  Json after = stack_->DescribeTask(capped, task);
  EXPECT_EQ(after.value("lastStatus", ""), "RUNNING") << after.dump(2);
  // Porthole's CLI may ask for less than the cluster's cap, never more.
  auto exec_asking = [&](const std::string& mib, const std::string& command) {
    std::vector<std::string> argv = stack_->ExecArgv(capped, task, command);
    argv.insert(argv.end(), {"--session-memory", mib});
    return RunCommand(argv, "", seconds(60), stack_->Env());
  };
  CommandResult fits = exec_asking("32", "dd if=/dev/zero of=/dev/null bs=20M count=1");
  EXPECT_EQ(fits.exit_code, 0) << fits;
  CommandResult lower = exec_asking("12", "dd if=/dev/zero of=/dev/null bs=20M count=1");
  EXPECT_EQ(lower.exit_code, 137) << lower;
  CommandResult more = exec_asking("128", "dd if=/dev/zero of=/dev/null bs=64M count=1");
  EXPECT_EQ(more.exit_code, 137) << more;
  // Unknown settings are refused, as ECS refuses them.
  CommandResult bad = stack_->Ecs({"create-cluster", "--cluster-name", UniqueName("bad"), "--settings",
                                   R"([{"name":"porthole:sessionMemory","value":"lots"}])"});
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_NE(bad.err.find("InvalidParameterException"), std::string::npos) << bad;
}

}  // namespace
}  // namespace porthole::itest
