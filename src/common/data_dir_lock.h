#pragma once
// One program per data directory. `porthole up`, `portholed` and
// `porthole-node` each hold an exclusive lock on a file of their data
// directory while they run, so a second one on the same directory refuses to
// start (two control planes on one database, or two nodes driving the same
// containers, would each undo the other's work) and says who holds it.
//
// The lock is flock(2) on `<dir>/lock`: the kernel drops it when its holder
// dies, however it dies, so a crash never leaves a stale lock behind; the
// file itself may stay. Descriptors are close-on-exec, and the node's
// container supervisors close all inherited descriptors, so no child keeps
// the directory locked after its parent is gone.
#include <string>

#include "common/result.h"

namespace porthole {

class DataDirLock {
 public:
  DataDirLock() = default;
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock

  bool held() const { return fd_ >= 0; }

 private:
  friend Result<DataDirLock> LockDataDir(const std::string& dir, const std::string& program);
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Locks `dir` (which must exist) for `program` (a name shown to whoever is
// refused). Error "DataDirectoryInUse" naming the holder's program and pid
// when another process holds it; "ConfigError" when the file cannot be opened.
Result<DataDirLock> LockDataDir(const std::string& dir, const std::string& program);

}  // namespace porthole
