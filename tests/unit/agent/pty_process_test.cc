#include "agent/pty_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {
namespace fs = std::filesystem;

// The exit status of `pid`, reaped.
int Reap(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string TempPath() {
  char tmpl[] = "/tmp/pty-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  ::unlink(tmpl);
  return tmpl;
}

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

TEST(PtyProcessTest, APreparedCommandRunsOnlyOnceLetGo) {
  const std::string marker = TempPath();
  auto process = PrepareOnPty({"sh", "-c", "echo ran > " + marker}, kEnv);
  ASSERT_TRUE(process.ok()) << process.error().message;
  ASSERT_TRUE(process->child.held());
  ::usleep(100 * 1000);
  EXPECT_FALSE(fs::exists(marker)) << "ran before RunPrepared";
  RunPrepared(*process, 100, 30);
  EXPECT_FALSE(process->child.held());
  EXPECT_EQ(Reap(process->pid()), 0);
  EXPECT_TRUE(fs::exists(marker));
  ::close(process->master_fd);
  fs::remove(marker);
}

TEST(PtyProcessTest, ADiscardedCommandNeverRuns) {
  const std::string marker = TempPath();
  auto process = PrepareOnPty({"sh", "-c", "echo ran > " + marker}, kEnv);
  ASSERT_TRUE(process.ok()) << process.error().message;
  pid_t pid = process->pid();
  DiscardPrepared(*process);
  EXPECT_EQ(process->pid(), -1);
  EXPECT_EQ(Reap(pid), 0);
  EXPECT_FALSE(fs::exists(marker));
}

TEST(PtyProcessTest, AMissingProgramIsAnError) {
  auto process = PrepareOnPty({"no-such-program-anywhere"}, kEnv);
  EXPECT_FALSE(process.ok());
}

}  // namespace
}  // namespace porthole::agent
