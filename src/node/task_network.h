#pragma once
// The network of each task, from its definition's networkMode, as ECS's EC2
// launch type gives it:
//   bridge  a namespace of its own on the node's bridge (CNI, node/cni.h),
//           portMappings published on the host (host port 0: chosen from
//           ECS's dynamic range 49153-65535);
//   awsvpc  a namespace of its own with its own address, reported as the
//           task's network interface; ports are reached at that address;
//   host    the host's namespace (explicit opt-in only);
//   none    a namespace with only lo (runc makes it).
// Every namespace, address and rule made for a task is recorded in
// <state_dir>/<taskId>.json before it is made, so Teardown — also after a
// node crash, from Sweep — removes exactly what exists.
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/ecs_network_modes.h"
#include "common/result.h"
#include "node/cni.h"

namespace porthole::node {


// ECS's dynamic host port range for bridge mode.
inline constexpr uint16_t kFirstDynamicHostPort = 49153;

struct ContainerPortMapping {
  std::string container;  // the container definition's name
  PortMapping mapping;
};

struct TaskNetwork {
  NetworkMode mode = NetworkMode::kBridge;
  std::string netns_path;  // bridge, awsvpc: the namespace runc joins; else empty
  CniAttachment attachment;  // bridge, awsvpc
  std::vector<ContainerPortMapping> ports;  // host ports as published (bridge, host)
  std::string attachment_id;  // awsvpc: the id ECS gives the task's interface
};

class TaskNetworks {
 public:
  // `state_dir` holds the records and the namespaces' mount files, and the
  // IPAM state unless config.ipam_dir names a place.
  TaskNetworks(CniConfig config, std::string state_dir);

  // Makes the network of task `task_id` (a [0-9a-f] id). `requested`: each
  // container's portMappings as the definition gives them. Errors:
  // "ResourceInitializationError" naming the cause (a host port in use, the
  // plugins missing, ...). On failure nothing is left behind.
  Result<TaskNetwork> Setup(const std::string& task_id, NetworkMode mode,
                            const std::vector<ContainerPortMapping>& requested);

  // The network recorded for `task_id` (a task re-adopted after a restart).
  std::optional<TaskNetwork> Load(const std::string& task_id);

  // Removes the task's namespace, veth, address and rules, then its record.
  // Idempotent. A record whose removal failed stays for the next Sweep.
  Status Teardown(const std::string& task_id);

  // Tears down every recorded network whose task is not in `live`, and
  // unmounts namespace files without a record (a crash between the two).
  void Sweep(const std::set<std::string>& live);

  // Removes the bridge, the node's rule for it and its IPAM state (retiring
  // a node; any task still on the bridge loses its network). Missing ones
  // are not an error.
  Status RemoveBridge();

  const CniConfig& config() const { return config_; }

 private:
  std::vector<std::string> LoopbackGuardRule() const;
  std::string RecordPath(const std::string& task_id) const;
  Status ChooseHostPorts(const std::string& task_id, std::vector<ContainerPortMapping>& ports);
  Status GuardHostLoopback();

  CniConfig config_;
  std::string state_dir_;
  std::mutex mu_;  // host port choice and the records it reads
  bool loopback_guarded_ = false;
};

// The record's JSON form, and back (exposed for tests).
nlohmann::json TaskNetworkToJson(const TaskNetwork& network);
std::optional<TaskNetwork> TaskNetworkFromJson(const nlohmann::json& j);

}  // namespace porthole::node
