#pragma once
// porthole-exec-agent: runs inside a task's container. It never listens: it
// dials the gateway, keeps a control channel open (reconnecting with
// backoff), and for every session it is told about opens a data channel and
// runs the command on a fresh PTY (shared/protocol/session-data-channel.md).
#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::agent {

// What porthole-node writes for the agent (read-only mount, mode 0400),
// re-read before every connection so refreshed credentials take effect.
struct AgentConfig {
  std::string endpoint;  // https://IP:PORT of the gateway
  // The node's socket (node/agent_socket.h): it hands over connections to
  // `endpoint` made outside the container's network namespace, and gives
  // each session a control group of its own. Empty: dial `endpoint`
  // directly, sessions ungrouped.
  std::string node_socket;
  std::string region;
  std::string cluster;
  std::string task_id;
  std::string container_name;
  std::string ca_pem;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

Result<AgentConfig> LoadAgentConfig(const std::string& path);

// Runs until killed. `child_env` is the environment of session commands.
int RunExecAgent(const std::string& config_path, std::vector<std::string> child_env);

}  // namespace porthole::agent
