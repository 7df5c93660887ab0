#pragma once
// Control groups for tasks, their containers and exec sessions, on cgroup v2
// (the unified hierarchy) or v1 (a hierarchy per controller, as on hybrid
// hosts). Under the node's parent group (`parent`, e.g. "porthole"):
//   <parent>/<task>                        the task's limits (task cpu and memory)
//   <parent>/<task>/<container>            the container's limits; its OOM kills are counted here
//   <parent>/<task>/<container>/main       runc's cgroupsPath: the container's processes and its exec agent
//   <parent>/<task>/<container>/session-<id>   one exec session's process tree
// The node owns every level but `main`, so what happened in a container (an
// OOM kill) can still be read after runc has removed `main`.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::node {

struct CgroupLimits {
  std::optional<int64_t> memory_bytes;              // hard limit
  std::optional<int64_t> memory_reservation_bytes;  // soft limit (v1 soft_limit_in_bytes, v2 memory.low)
  std::optional<int64_t> cpu_shares;                // relative weight, Docker's units (2-262144)
  std::optional<int64_t> cpu_quota_millicores;      // hard cap: 1000 = one CPU
  std::optional<int64_t> pids_max;
};

class Cgroups {
 public:
  // The host's cgroup mounts under `mount_root` (normally /sys/fs/cgroup):
  // v2 when it is itself a cgroup2 mount with controllers, else v1 with the
  // memory, cpu, pids and freezer hierarchies. Errors: "CgroupError".
  static Result<Cgroups> Detect(const std::string& mount_root = "/sys/fs/cgroup");

  bool v2() const { return v2_; }

  // Creates `path` (relative, e.g. "porthole/<task>"; parents made as
  // needed) and applies `limits`. Existing groups keep their processes and
  // take the new limits. Errors: "CgroupError", "InvalidParameterException".
  Status Create(const std::string& path, const CgroupLimits& limits);

  // Moves process `pid` (with its threads) into `path`. On v1 only into the
  // hierarchies `limits` needs, beside freezer (which holds the process
  // tree): each move waits for an RCU grace period, and a session's start
  // waits for its move. `limits`: those `path` was created with.
  Status AddProcess(const std::string& path, int pid, const CgroupLimits& limits = {});

  // Whether `pid` is in `path` or below it (in the freezer hierarchy on v1).
  bool Contains(const std::string& path, int pid) const;

  // The processes in `path` and below.
  std::vector<int> Processes(const std::string& path) const;

  // Kills every process in `path` and below — frozen first, so nothing forks
  // away meanwhile (v2: cgroup.kill) — and waits up to `timeout` for them
  // to be gone. Errors: "CgroupError" naming what survived.
  Status KillAll(const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Kills what is left, then removes `path` and its children in every
  // hierarchy (including those runc made). Missing groups are fine.
  Status Remove(const std::string& path);

  // The sub-groups directly under `path` (e.g. the tasks under the parent).
  std::vector<std::string> Children(const std::string& path) const;

  // How many processes the kernel killed for memory in `path` or below. On
  // v2 the count is hierarchical; on v1 the kernel counts a kill only in the
  // victim's own group (gone with `main`): use OomMonitor there.
  int64_t OomKills(const std::string& path) const;

  // Where `path` is in the memory hierarchy (v2: the unified one).
  std::string MemoryDir(const std::string& path) const { return Dir("memory", path); }
  // Where `path` is in the hierarchy that holds every process of a group's
  // tree (v1: freezer, which the node moves every process into).
  std::string TreeDir(const std::string& path) const { return Dir("freezer", path); }

  // The path runc's linux.cgroupsPath takes for `path`.
  static std::string RuncPath(const std::string& path) { return "/" + path; }

 private:
  // The directories of `path` in the hierarchies the node manages (v2: one).
  std::vector<std::string> Dirs(const std::string& path) const;
  std::string Dir(const std::string& controller, const std::string& path) const;

  bool v2_ = false;
  std::string root_;
  std::vector<std::string> all_v1_;  // every v1 hierarchy's mount, for Remove
};

// Whether the memory limit of a group was hit hard enough for the kernel to
// kill (an OOM in that group or below), on v1 and v2: v1 through the
// memory.oom_control notification (cgroup.event_control), which fires in
// the group whose limit was hit; v2 from memory.events.
class OomMonitor {
 public:
  explicit OomMonitor(const Cgroups& cgroups);
  ~OomMonitor();
  OomMonitor(const OomMonitor&) = delete;
  OomMonitor& operator=(const OomMonitor&) = delete;

  // Starts watching `path` (an existing group). Errors: "CgroupError".
  Status Watch(const std::string& path);
  // True once an OOM kill happened in `path` since Watch.
  bool Fired(const std::string& path);
  void Unwatch(const std::string& path);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True for a relative group path of [A-Za-z0-9_.-] components, no "." or "..".
bool IsValidCgroupPath(const std::string& path);

}  // namespace porthole::node
