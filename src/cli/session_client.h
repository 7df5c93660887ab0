#pragma once
// The client end of a session data channel (what session-manager-plugin is
// to AWS), with what the plugin lacks: the remote command's exit status, no
// lost output when stdin ends, and Ctrl-C delivered to the remote process.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "net/aws_json_client.h"
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
  // Called when the connection drops without channel_closed (SSM
  // ResumeSession): a new token, nullopt when the session is gone, or an
  // error worth retrying. Without it a drop ends the session.
  std::function<Result<std::optional<std::string>>()> resume;
};

// Runs the session to its end. Returns the remote command's exit status, or
// 255 when the session failed before one was known (the reason is printed).
int RunSession(const SessionGrantView& grant, std::shared_ptr<net::TlsContext> tls,
               const SessionClientOptions& options = {});

// A `resume` callback that calls AmazonSSM.ResumeSession through `ssm`
// (a client signing for service "ssm" on the API endpoint).
std::function<Result<std::optional<std::string>>()> ResumeThrough(net::AwsJsonClient ssm, std::string session_id);

}  // namespace porthole::cli
