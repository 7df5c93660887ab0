#include "common/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace porthole {

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// "PID PROGRAM" as the holder wrote it, or "" when it has not (yet).
std::string HolderOf(int fd) {
  char text[256];
  ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return "";
  std::string holder(text, static_cast<size_t>(n));
  if (size_t end = holder.find('\n'); end != std::string::npos) holder.resize(end);
  size_t space = holder.find(' ');
  if (space == std::string::npos || space == 0 || holder.find_first_not_of("0123456789") != space) return "";
  return holder.substr(space + 1) + " (pid " + holder.substr(0, space) + ")";
}

}  // namespace

Result<DataDirLock> LockDataDir(const std::string& dir, const std::string& program) {
  const std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return MakeError("ConfigError", "cannot open " + path + ": " + std::strerror(errno), 500);
  DataDirLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return MakeError("ConfigError", "cannot lock " + path + ": " + std::strerror(errno), 500);
    std::string holder = HolderOf(fd);
    return MakeError("DataDirectoryInUse", "the data directory " + dir + " is in use by " +
                                               (holder.empty() ? "another process" : holder) +
                                               "; stop it first, or choose another directory",
                     409);
  }
  // Ours now: say who holds it, for the next one to be refused.
  const std::string holder = std::to_string(::getpid()) + " " + program + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    return MakeError("ConfigError", "cannot write " + path + ": " + std::strerror(errno), 500);
  return lock;
}

}  // namespace porthole
