#include "node/node_agent.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/aws_config.h"
#include "common/data_dir_lock.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/linux_capabilities.h"
#include "common/log.h"
#include "net/aws_json_client.h"
#include "node/cgroups.h"
#include "node/agent_socket.h"
#include "node/image_store.h"
#include "node/oci_config.h"
#include "node/runc_runtime.h"
#include "node/task_network.h"

namespace porthole::node {
namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* kAgentMountPoint = "/managed-agents/execute-command";
// How long a PollTasks waits when nothing changes (its most, as ECS long-polls).
constexpr std::chrono::seconds kPollWait{20};
constexpr const char* kAgentBinaryName = "porthole-exec-agent";

// A container's runc id, also reported as its runtimeId: unique per host,
// [0-9a-f-] only, so the SSM target "ecs:<cluster>_<task>_<runtimeId>" stays parseable.
std::string RuntimeId(const std::string& task_id, const std::string& container_name) {
  std::string digest = crypto::HexEncode(crypto::Sha256(container_name)).substr(0, 10);
  return task_id + "-" + digest;
}

// True when `pid` is a live (not zombie) exec agent: a pid that died and was
// reused by another program, or an unreaped agent, counts as dead.
bool AgentAlive(int pid) {
  if (pid <= 0) return false;
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return false;
  size_t paren = stat->rfind(')');  // the state follows the command name in parentheses
  if (paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] == 'Z') return false;
  auto cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 4096);
  return cmdline && cmdline->find(kAgentBinaryName) != std::string::npos;
}

// A task definition's cpu ("256", "0.25 vCPU") in CPU units, or its memory
// ("512", "1 GB") in MiB, as ECS reads them; nullopt when absent or unreadable.
std::optional<int64_t> TaskSize(const std::string& text, const char* unit, int64_t per_unit) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !(value > 0)) return std::nullopt;
  std::string rest(end);
  rest.erase(std::remove(rest.begin(), rest.end(), ' '), rest.end());
  std::transform(rest.begin(), rest.end(), rest.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (rest.empty()) return static_cast<int64_t>(value);
  if (rest == unit) return static_cast<int64_t>(value * static_cast<double>(per_unit));
  return std::nullopt;
}

constexpr const char* kOutOfMemoryReason = "OutOfMemoryError: Container killed due to memory usage";
// Session groups one container may have at once (portholed allows 10 sessions per container by default).
constexpr size_t kMaxSessionGroups = 64;

// The node's view of one container of a task.
struct ContainerRun {
  Json spec;  // from PollTasks
  std::string runtime_id;
  std::string bundle;
  bool started = false;
  bool stopped = false;
  std::optional<int> exit_code;
  std::string reason;  // why it stopped, when ECS gives one (OutOfMemoryError)
  int agent_pid = 0;
  int agent_restarts = 0;
  std::chrono::steady_clock::time_point agent_retry_at{};
};

class Node;

// One thread per task: start, supervise, stop, clean up.
class TaskRunner {
 public:
  TaskRunner(Node& node, Json assignment, bool recovering)
      : node_(node), assignment_(std::move(assignment)), recovering_(recovering) {
    task_arn_ = assignment_["taskArn"];
    task_id_ = assignment_["taskId"];
  }
  ~TaskRunner() {
    if (thread_.joinable()) thread_.join();
  }
  void Start() { thread_ = std::thread([this] { Run(); }); }
  bool finished() const { return finished_; }
  void Update(const Json& assignment) {
    std::lock_guard<std::mutex> lock(mu_);
    if (assignment.value("desiredStatus", "") == "STOPPED") {
      desired_stopped_ = true;
      if (stop_reason_.empty()) stop_reason_ = "The task's desired status is STOPPED.";
    }
    if (assignment.contains("agent")) assignment_["agent"] = assignment["agent"];
  }
  void RequestStop(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    desired_stopped_ = true;
    if (stop_reason_.empty()) stop_reason_ = reason;
  }

 private:
  void Run();
  Status StartContainer(ContainerRun& c);
  void StartAgent(ContainerRun& c);
  void WriteAgentConfig(const ContainerRun& c);
  void Report(const std::string& status, const std::string& reason, const std::string& stop_code);
  Status SetUpNetwork();
  Status SetUpCgroups();
  SessionGroups SessionGroupsOf(const ContainerRun& c) const;
  std::string TaskCgroup() const;
  std::string ContainerCgroup(const ContainerRun& c) const;
  // Records that `c` has stopped, with its exit code and ECS's reason.
  void MarkStopped(ContainerRun& c, const ContainerState& state);
  Json NetworkReport(const ContainerRun& c) const;
  void WriteNameFiles();
  void StopAll();
  fs::path TaskDir() const;
  fs::path AgentConfigDir(const ContainerRun& c) const;

  Node& node_;
  Json assignment_;
  bool recovering_;
  std::string task_arn_;
  std::string task_id_;
  std::vector<ContainerRun> containers_;
  std::mutex mu_;
  bool desired_stopped_ = false;
  std::string stop_reason_;
  std::string written_agent_credentials_;
  std::optional<TaskNetwork> network_;  // once set up (or re-read after a restart)
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

class Node {
 public:
  explicit Node(const NodeOptions& options)
      : options_(options),
        images_(options.data_dir),  // the store keeps its images under <data_dir>/images
        runtime_(images_, (fs::path(options.data_dir) / "runc").string()),
        networks_(options.network, (fs::path(options.data_dir) / "network").string()) {}

  Status Init() {
    std::error_code ec;
    for (auto sub : {"tasks", "managed-agents/execute-command/config", "managed-agents/config"})
      fs::create_directories(fs::path(options_.data_dir) / sub, ec);
    ::chmod(options_.data_dir.c_str(), 0700);
    auto lock = LockDataDir(options_.data_dir, "porthole-node");
    if (!lock) return lock.error();
    data_dir_lock_ = std::move(*lock);
    auto url = net::ParseUrl(options_.endpoint);
    if (!url) return url.error();
    if (Status s = ValidateCniConfig(networks_.config()); !s) return MakeError("ConfigError", s.error().message);
    if (!IsValidCgroupPath(options_.cgroup_parent))
      return MakeError("ConfigError", "--cgroup-parent \"" + options_.cgroup_parent + "\" is not a relative group path");
    auto cgroups = Cgroups::Detect();
    if (!cgroups) return MakeError("ConfigError", cgroups.error().message);
    cgroups_.emplace(*cgroups);
    oom_ = std::make_unique<OomMonitor>(*cgroups_);
    dialer_ = std::make_unique<AgentSockets>(url->host, url->port);
    auto tls = net::TlsContext::ForClient(options_.ca_pem);
    if (!tls) return tls.error();
    client_ = std::make_unique<net::AwsJsonClient>(*url, auth::Credentials{}, options_.region, "ecs", *tls);
    return InstallAgent();
  }

  // the agent is bind-mounted read-only from a root-owned, non-writable copy.
  Status InstallAgent() {
    fs::path dir = fs::path(options_.data_dir) / "managed-agents/execute-command";
    fs::path target = dir / kAgentBinaryName;
    auto source = ReadFile(options_.exec_agent_path);
    if (!source) return MakeError("ConfigError", "cannot read the exec agent binary " + options_.exec_agent_path);
    auto current = ReadFile(target.string());
    if (current && *current == *source) return OkStatus();
    Status s = WriteFileAtomic(target.string(), *source, 0555);
    if (!s) return s;
    ::chmod(dir.c_str(), 0555);
    return OkStatus();
  }

  // Joins, or re-registers with the instance credentials node.json holds.
  Status Register() {
    Json saved = Json::object();
    if (auto text = ReadFile(StatePath())) saved = Json::parse(*text, nullptr, false);
    if (!saved.is_object()) saved = Json::object();
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    Json in = {{"hostname", host}, {"runtimeVersion", "runc"}};
    if (saved.contains("instanceId")) in["instanceId"] = saved["instanceId"];
    Result<Json> out = MakeError("ConfigError", "");
    const Json own = saved.value("credentials", Json());
    if (own.is_object() && own.value("expiration", 0.0) > static_cast<double>(std::time(nullptr)) + 60) {
      client_->set_credentials(CredentialsFrom(own));
      out = client_->Call("PortholeNodeService.RegisterContainerInstance", in);
      if (!out) log::Warn("re-registering with this instance's credentials failed: " + out.error().message);
    }
    if (!out && !options_.join_token.empty()) {
      client_->set_credentials({});  // unsigned: the token is the proof
      Json join = in;
      join["joinToken"] = options_.join_token;
      out = client_->Call("PortholeNodeService.RegisterContainerInstance", join);
    } else if (!out && !options_.join_credentials.access_key_id.empty()) {
      client_->set_credentials(options_.join_credentials);
      out = client_->Call("PortholeNodeService.RegisterContainerInstance", in);
    }
    if (!out) {
      if (out.error().message.empty())
        return MakeError("ConfigError", "no way to join: pass a join token (porthole node-token create) or IAM "
                                        "credentials allowed ecs:RegisterContainerInstance");
      return out.error();
    }
    instance_id_ = (*out)["instanceId"];
    return AdoptCredentials((*out)["credentials"]);
  }

  // Signs with `credentials` from now on and keeps them in node.json (0600).
  Status AdoptCredentials(const Json& credentials) {
    if (!credentials.is_object() || !credentials.contains("accessKeyId"))
      return MakeError("ServerException", "the control plane returned no instance credentials");
    client_->set_credentials(CredentialsFrom(credentials));
    return WriteFileAtomic(StatePath(), Json{{"instanceId", instance_id_}, {"credentials", credentials}}.dump() + "\n",
                           0600);
  }

  static auth::Credentials CredentialsFrom(const Json& c) {
    return {c.value("accessKeyId", ""), c.value("secretAccessKey", ""), c.value("sessionToken", "")};
  }
  std::string StatePath() const { return (fs::path(options_.data_dir) / "node.json").string(); }

  // Re-adopts tasks that were running when the node last stopped.
  void Recover() {
    std::set<std::string> live;
    for (const auto& entry : fs::directory_iterator(fs::path(options_.data_dir) / "tasks")) {
      auto text = ReadFile((entry.path() / "task.json").string());
      if (!text) continue;
      Json assignment = Json::parse(*text, nullptr, false);
      if (!assignment.is_object() || !assignment.contains("taskArn")) continue;
      log::Info("recovering task " + assignment.value("taskId", ""));
      auto runner = std::make_unique<TaskRunner>(*this, assignment, true);
      runner->Start();
      runners_[assignment["taskArn"]] = std::move(runner);
      live.insert(assignment.value("taskId", ""));
    }
    // What a crash left of tasks that are gone: namespaces, veths, addresses,
    // rules, control groups.
    networks_.Sweep(live);
    for (const auto& task : cgroups_->Children(options_.cgroup_parent))
      if (!live.count(task)) (void)cgroups_->Remove(options_.cgroup_parent + "/" + task);
  }

  Status Loop(const std::atomic<bool>& stop) {
    std::string generation;
    while (!stop) {
      // A long poll: the control plane answers at once when something changed
      // for this node, else after kPollWait with "unchanged" (a heartbeat).
      // Stopping the node cancels it.
      auto out = client_->Call("PortholeNodeService.PollTasks",
                               {{"instanceId", instance_id_}, {"waitSeconds", kPollWait.count()}, {"generation", generation}},
                               kPollWait + std::chrono::seconds(30), &stop);
      if (stop) break;
      if (!out) {
        log::Warn("poll failed: " + out.error().message);
        // Credentials refused, or an instance the control plane no longer knows: join again.
        if (out.error().code == "ContainerInstanceNotFoundException" || out.error().http_status == 403)
          (void)Register();
        for (int i = 0; i < 20 && !stop; i++) std::this_thread::sleep_for(100ms);
        continue;
      }
      generation = out->value("generation", "");
      if (out->contains("instanceCredentials")) {
        if (Status s = AdoptCredentials((*out)["instanceCredentials"]); !s)
          log::Warn("cannot keep the renewed instance credentials: " + s.error().message);
      }
      const Json no_tasks = Json::array();
      for (const auto& t : out->value("unchanged", false) ? no_tasks : out->value("tasks", no_tasks)) {
        std::string arn = t["taskArn"];
        auto it = runners_.find(arn);
        if (it != runners_.end()) {
          it->second->Update(t);
        } else if (t.value("desiredStatus", "") == "RUNNING") {
          auto runner = std::make_unique<TaskRunner>(*this, t, false);
          runner->Start();
          runners_[arn] = std::move(runner);
        }
      }
      for (auto it = runners_.begin(); it != runners_.end();)
        it = it->second->finished() ? runners_.erase(it) : std::next(it);
    }
    if (options_.stop_tasks_on_exit) {
      for (auto& [arn, runner] : runners_) runner->RequestStop("The node is shutting down.");
    }
    runners_.clear();  // joins: with stop_tasks_on_exit, after the tasks have stopped
    return OkStatus();
  }

  const NodeOptions& options() const { return options_; }
  ContainerRuntime& runtime() { return runtime_; }
  TaskNetworks& networks() { return networks_; }
  Cgroups& cgroups() { return *cgroups_; }
  OomMonitor& oom() { return *oom_; }
  AgentSockets& dialer() { return *dialer_; }
  net::AwsJsonClient& client() { return *client_; }
  const std::atomic<bool>* stop = nullptr;

 private:
  NodeOptions options_;
  ImageStore images_;
  RuncRuntime runtime_;
  TaskNetworks networks_;
  std::optional<Cgroups> cgroups_;
  std::unique_ptr<OomMonitor> oom_;
  std::unique_ptr<AgentSockets> dialer_;
  std::unique_ptr<net::AwsJsonClient> client_;
  DataDirLock data_dir_lock_;  // held while the node runs
  std::string instance_id_;
  std::map<std::string, std::unique_ptr<TaskRunner>> runners_;
};

fs::path TaskRunner::TaskDir() const { return fs::path(node_.options().data_dir) / "tasks" / task_id_; }

fs::path TaskRunner::AgentConfigDir(const ContainerRun& c) const {
  return fs::path(node_.options().data_dir) / "managed-agents/config" / task_id_ / c.runtime_id;
}

void TaskRunner::Report(const std::string& status, const std::string& reason, const std::string& stop_code) {
  Json containers = Json::array();
  for (const auto& c : containers_) {
    Json entry = {{"name", c.spec["name"]}, {"runtimeId", c.runtime_id},
                  {"status", c.stopped ? "STOPPED" : (c.started ? "RUNNING" : "PENDING")}};
    if (c.exit_code) entry["exitCode"] = *c.exit_code;
    if (!c.reason.empty()) entry["reason"] = c.reason;
    if (network_) entry.update(NetworkReport(c));
    containers.push_back(entry);
  }
  Json in = {{"taskArn", task_arn_}, {"status", status}, {"containers", containers}};
  if (network_ && network_->mode == NetworkMode::kAwsvpc) {
    // The task's own interface, in the shape of ECS's ENI attachment.
    std::string hex = network_->attachment_id;
    hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
    const std::string eni = "eni-" + hex.substr(0, 17);
    Json details = Json::array({{{"name", "subnetId"}, {"value", "subnet-" + node_.networks().config().bridge}},
                                {{"name", "networkInterfaceId"}, {"value", eni}},
                                {{"name", "macAddress"}, {"value", network_->attachment.mac}},
                                {{"name", "privateDnsName"}, {"value", task_id_.substr(0, 12)}},
                                {{"name", "privateIPv4Address"}, {"value", network_->attachment.address}}});
    in["attachments"] = Json::array({{{"id", network_->attachment_id},
                                      {"type", "ElasticNetworkInterface"},
                                      {"status", "ATTACHED"},
                                      {"details", details}}});
  }
  if (!reason.empty()) in["reason"] = reason;
  if (!stop_code.empty()) in["stopCode"] = stop_code;
  // State reports must arrive: retry while the control plane is unreachable.
  // Not when the node is shutting down: its containers are still to be
  // removed, and the control plane may be what went away (`porthole up`
  // stops both when either dies).
  const int attempts = node_.stop && *node_.stop ? 1 : 30;
  for (int attempt = 0; attempt < attempts; attempt++) {
    auto out = node_.client().Call("PortholeNodeService.SubmitTaskStateChange", in);
    if (out || out.error().http_status / 100 == 4) return;
    std::this_thread::sleep_for(1s);
  }
}

Status TaskRunner::StartContainer(ContainerRun& c) {
  const Json& s = c.spec;
  ContainerSpec spec;
  spec.id = c.runtime_id;
  spec.bundle_dir = c.bundle;
  spec.image = s["image"];
  for (const auto& a : s.value("entryPoint", Json::array())) spec.args.push_back(a);
  for (const auto& a : s.value("command", Json::array())) spec.args.push_back(a);
  if (spec.args.empty()) spec.args = {"/bin/sh"};  // busybox's default command
  for (const auto& kv : s.value("environment", Json::array()))
    spec.env.push_back(kv.value("name", "") + "=" + kv.value("value", ""));
  spec.cwd = s.value("workingDirectory", "").empty() ? "/" : s.value("workingDirectory", "");
  spec.user = s.value("user", "");
  spec.readonly_rootfs = s.value("readonlyRootFilesystem", false);
  spec.init_process = s.value("initProcessEnabled", false);
  if (const Json caps = s.value("capabilities", Json::object()); caps.is_object() && !caps.empty()) {
    std::vector<std::string> add, drop;
    for (const auto& v : caps.value("add", Json::array()))
      if (v.is_string()) add.push_back(v);
    for (const auto& v : caps.value("drop", Json::array()))
      if (v.is_string()) drop.push_back(v);
    spec.capabilities = ResolveCapabilities(add, drop);
  }
  spec.hostname = task_id_.substr(0, 12);
  spec.cgroups_path = Cgroups::RuncPath(ContainerCgroup(c) + "/main");
  spec.oom_watch_dir = node_.cgroups().MemoryDir(ContainerCgroup(c));
  for (const auto& u : s.value("ulimits", Json::array())) {
    if (!u.is_object()) continue;
    spec.rlimits.push_back({RlimitTypeFor(u.value("name", "")), u.value("softLimit", uint64_t{0}),
                            u.value("hardLimit", uint64_t{0})});
  }
  spec.shm_size_bytes = s.value("sharedMemorySize", uint64_t{0}) << 20;
  for (const auto& t : s.value("tmpfs", Json::array())) {
    if (!t.is_object()) continue;
    TmpfsMount mount{t.value("containerPath", ""), t.value("size", uint64_t{0}) << 20, {}};
    for (const auto& o : t.value("mountOptions", Json::array()))
      if (o.is_string()) mount.options.push_back(o);
    spec.tmpfs.push_back(mount);
  }
  spec.host_network = network_ && network_->mode == NetworkMode::kHost;
  if (network_) spec.netns_path = network_->netns_path;
  if (!spec.host_network) {
    // Its own namespace: the host's name files would name the host's resolver
    // and addresses, not the task's.
    spec.mounts.push_back({(TaskDir() / "hosts").string(), "/etc/hosts", false});
    spec.mounts.push_back({(TaskDir() / "resolv.conf").string(), "/etc/resolv.conf", false});
  }
  if (assignment_.value("enableExecuteCommand", false)) {
    std::error_code ec;
    fs::create_directories(AgentConfigDir(c), ec);
    ::chmod(AgentConfigDir(c).c_str(), 0700);
    if (Status s = node_.dialer().Listen(AgentConfigDir(c).string(), SessionGroupsOf(c)); !s) return s;
    spec.mounts.push_back({(fs::path(node_.options().data_dir) / "managed-agents/execute-command").string(),
                           kAgentMountPoint, true});
    spec.mounts.push_back({AgentConfigDir(c).string(), std::string(kAgentMountPoint) + "/config", true});
  }
  return node_.runtime().Run(spec);
}

void TaskRunner::WriteAgentConfig(const ContainerRun& c) {
  const Json& agent = assignment_["agent"];
  Json config = {{"endpoint", node_.options().endpoint},
                 {"region", agent.value("region", node_.options().region)},
                 {"cluster", assignment_.value("cluster", "")},
                 {"taskId", task_id_},
                 {"containerName", c.spec["name"]},
                 {"caPem", node_.options().ca_pem},
                 {"nodeSocket", std::string(kAgentMountPoint) + "/config/" + AgentSockets::kSocketName},
                 {"credentials", agent["credentials"].value(c.spec.value("name", ""), Json())}};
  (void)WriteFileAtomic((AgentConfigDir(c) / "agent.json").string(), config.dump(), 0400);
}

void TaskRunner::StartAgent(ContainerRun& c) {
  if (!assignment_.contains("agent")) return;
  WriteAgentConfig(c);
  written_agent_credentials_ = assignment_["agent"]["credentials"].dump();
  ExecSpec exec;
  exec.args = {std::string(kAgentMountPoint) + "/" + kAgentBinaryName};
  exec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
  for (const auto& kv : c.spec.value("environment", Json::array()))
    exec.env.push_back(kv.value("name", "") + "=" + kv.value("value", ""));
  exec.cwd = c.spec.value("workingDirectory", "").empty() ? "/" : c.spec.value("workingDirectory", "");
  exec.log_path = (fs::path(c.bundle) / "exec-agent.log").string();
  auto pid = node_.runtime().Exec(c.runtime_id, exec);
  if (!pid) {
    log::Warn("task " + task_id_ + ": cannot start the exec agent: " + pid.error().message);
    Json in = {{"taskArn", task_arn_},
               {"status", "RUNNING"},
               {"containers", Json::array({{{"name", c.spec["name"]},
                                            {"managedAgentReason", "InitFailed: " + pid.error().message}}})}};
    (void)node_.client().Call("PortholeNodeService.SubmitTaskStateChange", in);
    return;
  }
  c.agent_pid = *pid;
  std::ofstream(fs::path(c.bundle) / "agent.pid") << *pid;
}

std::string TaskRunner::TaskCgroup() const { return node_.options().cgroup_parent + "/" + task_id_; }
std::string TaskRunner::ContainerCgroup(const ContainerRun& c) const { return TaskCgroup() + "/" + c.runtime_id; }

// The task's group with the task's cpu and memory, and one per container with
// the container's (node/cgroups.h); watched for OOM kills.
Status TaskRunner::SetUpCgroups() {
  CgroupLimits task;
  if (auto memory = TaskSize(assignment_.value("memory", ""), "gb", 1024)) task.memory_bytes = *memory << 20;
  if (auto cpu = TaskSize(assignment_.value("cpu", ""), "vcpu", 1024)) task.cpu_quota_millicores = *cpu * 1000 / 1024;
  PORTHOLE_TRY(node_.cgroups().Create(TaskCgroup(), task));
  for (const auto& c : containers_) {
    CgroupLimits limits;
    if (int64_t mib = c.spec.value("memory", int64_t{0}); mib > 0) limits.memory_bytes = mib << 20;
    if (int64_t mib = c.spec.value("memoryReservation", int64_t{0}); mib > 0) limits.memory_reservation_bytes = mib << 20;
    if (int64_t units = c.spec.value("cpu", int64_t{0}); units > 0) limits.cpu_shares = units;
    if (node_.options().pids_limit > 0) limits.pids_max = node_.options().pids_limit;
    PORTHOLE_TRY(node_.cgroups().Create(ContainerCgroup(c), limits));
    PORTHOLE_TRY(node_.oom().Watch(ContainerCgroup(c)));
  }
  return OkStatus();
}

// Each exec session in <container>/session-<id>, under the container's
// limits (and the cluster's session cap, when it sets one); ended, or after
// the agent is gone, everything in it is killed.
SessionGroups TaskRunner::SessionGroupsOf(const ContainerRun& c) const {
  Cgroups cgroups = node_.cgroups();  // a copy: the socket's threads may outlive this runner
  const std::string container = ContainerCgroup(c);
  CgroupLimits cap;
  const Json limits = assignment_.value("sessionLimits", Json::object());
  if (limits.is_object()) {
    if (int64_t mib = limits.value("memory", int64_t{0}); mib > 0) cap.memory_bytes = mib << 20;
    if (int64_t units = limits.value("cpu", int64_t{0}); units > 0) cap.cpu_quota_millicores = units * 1000 / 1024;
  }
  SessionGroups groups;
  groups.place = [cgroups, container, cap](int pid, const std::string& id, const SessionCaps& asked) mutable -> Status {
    // Only a process of this container's own group (an agent's session).
    if (!cgroups.Contains(container + "/main", pid))
      return MakeError("AccessDeniedException", "the process is not this container's");
    // Root in the container can ask too: a bound on the groups it can make.
    size_t sessions = 0;
    for (const auto& group : cgroups.Children(container)) sessions += group.rfind("session-", 0) == 0;
    if (sessions >= kMaxSessionGroups)
      return MakeError("LimitExceededException", "this container has " + std::to_string(sessions) + " session groups");
    // The client may ask for less than the cluster allows, never more.
    CgroupLimits limits = cap;
    auto lower = [](std::optional<int64_t>& limit, int64_t asked) {
      if (asked > 0 && (!limit || asked < *limit)) limit = asked;
    };
    lower(limits.memory_bytes, asked.memory_mib << 20);
    if (asked.cpu_units > 0) lower(limits.cpu_quota_millicores, std::max<int64_t>(1, asked.cpu_units * 1000 / 1024));
    PORTHOLE_TRY(cgroups.Create(container + "/session-" + id, limits));
    return cgroups.AddProcess(container + "/session-" + id, pid, limits);
  };
  groups.end = [cgroups, container](const std::string& id) mutable {
    if (Status s = cgroups.Remove(container + "/session-" + id); !s) log::Warn(s.error().message);
  };
  return groups;
}

void TaskRunner::MarkStopped(ContainerRun& c, const ContainerState& state) {
  c.stopped = true;
  c.exit_code = state.exit_code;
  // Seen by the node, or by the container's supervisor (also while the node was down).
  if (node_.oom().Fired(ContainerCgroup(c)) || state.oom_killed) c.reason = kOutOfMemoryReason;
}

Status TaskRunner::SetUpNetwork() {
  const std::string mode_name = assignment_.value("networkMode", std::string(NetworkModeName(kDefaultNetworkMode)));
  auto mode = ParseNetworkMode(mode_name);
  if (!mode) return MakeError("ResourceInitializationError", "unknown networkMode \"" + mode_name.substr(0, 32) + "\"");
  std::vector<ContainerPortMapping> ports;
  for (const auto& c : assignment_["containers"])
    for (const auto& p : c.value("portMappings", Json::array())) {
      if (!p.is_object()) continue;
      ContainerPortMapping m;
      m.container = c.value("name", "");
      m.mapping.container_port = p.value("containerPort", 0);
      m.mapping.host_port = p.value("hostPort", 0);
      m.mapping.protocol = p.value("protocol", "tcp") == "udp" ? "udp" : "tcp";
      if (m.mapping.container_port != 0) ports.push_back(m);
    }
  auto network = node_.networks().Setup(task_id_, *mode, ports);
  if (!network) return network.error();
  network_ = *network;
  WriteNameFiles();
  return OkStatus();
}

// ECS's networkBindings (bridge, host) and networkInterfaces (awsvpc) of one container.
Json TaskRunner::NetworkReport(const ContainerRun& c) const {
  Json bindings = Json::array(), interfaces = Json::array();
  if (network_->mode == NetworkMode::kAwsvpc) {
    interfaces.push_back({{"attachmentId", network_->attachment_id}, {"privateIpv4Address", network_->attachment.address}});
  } else {
    for (const auto& p : network_->ports)
      if (p.container == c.spec.value("name", ""))
        bindings.push_back({{"bindIP", "0.0.0.0"},
                            {"containerPort", p.mapping.container_port},
                            {"hostPort", p.mapping.host_port},
                            {"protocol", p.mapping.protocol}});
  }
  return {{"networkBindings", bindings}, {"networkInterfaces", interfaces}};
}

// The task's /etc/hosts (its name on its own address) and /etc/resolv.conf
// (the host's resolvers, less those on the host's loopback, which the task's
// namespace cannot reach).
void TaskRunner::WriteNameFiles() {
  const std::string hostname = task_id_.substr(0, 12);
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!network_->attachment.address.empty()) hosts += network_->attachment.address + "\t" + hostname + "\n";
  else hosts += "127.0.1.1\t" + hostname + "\n";
  std::string resolv;
  if (network_->mode != NetworkMode::kNone) {
    std::istringstream host_resolv(ReadFile("/etc/resolv.conf", 64 * 1024).value_or(""));
    for (std::string line; std::getline(host_resolv, line);) {
      std::istringstream words(line);
      std::string key, value;
      words >> key >> value;
      if (key == "nameserver" && (value.rfind("127.", 0) == 0 || value == "::1")) continue;
      resolv += line + "\n";
    }
  }
  (void)WriteFileAtomic((TaskDir() / "hosts").string(), hosts, 0644);
  (void)WriteFileAtomic((TaskDir() / "resolv.conf").string(), resolv, 0644);
}

void TaskRunner::StopAll() {
  int grace = 30;
  for (const auto& c : containers_) grace = std::min(grace, std::max(1, c.spec.value("stopTimeout", 30)));
  for (auto& c : containers_)
    if (c.started && !c.stopped) (void)node_.runtime().Kill(c.runtime_id, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace);
  bool killed = false;
  for (;;) {
    bool all_stopped = true;
    for (auto& c : containers_) {
      if (!c.started || c.stopped) continue;
      auto state = node_.runtime().State(c.runtime_id, c.bundle);
      if (state && state->status == ContainerStatus::kStopped) MarkStopped(c, *state);
      else all_stopped = false;
    }
    if (all_stopped) break;
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      for (auto& c : containers_)
        if (c.started && !c.stopped) (void)node_.runtime().Kill(c.runtime_id, SIGKILL);
      killed = true;
      deadline = std::chrono::steady_clock::now() + 10s;
    } else if (killed && std::chrono::steady_clock::now() > deadline) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
}

void TaskRunner::Run() {
  std::error_code ec;
  fs::create_directories(TaskDir(), ec);
  if (!recovering_)
    (void)WriteFileAtomic((TaskDir() / "task.json").string(), assignment_.dump(), 0600);
  for (const auto& spec : assignment_["containers"]) {
    ContainerRun c;
    c.spec = spec;
    c.runtime_id = RuntimeId(task_id_, spec["name"]);
    c.bundle = (TaskDir() / c.runtime_id).string();
    containers_.push_back(c);
  }

  std::string failure;
  if (recovering_) {
    for (auto& c : containers_) {
      auto state = node_.runtime().State(c.runtime_id, c.bundle);
      c.started = state.ok() && state->status != ContainerStatus::kUnknown;
      if (c.started) (void)node_.oom().Watch(ContainerCgroup(c));  // (one while the node was down: the supervisor's)
      // One that stopped meanwhile is seen (and reported) by the loop below.
      if (auto pid = ReadFile((fs::path(c.bundle) / "agent.pid").string())) c.agent_pid = std::atoi(pid->c_str());
      // The agent dials through the node: listen for it again.
      if (c.started && !c.stopped && assignment_.value("enableExecuteCommand", false))
        if (Status s = node_.dialer().Listen(AgentConfigDir(c).string(), SessionGroupsOf(c)); !s)
          log::Warn("task " + task_id_ + ": " + s.error().message);
    }
    network_ = node_.networks().Load(task_id_);
  } else {
    Report("PENDING", "", "");
    if (Status s = SetUpNetwork(); !s) failure = s.error().code + ": " + s.error().message;
    if (Status s = failure.empty() ? SetUpCgroups() : OkStatus(); !s)
      failure = "ResourceInitializationError: cannot set up the task's control groups: " + s.error().message;
    for (auto& c : containers_) {
      if (!failure.empty()) break;
      Status s = StartContainer(c);
      if (!s) {
        failure = "CannotStartContainerError: " + c.spec.value("name", "") + ": " + s.error().message;
        break;
      }
      c.started = true;
    }
    if (failure.empty()) {
      Report("RUNNING", "", "");
      if (assignment_.value("enableExecuteCommand", false))
        for (auto& c : containers_) StartAgent(c);
    }
  }

  std::string reason = failure, stop_code = failure.empty() ? "" : "TaskFailedToStart";
  while (failure.empty()) {
    // The node is restarting: leave the task running for the next start to re-adopt.
    if (node_.stop && *node_.stop && !node_.options().stop_tasks_on_exit) {
      finished_ = true;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (desired_stopped_) {
        reason = stop_reason_;
        stop_code = "UserInitiated";
        break;
      }
      // Refreshed credentials reach the agent through its config file.
      if (assignment_.contains("agent") && assignment_["agent"]["credentials"].dump() != written_agent_credentials_) {
        for (auto& c : containers_)
          if (c.started && !c.stopped) WriteAgentConfig(c);
        written_agent_credentials_ = assignment_["agent"]["credentials"].dump();
      }
    }
    bool essential_exited = false;
    for (auto& c : containers_) {
      if (!c.started || c.stopped) continue;
      auto state = node_.runtime().State(c.runtime_id, c.bundle);
      if (state && state->status == ContainerStatus::kStopped) {
        MarkStopped(c, *state);
        log::Info("task " + task_id_ + ": container " + c.spec.value("name", "") + " exited with " +
                  std::to_string(c.exit_code.value_or(-1)));
        if (c.spec.value("essential", true)) essential_exited = true;
        else Report("RUNNING", "", "");
      } else if (assignment_.contains("agent") && !AgentAlive(c.agent_pid) &&
                 std::chrono::steady_clock::now() >= c.agent_retry_at) {
        // The exec agent died or could not start: start it again for as long
        // as the container runs, so killing it cannot disable exec. Backoff:
        // 1 s doubling to 30 s.
        c.agent_restarts++;
        c.agent_retry_at = std::chrono::steady_clock::now() +
                           std::min<std::chrono::seconds>(std::chrono::seconds(30),
                                                          std::chrono::seconds(1LL << std::min(c.agent_restarts, 5)));
        if (c.agent_pid > 0) log::Warn("task " + task_id_ + ": the exec agent of " + c.spec.value("name", "") +
                                       " exited; starting it again");
        c.agent_pid = 0;
        // Its sessions died with it: so does everything they started.
        for (const auto& group : node_.cgroups().Children(ContainerCgroup(c)))
          if (group.rfind("session-", 0) == 0) (void)node_.cgroups().Remove(ContainerCgroup(c) + "/" + group);
        StartAgent(c);
      }
    }
    if (essential_exited) {
      reason = "Essential container in task exited";
      stop_code = "EssentialContainerExited";
      break;
    }
    std::this_thread::sleep_for(250ms);
  }

  StopAll();
  Report("STOPPED", reason, stop_code);
  for (auto& c : containers_) {
    (void)node_.runtime().Remove(c.runtime_id, c.bundle);
    node_.dialer().Stop(AgentConfigDir(c).string());
  }
  // Kept on failure for the sweep at the node's next start.
  (void)node_.networks().Teardown(task_id_);
  for (auto& c : containers_) node_.oom().Unwatch(ContainerCgroup(c));
  if (Status s = node_.cgroups().Remove(TaskCgroup()); !s)
    log::Warn("task " + task_id_ + ": " + s.error().message);
  fs::remove_all(fs::path(node_.options().data_dir) / "managed-agents/config" / task_id_, ec);
  fs::remove_all(TaskDir(), ec);
  log::Info("task " + task_id_ + " stopped: " + reason);
  finished_ = true;
}

}  // namespace

Status CleanUpNode(const NodeOptions& options) {
  auto lock = LockDataDir(options.data_dir, "porthole-node");
  if (!lock) return lock.error();
  ImageStore images(options.data_dir);
  RuncRuntime runtime(images, (fs::path(options.data_dir) / "runc").string());
  TaskNetworks networks(options.network, (fs::path(options.data_dir) / "network").string());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(options.data_dir) / "tasks", ec)) {
    auto text = ReadFile((entry.path() / "task.json").string());
    Json assignment = text ? Json::parse(*text, nullptr, false) : Json();
    if (assignment.is_object() && assignment.contains("containers") && assignment["containers"].is_array())
      for (const auto& c : assignment["containers"]) {
        if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) continue;
        const std::string id = RuntimeId(entry.path().filename().string(), c["name"]);
        (void)runtime.Kill(id, SIGKILL);
        if (Status s = runtime.Remove(id, (entry.path() / id).string()); !s)
          log::Warn("cannot remove container " + id + ": " + s.error().message);
      }
    fs::remove_all(entry.path(), ec);
  }
  fs::remove_all(fs::path(options.data_dir) / "managed-agents/config", ec);
  networks.Sweep({});
  if (auto cgroups = Cgroups::Detect(); cgroups && IsValidCgroupPath(options.cgroup_parent))
    if (Status s = cgroups->Remove(options.cgroup_parent); !s) log::Warn(s.error().message);
  return networks.RemoveBridge();
}

Status RunNode(const NodeOptions& options, const std::atomic<bool>& stop) {
  Node node(options);
  node.stop = &stop;  // before any task thread starts
  Status s = node.Init();
  if (!s) return s;
  for (int attempt = 0;; attempt++) {
    s = node.Register();
    if (s) break;
    // A refused token or key will not be accepted later: say so at once.
    // Anything else (the control plane not up yet) is retried for a minute.
    const std::string& code = s.error().code;
    bool refused = code == "AccessDeniedException" || code == "MissingAuthenticationTokenException" ||
                   code == "UnrecognizedClientException" || code == "InvalidSignatureException" || code == "ConfigError";
    if (stop || refused || attempt > 60) return s;
    log::Warn("register failed: " + s.error().message + "; retrying");
    std::this_thread::sleep_for(1s);
  }
  node.Recover();
  return node.Loop(stop);
}

}  // namespace porthole::node
