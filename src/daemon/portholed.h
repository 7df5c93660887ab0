#pragma once
// portholed: the control plane process. Owns the data directory layout:
//   porthole.json   account id and region, chosen on first start
//   state.db        SQLite (WAL) state
//   ca.pem ca.key server.pem server.key   the private CA and the listener's certificate
//   credentials config                     root credentials and region in the AWS CLI's formats (0600)
#include <cstdint>
#include <functional>
#include <string>

#include "common/result.h"

namespace porthole::daemon {

struct PortholedOptions {
  std::string data_dir;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  std::string region = "us-east-1";
  size_t sessions_per_container = 10;
  // A session end (client or agent) that accepts no data for this long is
  // disconnected and the session ended (backpressure stall limit).
  unsigned stall_timeout_seconds = 60;
};

// Runs until SIGINT/SIGTERM. Calls `on_ready` with the bound URL once the
// listener accepts requests.
Status RunPortholed(const PortholedOptions& options, const std::function<void(const std::string& url)>& on_ready);

}  // namespace porthole::daemon
