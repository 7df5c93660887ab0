#pragma once
// Host-side file operations on directories the node owns (bundles, the
// image store). Trees may contain attacker-made symlinks (an image's files),
// so nothing here follows a symlink out of the tree.
#include <string>
#include <sys/types.h>

#include "common/files.h"  // WriteFileAtomic
#include "common/result.h"

namespace porthole::node {

// Copies the tree `source` to `dest` (which must not exist) with `cp -a`:
// modes, owners, timestamps and symlinks (as symlinks) preserved; reflinks
// where the filesystem offers them. On failure `dest` is removed.
Status CopyTree(const std::string& source, const std::string& dest);

// Removes the tree at `path` without following symlinks or crossing into
// other mounts (`rm -rf --one-file-system`). `path` must be absolute,
// normalized (no "." or ".." components) and not "/". A missing path is
// not an error.
Status RemoveTree(const std::string& path);


// True when `path` is absolute, has no "." or ".." component, no empty
// component (no "//"), no trailing '/', and no NUL byte. "/" itself is
// accepted.
bool IsNormalizedAbsolutePath(const std::string& path);

}  // namespace porthole::node
