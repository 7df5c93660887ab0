#pragma once
// Integration-test harness: starts real processes (portholed, porthole-node,
// the porthole CLI, the AWS CLI) and real runc containers, and cleans all of
// them up again, on success and on failure.
//
// Every child started here gets PR_SET_PDEATHSIG (so a crashed test program
// does not leave daemons behind), has every descriptor but 0, 1 and 2 closed,
// and runs in its own process group (or session, on a pty). Containers are
// removed with `runc --root <node-data>/runc delete --force` when a Stack is
// torn down. A stack's directory is $TMPDIR/porthole-it-<pid>-XXXXXX; the
// next Stack::Start removes those of test programs that were killed (their
// containers, processes and files).
//
// The children's environment is this process's, without any AWS_* variable,
// plus what the caller passes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace porthole::itest {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The directory holding portholed, porthole-node, porthole-exec-agent, porthole.
std::string BinDir();
std::string Bin(const std::string& program);

// Empty when this machine can run the integration tests (root, runc);
// otherwise why not, for GTEST_SKIP. (Missing Porthole binaries are a
// failure of Stack::Start instead: a build problem must not look like a skip.)
std::string MissingPrerequisite();
// The runc binary found on PATH (or in /usr/sbin, /sbin); empty if none.
std::string RuncPath();

struct CommandResult {
  int exit_code = -1;  // the exit status, 128+N when killed by signal N, -1 if not started
  std::string out;
  std::string err;
  bool timed_out = false;
};
std::ostream& operator<<(std::ostream& os, const CommandResult& r);

// A child process with stdin fed from a string and stdout/stderr captured.
// `env` entries ("NAME=value") replace or extend this process's environment.
class Command {
 public:
  Command(std::vector<std::string> argv, std::vector<std::string> env = {}, std::string stdin_text = "");
  ~Command();  // kills the process group if still running
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;

  bool Start();  // fork/exec; false if the fork failed
  // Waits (pumping stdin/stdout/stderr) until the child exits or `timeout`
  // passes; then SIGKILLs the whole group and reports timed_out.
  CommandResult Wait(milliseconds timeout);
  // True while the process has not been reaped; pumps output as a side effect.
  bool Running();
  // Pumps until stdout contains `text` (true), or the child exits or
  // `timeout` passes (false).
  bool WaitForStdout(const std::string& text, milliseconds timeout);
  const std::string& stdout_so_far() const { return result_.out; }
  const std::string& stderr_so_far() const { return result_.err; }
  pid_t pid() const { return pid_; }
  void Signal(int sig);

 private:
  void Pump(int timeout_ms);
  bool Reap(bool block);

  std::vector<std::string> argv_;
  std::vector<std::string> env_;
  std::string stdin_text_;
  size_t stdin_written_ = 0;
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::optional<int> status_;
  CommandResult result_;
};

// Runs `argv` to completion (see Command).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                         milliseconds timeout = seconds(60), const std::vector<std::string>& env = {});

// A program running on a pseudo-terminal (its controlling terminal).
class PtyProcess {
 public:
  PtyProcess(std::vector<std::string> argv, std::vector<std::string> env, unsigned short rows, unsigned short cols);
  ~PtyProcess();  // kills the process group if still running
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Types `keys` (use "\r" for Enter, as a terminal does).
  void Write(const std::string& keys);
  // Reads until everything read so far (since the last Consume) matches
  // `pattern` / contains `text`, or `timeout` passes.
  bool WaitForRegex(const std::regex& pattern, milliseconds timeout);
  bool WaitForText(const std::string& text, milliseconds timeout);
  // Forgets the output read so far (so the next wait only sees new output).
  void Consume() { output_.clear(); }
  const std::string& output() const { return output_; }
  const std::string& all_output() const { return all_output_; }
  // TIOCSWINSZ on the master: the kernel sends SIGWINCH to the terminal's
  // foreground process group.
  void Resize(unsigned short rows, unsigned short cols);
  // The exit status (as CommandResult::exit_code), or nullopt on timeout.
  std::optional<int> Wait(milliseconds timeout);

 private:
  bool ReadSome(int timeout_ms);
  bool Reap(bool block);

  pid_t pid_ = -1;
  int master_ = -1;
  std::optional<int> status_;
  std::string output_;
  std::string all_output_;
};

// Starts `argv` on a new pseudo-terminal of `rows` x `cols` (check started()).
std::unique_ptr<PtyProcess> RunInPty(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                     unsigned short rows, unsigned short cols);

// A TCP relay on 127.0.0.1 for simulating dropped connections: every
// connection accepted on port() is relayed, by one poll() thread, to
// 127.0.0.1:<target_port>. TLS passes through untouched (the server
// certificate names 127.0.0.1 whatever the port), so url() is a working
// endpoint for anything that would talk to the target.
class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();  // stops the thread and closes every socket
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Listens on 127.0.0.1:0 and starts relaying. "" or what went wrong.
  std::string Start();
  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  uint16_t target_port() const { return target_port_; }

  // Resets every relayed connection (RST to both ends; whatever the relay
  // still buffered is lost, as on a broken network). The listener stays
  // open, so the ends can reconnect. Returns when done: the number of
  // connections cut.
  size_t CutAll();
  // While refusing, new connections are reset as soon as they are accepted
  // (the ends cannot reconnect); existing ones are left alone.
  void SetRefusing(bool refusing);

  size_t accepted() const;          // connections accepted so far
  size_t open_connections() const;  // connections being relayed now
  size_t cut() const;               // connections reset by CutAll so far

 private:
  struct State;
  void Run();

  uint16_t target_port_;
  uint16_t port_ = 0;
  std::unique_ptr<State> state_;
  std::thread thread_;
};

struct StackOptions {
  // porthole-node's --endpoint is a TcpProxy in front of portholed (so the
  // node and the exec agents it starts reach the control plane and gateway
  // through it: control and data channels). Clients still use url().
  bool node_through_proxy = false;
  // Extra portholed arguments, e.g. {"--sessions-per-container", "1"}.
  std::vector<std::string> portholed_args;
  // Extra porthole-node arguments, e.g. {"--pids-limit", "64"}.
  std::vector<std::string> node_args;
};

// One control plane and one node in a fresh temporary directory.
class Stack {
 public:
  Stack() = default;
  ~Stack();  // Stop()
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // Creates the directory, starts portholed on a free port and the node, and
  // waits for the node to register. Returns "" or what went wrong.
  std::string Start();
  std::string Start(const StackOptions& options);
  // SIGTERM node, then portholed; removes every leftover runc container
  // under the node's runc root; removes the directory. Idempotent.
  void Stop();

  // portholed alone.
  std::string StartPortholed(uint16_t port);  // port 0: any free port
  // SIGTERM; SIGKILL after `grace`. True if it exited on SIGTERM.
  bool StopPortholed(milliseconds grace = seconds(20));
  // Stop, then start with the same data directory and the same port.
  // "" on success; otherwise what went wrong (a start problem, or that
  // SIGTERM did not suffice).
  std::string RestartPortholed();

  // porthole-node alone.
  std::string StartNode();
  // SIGTERM; SIGKILL after `grace`. True if it exited on SIGTERM.
  bool StopNode(milliseconds grace = seconds(30));
  // As RestartPortholed.
  std::string RestartNode();
  // SIGKILL, as a crash: the node stops nothing and cleans up nothing.
  void KillNode();
  bool node_running() const { return node_ > 0; }

  const std::string& url() const { return url_; }
  // What porthole-node was given as --endpoint: url(), or the proxy's URL.
  std::string node_endpoint() const;
  // The proxy between the node (and its exec agents) and portholed, if
  // StackOptions::node_through_proxy; else null.
  TcpProxy* node_proxy() const { return node_proxy_.get(); }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string control_plane_dir() const { return dir_ + "/control-plane"; }
  std::string node_dir() const { return dir_ + "/node"; }
  std::string runc_root() const { return node_dir() + "/runc"; }
  // The node's bridge and its subnet: one per stack (derived from dir()), so
  // test programs running side by side never share addresses.
  std::string bridge() const;
  std::string bridge_subnet() const;
  // The node's --cgroup-parent, likewise one per stack.
  std::string cgroup_parent() const;

  // For child processes: AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE,
  // AWS_CA_BUNDLE, AWS_ENDPOINT_URL, AWS_PAGER="" (and no AWS_PROFILE etc.
  // inherited from the environment of the test).
  std::vector<std::string> Env() const;

  // `porthole ecs <args...> --endpoint-url URL` with Env().
  CommandResult Ecs(const std::vector<std::string>& args, const std::string& stdin_text = "",
                    milliseconds timeout = seconds(60)) const;
  // Same, parsing stdout as JSON; on failure records a gtest failure and returns null.
  Json EcsJson(const std::vector<std::string>& args) const;
  // The argv of `porthole ecs execute-command --cluster C --task T [--container N] --interactive --command CMD`.
  std::vector<std::string> ExecArgv(const std::string& cluster, const std::string& task, const std::string& command,
                                    const std::string& container = "") const;
  CommandResult Exec(const std::string& cluster, const std::string& task, const std::string& command,
                     const std::string& stdin_text = "", const std::string& container = "",
                     milliseconds timeout = seconds(60)) const;

  // Setup helpers (each records a gtest failure and returns ""/false on error).
  bool CreateCluster(const std::string& name) const;
  // Registers `family` with the given containerDefinitions JSON; returns the ARN.
  std::string RegisterTaskDefinition(const std::string& family, const Json& containers) const;
  // RunTask; returns the task ARN.
  std::string RunTask(const std::string& cluster, const std::string& family, bool enable_exec) const;

  // describe-tasks for one task: the task object, or null.
  Json DescribeTask(const std::string& cluster, const std::string& task) const;
  // Polls describe-tasks until `ready(task)` holds; returns the last task
  // seen (null if never described) and sets *ok.
  Json WaitForTask(const std::string& cluster, const std::string& task, const std::function<bool(const Json&)>& ready,
                   milliseconds timeout, bool* ok) const;
  bool WaitForLastStatus(const std::string& cluster, const std::string& task, const std::string& status,
                         milliseconds timeout, Json* last = nullptr) const;
  // Every container's ExecuteCommandAgent RUNNING (and the task RUNNING).
  bool WaitForExecAgent(const std::string& cluster, const std::string& task, milliseconds timeout,
                        Json* last = nullptr) const;

  // `runc --root <runc_root> list -q`.
  std::vector<std::string> RuncContainers() const;
  // Tails of the daemons' logs, for failure messages.
  std::string Logs() const;

 private:
  std::string WaitReady(int read_fd, milliseconds timeout);
  void RemoveContainers();

  StackOptions options_;
  std::unique_ptr<TcpProxy> node_proxy_;
  std::string dir_;
  std::string url_;
  uint16_t port_ = 0;
  pid_t portholed_ = -1;
  pid_t node_ = -1;
  int portholed_out_ = -1;       // read end of portholed's stdout
  std::thread portholed_drain_;  // copies portholed's later stdout to its log
  std::shared_ptr<bool> drain_stop_;
};

// A busybox container definition with fast stops (stopTimeout 2, tini).
Json BusyboxContainer(const std::string& name, const std::vector<std::string>& command);

// Unique names for clusters and families, so tests sharing a stack never collide.
std::string UniqueName(const std::string& prefix);

// Whitespace-separated tokens.
std::vector<std::string> Tokens(const std::string& text);

// A fixture whose suite shares one Stack, started in SetUpTestSuite. Tests
// skip when the machine cannot run containers and fail when the stack did
// not start. Suites add their own shared state in their SetUpTestSuite
// after calling StartStack() (check stack_ready() first).
class StackTest : public ::testing::Test {
 protected:
  static void StartStack();
  static void StartStack(const StackOptions& options);
  static void StopStack();
  static bool stack_ready() { return stack_ != nullptr && skip_reason_.empty() && start_error_.empty(); }
  // Marks the suite's shared set-up as failed (every test then fails with it).
  static void SetSuiteError(const std::string& error);
  void SetUp() override;
  void TearDown() override;  // prints the daemons' log tails when a test failed

  static Stack* stack_;
  static std::string skip_reason_;
  static std::string start_error_;
};

// The whole contents of `path` ("" when it cannot be read).
std::string ReadWholeFile(const std::string& path);

// Pids of running `program`s whose command line mentions `needle` and, if
// `parent` > 0, whose parent is `parent` (porthole-node's container
// supervisors are forks of it, with its command line, re-parented to init).
std::vector<pid_t> ProcessesOf(const std::string& program, const std::string& needle, pid_t parent = 0);

// A child process (porthole up, an extra porthole-node, a host-side exec
// agent) that is signalled with `stop_signal` and reaped when the test ends,
// whichever way it ends.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, std::vector<std::string> env, int stop_signal)
      : command_(std::move(argv), std::move(env)), stop_signal_(stop_signal) {}
  ~Daemon() { Stop(seconds(90)); }

  bool Start() { return started_ = command_.Start(); }
  Command& command() { return command_; }
  // Pumps output until `pred()` holds (true) or the process exits or
  // `timeout` passes (false).
  bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      if (pred()) return true;
      if (!command_.Running() || Clock::now() >= deadline) return pred();
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  bool WaitForStderr(const std::string& text, milliseconds timeout) {
    return WaitUntil([&] { return command_.stderr_so_far().find(text) != std::string::npos; }, timeout);
  }
  // Sends the stop signal and waits (SIGKILL to the group after `grace`).
  CommandResult Stop(milliseconds grace) {
    if (!started_) return result_;
    started_ = false;
    command_.Signal(stop_signal_);
    result_ = command_.Wait(grace);
    return result_;
  }

 private:
  Command command_;
  int stop_signal_;
  bool started_ = false;
  CommandResult result_;
};

}  // namespace porthole::itest
