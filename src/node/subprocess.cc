#include "node/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "process/spawn.h"

namespace porthole::node {
namespace {

Error InternalError(std::string message) { return MakeError("ServerException", std::move(message), 500); }

// Owns a descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads what is available on `fd` into `sink` (up to `limit` bytes kept).
// Returns false once the stream is at EOF or failed.
bool DrainAvailable(int fd, std::string& sink, size_t limit) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = sink.size() < limit ? limit - sink.size() : 0;
      sink.append(buf, std::min(room, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

}  // namespace

std::string FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name[0] == '/' && ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* env_path = std::getenv("PATH");
  return process::FindInPath(name, env_path && *env_path ? env_path : process::kDefaultPath);
}

Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return InternalError("subprocess: program must be an absolute path");

  int p_out[2] = {-1, -1}, p_err[2] = {-1, -1};
  if (options.stdout_fd < 0 && ::pipe2(p_out, O_CLOEXEC) != 0)
    return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd out_r(p_out[0]), out_w(p_out[1]);
  if (options.stderr_fd < 0 && ::pipe2(p_err, O_CLOEXEC) != 0)
    return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd err_r(p_err[0]), err_w(p_err[1]);

  process::SpawnOptions spawn;
  spawn.argv = argv;
  spawn.env = options.env;
  spawn.stdin_fd = options.stdin_fd;
  spawn.stdout_fd = options.stdout_fd >= 0 ? options.stdout_fd : out_w.get();
  spawn.stderr_fd = options.stderr_fd >= 0 ? options.stderr_fd : err_w.get();
  auto child = process::Spawn(spawn);
  if (!child) return child.error();
  const pid_t pid = child->pid();
  out_w.reset();
  err_w.reset();

  SubprocessResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool out_open = out_r.get() >= 0, err_open = err_r.get() >= 0;
  if (out_open) SetNonBlocking(out_r.get());
  if (err_open) SetNonBlocking(err_r.get());
  bool reaped = false;
  int wstatus = 0;
  for (;;) {
    if (!reaped) {
      pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
      if (w == pid) reaped = true;
    }
    if (reaped) {
      // The child is gone: take what it left in the pipes; a grandchild that
      // kept them open must not hold us up.
      if (out_open) DrainAvailable(out_r.get(), result.out, options.max_capture_bytes);
      if (err_open) DrainAvailable(err_r.get(), result.err, options.max_capture_bytes);
      break;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      return InternalError("timed out after " + std::to_string(options.timeout.count()) + " ms: " + argv[0]);
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err_r.get(), POLLIN, 0};
    int wait_ms = static_cast<int>(
        std::min<int64_t>(20, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1));
    if (n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 5)));
      continue;
    }
    int r = ::poll(fds, n, wait_ms);
    if (r < 0 && errno != EINTR) return InternalError(std::string("poll: ") + std::strerror(errno));
    if (out_open) out_open = DrainAvailable(out_r.get(), result.out, options.max_capture_bytes);
    if (err_open) err_open = DrainAvailable(err_r.get(), result.err, options.max_capture_bytes);
  }
  result.exit_code = process::StatusCode(wstatus);
  return result;
}

Status StartSupervised(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path, const std::string& exit_path, const std::string& supervisor,
                       const std::vector<std::string>& supervisor_options) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return InternalError("supervisor: program must be an absolute path");
  if (supervisor.empty() || supervisor[0] != '/') return InternalError("supervisor: porthole-supervise not found");
  if (log_path.find('\0') != std::string::npos) return InternalError("supervisor: argument contains a NUL byte");
  Fd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (log.get() < 0) return InternalError("open " + log_path + ": " + std::strerror(errno));

  process::SpawnOptions spawn;
  spawn.argv = {supervisor};
  spawn.argv.insert(spawn.argv.end(), supervisor_options.begin(), supervisor_options.end());
  spawn.argv.push_back(exit_path);
  spawn.argv.insert(spawn.argv.end(), argv.begin(), argv.end());
  spawn.env = env;
  spawn.stdout_fd = log.get();
  spawn.stderr_fd = log.get();
  spawn.detach = true;
  spawn.working_directory = "/";
  auto started = process::Spawn(spawn);
  if (!started) return started.error();
  return OkStatus();
}

std::string SupervisorBesideThisProgram() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string dir(self, static_cast<size_t>(n));
  return dir.substr(0, dir.rfind('/')) + "/porthole-supervise";
}

}  // namespace porthole::node
