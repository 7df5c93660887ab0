#pragma once
// What the API needs from the message gateway (implemented in src/gateway).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace porthole::api {

struct SessionRequest {
  std::string cluster_name;
  std::string task_id;
  std::string task_arn;
  std::string container_name;
  std::string runtime_id;
  std::string command;
  bool interactive = true;
  std::string principal_arn;  // who asked, for the audit trail and the session record
  std::string owner;          // the asker's unique identity (aws:userid): only it may resume or end the session
  std::string id_prefix = "ecs-execute-command-";  // session ids are <prefix><random>
  std::string stream_host;    // host:port the client reached us on; the stream URL uses it
  // Caps the client asked for on the session's control group, below the
  // cluster's (Porthole's CLI --session-memory/--session-cpu); 0: none.
  int64_t memory_mib = 0;
  int64_t cpu_units = 0;
};

struct SessionGrant {
  std::string session_id;
  std::string stream_url;
  std::string token_value;
};

// What the gateway holds in memory for sessions (DescribeGateway).
struct GatewayStats {
  size_t sessions = 0;
  size_t agents = 0;              // connected control channels
  size_t queued_bytes = 0;        // waiting in connected ends' send queues
  size_t max_queued_bytes = 0;    // the most for one end
  size_t pending_bytes = 0;       // held for ends that are not connected
  uint64_t stalled_ends = 0;      // disconnected for accepting nothing, since start
};

class SessionBroker {
 public:
  virtual ~SessionBroker() = default;
  // True when the exec agent of this container holds an open control channel.
  virtual bool AgentConnected(const std::string& task_id, const std::string& container_name) const = 0;
  // Creates a session and asks the agent to open its end.
  virtual Result<SessionGrant> StartSession(const SessionRequest& request) = 0;
  // Ends every session of the task (the task is stopping).
  virtual void EndTaskSessions(const std::string& task_id, const std::string& reason) = 0;
  // A new client token for a session whose client may reconnect; nullopt
  // when the session is gone (SSM answers ResumeSession without a token).
  virtual std::optional<SessionGrant> ResumeSession(const std::string& session_id, const std::string& stream_host) = 0;
  // Ends the session; false if there is no such active session.
  virtual bool TerminateSession(const std::string& session_id) = 0;
  virtual GatewayStats Stats() const { return {}; }
};

}  // namespace porthole::api
