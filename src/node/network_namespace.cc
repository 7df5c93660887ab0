#include "node/network_namespace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <thread>

namespace porthole::node {
namespace {

Error IoError(const std::string& what, int err) { return MakeError("IoError", what + ": " + strerror(err), 500); }

}  // namespace

bool IsNetworkNamespaceMounted(const std::string& path) {
  struct statfs fs;
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

Status CreateNetworkNamespace(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return IoError("create " + path, errno);
  ::close(fd);
  // unshare(CLONE_NEWNET) moves only the calling thread, so a short-lived
  // thread makes the namespace and pins it; the node's own threads stay put.
  int err = 0;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    const std::string self = "/proc/self/task/" + std::to_string(::gettid()) + "/ns/net";
    if (::mount(self.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) err = errno;
  }).join();
  if (err != 0) {
    ::unlink(path.c_str());
    return IoError("new network namespace at " + path, err);
  }
  return OkStatus();
}

Status RemoveNetworkNamespace(const std::string& path) {
  while (IsNetworkNamespaceMounted(path))
    if (::umount2(path.c_str(), MNT_DETACH) != 0) return IoError("unmount " + path, errno);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("remove " + path, errno);
  return OkStatus();
}

}  // namespace porthole::node
