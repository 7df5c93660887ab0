#include "node/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "../temp_dir.h"
#include "node/cgroups.h"
#include "node/file_tree.h"

namespace porthole::node {
namespace {
using testing::TempDir;

std::string Sh() { return FindExecutable("sh"); }

constexpr const char* kSupervisor = PORTHOLE_BIN_DIR "/porthole-supervise";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  auto r = RunSubprocess({Sh(), "-c", "echo out; echo err >&2; exit 7"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(SubprocessTest, ArgumentsAreNotInterpretedByAShell) {
  auto r = RunSubprocess({Sh(), "-c", "printf '%s|' \"$@\"", "sh", "a b", "$(id)", ";rm -rf /"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "a b|$(id)|;rm -rf /|");
}

TEST(SubprocessTest, SignalDeathIs128PlusSignal) {
  auto r = RunSubprocess({Sh(), "-c", "kill -TERM $$"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
}

TEST(SubprocessTest, EnvironmentIsOnlyWhatIsGiven) {
  ::setenv("PORTHOLE_SECRET_FOR_TEST", "leak", 1);
  SubprocessOptions options;
  options.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  auto r = RunSubprocess({FindExecutable("env")}, options);
  ::unsetenv("PORTHOLE_SECRET_FOR_TEST");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "PATH=/usr/bin:/bin\nONLY=this\n");
}

TEST(SubprocessTest, ChildGetsOnlyStdio) {
  // A descriptor deliberately left without O_CLOEXEC must not reach the child.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  auto r = RunSubprocess({FindExecutable("ls"), "/proc/self/fd"});
  ::close(leaky);
  ASSERT_TRUE(r.ok());
  // ls itself holds one descriptor for the directory it lists.
  EXPECT_EQ(r->out, "0\n1\n2\n3\n");
}

TEST(SubprocessTest, MissingProgramIsAnError) {
  auto r = RunSubprocess({"/nonexistent/program"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/program"), std::string::npos);
  EXPECT_FALSE(RunSubprocess({"relative"}).ok());
  EXPECT_FALSE(RunSubprocess({}).ok());
}

TEST(SubprocessTest, TimeoutKillsTheChild) {
  SubprocessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto r = RunSubprocess({FindExecutable("sleep"), "30"}, options);
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SubprocessTest, LargeOutputIsCappedWithoutDeadlock) {
  SubprocessOptions options;
  options.max_capture_bytes = 1000;
  auto r = RunSubprocess({FindExecutable("head"), "-c", "3000000", "/dev/zero"}, options);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), 1000u);
}

TEST(SubprocessTest, BackgroundGrandchildHoldingThePipeDoesNotBlock) {
  auto start = std::chrono::steady_clock::now();
  auto r = RunSubprocess({Sh(), "-c", "sleep 5 & echo started"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(SubprocessTest, SupervisedRecordsExitStatusAndLog) {
  TempDir dir;
  std::string log = dir.path() + "/log", exit_file = dir.path() + "/exit";
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_TRUE(StartSupervised({Sh(), "-c", "echo hello; ls /proc/$$/fd; echo oops >&2; exit 5"}, {"PATH=/usr/bin:/bin"},
                              log, exit_file, kSupervisor)
                  .ok());
  ::close(leaky);
  ASSERT_TRUE(WaitForFile(exit_file, std::chrono::seconds(10)));
  EXPECT_EQ(ReadAll(exit_file), "5\n");
  EXPECT_EQ(ReadAll(log), "hello\n0\n1\n2\noops\n");
  EXPECT_NE(::access((exit_file + ".tmp").c_str(), F_OK), 0);
}

TEST(SubprocessTest, SupervisedIsDetached) {
  TempDir dir;
  std::string log = dir.path() + "/log", exit_file = dir.path() + "/exit";
  // The program reports its parent (the supervisor) and that parent's
  // session; neither may be ours.
  ASSERT_TRUE(StartSupervised({Sh(), "-c", "echo $PPID; cut -d' ' -f4,6 /proc/$PPID/stat; exec 0<&-; read x"},
                              {"PATH=/usr/bin:/bin"}, log, exit_file, kSupervisor)
                  .ok());
  ASSERT_TRUE(WaitForFile(exit_file, std::chrono::seconds(10)));
  std::istringstream in(ReadAll(log));
  int supervisor = 0, supervisor_parent = 0, supervisor_session = 0;
  in >> supervisor >> supervisor_parent >> supervisor_session;
  EXPECT_GT(supervisor, 0);
  EXPECT_NE(supervisor, ::getpid());
  EXPECT_NE(supervisor_parent, ::getpid());
  EXPECT_NE(supervisor_session, ::getsid(0));
}

// The supervisor watches the container's memory group itself, so a kill
// for memory is on record even when the node was not running to see it.
TEST(SubprocessTest, SupervisedRecordsAKillForMemoryAndOnlyThat) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto cgroups = Cgroups::Detect();
  if (!cgroups) GTEST_SKIP() << cgroups.error().message;
  const std::string group = "porthole-unit-supervise-" + std::to_string(::getpid());
  CgroupLimits limits;
  limits.memory_bytes = 16 << 20;
  ASSERT_TRUE(cgroups->Create(group, limits).ok());
  const std::string memory_dir = cgroups->MemoryDir(group);
  auto supervise = [&](const std::string& script) {
    TempDir dir;
    const std::string exit_file = dir.path() + "/exit";
    EXPECT_TRUE(StartSupervised({Sh(), "-c", "echo $$ > " + memory_dir + "/cgroup.procs && " + script},
                                {"PATH=/usr/bin:/bin"}, dir.path() + "/log", exit_file, kSupervisor,
                                {"--oom-watch", memory_dir})
                    .ok());
    EXPECT_TRUE(WaitForFile(exit_file, std::chrono::seconds(20)));
    return ReadAll(exit_file);
  };
  EXPECT_EQ(supervise("exec dd if=/dev/zero of=/dev/null bs=64M count=1"), "137\noom\n");
  EXPECT_EQ(supervise("kill -KILL $$"), "137\n");  // killed, but not for memory
  EXPECT_EQ(supervise("exit 3"), "3\n");
  EXPECT_TRUE(cgroups->Remove(group).ok());
}

TEST(SubprocessTest, SupervisedMissingProgramRecords127) {
  TempDir dir;
  std::string log = dir.path() + "/log", exit_file = dir.path() + "/exit";
  ASSERT_TRUE(StartSupervised({"/nonexistent/runc"}, {}, log, exit_file, kSupervisor).ok());
  ASSERT_TRUE(WaitForFile(exit_file, std::chrono::seconds(10)));
  EXPECT_EQ(ReadAll(exit_file), "127\n");
  EXPECT_NE(ReadAll(log).find("/nonexistent/runc"), std::string::npos);
}

// The supervisor is porthole-supervise itself, not a copy of the caller: it
// holds none of the caller's memory (a node's credentials).
TEST(SubprocessTest, SupervisorIsItsOwnSmallProgram) {
  TempDir dir;
  std::string log = dir.path() + "/log", exit_file = dir.path() + "/exit";
  ASSERT_TRUE(StartSupervised({Sh(), "-c", "readlink /proc/$PPID/exe; tr '\\0' ' ' < /proc/$PPID/cmdline"},
                              {"PATH=/usr/bin:/bin"}, log, exit_file, kSupervisor)
                  .ok());
  ASSERT_TRUE(WaitForFile(exit_file, std::chrono::seconds(10)));
  std::string out = ReadAll(log);
  EXPECT_NE(out.find("/porthole-supervise\n"), std::string::npos) << out;
  EXPECT_NE(out.find(exit_file + " " + Sh() + " -c"), std::string::npos) << out;
}

TEST(SubprocessTest, AMissingSupervisorIsAnError) {
  TempDir dir;
  auto s = StartSupervised({Sh(), "-c", "true"}, {}, dir.path() + "/log", dir.path() + "/exit", "/nonexistent/supervise");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot execute /nonexistent/supervise"), std::string::npos) << s.error().message;
  EXPECT_NE(::access((dir.path() + "/exit").c_str(), F_OK), 0);
}

TEST(FileTreeTest, NormalizedPaths) {
  EXPECT_TRUE(IsNormalizedAbsolutePath("/"));
  EXPECT_TRUE(IsNormalizedAbsolutePath("/a/b.c/..d"));
  EXPECT_FALSE(IsNormalizedAbsolutePath(""));
  EXPECT_FALSE(IsNormalizedAbsolutePath("a/b"));
  EXPECT_FALSE(IsNormalizedAbsolutePath("/a/../b"));
  EXPECT_FALSE(IsNormalizedAbsolutePath("/a/./b"));
  EXPECT_FALSE(IsNormalizedAbsolutePath("/a//b"));
  EXPECT_FALSE(IsNormalizedAbsolutePath("/a/"));
  EXPECT_FALSE(IsNormalizedAbsolutePath(std::string("/a\0b", 4)));
}

TEST(FileTreeTest, RemoveTreeDoesNotFollowSymlinks) {
  TempDir dir;
  std::string outside = dir.path() + "/outside", tree = dir.path() + "/tree";
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(outside + "/keep", "x", 0644).ok());
  ASSERT_EQ(::mkdir(tree.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (tree + "/link").c_str()), 0);
  ASSERT_TRUE(RemoveTree(tree).ok());
  EXPECT_NE(::access(tree.c_str(), F_OK), 0);
  EXPECT_EQ(ReadAll(outside + "/keep"), "x");
  EXPECT_TRUE(RemoveTree(tree).ok());  // missing is fine
  EXPECT_FALSE(RemoveTree("/").ok());
  EXPECT_FALSE(RemoveTree(dir.path() + "/../x").ok());
}

TEST(FileTreeTest, WriteFileAtomicSetsModeAndReplaces) {
  TempDir dir;
  std::string f = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomic(f, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(f, "two", 0640).ok());
  EXPECT_EQ(ReadAll(f), "two");
  struct stat st;
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

}  // namespace
}  // namespace porthole::node
