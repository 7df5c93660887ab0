#include "node/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

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

// NUL-terminated copies of strings, built before fork.
class CStrings {
 public:
  explicit CStrings(const std::vector<std::string>& strings) : storage_(strings) {
    for (auto& s : storage_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char* const* get() { return ptrs_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> ptrs_;
};

bool HasNul(const std::vector<std::string>& strings) {
  for (const auto& s : strings)
    if (s.find('\0') != std::string::npos) return true;
  return false;
}

// Blocks every signal in the calling thread for the lifetime of the object,
// so no handler of the parent runs in a freshly forked child before the
// child has reset its dispositions.
class SignalBlock {
 public:
  SignalBlock() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

// --- async-signal-safe helpers for forked children ---

void ChildWrite(int fd, const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  while (n > 0) {
    ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Default dispositions for every signal, then an empty mask.
void ChildResetSignals() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for KILL/STOP
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

// Makes `in`, `out`, `err` the child's 0, 1, 2 and closes every other
// descriptor except `keep` (which must be >= 3; -1 for none). Returns false
// on failure.
bool ChildSetupFds(int in, int out, int err, int keep) {
  // Move the sources above 2 first so that dup2 cannot clobber one of them.
  int src[3] = {in, out, err};
  for (int& fd : src) {
    fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return false;
  }
  for (int target = 0; target < 3; ++target)
    if (::dup2(src[target], target) < 0) return false;  // dup2 clears FD_CLOEXEC on the target
  if (keep >= 3) {
    if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
    ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
  } else {
    ::close_range(3, ~0U, 0);
  }
  return true;
}

int StatusCode(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

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
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return name[0] == '/' && ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* env_path = std::getenv("PATH");
  std::string path = env_path && *env_path ? env_path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty() && dir[0] == '/') {
      std::string candidate = dir + "/" + name;
      struct stat st;
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    start = end + 1;
  }
  return "";
}

Result<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return InternalError("subprocess: program must be an absolute path");
  if (HasNul(argv) || HasNul(options.env)) return InternalError("subprocess: argument contains a NUL byte");

  CStrings c_argv(argv);
  CStrings c_env(options.env);

  Fd dev_null;
  if (options.stdin_fd < 0 || options.stdout_fd < 0 || options.stderr_fd < 0) {
    dev_null.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (dev_null.get() < 0) return InternalError(std::string("open /dev/null: ") + std::strerror(errno));
  }
  int p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, p_exec[2] = {-1, -1};
  if (options.stdout_fd < 0 && ::pipe2(p_out, O_CLOEXEC) != 0)
    return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd out_r(p_out[0]), out_w(p_out[1]);
  if (options.stderr_fd < 0 && ::pipe2(p_err, O_CLOEXEC) != 0)
    return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd err_r(p_err[0]), err_w(p_err[1]);
  if (::pipe2(p_exec, O_CLOEXEC) != 0) return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd exec_r(p_exec[0]), exec_w(p_exec[1]);

  int child_in = options.stdin_fd >= 0 ? options.stdin_fd : dev_null.get();
  int child_out = options.stdout_fd >= 0 ? options.stdout_fd : out_w.get();
  int child_err = options.stderr_fd >= 0 ? options.stderr_fd : err_w.get();
  const char* path = argv[0].c_str();

  pid_t pid;
  {
    SignalBlock block;
    pid = ::fork();
    if (pid == 0) {
      // Child: async-signal-safe calls only.
      int report = ::fcntl(exec_w.get(), F_DUPFD_CLOEXEC, 3);
      ChildResetSignals();
      if (report < 0 || !ChildSetupFds(child_in, child_out, child_err, report)) {
        int e = errno;
        if (report >= 0) {
          ssize_t ignored = ::write(report, &e, sizeof e);
          (void)ignored;
        }
        ::_exit(127);
      }
      ::execve(path, c_argv.get(), c_env.get());
      int e = errno;
      ssize_t ignored = ::write(report, &e, sizeof e);
      (void)ignored;
      ::_exit(127);
    }
  }
  if (pid < 0) return InternalError(std::string("fork: ") + std::strerror(errno));
  out_w.reset();
  err_w.reset();
  exec_w.reset();

  int exec_errno = 0;
  ssize_t got;
  do got = ::read(exec_r.get(), &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int ignored;
    while (::waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return InternalError("cannot run " + argv[0] + ": " + std::strerror(exec_errno));
  }

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
  result.exit_code = StatusCode(wstatus);
  return result;
}

Status StartSupervised(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                       const std::string& log_path, const std::string& exit_path, const std::string& supervisor) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return InternalError("supervisor: program must be an absolute path");
  if (supervisor.empty() || supervisor[0] != '/') return InternalError("supervisor: porthole-supervise not found");
  std::vector<std::string> supervisor_argv = {supervisor, exit_path};
  supervisor_argv.insert(supervisor_argv.end(), argv.begin(), argv.end());
  if (HasNul(supervisor_argv) || HasNul(env) || log_path.find('\0') != std::string::npos)
    return InternalError("supervisor: argument contains a NUL byte");

  CStrings c_argv(supervisor_argv);
  CStrings c_env(env);
  const char* path = supervisor.c_str();

  Fd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (log.get() < 0) return InternalError("open " + log_path + ": " + std::strerror(errno));
  Fd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) return InternalError(std::string("open /dev/null: ") + std::strerror(errno));
  // The supervisor's execve reports its errno here; a successful one closes it.
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) return InternalError(std::string("pipe: ") + std::strerror(errno));
  Fd error_read(exec_error[0]), error_write(exec_error[1]);

  pid_t pid;
  {
    SignalBlock block;
    pid = ::fork();
    if (pid == 0) {
      // Intermediate child: new session, fork the supervisor, exit so the
      // supervisor is re-parented away from the caller.
      if (::setsid() < 0) ::_exit(1);
      pid_t sup = ::fork();
      if (sup != 0) ::_exit(sup < 0 ? 1 : 0);

      ChildResetSignals();
      if (!ChildSetupFds(dev_null.get(), log.get(), log.get(), error_write.get())) ::_exit(1);
      if (::chdir("/") != 0) ::_exit(1);
      ::execve(path, c_argv.get(), c_env.get());
      int err = errno;
      ssize_t ignored = ::write(error_write.get(), &err, sizeof err);
      (void)ignored;
      ::_exit(127);
    }
  }
  if (pid < 0) return InternalError(std::string("fork: ") + std::strerror(errno));
  error_write.reset();
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return InternalError(std::string("waitpid: ") + std::strerror(errno));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) return InternalError("could not start the supervisor");
  int err = 0;
  ssize_t n;
  do n = ::read(error_read.get(), &err, sizeof err);
  while (n < 0 && errno == EINTR);
  if (n == sizeof err) return InternalError("cannot execute " + supervisor + ": " + std::strerror(err));
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
