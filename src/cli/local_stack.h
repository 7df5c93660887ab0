#pragma once
// `porthole up` and `porthole env`: the embedded default, a control plane
// and one node on this machine, and the environment that points the AWS CLI
// (and Porthole's own CLI) at it.
#include <cstdint>
#include <string>

namespace porthole::cli {

// The default data directory: $PORTHOLE_DATA_DIR, else ~/.porthole.
std::string DefaultDataDir();

// Starts `portholed` and `porthole-node` (found next to this program) as
// children, prints "ready https://127.0.0.1:PORT" once the API answers and the
// node has registered, and on SIGINT/SIGTERM stops the node (which stops and
// removes its tasks) and then the control plane. Returns the exit status.
int RunUp(const std::string& data_dir, uint16_t port);

// Prints the export lines for `data_dir` (see README). Returns the exit status.
int PrintEnv(const std::string& data_dir);

}  // namespace porthole::cli
