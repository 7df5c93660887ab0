// Runs real containers with runc: needs root, runc and busybox-static
// (skipped otherwise). Every container id is unique and every container and
// directory is removed again, also when a test fails.
#include "node/runc_runtime.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/ids.h"
#include "node/file_tree.h"
#include "node/subprocess.h"

namespace porthole::node {
namespace {

constexpr const char* kSupervisor = PORTHOLE_BIN_DIR "/porthole-supervise";

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
template <typename F>
bool Eventually(F done, milliseconds timeout = seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

class RuncRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || FindExecutable("runc").empty() || ::access("/bin/busybox", X_OK) != 0) return;
    char tmpl[] = "/tmp/porthole-runc-test-XXXXXX";
    suite_dir_ = ::mkdtemp(tmpl);
    store_ = new ImageStore(suite_dir_ + "/store");
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
    if (!suite_dir_.empty()) (void)RemoveTree(suite_dir_);
    suite_dir_.clear();
  }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (FindExecutable("runc").empty()) GTEST_SKIP() << "runc is not installed";
    if (store_ == nullptr) GTEST_SKIP() << "busybox-static is not installed";
    dir_ = suite_dir_ + "/" + ids::RandomHex(6);
    ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
    runc_root_ = dir_ + "/runc";
    runtime_ = std::make_unique<RuncRuntime>(*store_, runc_root_, "/usr/bin/tini-static", "runc", kSupervisor);
  }

  void TearDown() override {
    if (runtime_) {
      for (const auto& [id, bundle] : started_) {
        auto s = runtime_->Remove(id, bundle);
        EXPECT_TRUE(s.ok()) << s.error().message;
      }
    }
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }

  // A busybox container spec with a fresh id, removed at tear-down.
  ContainerSpec Spec(std::vector<std::string> args) {
    ContainerSpec spec;
    spec.id = "porthole-test-" + ids::RandomHex(8);
    spec.bundle_dir = dir_ + "/bundles/" + spec.id;
    spec.image = "busybox";
    spec.args = std::move(args);
    started_.emplace_back(spec.id, spec.bundle_dir);
    return spec;
  }

  ContainerState WaitStopped(const ContainerSpec& spec, milliseconds timeout = seconds(10)) {
    ContainerState last;
    Eventually(
        [&] {
          auto s = runtime_->State(spec.id, spec.bundle_dir);
          if (!s.ok()) return false;
          last = *s;
          return last.status == ContainerStatus::kStopped;
        },
        timeout);
    return last;
  }

  // Runs `args` to completion; returns the container's output.
  std::string RunToCompletion(ContainerSpec spec, int expected_exit = 0) {
    auto s = runtime_->Run(spec);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) return "";
    auto state = WaitStopped(spec);
    EXPECT_EQ(state.status, ContainerStatus::kStopped);
    EXPECT_EQ(state.exit_code, expected_exit) << ReadAll(spec.bundle_dir + "/container.log");
    return ReadAll(spec.bundle_dir + "/container.log");
  }

  ExecSpec Exec(std::vector<std::string> args) {
    ExecSpec e;
    e.args = std::move(args);
    e.log_path = dir_ + "/exec-" + ids::RandomHex(4) + ".log";
    return e;
  }

  // Contents of `path` inside the container's rootfs, once it has `lines`.
  std::string WaitForRootfsFile(const ContainerSpec& spec, const std::string& path) {
    std::string full = spec.bundle_dir + "/rootfs" + path, content;
    Eventually([&] {
      content = ReadAll(full);
      return !content.empty() && content.back() == '\n';
    });
    return content;
  }

  static inline std::string suite_dir_;
  static inline ImageStore* store_ = nullptr;
  std::string dir_, runc_root_;
  std::unique_ptr<RuncRuntime> runtime_;
  std::vector<std::pair<std::string, std::string>> started_;
};

TEST_F(RuncRuntimeTest, ExitCodeAndLog) {
  auto spec = Spec({"sh", "-c", "echo hi; exit 3"});
  std::string log = RunToCompletion(spec, 3);
  EXPECT_NE(log.find("hi\n"), std::string::npos);
}

TEST_F(RuncRuntimeTest, ProcessIsPid1WithOnlyStdio) {
  auto spec = Spec({"sh", "-c", "echo pid=$$; ls /proc/$$/fd | tr '\\n' ' '"});
  std::string log = RunToCompletion(spec);
  EXPECT_NE(log.find("pid=1\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\n0 1 2 "), std::string::npos) << log;
}

TEST_F(RuncRuntimeTest, RunningContainerExecAndKill) {
  auto spec = Spec({"sleep", "1000"});
  auto s = runtime_->Run(spec);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto state = runtime_->State(spec.id, spec.bundle_dir);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->status, ContainerStatus::kRunning);
  EXPECT_GT(state->pid, 0);
  EXPECT_FALSE(state->exit_code.has_value());

  auto ids = runtime_->List();
  ASSERT_TRUE(ids.ok());
  EXPECT_NE(std::find(ids->begin(), ids->end(), spec.id), ids->end());

  auto root_exec = Exec({"sh", "-c", "id -u > /tmp/x; echo to-log"});
  auto pid = runtime_->Exec(spec.id, root_exec);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_GT(*pid, 0);
  EXPECT_EQ(WaitForRootfsFile(spec, "/tmp/x"), "0\n");
  EXPECT_TRUE(Eventually([&] { return ReadAll(root_exec.log_path) == "to-log\n"; }));

  // Another exec, as nobody, in a given directory, with extra environment;
  // it sees the file the first one wrote.
  auto nobody = Exec({"sh", "-c", "echo $(id -u):$(id -g):$(pwd):$GREETING:$(cat /tmp/x) > /tmp/y"});
  nobody.uid = 65534;
  nobody.gid = 65534;
  nobody.cwd = "/etc";
  nobody.env = {"GREETING=hello"};
  ASSERT_TRUE(runtime_->Exec(spec.id, nobody).ok());
  EXPECT_EQ(WaitForRootfsFile(spec, "/tmp/y"), "65534:65534:/etc:hello:0\n");

  // busybox sleep as PID 1 without an init ignores TERM; KILL it.
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
  auto stopped = WaitStopped(spec);
  EXPECT_EQ(stopped.status, ContainerStatus::kStopped);
  EXPECT_EQ(stopped.exit_code, 128 + SIGKILL);
  // Killing a stopped container is not an error.
  EXPECT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
  // Exec into it is.
  auto late = runtime_->Exec(spec.id, Exec({"true"}));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "ContainerNotRunning");
}

TEST_F(RuncRuntimeTest, ExecCapabilitiesFollowTheUser) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  auto root = Exec({"sh", "-c", "grep CapEff /proc/self/status > /tmp/root-caps"});
  ASSERT_TRUE(runtime_->Exec(spec.id, root).ok());
  auto user = Exec({"sh", "-c", "grep CapEff /proc/self/status > /tmp/user-caps"});
  user.uid = 1000;
  user.gid = 1000;
  ASSERT_TRUE(runtime_->Exec(spec.id, user).ok());
  EXPECT_EQ(WaitForRootfsFile(spec, "/tmp/user-caps"), "CapEff:\t0000000000000000\n");
  EXPECT_NE(WaitForRootfsFile(spec, "/tmp/root-caps"), "CapEff:\t0000000000000000\n");
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
}

TEST_F(RuncRuntimeTest, ExecRejectsHostileWorkingDirectory) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  auto e = Exec({"true"});
  e.cwd = "/proc/self/fd/7";
  auto r = runtime_->Exec(spec.id, e);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidParameterException");
  // An exec whose program does not exist fails with runc's message.
  auto missing = runtime_->Exec(spec.id, Exec({"/no/such/program"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "ContainerExecFailed");
  EXPECT_NE(missing.error().message.find("/no/such/program"), std::string::npos) << missing.error().message;
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
}

TEST_F(RuncRuntimeTest, InitForwardsTerm) {
  auto spec = Spec({"sleep", "1000"});
  spec.init_process = true;
  if (::access("/usr/bin/tini-static", X_OK) != 0) GTEST_SKIP() << "tini is not installed";
  auto s = runtime_->Run(spec);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(runtime_->Exec(spec.id, Exec({"sh", "-c", "(cat /proc/1/cmdline | tr '\\0' ' '; echo) > /tmp/init"})).ok());
  EXPECT_EQ(WaitForRootfsFile(spec, "/tmp/init").substr(0, 30), "/managed-agents/init/tini -- s");
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGTERM).ok());
  auto stopped = WaitStopped(spec);
  EXPECT_EQ(stopped.status, ContainerStatus::kStopped);
  EXPECT_EQ(stopped.exit_code, 128 + SIGTERM);
}

TEST_F(RuncRuntimeTest, InitBinaryIsReadOnly) {
  if (::access("/usr/bin/tini-static", X_OK) != 0) GTEST_SKIP() << "tini is not installed";
  // neither through its path nor through /proc/1/exe.
  auto spec = Spec({"sh", "-c",
                    "echo x >> /managed-agents/init/tini && echo WROTE; echo x >> /proc/1/exe && echo WROTE; "
                    "echo done"});
  spec.init_process = true;
  std::string log = RunToCompletion(spec);
  EXPECT_EQ(log.find("WROTE"), std::string::npos) << log;
  EXPECT_NE(log.find("done"), std::string::npos);
}

TEST_F(RuncRuntimeTest, NumericUser) {
  auto spec = Spec({"sh", "-c", "id -u; id -g; echo $HOME"});
  spec.user = "65534:65534";
  EXPECT_EQ(RunToCompletion(spec), "65534\n65534\n/home\n");  // HOME from the image's entry for 65534
}

TEST_F(RuncRuntimeTest, NamedUser) {
  auto spec = Spec({"sh", "-c", "id -u; id -g; echo $HOME"});
  spec.user = "nobody";
  EXPECT_EQ(RunToCompletion(spec), "65534\n65534\n/home\n");
}

TEST_F(RuncRuntimeTest, UnknownUserFailsToStart) {
  auto spec = Spec({"true"});
  spec.user = "ghost";
  auto s = runtime_->Run(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("ghost"), std::string::npos);
  EXPECT_FALSE(Exists(spec.bundle_dir));
}

TEST_F(RuncRuntimeTest, ReadonlyRootfs) {
  auto spec = Spec({"sh", "-c", "echo x > /x && echo WROTE; echo done"});
  spec.readonly_rootfs = true;
  std::string log = RunToCompletion(spec);
  EXPECT_EQ(log.find("WROTE"), std::string::npos) << log;
  EXPECT_NE(log.find("Read-only file system"), std::string::npos) << log;
  EXPECT_FALSE(Exists(spec.bundle_dir + "/rootfs/x"));
}

TEST_F(RuncRuntimeTest, EnvironmentCwdAndHostname) {
  auto spec = Spec({"sh", "-c", "echo $FOO; pwd; echo $PATH; echo $HOSTNAME; hostname"});
  spec.env = {"FOO=bar baz"};
  spec.cwd = "/tmp";
  spec.hostname = "web-1";
  EXPECT_EQ(RunToCompletion(spec),
            "bar baz\n/tmp\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nweb-1\nweb-1\n");
}

TEST_F(RuncRuntimeTest, BindMounts) {
  std::string ro = dir_ + "/ro", rw = dir_ + "/rw";
  ASSERT_EQ(::mkdir(ro.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(rw.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(ro + "/f", "content\n", 0644).ok());
  auto spec = Spec({"sh", "-c", "cat /data/f; echo x > /data/g && echo WROTE; echo y > /out/h; echo done"});
  spec.mounts = {{ro, "/data", true}, {rw, "/out", false}};
  std::string log = RunToCompletion(spec);
  EXPECT_NE(log.find("content\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("WROTE"), std::string::npos) << log;
  EXPECT_NE(log.find("done"), std::string::npos);
  EXPECT_FALSE(Exists(ro + "/g"));
  EXPECT_EQ(ReadAll(rw + "/h"), "y\n");
}

TEST_F(RuncRuntimeTest, UnknownImage) {
  auto spec = Spec({"true"});
  spec.image = "nosuch/image:1";
  auto s = runtime_->Run(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ClientException");
  EXPECT_NE(s.error().message.find("nosuch/image:1"), std::string::npos);
  EXPECT_FALSE(Exists(spec.bundle_dir));
}

TEST_F(RuncRuntimeTest, StartFailureLeavesNothing) {
  auto spec = Spec({"/no/such/binary"});
  auto s = runtime_->Run(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ContainerStartFailed");
  EXPECT_NE(s.error().message.find("/no/such/binary"), std::string::npos) << s.error().message;
  EXPECT_FALSE(Exists(spec.bundle_dir));
  auto ids = runtime_->List();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(std::find(ids->begin(), ids->end(), spec.id), ids->end());
  auto state = runtime_->State(spec.id, spec.bundle_dir);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().code, "ContainerNotFound");
}

TEST_F(RuncRuntimeTest, DuplicateIdAndExistingBundleAreRejected) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  auto again = spec;
  again.bundle_dir = dir_ + "/other-bundle";
  auto s = runtime_->Run(again);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "InvalidParameterException");
  EXPECT_FALSE(Exists(again.bundle_dir));

  auto same_bundle = Spec({"true"});
  same_bundle.bundle_dir = spec.bundle_dir;
  started_.pop_back();  // shares the first container's bundle
  EXPECT_FALSE(runtime_->Run(same_bundle).ok());
  EXPECT_TRUE(Exists(spec.bundle_dir + "/config.json"));  // untouched

  // Removing the id with some other bundle must not touch the container.
  std::string other = dir_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  ASSERT_TRUE(WriteFileAtomic(other + "/.porthole-bundle", "x", 0600).ok());
  EXPECT_FALSE(runtime_->Remove(spec.id, other).ok());
  auto state = runtime_->State(spec.id, spec.bundle_dir);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status, ContainerStatus::kRunning);
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
}

TEST_F(RuncRuntimeTest, RemoveCleansBundleAndRuncState) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  // Removing a running container stops it.
  ASSERT_TRUE(runtime_->Remove(spec.id, spec.bundle_dir).ok());
  EXPECT_FALSE(Exists(spec.bundle_dir));
  auto ids = runtime_->List();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(std::find(ids->begin(), ids->end(), spec.id), ids->end());
  // Again: nothing left to remove is fine.
  EXPECT_TRUE(runtime_->Remove(spec.id, spec.bundle_dir).ok());

  auto done = Spec({"true"});
  RunToCompletion(done);
  ASSERT_TRUE(runtime_->Remove(done.id, done.bundle_dir).ok());
  EXPECT_FALSE(Exists(done.bundle_dir));
}

TEST_F(RuncRuntimeTest, RemoveRefusesDirectoriesThatAreNotBundles) {
  std::string not_bundle = dir_ + "/precious";
  ASSERT_EQ(::mkdir(not_bundle.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFileAtomic(not_bundle + "/data", "keep", 0644).ok());
  EXPECT_FALSE(runtime_->Remove("porthole-test-none", not_bundle).ok());
  EXPECT_EQ(ReadAll(not_bundle + "/data"), "keep");
  EXPECT_FALSE(runtime_->Remove("porthole-test-none", "/").ok());
  EXPECT_FALSE(runtime_->Remove("porthole-test-none", dir_ + "/../x").ok());
}

TEST_F(RuncRuntimeTest, StateSurvivesARestartOfTheCaller) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  runtime_.reset();  // the "node" goes away...

  RuncRuntime restarted(*store_, runc_root_);  // ...and comes back
  auto state = restarted.State(spec.id, spec.bundle_dir);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->status, ContainerStatus::kRunning);
  ASSERT_TRUE(restarted.Kill(spec.id, SIGKILL).ok());
  ContainerState last;
  EXPECT_TRUE(Eventually([&] {
    auto s = restarted.State(spec.id, spec.bundle_dir);
    if (s.ok()) last = *s;
    return s.ok() && s->status == ContainerStatus::kStopped;
  }));
  EXPECT_EQ(last.exit_code, 128 + SIGKILL);
  runtime_ = std::make_unique<RuncRuntime>(*store_, runc_root_, "/usr/bin/tini-static", "runc", kSupervisor);
}

TEST_F(RuncRuntimeTest, SeparateRootsDoNotSeeEachOther) {
  auto spec = Spec({"sleep", "1000"});
  ASSERT_TRUE(runtime_->Run(spec).ok());
  RuncRuntime other(*store_, dir_ + "/other-runc");
  auto ids = other.List();
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
  ASSERT_TRUE(runtime_->Kill(spec.id, SIGKILL).ok());
}

TEST_F(RuncRuntimeTest, InvalidSpecs) {
  auto spec = Spec({"true"});
  spec.id = "bad/id";
  EXPECT_EQ(runtime_->Run(spec).error().code, "InvalidParameterException");
  EXPECT_FALSE(runtime_->State("bad/id", dir_ + "/x").ok());
  EXPECT_FALSE(runtime_->Kill("bad id", SIGKILL).ok());
  EXPECT_FALSE(runtime_->Kill("porthole-test-x", 0).ok());
}

}  // namespace
}  // namespace porthole::node
