#pragma once
// Network namespaces that outlive the process that made them: a new
// namespace's nsfs inode bind-mounted on a file (as `ip netns add` does), so
// CNI plugins can configure it before the container starts and runc can join
// it by path (the OCI config's linux.namespaces[].path).
#include <string>

#include "common/result.h"

namespace porthole::node {

// Creates an empty file at `path` (which must not exist; its directory must)
// and mounts a new network namespace on it. On failure nothing is left.
// Errors: "IoError".
Status CreateNetworkNamespace(const std::string& path);

// Unmounts the namespace at `path` (lazily: a process still inside keeps it
// until it leaves) and removes the file. A missing file, or one with nothing
// mounted on it, is not an error.
Status RemoveNetworkNamespace(const std::string& path);

// True when a network namespace is mounted at `path`.
bool IsNetworkNamespaceMounted(const std::string& path);

}  // namespace porthole::node
