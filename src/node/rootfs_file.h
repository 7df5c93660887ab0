#pragma once
// Reading files out of a container's root filesystem from the host.
// An image's files are attacker-controlled: `/etc/passwd` may be a symlink to
// the host's `/etc/shadow`, a FIFO, or a gigabyte long. Every lookup here is
// resolved by the kernel inside the root (openat2 RESOLVE_IN_ROOT), never by
// string path concatenation (lesson R-4).
#include <cstddef>
#include <optional>
#include <string>

#include "common/result.h"

namespace porthole::node {

// Reads `path` ("etc/passwd" or "/etc/passwd") as if `root_dir` were "/":
// symlinks and ".." are resolved inside `root_dir`, magic links (/proc/*/fd)
// and mount crossings are refused. Returns nullopt when the file does not
// exist; an error when it is not a regular file, cannot be read, or is
// longer than `max_bytes`.
Result<std::optional<std::string>> ReadFileInRoot(const std::string& root_dir, const std::string& path,
                                                  size_t max_bytes);

}  // namespace porthole::node
