#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/ids.h"

namespace porthole {

namespace {
Status WriteAll(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError("IoError", std::strerror(errno), 500);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}
}  // namespace

std::optional<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return std::nullopt;
  }
  std::string content;
  content.reserve(static_cast<size_t>(st.st_size));
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || content.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string prefix = (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + "." +
                       path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp-";

  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    tmp = prefix + ids::RandomHex(8);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno != EEXIST && errno != EINTR) break;
  }
  if (fd < 0) {
    int open_errno = errno;
    return MakeError("IoError", "cannot create a file beside " + path + ": " + std::strerror(open_errno), 500);
  }

  Status written = WriteAll(fd, content);
  if (written.ok() && ::fsync(fd) != 0) written = MakeError("IoError", std::strerror(errno), 500);
  if (::close(fd) != 0 && written.ok()) written = MakeError("IoError", std::strerror(errno), 500);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    written = MakeError("IoError", std::strerror(errno), 500);
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return MakeError("IoError", "cannot write " + path + ": " + written.error().message, 500);
  }

  // Make the rename itself durable. The new file is already in place, so a
  // failure here is not reported.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return OkStatus();
}

}  // namespace porthole
