#include "node/cgroups.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"

namespace porthole::node {
namespace {

TEST(CgroupPathTest, OnlyPlainRelativePaths) {
  EXPECT_TRUE(IsValidCgroupPath("porthole/task-1/c.0/main"));
  for (const char* bad : {"", "/porthole", "porthole/", "porthole//x", "porthole/../x", "./x", "a/b c", "a/$x"})
    EXPECT_FALSE(IsValidCgroupPath(bad)) << bad;
}

// Against the host's real cgroups (this host: v1; v2 elsewhere), under a
// parent of the test's own.
class CgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto detected = Cgroups::Detect();
    if (!detected) GTEST_SKIP() << detected.error().message;
    cgroups_.emplace(*detected);
    parent_ = "porthole-unit-" + std::to_string(::getpid());
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cgroups_) EXPECT_TRUE(cgroups_->Remove(parent_).ok());
  }

  // A child that waits for a byte on a pipe, then runs `body`; it is in
  // `group` (in the hierarchies `hierarchies` names) before it goes on.
  pid_t StartIn(const std::string& group, void (*body)(), const CgroupLimits& hierarchies = {}) {
    int go[2];
    EXPECT_EQ(::pipe(go), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      ::close(go[1]);
      if (::read(go[0], &c, 1) != 1) ::_exit(3);
      body();
      ::_exit(0);
    }
    ::close(go[0]);
    children_.push_back(pid);
    EXPECT_TRUE(cgroups_->AddProcess(group, pid, hierarchies).ok());
    EXPECT_EQ(::write(go[1], "g", 1), 1);
    ::close(go[1]);
    return pid;
  }

  std::optional<Cgroups> cgroups_;
  std::string parent_;
  std::vector<pid_t> children_;
};

TEST_F(CgroupsTest, LimitsAreWrittenWhereTheKernelReadsThem) {
  CgroupLimits limits;
  limits.memory_bytes = 64 << 20;
  limits.memory_reservation_bytes = 32 << 20;
  limits.cpu_shares = 512;
  limits.cpu_quota_millicores = 500;
  limits.pids_max = 64;
  ASSERT_TRUE(cgroups_->Create(parent_ + "/task/container", limits).ok());
  auto read = [&](const std::string& controller, const std::string& file) {
    std::string dir = cgroups_->v2() ? "/sys/fs/cgroup/" : "/sys/fs/cgroup/" + controller + "/";
    std::string v = ReadFile(dir + parent_ + "/task/container/" + file).value_or("?");
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  if (cgroups_->v2()) {
    EXPECT_EQ(read("", "memory.max"), std::to_string(64 << 20));
    EXPECT_EQ(read("", "cpu.max"), "50000 100000");
    EXPECT_EQ(read("", "pids.max"), "64");
  } else {
    EXPECT_EQ(read("memory", "memory.limit_in_bytes"), std::to_string(64 << 20));
    EXPECT_EQ(read("memory", "memory.soft_limit_in_bytes"), std::to_string(32 << 20));
    EXPECT_EQ(read("cpu", "cpu.shares"), "512");
    EXPECT_EQ(read("cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(read("pids", "pids.max"), "64");
  }
  EXPECT_EQ(cgroups_->Children(parent_ + "/task"), (std::vector<std::string>{"container"}));
}

TEST_F(CgroupsTest, KillAllTakesDaemonsThatLeftTheirParent) {
  const std::string session = parent_ + "/task/container/session-1";
  ASSERT_TRUE(cgroups_->Create(session, {}).ok());
  // A session whose command double-forks a daemon into its own session and exits.
  pid_t pid = StartIn(session, [] {
    if (::fork() == 0) {
      ::setsid();
      if (::fork() == 0) {
        ::execl("/bin/sleep", "sleep", "1000", nullptr);
        ::_exit(127);
      }
      ::_exit(0);
    }
    ::pause();
  });
  std::vector<int> procs;
  for (int i = 0; i < 200 && (procs = cgroups_->Processes(session)).size() < 2; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(procs.size(), 2u);  // the session's process and the daemon
  EXPECT_TRUE(cgroups_->Contains(session, pid));
  EXPECT_TRUE(cgroups_->Contains(parent_ + "/task", pid));  // below it counts
  EXPECT_FALSE(cgroups_->Contains(session, ::getpid()));
  if (!cgroups_->v2()) {
    // Without limits of its own, moved only where the tree is held (each
    // move costs a session's start an RCU grace period).
    std::string own = ReadFile("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
    EXPECT_NE(own.find("freezer:/" + session), std::string::npos) << own;
    EXPECT_EQ(own.find("memory:/" + session), std::string::npos) << own;
  }

  ASSERT_TRUE(cgroups_->KillAll(parent_ + "/task/container").ok());  // from the container's level down
  EXPECT_TRUE(cgroups_->Processes(session).empty());
  for (int p : procs) {
    // Gone, or a zombie waiting for its reaper.
    std::string stat = ReadFile("/proc/" + std::to_string(p) + "/stat").value_or("");
    size_t paren = stat.rfind(')');
    bool alive = paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
    EXPECT_FALSE(alive) << "pid " << p << " survived: " << stat;
  }
  ASSERT_TRUE(cgroups_->Remove(session).ok());
  EXPECT_TRUE(cgroups_->Children(parent_ + "/task/container").empty());
}

TEST_F(CgroupsTest, AnOomKillIsCountedInTheGroupWhoseLimitWasHit) {
  const std::string container = parent_ + "/task/container";
  CgroupLimits limits;
  limits.memory_bytes = 16 << 20;
  ASSERT_TRUE(cgroups_->Create(container, limits).ok());
  ASSERT_TRUE(cgroups_->Create(container + "/main", {}).ok());
  OomMonitor monitor(*cgroups_);
  ASSERT_TRUE(monitor.Watch(container).ok());
  EXPECT_FALSE(monitor.Fired(container));
  pid_t pid = StartIn(container + "/main", [] {
    for (int i = 0; i < 64; i++) {
      char* p = static_cast<char*>(::malloc(1 << 20));
      std::memset(p, 1, 1 << 20);
    }
  }, limits);  // into the memory hierarchy too, as runc puts a container
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  children_.clear();
  ASSERT_TRUE(WIFSIGNALED(status)) << "allocating 64 MiB under a 16 MiB limit should be killed";
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  // Seen where the limit is, and still with `main` gone (as runc removes it).
  ASSERT_TRUE(cgroups_->Remove(container + "/main").ok());
  bool fired = false;
  for (int i = 0; i < 100 && !(fired = monitor.Fired(container)); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(fired);
  monitor.Unwatch(container);
}

TEST_F(CgroupsTest, PathsAreChecked) {
  EXPECT_FALSE(cgroups_->Create("../escape", {}).ok());
  EXPECT_FALSE(cgroups_->AddProcess(parent_ + "/x", 0).ok());
  EXPECT_TRUE(cgroups_->Remove(parent_ + "/never-made").ok());
}

}  // namespace
}  // namespace porthole::node
