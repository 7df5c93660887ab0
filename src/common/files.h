#pragma once
// Whole-file reads and atomic writes, the one place Porthole touches files
// by path in its own data directories.
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace porthole {

// The contents of the regular file at `path`; nullopt when it is missing,
// not a regular file, unreadable, or larger than `max_bytes`.
std::optional<std::string> ReadFile(const std::string& path, size_t max_bytes = 256 * 1024 * 1024);

// Replaces `path` atomically: a temporary file beside it is created with
// O_CREAT|O_EXCL|O_NOFOLLOW and its final `mode` (so there is never a window
// with wider permissions, R-7), written, fsynced, renamed over `path`, and
// the directory fsynced. On failure nothing is left behind. Errors: "IoError".
Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode);

}  // namespace porthole
