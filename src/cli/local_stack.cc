#include "cli/local_stack.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/aws_config.h"
#include "common/data_dir_lock.h"
#include "common/files.h"
#include "net/aws_json_client.h"
#include "process/spawn.h"

namespace porthole::cli {
namespace fs = std::filesystem;

std::string DefaultDataDir() {
  if (const char* d = std::getenv("PORTHOLE_DATA_DIR"); d && *d) return d;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.porthole";
}

namespace {

volatile sig_atomic_t g_signal = 0;
void OnSignal(int s) { g_signal = s; }

// Starts `argv` with `extra_env` added to our environment (replacing
// variables of the same name); its stdout goes to `stdout_fd` (-1: ours).
// -1 when it cannot be started (said on stderr).
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, int stdout_fd) {
  process::SpawnOptions spawn;
  spawn.argv = argv;
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=') + 1); };
  for (char** e = environ; *e; e++) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& x : extra_env) replaced = replaced || name_of(entry) == name_of(x);
    if (!replaced) spawn.env.emplace_back(entry);
  }
  spawn.env.insert(spawn.env.end(), extra_env.begin(), extra_env.end());
  spawn.stdout_fd = stdout_fd >= 0 ? stdout_fd : 1;
  spawn.stderr_fd = 2;
  // `up` is the children's supervisor: however it ends, even by SIGKILL,
  // they are told to stop (and the node then stops its tasks).
  spawn.parent_death_signal = SIGTERM;
  auto child = process::Spawn(spawn);
  if (!child) {
    std::cerr << "porthole up: " << child.error().message << "\n";
    return -1;
  }
  return child->pid();
}

// "exited with status 3", "was killed by signal 9 (Killed)".
std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status))
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" + ::strsignal(WTERMSIG(wait_status)) +
           ")";
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

bool WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void Stop(pid_t pid, std::chrono::seconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (!WaitExit(pid, grace)) {
    ::kill(pid, SIGKILL);
    WaitExit(pid, std::chrono::seconds(5));
  }
}

// A join token for the local node, made with the operator's root key (which
// stays with the operator: the node never sees it). A node that joined
// before re-registers the same instance.
Result<std::string> CreateLocalJoinToken(const fs::path& cp, const fs::path& node_dir, const std::string& url) {
  ResolveOptions resolve;
  resolve.endpoint_url = url;
  resolve.profile = "default";
  resolve.env = [cp](std::string_view name) -> std::optional<std::string> {
    if (name == "AWS_SHARED_CREDENTIALS_FILE") return (cp / "credentials").string();
    if (name == "AWS_CONFIG_FILE") return (cp / "config").string();
    if (name == "AWS_CA_BUNDLE") return (cp / "ca.pem").string();
    return std::nullopt;
  };
  auto settings = ResolveAwsSettings(resolve);
  if (!settings) return settings.error();
  auto parsed = net::ParseUrl(url);
  if (!parsed) return parsed.error();
  auto ca = net::ReadCaBundle(settings->ca_bundle);
  if (!ca) return ca.error();
  auto tls = net::TlsContext::ForClient(*ca);
  if (!tls) return tls.error();
  net::AwsJsonClient client(*parsed, {settings->access_key_id, settings->secret_access_key, ""}, settings->region,
                            "ecs", *tls);
  nlohmann::json input = {{"expiresInSeconds", 600}};
  if (auto text = ReadFile((node_dir / "node.json").string())) {
    auto saved = nlohmann::json::parse(*text, nullptr, false);
    if (saved.is_object() && saved.contains("instanceId") && saved["instanceId"].is_string())
      input["instanceId"] = saved["instanceId"];
  }
  auto out = client.Call("PortholeNodeService.CreateJoinToken", input);
  if (!out) return out.error();
  return out->value("joinToken", "");
}

}  // namespace

int RunUp(const std::string& data_dir_arg, uint16_t port) {
  fs::path data_dir = fs::absolute(data_dir_arg);
  fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  std::error_code ec;
  fs::create_directories(data_dir / "node", ec);
  fs::permissions(data_dir, fs::perms::owner_all, ec);
  auto lock = LockDataDir(data_dir.string(), "porthole up");
  if (!lock) {
    std::cerr << "porthole up: " << lock.error().message << "\n";
    return 1;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return 1;
  pid_t control_plane = Spawn({(bin / "portholed").string(), "--data-dir", (data_dir / "control-plane").string(),
                               "--listen", "127.0.0.1:" + std::to_string(port)},
                              {}, pipe_fds[1]);
  ::close(pipe_fds[1]);
  std::string line;
  char c;
  while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  ::close(pipe_fds[0]);
  if (line.rfind("ready ", 0) != 0) {
    std::cerr << "porthole up: portholed did not start\n";
    Stop(control_plane, std::chrono::seconds(5));
    return 1;
  }
  std::string url = line.substr(6);
  {
    std::ofstream(data_dir / "endpoint") << url << "\n";
  }
  fs::path cp = data_dir / "control-plane";
  auto token = CreateLocalJoinToken(cp, data_dir / "node", url);
  if (!token) {
    std::cerr << "porthole up: cannot create a join token for the node: " << token.error().message << "\n";
    Stop(control_plane, std::chrono::seconds(10));
    return 1;
  }
  // The node gets the region, the CA and a single-use join token, and no
  // account credentials at all.
  std::vector<std::string> node_env = {"PORTHOLE_JOIN_TOKEN=" + *token,
                                       "AWS_CONFIG_FILE=" + (cp / "config").string(),
                                       "AWS_CA_BUNDLE=" + (cp / "ca.pem").string(),
                                       "AWS_PROFILE=default",
                                       "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                                       "AWS_ACCESS_KEY_ID=",
                                       "AWS_SECRET_ACCESS_KEY=",
                                       "AWS_SESSION_TOKEN="};
  fs::path node_state = data_dir / "node" / "node.json";
  auto started = fs::file_time_type::clock::now();
  pid_t node = Spawn({(bin / "porthole-node").string(), "--data-dir", (data_dir / "node").string(), "--endpoint", url,
                      "--stop-tasks-on-exit"},
                     node_env, -1);
  if (node < 0) {
    Stop(control_plane, std::chrono::seconds(10));
    return 1;
  }
  // Ready once the node has registered (its state file is rewritten).
  auto registered = [&] {
    std::error_code e;
    return fs::exists(node_state, e) && fs::last_write_time(node_state, e) >= started;
  };
  for (int i = 0; i < 600 && !registered() && !g_signal; i++) {
    int status;
    if (::waitpid(node, &status, WNOHANG) == node) {
      std::cerr << "porthole up: porthole-node exited before registering\n";
      Stop(control_plane, std::chrono::seconds(10));
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!registered()) {
    std::cerr << "porthole up: porthole-node did not register\n";
    Stop(node, std::chrono::seconds(10));
    Stop(control_plane, std::chrono::seconds(10));
    return 1;
  }
  std::printf("ready %s\n", url.c_str());
  std::fflush(stdout);

  int exit_status = 0;
  while (!g_signal) {
    int status;
    pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done == control_plane || done == node) {
      std::cerr << "porthole up: " << (done == node ? "porthole-node" : "portholed") << " " << DescribeExit(status)
                << "; stopping " << (done == node ? "portholed" : "porthole-node") << "\n";
      if (done == node) node = -1;
      else control_plane = -1;
      exit_status = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The node first: it stops its tasks and reports them while the API is up.
  Stop(node, std::chrono::seconds(90));
  Stop(control_plane, std::chrono::seconds(10));
  return exit_status;
}

int PrintEnv(const std::string& data_dir_arg) {
  fs::path data_dir = fs::absolute(data_dir_arg);
  fs::path cp = data_dir / "control-plane";
  if (!fs::exists(cp / "credentials")) {
    std::cerr << "porthole env: no control plane in " << data_dir.string() << " (run `porthole up` first)\n";
    return 1;
  }
  std::string url;
  std::ifstream(data_dir / "endpoint") >> url;
  std::printf("export AWS_SHARED_CREDENTIALS_FILE=%s\n", (cp / "credentials").c_str());
  std::printf("export AWS_CONFIG_FILE=%s\n", (cp / "config").c_str());
  std::printf("export AWS_CA_BUNDLE=%s\n", (cp / "ca.pem").c_str());
  std::printf("export SSL_CERT_FILE=%s\n", (cp / "ca.pem").c_str());
  std::printf("export AWS_PROFILE=default\n");
  if (!url.empty()) {
    std::printf("export AWS_ENDPOINT_URL=%s\n", url.c_str());
    std::printf("export PORTHOLE_ENDPOINT=%s\n", url.c_str());
  }
  return 0;
}

}  // namespace porthole::cli
