#include "node/rootfs_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace porthole::node {
namespace {

Error ReadError(const std::string& path, const std::string& why) {
  return MakeError("ContainerStartFailed", "cannot read " + path + " in the container image: " + why, 500);
}

}  // namespace

Result<std::optional<std::string>> ReadFileInRoot(const std::string& root_dir, const std::string& path,
                                                  size_t max_bytes) {
  if (path.empty() || path.find('\0') != std::string::npos) return ReadError(path, "invalid path");
  int root = ::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ReadError(path, std::string("root directory: ") + std::strerror(errno));

  open_how how;
  std::memset(&how, 0, sizeof how);
  // O_NONBLOCK: opening a FIFO planted in the image must not hang us.
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd;
  do fd = ::syscall(SYS_openat2, root, path.c_str(), &how, sizeof how);
  while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  int open_errno = errno;
  ::close(root);
  if (fd < 0) {
    if (open_errno == ENOENT) return std::optional<std::string>();
    return ReadError(path, std::strerror(open_errno));
  }

  std::string content;
  struct stat st;
  if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(static_cast<int>(fd));
    return ReadError(path, "not a regular file");
  }
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(static_cast<int>(fd), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(static_cast<int>(fd));
      return ReadError(path, std::strerror(e));
    }
    if (n == 0) break;
    if (content.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(static_cast<int>(fd));
      return ReadError(path, "larger than " + std::to_string(max_bytes) + " bytes");
    }
    content.append(buf, static_cast<size_t>(n));
  }
  ::close(static_cast<int>(fd));
  return std::optional<std::string>(std::move(content));
}

}  // namespace porthole::node
