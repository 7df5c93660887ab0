#pragma once
// The client end of a session data channel (what session-manager-plugin is
// to AWS), with what the plugin lacks: the remote command's exit status, no
// lost output when stdin ends, and Ctrl-C delivered to the remote process.
#include <memory>
#include <string>

#include "net/tls.h"

namespace porthole::cli {

struct SessionGrantView {
  std::string session_id;
  std::string stream_url;
  std::string token_value;
};

struct SessionClientOptions {
  int stdin_fd = 0;
  int stdout_fd = 1;
  bool print_banner = true;  // "Starting session with SessionId: ..." on stderr
};

// Runs the session to its end. Returns the remote command's exit status, or
// 255 when the session failed before one was known (the reason is printed).
int RunSession(const SessionGrantView& grant, std::shared_ptr<net::TlsContext> tls,
               const SessionClientOptions& options = {});

}  // namespace porthole::cli
