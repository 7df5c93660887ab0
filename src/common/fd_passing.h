#pragma once
// One message with an optional descriptor over a unix stream socket
// (SCM_RIGHTS): how the node hands an exec agent a TCP connection it made in
// the host's network namespace (node/agent_socket.h, net/https_client.h).
#include <string>
#include <string_view>

#include "common/result.h"

namespace porthole {

// The most text one message carries.
inline constexpr size_t kMaxFdMessageText = 1024;

// Sends `text` (1 to kMaxFdMessageText bytes) and, when `fd` >= 0, a copy of
// `fd`, as one sendmsg (MSG_NOSIGNAL). Errors: "IoError".
Status SendWithFd(int socket, std::string_view text, int fd);

struct FdMessage {
  std::string text;
  int fd = -1;  // owned by the receiver, close-on-exec; -1 when none came
};

// Receives one message SendWithFd sent. Descriptors beyond the first, and any
// that arrive with a truncated message, are closed. Errors: "WouldBlock" (a
// non-blocking socket with nothing to read), "ConnectionClosed" (EOF),
// "IoError".
Result<FdMessage> ReceiveWithFd(int socket);

}  // namespace porthole
