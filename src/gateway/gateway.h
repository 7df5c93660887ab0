#pragma once
// The message gateway: exec agents' control channels and the sessions' data
// channels, on the same TLS listener as the API.
//   /v1/control-channel/<taskId>?container=<name>  agent, SigV4-signed with its task credentials
//   /v1/data-channel/<sessionId>                   client (plugin / porthole CLI) and agent
// Data channels speak shared/protocol/session-data-channel.md. The gateway
// relays ClientMessages between the two ends without changing them (sequence
// numbers and acknowledgements are end to end), validates every frame, and
// closes a channel with `channel_closed` and a reason on anything malformed.
// It always completes the WebSocket upgrade: the plugin hangs forever on a
// refused one (§8), so errors travel as channel_closed.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "api/control_plane.h"
#include "api/session_broker.h"
#include "net/https_server.h"
#include "net/websocket.h"

namespace porthole::gateway {

struct GatewayOptions {
  std::chrono::seconds token_lifetime{60};      // a session's tokens must be used within this
  std::chrono::seconds open_timeout{30};        // first frame after the upgrade
  size_t max_pending_bytes = 8 * 1024 * 1024;   // queued for an end that is not connected yet
  // Backpressure on the relay: frames for a connected end wait while more
  // than this is queued for it (the gateway stops reading the sender, whose
  // own flow control then holds back its source) ...
  size_t max_queued_bytes_per_end = 256 * 1024;
  // ... and an end that accepts nothing for this long is disconnected, the
  // session ended with a reason.
  std::chrono::milliseconds stall_timeout{60000};
  // How long a session outlives a dropped client or agent connection,
  // waiting for it to come back (ResumeSession / the agent re-dialling).
  std::chrono::seconds reconnect_grace{60};
  // Concurrent sessions per container, however they were started
  // (ExecuteCommand or ssm:StartSession): the exec agent's session workers.
  size_t max_sessions_per_container = 10;
};

class Gateway final : public api::SessionBroker {
 public:
  Gateway(boost::asio::any_io_executor executor, api::ControlPlane& control_plane, store::Store& store,
          GatewayOptions options = {});
  ~Gateway() override;

  // True for request targets the gateway serves.
  static bool Serves(const std::string& target);
  boost::asio::awaitable<void> HandleWebSocket(net::HttpRequest request, net::RequestContext context,
                                               std::shared_ptr<net::WebSocket> ws);

  // api::SessionBroker
  bool AgentConnected(const std::string& task_id, const std::string& container_name) const override;
  Result<api::SessionGrant> StartSession(const api::SessionRequest& request) override;
  void EndTaskSessions(const std::string& task_id, const std::string& reason) override;
  std::optional<api::SessionGrant> ResumeSession(const std::string& session_id,
                                                 const std::string& stream_host) override;
  bool TerminateSession(const std::string& session_id) override;

  size_t ActiveSessionCount() const { return sessions_.size(); }
  // What the gateway holds in memory for sessions, for operators and tests.
  api::GatewayStats Stats() const override;

 private:
  struct Session;
  struct ControlChannel;
  boost::asio::awaitable<void> ServeControlChannel(net::HttpRequest request, std::shared_ptr<net::WebSocket> ws,
                                                   std::string task_id);
  boost::asio::awaitable<void> ServeDataChannel(net::HttpRequest request, std::shared_ptr<net::WebSocket> ws,
                                                std::string session_id);
  void EndSession(std::shared_ptr<Session> session, const std::string& reason);
  // Starts the grace period after one end of `session` dropped.
  void AwaitReconnect(const std::shared_ptr<Session>& session, bool agent_side);
  std::string StreamUrl(const std::string& stream_host, const std::string& session_id) const;
  // The session as DescribeSessions shows it; a failed write is logged (the
  // session goes on: its record is history, not a decision).
  void RecordSession(const Session& session, model::SessionStatus status, const std::string& reason);

  boost::asio::any_io_executor executor_;
  api::ControlPlane& control_plane_;
  store::Store& store_;
  store::SessionRepository session_records_{store_};
  uint64_t stalled_ends_ = 0;
  GatewayOptions options_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::map<std::string, std::shared_ptr<ControlChannel>> agents_;  // "<taskId>/<container>"
};

}  // namespace porthole::gateway
