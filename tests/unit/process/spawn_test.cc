#include "process/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "../temp_dir.h"
#include "common/files.h"

namespace porthole::process {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

// Reaps `pid`; its status as StatusCode gives it.
int Reap(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return StatusCode(status);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Runs `options` to completion with stdout captured.
struct Ran {
  int status = -1;
  std::string out;
};
Ran RunCapturing(SpawnOptions options) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  options.stdout_fd = pipe_fds[1];
  auto child = Spawn(options);
  ::close(pipe_fds[1]);
  Ran ran;
  if (!child) {
    ADD_FAILURE() << child.error().message;
    ::close(pipe_fds[0]);
    return ran;
  }
  ran.out = ReadAll(pipe_fds[0]);
  ::close(pipe_fds[0]);
  ran.status = Reap(child->pid());
  return ran;
}

// The field of /proc/<pid>/status named `name`, e.g. "SigBlk".
std::string StatusField(const std::string& status, const std::string& name) {
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 2);
  return "";
}

// Fields 6 (session) and 7 (tty_nr) of /proc/self/stat, after the command name.
std::pair<long, long> SessionAndTerminal(const std::string& stat) {
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string state;
  long ppid, pgrp, session, tty;
  rest >> state >> ppid >> pgrp >> session >> tty;
  return {session, tty};
}

TEST(SpawnTest, TheChildHasOnlyDescriptorsZeroToTwo) {
  int stray = ::open("/dev/null", O_RDONLY);  // not O_CLOEXEC: a careless caller's descriptor
  ASSERT_GE(stray, 0);
  SpawnOptions options;
  options.argv = {"sh", "-c", "test -e /proc/self/fd/" + std::to_string(stray) + " && echo open || echo closed"};
  options.env = kEnv;
  Ran ran = RunCapturing(options);
  ::close(stray);
  EXPECT_EQ(ran.status, 0);
  EXPECT_EQ(ran.out, "closed\n");
}

TEST(SpawnTest, DescriptorsGivenBecomeZeroOneTwoEvenWhenTheyAreSwapped) {
  // stdout and stderr given crossed over: each must land where asked.
  int out_pipe[2], err_pipe[2];
  ASSERT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo to-out; echo to-err >&2"};
  options.env = kEnv;
  options.stdout_fd = out_pipe[1];
  options.stderr_fd = err_pipe[1];
  auto child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  EXPECT_EQ(ReadAll(out_pipe[0]), "to-out\n");
  EXPECT_EQ(ReadAll(err_pipe[0]), "to-err\n");
  EXPECT_EQ(Reap(child->pid()), 0);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
}

TEST(SpawnTest, SignalsAreDefaultAndUnblockedInTheChild) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  struct sigaction ignore {}, old_int {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);

  SpawnOptions options;
  options.argv = {"cat", "/proc/self/status"};  // cat itself: no shell in between
  options.env = kEnv;
  Ran ran = RunCapturing(options);

  sigaction(SIGINT, &old_int, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(ran.status, 0);
  EXPECT_EQ(StatusField(ran.out, "SigBlk"), "0000000000000000");
  EXPECT_EQ(StatusField(ran.out, "SigIgn"), "0000000000000000");
}

TEST(SpawnTest, TheEnvironmentIsOnlyWhatIsGiven) {
  ::setenv("PORTHOLE_SECRET_FOR_SPAWN_TEST", "leak", 1);
  SpawnOptions options;
  options.argv = {"env"};
  options.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  Ran ran = RunCapturing(options);
  ::unsetenv("PORTHOLE_SECRET_FOR_SPAWN_TEST");
  EXPECT_EQ(ran.out, "PATH=/usr/bin:/bin\nONLY=this\n");
}

TEST(SpawnTest, TheProgramIsFoundInThePathOfTheGivenEnvironment) {
  TempDir dir;
  const std::string program = dir / "only-here";
  std::ofstream(program) << "#!/bin/sh\necho found\n";
  ::chmod(program.c_str(), 0755);
  SpawnOptions options;
  options.argv = {"only-here"};
  options.env = {"PATH=" + dir.path()};
  Ran ran = RunCapturing(options);
  EXPECT_EQ(ran.out, "found\n");

  options.env = kEnv;
  auto missing = Spawn(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "InvalidParameterException");
  EXPECT_EQ(missing.error().message, "only-here: executable file not found in $PATH");
}

TEST(SpawnTest, AProgramThatCannotBeExecutedIsAnErrorAndTheChildIsReaped) {
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  options.env = kEnv;
  auto child = Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().message, "cannot execute /nonexistent/program: No such file or directory");
  // Nothing is left to reap.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SpawnTest, TheWorkingDirectoryIsSetOrTheSpawnFails) {
  TempDir dir;
  SpawnOptions options;
  options.argv = {"pwd"};
  options.env = kEnv;
  options.working_directory = dir.path();
  EXPECT_EQ(RunCapturing(options).out, dir.path() + "\n");

  options.working_directory = dir / "missing";
  auto child = Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.error().message.find("chdir " + dir.path() + "/missing: No such file or directory"),
            std::string::npos)
      << child.error().message;
}

TEST(SpawnTest, ANewSessionWithTheTerminalAsControllingTerminal) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  TempDir dir;
  SpawnOptions options;
  options.argv = {"sh", "-c", "cat /proc/self/stat > " + (dir / "stat")};
  options.env = kEnv;
  options.stdin_fd = options.stdout_fd = options.stderr_fd = slave;
  options.controlling_terminal = true;
  auto child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  ::close(slave);
  const pid_t pid = child->pid();
  EXPECT_EQ(Reap(pid), 0);
  ::close(master);
  // cat is the shell's child: in the shell's session, with a terminal.
  auto [session, tty] = SessionAndTerminal(ReadFile(dir / "stat").value_or(""));
  EXPECT_EQ(session, pid);
  EXPECT_NE(tty, 0);
}

TEST(SpawnTest, AControllingTerminalThatIsNoTerminalIsAnError) {
  SpawnOptions options;
  options.argv = {"true"};
  options.env = kEnv;
  options.controlling_terminal = true;  // stdin is /dev/null
  auto child = Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.error().message.find("taking the terminal as controlling terminal"), std::string::npos)
      << child.error().message;
}

TEST(SpawnTest, WithoutANewSessionTheChildStaysInOurs) {
  SpawnOptions options;
  options.argv = {"cat", "/proc/self/stat"};
  options.env = kEnv;
  Ran ran = RunCapturing(options);
  EXPECT_EQ(SessionAndTerminal(ran.out).first, ::getsid(0));
}

// A held child that, once released, creates `marker`.
SpawnOptions HeldMarkerWriter(const std::string& marker) {
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo ran > " + marker};
  options.env = kEnv;
  options.held = true;
  return options;
}

TEST(SpawnTest, AHeldChildRunsOnlyOnceReleased) {
  TempDir dir;
  const std::string marker = dir / "ran";
  auto child = Spawn(HeldMarkerWriter(marker));
  ASSERT_TRUE(child.ok()) << child.error().message;
  EXPECT_TRUE(child->held());
  ::usleep(100 * 1000);
  EXPECT_FALSE(fs::exists(marker)) << "ran before Release";
  child->Release();
  EXPECT_FALSE(child->held());
  EXPECT_EQ(Reap(child->pid()), 0);
  EXPECT_TRUE(fs::exists(marker));
}

TEST(SpawnTest, ADiscardedOrDroppedHeldChildExitsWithoutRunning) {
  TempDir dir;
  const std::string marker = dir / "ran";
  const SpawnOptions options = HeldMarkerWriter(marker);
  pid_t discarded, dropped;
  {
    auto child = Spawn(options);
    ASSERT_TRUE(child.ok());
    discarded = child->pid();
    child->Discard();
    auto other = Spawn(options);
    ASSERT_TRUE(other.ok());
    dropped = other->pid();
  }  // `other` is destroyed held
  EXPECT_EQ(Reap(discarded), 0);
  EXPECT_EQ(Reap(dropped), 0);
  EXPECT_FALSE(fs::exists(marker));
}

TEST(SpawnTest, AHeldChildThatCannotExecuteSaysSoOnItsStderr) {
  int err_pipe[2];
  ASSERT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
  SpawnOptions options;
  options.argv = {"/nonexistent/program"};
  options.env = kEnv;
  options.stderr_fd = err_pipe[1];
  options.held = true;
  options.exec_failure_message = "cannot execute it\n";
  auto child = Spawn(options);
  ::close(err_pipe[1]);
  ASSERT_TRUE(child.ok()) << "a held child's exec is not waited for";
  child->Release();
  EXPECT_EQ(ReadAll(err_pipe[0]), "cannot execute it\n");
  EXPECT_EQ(Reap(child->pid()), 127);
  ::close(err_pipe[0]);
}

struct HookMarker {
  const char* path;
};
void CreateMarker(const void* context) {
  int fd = ::open(static_cast<const HookMarker*>(context)->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

TEST(SpawnTest, TheHookRunsInTheChildBeforeTheProgram) {
  TempDir dir;
  const std::string marker = dir / "hooked";
  HookMarker context{marker.c_str()};
  SpawnOptions options;
  options.argv = {"sh", "-c", "test -e " + marker};
  options.env = kEnv;
  options.before_exec = {CreateMarker, &context};
  EXPECT_EQ(RunCapturing(options).status, 0);
}

TEST(SpawnTest, TheParentDeathSignalComesWhenTheSpawningThreadEnds) {
  pid_t pid = -1;
  std::thread spawner([&] {
    SpawnOptions options;
    options.argv = {"sleep", "100"};
    options.env = kEnv;
    options.parent_death_signal = SIGTERM;
    auto child = Spawn(options);
    if (child) pid = child->pid();
  });
  spawner.join();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(Reap(pid), 128 + SIGTERM);
}

TEST(SpawnTest, ADetachedProgramIsNotOurChildNorInOurSession) {
  TempDir dir;
  const std::string out = dir / "ids";
  SpawnOptions options;
  options.argv = {"sh", "-c", "echo $PPID $(cut -d' ' -f6 /proc/$$/stat) $$ > " + out + ".tmp && mv " + out +
                                  ".tmp " + out};
  options.env = kEnv;
  options.detach = true;
  auto child = Spawn(options);
  ASSERT_TRUE(child.ok()) << child.error().message;
  EXPECT_EQ(child->pid(), 0);
  for (int i = 0; i < 500 && !fs::exists(out); i++) ::usleep(10 * 1000);
  std::istringstream ids(ReadFile(out).value_or(""));
  long ppid = 0, session = 0, self = 0;
  ids >> ppid >> session >> self;
  EXPECT_NE(ppid, ::getpid());
  EXPECT_NE(session, ::getsid(0));
  EXPECT_NE(session, self) << "a session leader could acquire a controlling terminal";
  // The intermediate child was reaped by Spawn; the program is not ours to reap.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(SpawnTest, ADetachedProgramThatCannotBeExecutedIsStillAnError) {
  SpawnOptions options;
  options.argv = {"/nonexistent/supervisor"};
  options.env = kEnv;
  options.detach = true;
  auto child = Spawn(options);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().message, "cannot execute /nonexistent/supervisor: No such file or directory");
}

TEST(SpawnTest, NulBytesAreRefusedBeforeForking) {
  SpawnOptions options;
  options.argv = {"echo", std::string("a\0b", 3)};
  options.env = kEnv;
  EXPECT_FALSE(Spawn(options).ok());
  options.argv = {"echo"};
  options.env = {std::string("A=\0", 3)};
  EXPECT_FALSE(Spawn(options).ok());
}

TEST(FindInPathTest, SkipsRelativeEntriesDirectoriesAndNonExecutables) {
  TempDir dir;
  fs::create_directories(dir / "a/tool");  // a directory called like the program
  fs::create_directories(dir / "b");
  std::ofstream(dir / "b/tool") << "x";  // not executable
  fs::create_directories(dir / "c");
  std::ofstream(dir / "c/tool") << "#!/bin/sh\n";
  ::chmod((dir / "c/tool").c_str(), 0755);
  const std::string path = ":.:relative:" + (dir / "a") + ":" + (dir / "b") + ":" + (dir / "c");
  EXPECT_EQ(FindInPath("tool", path), dir / "c/tool");
  EXPECT_EQ(FindInPath("tool", dir / "a"), "");
  EXPECT_EQ(FindInPath("./tool", path), "./tool");
  EXPECT_EQ(FindInPath("", path), "");
}

TEST(StatusCodeTest, ExitCodeOr128PlusSignal) {
  EXPECT_EQ(StatusCode(3 << 8), 3);
  EXPECT_EQ(StatusCode(SIGKILL), 128 + SIGKILL);
}

}  // namespace
}  // namespace porthole::process
