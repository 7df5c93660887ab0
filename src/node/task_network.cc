#include "node/task_network.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "common/crypto.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/log.h"
#include "node/network_namespace.h"
#include "node/subprocess.h"

namespace porthole::node {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr size_t kMaxRecordBytes = 1 << 20;

Error InitError(std::string message) { return MakeError("ResourceInitializationError", std::move(message), 500); }

bool IsTaskId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// True when nothing on the host holds `port` for `protocol` (a DNAT rule
// would shadow a host service on it).
bool HostPortFree(uint16_t port, const std::string& protocol) {
  int fd = ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // TIME_WAIT is not "in use"
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return free;
}

std::vector<PortMapping> CniPorts(const TaskNetwork& n) {
  std::vector<PortMapping> out;
  if (n.mode != NetworkMode::kBridge) return out;  // awsvpc: reached at the task's own address
  for (const auto& p : n.ports) out.push_back(p.mapping);
  return out;
}

}  // namespace

Json TaskNetworkToJson(const TaskNetwork& n) {
  Json ports = Json::array();
  for (const auto& p : n.ports)
    ports.push_back({{"container", p.container},
                     {"containerPort", p.mapping.container_port},
                     {"hostPort", p.mapping.host_port},
                     {"protocol", p.mapping.protocol}});
  return {{"mode", NetworkModeName(n.mode)},
          {"netns", n.netns_path},
          {"attachmentId", n.attachment_id},
          {"attachment",
           {{"address", n.attachment.address},
            {"prefixLength", n.attachment.prefix_length},
            {"gateway", n.attachment.gateway},
            {"mac", n.attachment.mac}}},
          {"ports", ports}};
}

std::optional<TaskNetwork> TaskNetworkFromJson(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  TaskNetwork n;
  try {
    auto mode = ParseNetworkMode(j.at("mode").get<std::string>());
    if (!mode) return std::nullopt;
    n.mode = *mode;
    n.netns_path = j.value("netns", "");
    n.attachment_id = j.value("attachmentId", "");
    const Json a = j.value("attachment", Json::object());
    n.attachment.address = a.value("address", "");
    n.attachment.prefix_length = a.value("prefixLength", 0);
    n.attachment.gateway = a.value("gateway", "");
    n.attachment.mac = a.value("mac", "");
    for (const auto& p : j.value("ports", Json::array())) {
      ContainerPortMapping m;
      m.container = p.at("container").get<std::string>();
      m.mapping.container_port = p.at("containerPort").get<uint16_t>();
      m.mapping.host_port = p.at("hostPort").get<uint16_t>();
      m.mapping.protocol = p.at("protocol").get<std::string>();
      n.ports.push_back(m);
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return n;
}

TaskNetworks::TaskNetworks(CniConfig config, std::string state_dir)
    : config_(std::move(config)), state_dir_(std::move(state_dir)) {
  if (config_.ipam_dir.empty()) config_.ipam_dir = state_dir_ + "/ipam";
}

std::string TaskNetworks::RecordPath(const std::string& task_id) const { return state_dir_ + "/" + task_id + ".json"; }

std::optional<TaskNetwork> TaskNetworks::Load(const std::string& task_id) {
  if (!IsTaskId(task_id)) return std::nullopt;
  auto text = ReadFile(RecordPath(task_id), kMaxRecordBytes);
  if (!text) return std::nullopt;
  return TaskNetworkFromJson(Json::parse(*text, nullptr, false));
}

Status TaskNetworks::ChooseHostPorts(const std::string& task_id, std::vector<ContainerPortMapping>& ports) {
  std::set<std::pair<uint16_t, std::string>> taken;  // by other tasks' records
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name == task_id + ".json") continue;
    auto other = Load(entry.path().stem().string());
    // awsvpc tasks' ports are on their own addresses, not the host's.
    if (!other || (other->mode != NetworkMode::kBridge && other->mode != NetworkMode::kHost)) continue;
    for (const auto& p : other->ports) taken.insert({p.mapping.host_port, p.mapping.protocol});
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> dynamic(kFirstDynamicHostPort, 65535);
  for (auto& p : ports) {
    PortMapping& m = p.mapping;
    if (m.host_port != 0) {
      if (taken.count({m.host_port, m.protocol}))
        return InitError("host port " + std::to_string(m.host_port) + "/" + m.protocol +
                         " is already published by another task on this node");
      if (!HostPortFree(m.host_port, m.protocol))
        return InitError("host port " + std::to_string(m.host_port) + "/" + m.protocol + " is in use on this node");
    } else {
      for (int attempt = 0; attempt < 512 && m.host_port == 0; attempt++) {
        auto candidate = static_cast<uint16_t>(dynamic(rng));
        if (!taken.count({candidate, m.protocol}) && HostPortFree(candidate, m.protocol)) m.host_port = candidate;
      }
      if (m.host_port == 0) return InitError("no free host port in 49153-65535 for " + p.container);
    }
    taken.insert({m.host_port, m.protocol});
  }
  return OkStatus();
}

// portmap turns on route_localnet on the bridge (so 127.0.0.1:hostPort
// reaches the task), which alone would let a task with CAP_NET_RAW send
// packets to the host's loopback services through the bridge
// (CVE-2020-8558). Only the replies of connections the host made may come in.
std::vector<std::string> TaskNetworks::LoopbackGuardRule() const {
  return {"INPUT", "-i", config_.bridge, "-d", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
          "RELATED,ESTABLISHED,DNAT", "-m", "comment", "--comment", "porthole: tasks do not reach the host's loopback",
          "-j", "DROP"};
}

namespace {

// `iptables -w 5 <op> <rule...>`.
Result<SubprocessResult> Iptables(const std::string& op, const std::vector<std::string>& rule) {
  std::string iptables = FindExecutable("iptables");
  if (iptables.empty()) return InitError("iptables is not installed (the CNI plugins need it)");
  std::vector<std::string> argv = {iptables, "-w", "5", op};
  argv.insert(argv.end(), rule.begin(), rule.end());
  return RunSubprocess(argv);
}

}  // namespace

Status TaskNetworks::GuardHostLoopback() {
  if (loopback_guarded_) return OkStatus();
  PORTHOLE_TRY_ASSIGN(check, Iptables("-C", LoopbackGuardRule()));
  if (check.exit_code != 0) {
    PORTHOLE_TRY_ASSIGN(insert, Iptables("-I", LoopbackGuardRule()));
    if (insert.exit_code != 0) return InitError("iptables: " + insert.err.substr(0, 300));
  }
  loopback_guarded_ = true;
  return OkStatus();
}

Status TaskNetworks::RemoveBridge() {
  for (int i = 0; i < 16; i++) {  // once per copy of the rule
    PORTHOLE_TRY_ASSIGN(deleted, Iptables("-D", LoopbackGuardRule()));
    if (deleted.exit_code != 0) break;
  }
  loopback_guarded_ = false;
  std::string ip = FindExecutable("ip");
  if (ip.empty()) return InitError("ip (iproute2) is not installed");
  PORTHOLE_TRY_ASSIGN(show, RunSubprocess({ip, "link", "show", "dev", config_.bridge}));
  if (show.exit_code != 0) return OkStatus();  // no such bridge
  PORTHOLE_TRY_ASSIGN(del, RunSubprocess({ip, "link", "delete", "dev", config_.bridge}));
  if (del.exit_code != 0) return InitError("ip link delete " + config_.bridge + ": " + del.err.substr(0, 300));
  std::error_code ec;
  fs::remove_all(config_.ipam_dir + "/" + config_.network_name, ec);  // the bridge's addresses went with it
  return OkStatus();
}

Result<TaskNetwork> TaskNetworks::Setup(const std::string& task_id, NetworkMode mode,
                                        const std::vector<ContainerPortMapping>& requested) {
  if (!IsTaskId(task_id)) return InitError("invalid task id");
  TaskNetwork n;
  n.mode = mode;
  n.ports = requested;
  if (mode == NetworkMode::kNone) return n;
  if (mode == NetworkMode::kAwsvpc)
    for (auto& p : n.ports) p.mapping.host_port = p.mapping.container_port;
  std::error_code ec;
  fs::create_directories(state_dir_, ec);
  if (ec) return InitError("cannot create " + state_dir_ + ": " + ec.message());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mode == NetworkMode::kHost) {
      for (auto& p : n.ports)
        if (p.mapping.host_port == 0) p.mapping.host_port = p.mapping.container_port;
    } else if (mode == NetworkMode::kBridge) {
      PORTHOLE_TRY(ChooseHostPorts(task_id, n.ports));
    }
    if (mode != NetworkMode::kHost) {
      n.netns_path = state_dir_ + "/" + task_id + ".netns";
      // What describe-tasks names the task's interface by (a UUID, as ECS's).
      n.attachment_id = ids::NewUuid();
    }
    // Recorded before anything is made: a crash from here on is cleaned up.
    if (Status s = WriteFileAtomic(RecordPath(task_id), TaskNetworkToJson(n).dump(), 0600); !s)
      return InitError("cannot record the task's network: " + s.error().message);
  }
  if (mode == NetworkMode::kHost) return n;

  auto undo = [&](Error e) -> Result<TaskNetwork> {
    (void)Teardown(task_id);
    return InitError("failed to set up the task's " + std::string(NetworkModeName(mode)) + " network: " + e.message);
  };
  if (Status s = CreateNetworkNamespace(n.netns_path); !s) return undo(s.error());
  auto attached = CniAdd(config_, task_id, n.netns_path, CniPorts(n));
  if (!attached) return undo(attached.error());
  n.attachment = *attached;
  if (Status s = GuardHostLoopback(); !s) return undo(s.error());
  if (Status s = WriteFileAtomic(RecordPath(task_id), TaskNetworkToJson(n).dump(), 0600); !s) return undo(s.error());
  return n;
}

Status TaskNetworks::Teardown(const std::string& task_id) {
  if (!IsTaskId(task_id)) return InitError("invalid task id");
  auto n = Load(task_id);
  const std::string netns = state_dir_ + "/" + task_id + ".netns";
  Status result = OkStatus();
  if (n && n->mode != NetworkMode::kHost && n->mode != NetworkMode::kNone) {
    // DEL before the namespace goes: the bridge plugin removes the veth from
    // inside it; without it the address and rules are still released.
    result = CniDel(config_, task_id, fs::exists(netns) ? netns : "", CniPorts(*n));
  }
  if (Status s = RemoveNetworkNamespace(netns); !s && result) result = s;
  if (!result) {
    log::Warn("task " + task_id + ": network teardown incomplete (retried at the next start): " +
              result.error().message);
    return result;
  }
  if (::unlink(RecordPath(task_id).c_str()) != 0 && errno != ENOENT)
    return InitError("cannot remove the network record of task " + task_id);
  return OkStatus();
}

void TaskNetworks::Sweep(const std::set<std::string>& live) {
  std::error_code ec;
  std::vector<std::string> orphans;
  for (const auto& entry : fs::directory_iterator(state_dir_, ec)) {
    const std::string ext = entry.path().extension().string();
    const std::string task_id = entry.path().stem().string();
    if ((ext == ".json" || ext == ".netns") && !live.count(task_id)) orphans.push_back(task_id);
  }
  std::set<std::string> done;
  for (const auto& task_id : orphans) {
    if (!done.insert(task_id).second) continue;
    log::Info("removing the network left by task " + task_id);
    (void)Teardown(task_id);
  }
}

}  // namespace porthole::node
