#include "node/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/files.h"

namespace porthole::node {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// The v1 hierarchies the node makes groups and sets limits in; the others
// (cpuset, devices, blkio, ...) only runc writes, for `main`.
const std::vector<std::string> kManagedV1 = {"memory", "cpu", "pids", "freezer"};
constexpr int64_t kCpuPeriodUs = 100000;

Error CgroupError(const std::string& what, int err) {
  return MakeError("CgroupError", what + ": " + strerror(err), 500);
}

Status WriteValue(const std::string& file, const std::string& value) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return CgroupError("open " + file, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return CgroupError("write " + value + " to " + file, err);
  return OkStatus();
}

std::string ReadValue(const std::string& file) { return ReadFile(file, 1 << 20).value_or(""); }

bool IsFs(const std::string& path, long magic) {
  struct statfs s;
  return ::statfs(path.c_str(), &s) == 0 && static_cast<long>(s.f_type) == magic;
}

// "key N" from a flat-keyed file (memory.events, memory.oom_control).
int64_t KeyedValue(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string k; lines >> k;) {
    int64_t v = 0;
    if (!(lines >> v)) break;
    if (k == key) return v;
  }
  return 0;
}

std::vector<int> PidsIn(const std::string& procs_file) {
  std::vector<int> pids;
  std::istringstream in(ReadValue(procs_file));
  for (int pid; in >> pid;) pids.push_back(pid);
  return pids;
}

// `dir` and every directory below it, deepest first.
std::vector<std::string> SubtreeDeepestFirst(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && !e.is_symlink(ec)) {
      auto sub = SubtreeDeepestFirst(e.path().string());
      out.insert(out.end(), sub.begin(), sub.end());
    }
  out.push_back(dir);
  return out;
}

}  // namespace

bool IsValidCgroupPath(const std::string& path) {
  if (path.empty() || path.size() > 512 || path.front() == '/' || path.back() == '/') return false;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.'))
        return false;
  }
  return true;
}

Result<Cgroups> Cgroups::Detect(const std::string& mount_root) {
  Cgroups c;
  c.root_ = mount_root;
  if (IsFs(mount_root, CGROUP2_SUPER_MAGIC)) {
    std::string controllers = ReadValue(mount_root + "/cgroup.controllers");
    for (const char* needed : {"memory", "cpu", "pids"})
      if (controllers.find(needed) == std::string::npos)
        return MakeError("CgroupError", std::string("the cgroup v2 controller ") + needed + " is not available", 500);
    c.v2_ = true;
    return c;
  }
  for (const auto& controller : kManagedV1)
    if (!IsFs(mount_root + "/" + controller, CGROUP_SUPER_MAGIC))
      return MakeError("CgroupError", "no cgroup v1 " + controller + " hierarchy at " + mount_root + "/" + controller,
                       500);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(mount_root, ec)) {
    if (e.is_symlink(ec)) continue;  // cpu -> cpu,cpuacct: the same hierarchy
    if (IsFs(e.path().string(), CGROUP_SUPER_MAGIC)) c.all_v1_.push_back(e.path().string());
  }
  return c;
}

std::string Cgroups::Dir(const std::string& controller, const std::string& path) const {
  return v2_ ? root_ + "/" + path : root_ + "/" + controller + "/" + path;
}

std::vector<std::string> Cgroups::Dirs(const std::string& path) const {
  if (v2_) return {root_ + "/" + path};
  std::vector<std::string> dirs;
  for (const auto& c : kManagedV1) dirs.push_back(Dir(c, path));
  return dirs;
}

Status Cgroups::Create(const std::string& path, const CgroupLimits& limits) {
  if (!IsValidCgroupPath(path)) return MakeError("InvalidParameterException", "invalid cgroup path \"" + path + "\"");
  if (v2_) {
    // Each level hands the controllers down to the next.
    std::string dir = root_;
    std::istringstream parts(path);
    for (std::string part; std::getline(parts, part, '/');) {
      PORTHOLE_TRY(WriteValue(dir + "/cgroup.subtree_control", "+memory +cpu +pids"));
      dir += "/" + part;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return CgroupError("mkdir " + dir, errno);
    }
  } else {
    for (const auto& dir : Dirs(path)) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return MakeError("CgroupError", "mkdir " + dir + ": " + ec.message(), 500);
    }
  }
  const std::string memory = Dir("memory", path), cpu = Dir("cpu", path), pids = Dir("pids", path);
  if (limits.memory_bytes)
    PORTHOLE_TRY(WriteValue(memory + (v2_ ? "/memory.max" : "/memory.limit_in_bytes"),
                            std::to_string(*limits.memory_bytes)));
  if (limits.memory_reservation_bytes)
    PORTHOLE_TRY(WriteValue(memory + (v2_ ? "/memory.low" : "/memory.soft_limit_in_bytes"),
                            std::to_string(*limits.memory_reservation_bytes)));
  if (limits.cpu_shares) {
    int64_t shares = std::clamp<int64_t>(*limits.cpu_shares, 2, 262144);
    if (v2_)  // the conversion runc and the kernel documentation use
      PORTHOLE_TRY(WriteValue(cpu + "/cpu.weight", std::to_string(1 + ((shares - 2) * 9999) / 262142)));
    else
      PORTHOLE_TRY(WriteValue(cpu + "/cpu.shares", std::to_string(shares)));
  }
  if (limits.cpu_quota_millicores) {
    int64_t quota = std::max<int64_t>(1000, *limits.cpu_quota_millicores * kCpuPeriodUs / 1000);
    if (v2_) {
      PORTHOLE_TRY(WriteValue(cpu + "/cpu.max", std::to_string(quota) + " " + std::to_string(kCpuPeriodUs)));
    } else {
      PORTHOLE_TRY(WriteValue(cpu + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs)));
      PORTHOLE_TRY(WriteValue(cpu + "/cpu.cfs_quota_us", std::to_string(quota)));
    }
  }
  if (limits.pids_max) PORTHOLE_TRY(WriteValue(pids + "/pids.max", std::to_string(*limits.pids_max)));
  return OkStatus();
}

Status Cgroups::AddProcess(const std::string& path, int pid, const CgroupLimits& limits) {
  if (!IsValidCgroupPath(path) || pid <= 0) return MakeError("InvalidParameterException", "invalid cgroup or pid");
  const std::string text = std::to_string(pid);
  if (v2_) return WriteValue(Dir("", path) + "/cgroup.procs", text);
  PORTHOLE_TRY(WriteValue(TreeDir(path) + "/cgroup.procs", text));
  if (limits.memory_bytes || limits.memory_reservation_bytes)
    PORTHOLE_TRY(WriteValue(Dir("memory", path) + "/cgroup.procs", text));
  if (limits.cpu_shares || limits.cpu_quota_millicores) PORTHOLE_TRY(WriteValue(Dir("cpu", path) + "/cgroup.procs", text));
  if (limits.pids_max) PORTHOLE_TRY(WriteValue(Dir("pids", path) + "/cgroup.procs", text));
  return OkStatus();
}

bool Cgroups::Contains(const std::string& path, int pid) const {
  std::istringstream lines(ReadValue("/proc/" + std::to_string(pid) + "/cgroup"));
  const std::string want = "/" + path;
  for (std::string line; std::getline(lines, line);) {
    // hierarchy-id:controllers:path
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string group = line.substr(second + 1);
    bool relevant = v2_ ? controllers.empty() : ("," + controllers + ",").find(",freezer,") != std::string::npos;
    if (relevant) return group == want || group.rfind(want + "/", 0) == 0;
  }
  return false;
}

std::vector<int> Cgroups::Processes(const std::string& path) const {
  std::vector<int> pids;
  if (!IsValidCgroupPath(path)) return pids;
  for (const auto& dir : SubtreeDeepestFirst(TreeDir(path))) {
    auto some = PidsIn(dir + "/cgroup.procs");
    pids.insert(pids.end(), some.begin(), some.end());
  }
  return pids;
}

Status Cgroups::KillAll(const std::string& path, std::chrono::milliseconds timeout) {
  if (!IsValidCgroupPath(path)) return MakeError("InvalidParameterException", "invalid cgroup path");
  std::error_code ec;
  if (!fs::exists(TreeDir(path), ec) || Processes(path).empty()) return OkStatus();  // nothing to stop
  const std::string kill_file = root_ + "/" + path + "/cgroup.kill";
  if (v2_ && ::access(kill_file.c_str(), W_OK) == 0) {
    PORTHOLE_TRY(WriteValue(kill_file, "1"));
  } else {
    // Frozen, nothing in the group can fork a child we would not see.
    const std::string state = v2_ ? root_ + "/" + path + "/cgroup.freeze" : Dir("freezer", path) + "/freezer.state";
    const std::string frozen = v2_ ? "1" : "FROZEN", thawed = v2_ ? "0" : "THAWED";
    bool froze = WriteValue(state, frozen).ok();
    auto freeze_deadline = Clock::now() + std::chrono::seconds(1);
    while (froze && !v2_ && ReadValue(state).rfind("FROZEN", 0) != 0 && Clock::now() < freeze_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int pid : Processes(path)) ::kill(pid, SIGKILL);
    if (froze) (void)WriteValue(state, thawed);  // SIGKILL is delivered once thawed
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = Processes(path);
    if (left.empty()) return OkStatus();
    if (Clock::now() >= deadline)
      return MakeError("CgroupError", std::to_string(left.size()) + " processes of " + path + " survived SIGKILL", 500);
    for (int pid : left) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status Cgroups::Remove(const std::string& path) {
  if (!IsValidCgroupPath(path)) return MakeError("InvalidParameterException", "invalid cgroup path");
  Status killed = KillAll(path);
  std::vector<std::string> hierarchies = v2_ ? std::vector<std::string>{root_} : all_v1_;
  std::optional<Error> first;
  for (const auto& h : hierarchies)
    for (const auto& dir : SubtreeDeepestFirst(h + "/" + path))
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && !first) first = CgroupError("rmdir " + dir, errno);
  if (!killed) return killed;
  if (first) return *first;
  return OkStatus();
}

std::vector<std::string> Cgroups::Children(const std::string& path) const {
  std::vector<std::string> out;
  if (!IsValidCgroupPath(path)) return out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Dir("memory", path), ec))
    if (e.is_directory(ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Cgroups::OomKills(const std::string& path) const {
  if (!IsValidCgroupPath(path)) return 0;
  if (v2_) return KeyedValue(ReadValue(root_ + "/" + path + "/memory.events"), "oom_kill");
  return KeyedValue(ReadValue(Dir("memory", path) + "/memory.oom_control"), "oom_kill");
}

struct OomMonitor::State {
  const Cgroups& cgroups;
  std::mutex mu;
  struct Watched {
    int event_fd = -1;    // v1: signalled by the kernel on OOM
    int control_fd = -1;  // v1: memory.oom_control, held open while registered
    int64_t baseline = 0;  // v2: oom_kill when watching began
    bool fired = false;
  };
  std::map<std::string, Watched> watched;
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  bool stopping = false;
  std::thread thread;

  explicit State(const Cgroups& c) : cgroups(c) {
    if (!cgroups.v2()) thread = std::thread([this] { Loop(); });
  }

  void Wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }

  void Loop() {
    for (;;) {
      std::vector<pollfd> fds{{wake_fd, POLLIN, 0}};
      std::vector<std::string> paths{""};
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
        for (const auto& [path, w] : watched) {
          fds.push_back({w.event_fd, POLLIN, 0});
          paths.push_back(path);
        }
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      uint64_t count;
      if (fds[0].revents & POLLIN) (void)!::read(wake_fd, &count, sizeof count);
      std::lock_guard<std::mutex> lock(mu);
      for (size_t i = 1; i < fds.size(); i++) {
        if (!(fds[i].revents & POLLIN)) continue;
        auto it = watched.find(paths[i]);
        if (it == watched.end() || it->second.event_fd != fds[i].fd) continue;
        if (::read(it->second.event_fd, &count, sizeof count) == sizeof count) {
          // The notification also fires when the group is removed.
          std::error_code ec;
          if (fs::exists(cgroups.MemoryDir(paths[i]), ec)) it->second.fired = true;
        }
      }
    }
  }

  static void Close(Watched& w) {
    if (w.event_fd >= 0) ::close(w.event_fd);
    if (w.control_fd >= 0) ::close(w.control_fd);
    w.event_fd = w.control_fd = -1;
  }
};

OomMonitor::OomMonitor(const Cgroups& cgroups) : state_(std::make_unique<State>(cgroups)) {}

OomMonitor::~OomMonitor() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  state_->Wake();
  if (state_->thread.joinable()) state_->thread.join();
  for (auto& [path, w] : state_->watched) State::Close(w);
  ::close(state_->wake_fd);
}

Status OomMonitor::Watch(const std::string& path) {
  if (!IsValidCgroupPath(path)) return MakeError("InvalidParameterException", "invalid cgroup path");
  State::Watched w;
  if (state_->cgroups.v2()) {
    w.baseline = state_->cgroups.OomKills(path);
  } else {
    const std::string dir = state_->cgroups.MemoryDir(path);
    w.control_fd = ::open((dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (w.control_fd < 0) return CgroupError("open " + dir + "/memory.oom_control", errno);
    w.event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    Status s = w.event_fd < 0 ? CgroupError("eventfd", errno)
                              : WriteValue(dir + "/cgroup.event_control",
                                           std::to_string(w.event_fd) + " " + std::to_string(w.control_fd));
    if (!s) {
      State::Close(w);
      return s;
    }
  }
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->watched.find(path);
    if (it != state_->watched.end()) State::Close(it->second);
    state_->watched[path] = w;
  }
  state_->Wake();
  return OkStatus();
}

bool OomMonitor::Fired(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->watched.find(path);
  if (it == state_->watched.end()) return false;
  if (state_->cgroups.v2()) return state_->cgroups.OomKills(path) > it->second.baseline;
  return it->second.fired;
}

void OomMonitor::Unwatch(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->watched.find(path);
    if (it == state_->watched.end()) return;
    State::Close(it->second);
    state_->watched.erase(it);
  }
  state_->Wake();
}

}  // namespace porthole::node
