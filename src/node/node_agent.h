#pragma once
// porthole-node: the node agent. Dials out to portholed, registers as a
// container instance (keeping its id across restarts), long-polls for the
// tasks placed on it, runs them with the ContainerRuntime, starts the exec
// agent inside each container of a task with enableExecuteCommand, and
// reports task, container and managed-agent state.
//
// Data directory:
//   node.json                     the container instance id and its credentials (0600)
//   images/                       the ImageStore
//   runc/                         runc's state root
//   tasks/<taskId>/task.json      the assignment, for recovery after a restart
//   tasks/<taskId>/<n>/           one bundle per container
//   tasks/<taskId>/hosts, resolv.conf   the task's /etc/hosts and /etc/resolv.conf (own namespace only)
//   network/<taskId>.json, .netns, ipam/   each task's network (node/task_network.h)
//   managed-agents/execute-command/    the exec agent binary (read-only mount source)
//   managed-agents/config/<taskId>/<n>/agent.json   per-container agent config (0400)
//   managed-agents/config/<taskId>/<n>/gateway.sock the agent's dialer (node/agent_socket.h)
#include <atomic>
#include <cstdint>
#include <string>

#include "auth/sigv4.h"
#include "common/result.h"
#include "node/cni.h"

namespace porthole::node {

struct NodeOptions {
  std::string data_dir;
  std::string endpoint;           // https://IP:PORT of portholed
  // How the node joins when it holds no live instance credentials of its own:
  // a join token (single use), or IAM credentials allowed
  // ecs:RegisterContainerInstance. Either is used once; afterwards the node
  // signs with its instance's credentials only, renewed as they age.
  std::string join_token;
  auth::Credentials join_credentials;
  std::string region;
  std::string ca_pem;             // trusted CA for the endpoint ("" → system roots)
  std::string exec_agent_path;    // porthole-exec-agent binary to install
  bool stop_tasks_on_exit = false;  // `porthole up`: leave nothing running
  CniConfig network;  // bridge and awsvpc tasks (node/task_network.h); ipam_dir empty: in the data directory
  // Tasks' control groups go under this group (node/cgroups.h); every
  // container gets at most `pids_limit` processes (0: no limit).
  std::string cgroup_parent = "porthole";  // one node's own: its start-up removes groups of tasks it does not run
  int64_t pids_limit = 4096;
};

// Removes everything a node left in `options.data_dir` — every task's
// containers, namespaces, addresses and rules — and then the bridge (see
// TaskNetworks::RemoveBridge), without the control plane:
// for retiring a node, or after tests. Refused ("DataDirectoryInUse") while
// a node runs on the directory.
Status CleanUpNode(const NodeOptions& options);

// Runs until `stop` becomes true (checked at least once per second).
Status RunNode(const NodeOptions& options, const std::atomic<bool>& stop);

}  // namespace porthole::node
