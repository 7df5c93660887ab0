#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <gtest/gtest.h>
#include <set>
#include <sstream>

extern char** environ;

namespace porthole::itest {
namespace fs = std::filesystem;

namespace {

int Remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string EnvName(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// This process's environment without AWS_* (so the tests never pick up the
// developer's profile or credentials), with `overrides` ("NAME=value")
// applied; of several overrides of one name the last wins.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  std::set<std::string> replaced;
  for (const auto& o : overrides) replaced.insert(EnvName(o));
  for (char** e = environ; *e; e++) {
    std::string entry = *e;
    std::string name = EnvName(entry);
    if (name.rfind("AWS_", 0) == 0 || replaced.count(name)) continue;
    env.push_back(entry);
  }
  // A later override of the same name wins.
  std::set<std::string> seen;
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it)
    if (seen.insert(EnvName(*it)).second) env.push_back(*it);
  return env;
}

struct ChildSetup {
  int stdin_fd = -1;   // -1: /dev/null
  int stdout_fd = -1;  // -1: /dev/null
  int stderr_fd = -1;  // -1: /dev/null
  int pty_slave = -1;  // >= 0: new session with this as controlling terminal and 0/1/2
  int death_signal = SIGKILL;
};

// fork + execve. Everything the child needs is built before fork; between
// fork and exec only async-signal-safe calls are made.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_overrides,
            const ChildSetup& setup) {
  std::vector<std::string> env_strings = ChildEnvironment(env_overrides);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = ::getpid();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);

  pid_t pid = ::fork();
  if (pid != 0) {
    if (null_fd >= 0) ::close(null_fd);
    return pid;
  }
  // Child.
  if (::prctl(PR_SET_PDEATHSIG, setup.death_signal) != 0 || ::getppid() != parent) ::_exit(126);
  if (setup.pty_slave >= 0) {
    ::setsid();
    ::ioctl(setup.pty_slave, TIOCSCTTY, 0);
    ::dup2(setup.pty_slave, 0);
    ::dup2(setup.pty_slave, 1);
    ::dup2(setup.pty_slave, 2);
  } else {
    ::setpgid(0, 0);
    ::dup2(setup.stdin_fd >= 0 ? setup.stdin_fd : null_fd, 0);
    ::dup2(setup.stdout_fd >= 0 ? setup.stdout_fd : null_fd, 1);
    ::dup2(setup.stderr_fd >= 0 ? setup.stderr_fd : null_fd, 2);
  }
  ::close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::execve(args[0], args.data(), envp.data());
  static const char kMessage[] = "harness: execve failed\n";
  (void)!::write(2, kMessage, sizeof kMessage - 1);
  ::_exit(127);
}

// Sends `sig` to the process group `pid` leads (and to `pid` itself).
void SignalGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  ::kill(-pid, sig);
  ::kill(pid, sig);
}

// Waits for `pid` to exit; true if it did (and was reaped) within `timeout`.
bool WaitPid(pid_t pid, milliseconds timeout, int* status_out = nullptr) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (status_out) *status_out = status;
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// SIGTERM, then SIGKILL after `grace`; always reaps. True if SIGTERM sufficed.
bool Terminate(pid_t pid, milliseconds grace) {
  if (pid <= 0) return true;
  ::kill(pid, SIGTERM);
  if (WaitPid(pid, grace)) return true;
  ::kill(pid, SIGKILL);
  WaitPid(pid, seconds(10));
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t n) { return text.size() <= n ? text : text.substr(text.size() - n); }

// Pids (other than ours) whose command line or working directory mentions `dir`.
std::vector<pid_t> ProcessesUsing(const std::string& dir) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == ::getpid()) continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::string cmdline = ReadFile(base + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    std::error_code ec;
    std::string cwd = fs::read_symlink(base + "/cwd", ec).string();
    if (cmdline.find(dir + "/") != std::string::npos || cwd.rfind(dir + "/", 0) == 0 || cwd == dir)
      found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

// Mount points at or under `dir` (there should be none on the host side).
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == dir || mount_point.rfind(dir + "/", 0) == 0) mounts.push_back(mount_point);
  }
  return mounts;
}

std::atomic<int> g_name_counter{0};

}  // namespace

std::string ReadWholeFile(const std::string& path) { return ReadFile(path); }

std::vector<pid_t> ProcessesOf(const std::string& program, const std::string& needle, pid_t parent) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadWholeFile(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.rfind(program + " ", 0) != 0 || cmdline.find(needle) == std::string::npos) continue;
    if (parent > 0) {
      // "pid (comm) S ppid ...": comm may contain anything but ends at the last ')'.
      std::string stat = ReadWholeFile(entry.path().string() + "/stat");
      size_t paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 4 >= stat.size() ||
          std::atol(stat.c_str() + paren + 4) != static_cast<long>(parent))
        continue;
    }
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

// ---------------------------------------------------------------------------

std::string BinDir() {
  if (const char* d = std::getenv("PORTHOLE_BIN_DIR"); d && *d) return d;
  return PORTHOLE_BIN_DIR;
}

std::string Bin(const std::string& program) { return BinDir() + "/" + program; }

std::string RuncPath() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    std::string candidate = d + "/runc";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string MissingPrerequisite() {
  if (::geteuid() != 0) return "integration tests need root (runc containers)";
  if (RuncPath().empty()) return "runc is not installed";
  return "";
}

std::ostream& operator<<(std::ostream& os, const CommandResult& r) {
  os << "exit_code=" << r.exit_code << (r.timed_out ? " (TIMED OUT)" : "") << "\n--- stdout ---\n"
     << r.out << "\n--- stderr ---\n"
     << r.err << "\n--------------";
  return os;
}

// --- Command ----------------------------------------------------------------

Command::Command(std::vector<std::string> argv, std::vector<std::string> env, std::string stdin_text)
    : argv_(std::move(argv)), env_(std::move(env)), stdin_text_(std::move(stdin_text)) {}

Command::~Command() {
  if (pid_ > 0 && !status_) {
    SignalGroup(pid_, SIGKILL);
    Reap(true);
  }
  for (int fd : {in_fd_, out_fd_, err_fd_})
    if (fd >= 0) ::close(fd);
}

bool Command::Start() {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return false;
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return false;
  ChildSetup setup;
  setup.stdin_fd = in[0];
  setup.stdout_fd = out[1];
  setup.stderr_fd = err[1];
  pid_ = Spawn(argv_, env_, setup);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  if (pid_ < 0) return false;
  for (int fd : {in_fd_, out_fd_, err_fd_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (stdin_text_.empty()) {
    ::close(in_fd_);
    in_fd_ = -1;
  }
  return true;
}

void Command::Signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

void Command::Pump(int timeout_ms) {
  pollfd fds[3];
  int n = 0;
  if (in_fd_ >= 0) fds[n++] = {in_fd_, POLLOUT, 0};
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) {
    std::this_thread::sleep_for(milliseconds(timeout_ms));
    return;
  }
  if (::poll(fds, n, timeout_ms) <= 0) return;
  for (int i = 0; i < n; i++) {
    if (!fds[i].revents) continue;
    int fd = fds[i].fd;
    if (fd == in_fd_) {
      ssize_t w = ::write(fd, stdin_text_.data() + stdin_written_, stdin_text_.size() - stdin_written_);
      if (w > 0) stdin_written_ += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || stdin_written_ == stdin_text_.size()) {
        ::close(in_fd_);
        in_fd_ = -1;
      }
      continue;
    }
    char buffer[8192];
    ssize_t r = ::read(fd, buffer, sizeof buffer);
    if (r > 0) {
      (fd == out_fd_ ? result_.out : result_.err).append(buffer, static_cast<size_t>(r));
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      ::close(fd);
      (fd == out_fd_ ? out_fd_ : err_fd_) = -1;
    }
  }
}

bool Command::Reap(bool block) {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    status_ = status;
    return true;
  }
  return false;
}

bool Command::Running() {
  if (pid_ <= 0 || status_) return false;
  Pump(0);
  return !Reap(false);
}

bool Command::WaitForStdout(const std::string& text, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (result_.out.find(text) != std::string::npos) return true;
    if (!Running() || Clock::now() >= deadline) return false;
    Pump(std::min(50, std::max(1, Remaining(deadline))));
  }
}

CommandResult Command::Wait(milliseconds timeout) {
  if (pid_ <= 0) return result_;
  auto deadline = Clock::now() + timeout;
  while (!Reap(false)) {
    if (Clock::now() >= deadline) {
      result_.timed_out = true;
      SignalGroup(pid_, SIGKILL);
      Reap(true);
      break;
    }
    Pump(std::min(50, std::max(1, Remaining(deadline))));
  }
  // The child is gone: collect what it wrote (without waiting for any
  // grandchild that might still hold the pipes).
  for (int fd : {out_fd_, err_fd_}) {
    if (fd < 0) continue;
    char buffer[8192];
    ssize_t r;
    while ((r = ::read(fd, buffer, sizeof buffer)) > 0)
      (fd == out_fd_ ? result_.out : result_.err).append(buffer, static_cast<size_t>(r));
  }
  result_.exit_code = DecodeStatus(*status_);
  return result_;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text, milliseconds timeout,
                         const std::vector<std::string>& env) {
  Command command(argv, env, stdin_text);
  if (!command.Start()) {
    CommandResult failed;
    failed.err = "could not start " + (argv.empty() ? std::string("?") : argv[0]);
    return failed;
  }
  return command.Wait(timeout);
}

// --- PtyProcess ---------------------------------------------------------------

PtyProcess::PtyProcess(std::vector<std::string> argv, std::vector<std::string> env, unsigned short rows,
                       unsigned short cols) {
  winsize size{};
  size.ws_row = rows;
  size.ws_col = cols;
  int slave = -1;
  if (::openpty(&master_, &slave, nullptr, nullptr, &size) != 0) return;
  ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
  ChildSetup setup;
  setup.pty_slave = slave;
  pid_ = Spawn(argv, env, setup);
  ::close(slave);
}

PtyProcess::~PtyProcess() {
  if (pid_ > 0 && !status_) {
    SignalGroup(pid_, SIGKILL);
    Reap(true);
  }
  if (master_ >= 0) ::close(master_);
}

void PtyProcess::Write(const std::string& keys) {
  size_t done = 0;
  auto deadline = Clock::now() + seconds(10);
  while (done < keys.size() && Clock::now() < deadline) {
    ssize_t n = ::write(master_, keys.data() + done, keys.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      ReadSome(10);  // let the other side drain
    } else {
      return;
    }
  }
}

bool PtyProcess::ReadSome(int timeout_ms) {
  if (master_ < 0) return false;
  pollfd p{master_, POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r <= 0) return r == 0;
  char buffer[8192];
  ssize_t n = ::read(master_, buffer, sizeof buffer);
  if (n > 0) {
    output_.append(buffer, static_cast<size_t>(n));
    all_output_.append(buffer, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  // EIO: every slave descriptor is closed (the child has exited).
  if (p.revents & (POLLHUP | POLLERR)) std::this_thread::sleep_for(milliseconds(10));
  return false;
}

bool PtyProcess::WaitForRegex(const std::regex& pattern, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (std::regex_search(output_, pattern)) return true;
    if (Clock::now() >= deadline) return false;
    if (!ReadSome(std::min(100, std::max(1, Remaining(deadline))))) {
      // Nothing more will come once the child is gone.
      if (Reap(false)) return std::regex_search(output_, pattern);
    }
  }
}

bool PtyProcess::WaitForText(const std::string& text, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (output_.find(text) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    if (!ReadSome(std::min(100, std::max(1, Remaining(deadline))))) {
      if (Reap(false)) return output_.find(text) != std::string::npos;
    }
  }
}

void PtyProcess::Resize(unsigned short rows, unsigned short cols) {
  winsize size{};
  size.ws_row = rows;
  size.ws_col = cols;
  ::ioctl(master_, TIOCSWINSZ, &size);
}

bool PtyProcess::Reap(bool block) {
  if (status_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, block ? 0 : WNOHANG) == pid_) {
    status_ = status;
    return true;
  }
  return false;
}

std::optional<int> PtyProcess::Wait(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!Reap(false)) {
    if (Clock::now() >= deadline) return std::nullopt;
    if (!ReadSome(std::min(50, std::max(1, Remaining(deadline)))))
      std::this_thread::sleep_for(milliseconds(20));
  }
  while (ReadSome(0) && master_ >= 0) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
  }
  return DecodeStatus(*status_);
}

std::unique_ptr<PtyProcess> RunInPty(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                     unsigned short rows, unsigned short cols) {
  return std::make_unique<PtyProcess>(argv, env, rows, cols);
}

// --- TcpProxy -------------------------------------------------------------------

namespace {

constexpr size_t kRelayBuffer = 256 * 1024;  // per direction; reading stops while full

// Closes `fd` so the peer gets an RST (not a FIN): a broken connection.
void ResetSocket(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void SetNonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// One relayed connection: `fd[0]` the accepted end, `fd[1]` the upstream end;
// `pending[i]` holds what was read from fd[i] and is still to be written to
// fd[1 - i].
struct Relay {
  int fd[2] = {-1, -1};
  std::string pending[2];
  bool eof[2] = {false, false};      // fd[i] sent FIN
  bool shut_wr[2] = {false, false};  // FIN passed on to fd[i]
  bool broken = false;

  bool Done() const {
    return broken || (eof[0] && eof[1] && pending[0].empty() && pending[1].empty());
  }
  void Close() {
    for (int& f : fd) {
      if (f >= 0) (broken ? ResetSocket(f) : (void)::close(f));
      f = -1;
    }
  }
};

}  // namespace

struct TcpProxy::State {
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stop{false};
  std::atomic<bool> refusing{false};
  std::atomic<size_t> accepted{0};
  std::atomic<size_t> open{0};
  std::atomic<size_t> cut{0};
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t cut_requested = 0;  // guarded by mutex
  uint64_t cut_done = 0;       // guarded by mutex
  size_t last_cut_count = 0;   // guarded by mutex
};

TcpProxy::TcpProxy(uint16_t target_port) : target_port_(target_port), state_(std::make_unique<State>()) {}

TcpProxy::~TcpProxy() {
  state_->stop = true;
  if (state_->wake_fd >= 0) {
    uint64_t one = 1;
    (void)!::write(state_->wake_fd, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (state_->listen_fd >= 0) ::close(state_->listen_fd);
  if (state_->wake_fd >= 0) ::close(state_->wake_fd);
}

std::string TcpProxy::Start() {
  if (thread_.joinable()) return "the proxy is already running";
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return "proxy listen: " + e;
  }
  state_->listen_fd = fd;
  state_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state_->wake_fd < 0) return std::string("eventfd: ") + std::strerror(errno);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Run(); });
  return "";
}

size_t TcpProxy::CutAll() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (!thread_.joinable()) return 0;
  uint64_t wanted = ++state_->cut_requested;
  uint64_t one = 1;
  (void)!::write(state_->wake_fd, &one, sizeof one);
  state_->cv.wait_for(lock, seconds(10), [&] { return state_->cut_done >= wanted; });
  return state_->last_cut_count;
}

void TcpProxy::SetRefusing(bool refusing) { state_->refusing = refusing; }
size_t TcpProxy::accepted() const { return state_->accepted; }
size_t TcpProxy::open_connections() const { return state_->open; }
size_t TcpProxy::cut() const { return state_->cut; }

void TcpProxy::Run() {
  State& st = *state_;
  std::list<Relay> relays;
  std::vector<pollfd> fds;
  std::vector<std::pair<Relay*, int>> owners;  // for fds[2...]: which relay and which end
  char buffer[64 * 1024];
  while (!st.stop) {
    fds.clear();
    owners.clear();
    fds.push_back({st.listen_fd, POLLIN, 0});
    fds.push_back({st.wake_fd, POLLIN, 0});
    for (auto& r : relays) {
      for (int i = 0; i < 2; i++) {
        short events = 0;
        if (!r.eof[i] && r.pending[i].size() < kRelayBuffer) events |= POLLIN;
        if (!r.pending[1 - i].empty()) events |= POLLOUT;
        fds.push_back({r.fd[i], events, 0});
        owners.emplace_back(&r, i);
      }
    }
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) break;

    if (fds[1].revents & POLLIN) {
      uint64_t count;
      (void)!::read(st.wake_fd, &count, sizeof count);
    }
    {
      std::lock_guard<std::mutex> lock(st.mutex);
      if (st.cut_done < st.cut_requested) {
        size_t n = 0;
        for (auto& r : relays) {
          r.broken = true;
          r.Close();
          n++;
        }
        relays.clear();
        st.open = 0;
        st.cut += n;
        st.last_cut_count = n;
        st.cut_done = st.cut_requested;
        st.cv.notify_all();
        continue;  // the pollfds refer to closed sockets now
      }
    }

    for (size_t k = 2; k < fds.size(); k++) {
      if (!fds[k].revents) continue;
      auto [r, i] = owners[k - 2];
      if (r->broken) continue;
      int fd = r->fd[i];
      if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!r->eof[i] && r->pending[i].size() < kRelayBuffer) {
          ssize_t n = ::recv(fd, buffer, std::min(sizeof buffer, kRelayBuffer - r->pending[i].size()), 0);
          if (n > 0) {
            r->pending[i].append(buffer, static_cast<size_t>(n));
          } else if (n == 0) {
            r->eof[i] = true;
          } else if (errno != EAGAIN && errno != EINTR) {
            r->broken = true;
            continue;
          }
        } else if (fds[k].revents & POLLERR) {
          r->broken = true;
          continue;
        }
      }
      // Write what this end's peer sent, as far as this end takes it.
      std::string& out = r->pending[1 - i];
      if (!out.empty() && (fds[k].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n > 0) {
          out.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          r->broken = true;
          continue;
        }
      }
    }
    // Pass FINs on once everything before them was written; drop finished relays.
    for (auto it = relays.begin(); it != relays.end();) {
      for (int i = 0; i < 2; i++)
        if (!it->broken && it->eof[i] && it->pending[i].empty() && !it->shut_wr[1 - i]) {
          ::shutdown(it->fd[1 - i], SHUT_WR);
          it->shut_wr[1 - i] = true;
        }
      if (it->Done()) {
        it->Close();
        it = relays.erase(it);
        st.open = relays.size();
      } else {
        ++it;
      }
    }

    if (fds[0].revents & POLLIN) {
      for (;;) {
        int client = ::accept4(st.listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) break;
        st.accepted++;
        if (st.refusing) {
          ResetSocket(client);
          continue;
        }
        int upstream = ConnectLoopback(target_port_);
        if (upstream < 0) {
          ResetSocket(client);
          continue;
        }
        SetNonBlocking(client);
        SetNonBlocking(upstream);
        Relay r;
        r.fd[0] = client;
        r.fd[1] = upstream;
        relays.push_back(std::move(r));
        st.open = relays.size();
      }
    }
  }
  for (auto& r : relays) {
    r.broken = true;
    r.Close();
  }
}

// --- Stack --------------------------------------------------------------------

Stack::~Stack() { Stop(); }

namespace {

constexpr const char* kDirPrefix = "porthole-it-";

uint32_t Fnv1a(const std::string& text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) h = (h ^ c) * 16777619u;
  return h;
}

std::string BridgeOf(const std::string& dir) {
  char name[16];
  std::snprintf(name, sizeof name, "pt%08x", Fnv1a(dir));
  return name;
}

std::string SubnetOf(const std::string& dir) {
  uint32_t h = Fnv1a(dir);
  return "10." + std::to_string(200 + h % 50) + "." + std::to_string((h >> 8) % 256) + ".0/24";
}

std::string CgroupParentOf(const std::string& dir) { return "porthole-it-" + BridgeOf(dir).substr(2); }

// What the node left of its tasks' networks (and containers), and its bridge.
void CleanUpNodeDir(const std::string& dir) {
  RunCommand({Bin("porthole-node"), "--clean-up", "--data-dir", dir + "/node", "--bridge", BridgeOf(dir),
              "--bridge-subnet", SubnetOf(dir), "--cgroup-parent", CgroupParentOf(dir)},
             "", seconds(60));
}

// Removes what an earlier test program that was killed (so never tore its
// stack down) left in `temp`: directories named porthole-it-<pid>-* whose
// <pid> is gone, their runc containers and any process still using them.
void ReapStaleStacks(const fs::path& temp) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(temp, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    long owner = std::strtol(name.c_str() + std::strlen(kDirPrefix), nullptr, 10);
    if (owner <= 0 || owner == ::getpid() || ::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
    std::string dir = entry.path().string();
    std::string runc = RuncPath();
    std::string root = dir + "/node/runc";
    if (!runc.empty() && fs::exists(root))
      for (const auto& id : Tokens(RunCommand({runc, "--root", root, "list", "-q"}, "", seconds(30)).out))
        RunCommand({runc, "--root", root, "delete", "--force", id}, "", seconds(30));
    CleanUpNodeDir(dir);
    for (pid_t pid : ProcessesUsing(dir)) ::kill(pid, SIGKILL);
    if (MountsUnder(dir).empty()) fs::remove_all(dir, ec);
  }
}

}  // namespace

std::string Stack::Start() { return Start(StackOptions{}); }

std::string Stack::Start(const StackOptions& options) {
  options_ = options;
  if (std::string missing = MissingPrerequisite(); !missing.empty()) return missing;
  for (const char* p : {"portholed", "porthole-node", "porthole-exec-agent", "porthole"})
    if (::access(Bin(p).c_str(), X_OK) != 0) return "missing " + Bin(p) + " (build it first)";
  ReapStaleStacks(fs::temp_directory_path());
  std::string pattern =
      (fs::temp_directory_path() / (kDirPrefix + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) return std::string("mkdtemp: ") + std::strerror(errno);
  dir_ = pattern;
  std::error_code ec;
  fs::create_directories(control_plane_dir(), ec);
  fs::create_directories(node_dir(), ec);
  if (ec) return "cannot create " + dir_ + ": " + ec.message();
  if (std::string e = StartPortholed(0); !e.empty()) return e;
  if (options_.node_through_proxy) {
    node_proxy_ = std::make_unique<TcpProxy>(port_);
    if (std::string e = node_proxy_->Start(); !e.empty()) return e;
  }
  if (std::string e = StartNode(); !e.empty()) return e;
  return "";
}

std::string Stack::bridge() const { return BridgeOf(dir_); }
std::string Stack::bridge_subnet() const { return SubnetOf(dir_); }
std::string Stack::cgroup_parent() const { return CgroupParentOf(dir_); }

std::string Stack::node_endpoint() const { return node_proxy_ ? node_proxy_->url() : url_; }

std::string Stack::WaitReady(int read_fd, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd p{read_fd, POLLIN, 0};
    int r = ::poll(&p, 1, std::max(1, Remaining(deadline)));
    if (r == 0 && Clock::now() >= deadline) return "";
    if (r < 0) {
      if (errno == EINTR) continue;
      return "";
    }
    char c[256];
    ssize_t n = ::read(read_fd, c, sizeof c);
    if (n == 0) return "";  // portholed exited
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return "";
    }
    line.append(c, static_cast<size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

std::string Stack::StartPortholed(uint16_t port) {
  if (portholed_ > 0) return "portholed is already running";
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
  int log = ::open((dir_ + "/portholed.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ChildSetup setup;
  setup.stdout_fd = out[1];
  setup.stderr_fd = log;
  setup.death_signal = SIGTERM;
  std::vector<std::string> argv = {Bin("portholed"), "--data-dir", control_plane_dir(), "--listen",
                                   "127.0.0.1:" + std::to_string(port)};
  argv.insert(argv.end(), options_.portholed_args.begin(), options_.portholed_args.end());
  portholed_ = Spawn(argv, {}, setup);
  ::close(out[1]);
  if (portholed_ < 0) {
    ::close(out[0]);
    ::close(log);
    return "fork failed";
  }
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  std::string line = WaitReady(out[0], seconds(30));
  const std::string prefix = "ready ";
  if (line.rfind(prefix, 0) != 0) {
    ::close(out[0]);
    ::close(log);
    Terminate(portholed_, seconds(10));
    portholed_ = -1;
    return "portholed did not print its ready line (got \"" + line + "\")\n" + Logs();
  }
  url_ = line.substr(prefix.size());
  size_t colon = url_.rfind(':');
  port_ = static_cast<uint16_t>(std::stoul(url_.substr(colon + 1)));

  // Keep reading its stdout (into the log) so a later write never blocks or
  // gets EPIPE.
  portholed_out_ = out[0];
  drain_stop_ = std::make_shared<bool>(false);
  auto stop = drain_stop_;
  int read_fd = portholed_out_;
  portholed_drain_ = std::thread([stop, read_fd, log] {
    while (!*stop) {
      pollfd p{read_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(read_fd, buffer, sizeof buffer);
      if (n == 0) break;
      if (n > 0) (void)!::write(log, buffer, static_cast<size_t>(n));
    }
    ::close(log);
  });
  return "";
}

bool Stack::StopPortholed(milliseconds grace) {
  bool clean = Terminate(portholed_, grace);
  portholed_ = -1;
  if (drain_stop_) *drain_stop_ = true;
  if (portholed_drain_.joinable()) portholed_drain_.join();
  if (portholed_out_ >= 0) ::close(portholed_out_);
  portholed_out_ = -1;
  return clean;
}

std::string Stack::RestartPortholed() {
  uint16_t port = port_;
  std::string problem = StopPortholed() ? "" : "portholed did not exit on SIGTERM (killed)\n";
  std::string started = StartPortholed(port);
  return started.empty() ? problem : problem + started;
}

std::string Stack::StartNode() {
  if (node_ > 0) return "porthole-node is already running";
  bool first_start = !fs::exists(node_dir() + "/node.json");
  int log = ::open((dir_ + "/node.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ChildSetup setup;
  setup.stdout_fd = log;
  setup.stderr_fd = log;
  setup.death_signal = SIGTERM;
  // The node joins with a single-use join token made with the operator's
  // key, and holds no account credentials: its environment names no
  // credentials file.
  std::vector<std::string> argv = {Bin("porthole-node"), "--data-dir",      node_dir(), "--endpoint",
                                   node_endpoint(),      "--bridge",        bridge(),   "--bridge-subnet",
                                   bridge_subnet(),      "--cgroup-parent", cgroup_parent()};
  argv.insert(argv.end(), options_.node_args.begin(), options_.node_args.end());
  if (first_start) {
    CommandResult token = RunCommand({Bin("porthole"), "node-token", "create", "--expires-in", "600",
                                      "--endpoint-url", url_},
                                     "", seconds(30), Env());
    Json parsed = Json::parse(token.out, nullptr, false);
    if (token.exit_code != 0 || !parsed.is_object() || !parsed.contains("joinToken")) {
      ::close(log);
      return "porthole node-token create failed: " + token.out + token.err;
    }
    std::string token_file = dir_ + "/join-token";
    std::ofstream(token_file) << parsed["joinToken"].get<std::string>() << "\n";
    argv.insert(argv.end(), {"--join-token-file", token_file});
  }
  std::vector<std::string> env;
  for (const auto& e : Env())
    if (e.rfind("AWS_SHARED_CREDENTIALS_FILE=", 0) != 0) env.push_back(e);
  env.push_back("AWS_SHARED_CREDENTIALS_FILE=/dev/null");
  node_ = Spawn(argv, env, setup);
  ::close(log);
  if (node_ < 0) return "fork failed";
  if (!first_start) return "";
  // Registered once its id file appears.
  auto deadline = Clock::now() + seconds(30);
  while (!fs::exists(node_dir() + "/node.json")) {
    int status;
    if (::waitpid(node_, &status, WNOHANG) == node_) {
      node_ = -1;
      return "porthole-node exited during start-up\n" + Logs();
    }
    if (Clock::now() >= deadline) return "porthole-node did not register within 30 s\n" + Logs();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return "";
}

bool Stack::StopNode(milliseconds grace) {
  bool clean = Terminate(node_, grace);
  node_ = -1;
  return clean;
}

void Stack::KillNode() {
  if (node_ <= 0) return;
  ::kill(node_, SIGKILL);
  WaitPid(node_, seconds(10));
  node_ = -1;
}

std::string Stack::RestartNode() {
  std::string problem = StopNode() ? "" : "porthole-node did not exit on SIGTERM (killed)\n";
  std::string started = StartNode();
  return started.empty() ? problem : problem + started;
}

void Stack::RemoveContainers() {
  std::string runc = RuncPath();
  if (runc.empty() || !fs::exists(runc_root())) return;
  for (const auto& id : RuncContainers())
    RunCommand({runc, "--root", runc_root(), "delete", "--force", id}, "", seconds(30));
}

void Stack::Stop() {
  if (dir_.empty()) return;
  if (node_ > 0) {
    ::kill(node_, SIGTERM);
    if (!WaitPid(node_, seconds(10))) {
      // A node that waits for its tasks to end: end them (while portholed
      // still takes its reports), then insist.
      std::fprintf(stderr, "harness: porthole-node still running 10 s after SIGTERM; removing its containers\n");
      RemoveContainers();
      StopNode(seconds(40));
    }
    node_ = -1;
  }
  StopPortholed();
  node_proxy_.reset();
  RemoveContainers();
  CleanUpNodeDir(dir_);
  // The containers' supervisors exit with their containers; anything else
  // still working in our directory (none expected) is killed.
  auto deadline = Clock::now() + seconds(15);
  std::vector<pid_t> stragglers;
  while (!(stragglers = ProcessesUsing(dir_)).empty() && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(100));
  for (pid_t pid : stragglers) {
    ADD_FAILURE() << "process " << pid << " still uses " << dir_ << " after tear-down; killing it";
    ::kill(pid, SIGKILL);
  }
  // Never follow a mount into the host's files.
  for (const auto& m : MountsUnder(dir_)) ::umount2(m.c_str(), MNT_DETACH);
  if (MountsUnder(dir_).empty()) {
    std::error_code ec;
    for (int attempt = 0; attempt < 3; attempt++) {
      fs::remove_all(dir_, ec);
      if (!ec) break;
      std::this_thread::sleep_for(milliseconds(200));
    }
  } else {
    ADD_FAILURE() << "mounts remain under " << dir_ << "; not removing it";
  }
  dir_.clear();
}

std::vector<std::string> Stack::Env() const {
  std::string cp = control_plane_dir();
  return {"AWS_SHARED_CREDENTIALS_FILE=" + cp + "/credentials",
          "AWS_CONFIG_FILE=" + cp + "/config",
          "AWS_CA_BUNDLE=" + cp + "/ca.pem",
          "AWS_ENDPOINT_URL=" + url_,
          "AWS_PAGER=",
          "AWS_EC2_METADATA_DISABLED=true"};
}

CommandResult Stack::Ecs(const std::vector<std::string>& args, const std::string& stdin_text,
                         milliseconds timeout) const {
  std::vector<std::string> argv = {Bin("porthole"), "ecs"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--endpoint-url");
  argv.push_back(url_);
  return RunCommand(argv, stdin_text, timeout, Env());
}

Json Stack::EcsJson(const std::vector<std::string>& args) const {
  CommandResult r = Ecs(args);
  if (r.exit_code != 0) {
    ADD_FAILURE() << "porthole ecs " << (args.empty() ? "" : args[0]) << " failed: " << r;
    return nullptr;
  }
  Json j = Json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "porthole ecs " << (args.empty() ? "" : args[0]) << " printed no JSON: " << r;
    return nullptr;
  }
  return j;
}

std::vector<std::string> Stack::ExecArgv(const std::string& cluster, const std::string& task,
                                         const std::string& command, const std::string& container) const {
  std::vector<std::string> argv = {Bin("porthole"), "ecs", "execute-command", "--cluster", cluster, "--task", task};
  if (!container.empty()) {
    argv.push_back("--container");
    argv.push_back(container);
  }
  for (const std::string a : {"--interactive", "--command"}) argv.push_back(a);
  argv.push_back(command);
  argv.push_back("--endpoint-url");
  argv.push_back(url_);
  return argv;
}

CommandResult Stack::Exec(const std::string& cluster, const std::string& task, const std::string& command,
                          const std::string& stdin_text, const std::string& container, milliseconds timeout) const {
  return RunCommand(ExecArgv(cluster, task, command, container), stdin_text, timeout, Env());
}

bool Stack::CreateCluster(const std::string& name) const {
  Json j = EcsJson({"create-cluster", "--cluster-name", name});
  return !j.is_null() && j["cluster"].value("status", "") == "ACTIVE";
}

std::string Stack::RegisterTaskDefinition(const std::string& family, const Json& containers) const {
  Json j = EcsJson({"register-task-definition", "--family", family, "--container-definitions", containers.dump()});
  if (j.is_null()) return "";
  return j["taskDefinition"].value("taskDefinitionArn", "");
}

std::string Stack::RunTask(const std::string& cluster, const std::string& family, bool enable_exec) const {
  std::vector<std::string> args = {"run-task", "--cluster", cluster, "--task-definition", family};
  if (enable_exec) args.push_back("--enable-execute-command");
  Json j = EcsJson(args);
  if (j.is_null()) return "";
  if (!j.contains("tasks") || j["tasks"].empty()) {
    ADD_FAILURE() << "run-task started no task: " << j.dump(2);
    return "";
  }
  return j["tasks"][0].value("taskArn", "");
}

Json Stack::DescribeTask(const std::string& cluster, const std::string& task) const {
  CommandResult r = Ecs({"describe-tasks", "--cluster", cluster, "--tasks", task});
  if (r.exit_code != 0) return nullptr;
  Json j = Json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.contains("tasks") || !j["tasks"].is_array() || j["tasks"].empty()) return nullptr;
  return j["tasks"][0];
}

Json Stack::WaitForTask(const std::string& cluster, const std::string& task,
                        const std::function<bool(const Json&)>& ready, milliseconds timeout, bool* ok) const {
  auto deadline = Clock::now() + timeout;
  Json last;
  *ok = false;
  for (;;) {
    Json t = DescribeTask(cluster, task);
    if (!t.is_null()) {
      last = t;
      if (ready(t)) {
        *ok = true;
        return last;
      }
    }
    if (Clock::now() >= deadline) return last;
    std::this_thread::sleep_for(milliseconds(250));
  }
}

bool Stack::WaitForLastStatus(const std::string& cluster, const std::string& task, const std::string& status,
                              milliseconds timeout, Json* last) const {
  bool ok;
  Json t = WaitForTask(cluster, task, [&](const Json& t) { return t.value("lastStatus", "") == status; }, timeout, &ok);
  if (last) *last = t;
  return ok;
}

bool Stack::WaitForExecAgent(const std::string& cluster, const std::string& task, milliseconds timeout,
                             Json* last) const {
  bool ok;
  Json t = WaitForTask(
      cluster, task,
      [](const Json& t) {
        if (t.value("lastStatus", "") != "RUNNING" || !t.contains("containers") || t["containers"].empty())
          return false;
        for (const auto& c : t["containers"]) {
          bool running = false;
          for (const auto& a : c.value("managedAgents", Json::array()))
            running = running || (a.value("name", "") == "ExecuteCommandAgent" && a.value("lastStatus", "") == "RUNNING");
          if (!running) return false;
        }
        return true;
      },
      timeout, &ok);
  if (last) *last = t;
  return ok;
}

std::vector<std::string> Stack::RuncContainers() const {
  std::string runc = RuncPath();
  if (runc.empty()) return {};
  CommandResult r = RunCommand({runc, "--root", runc_root(), "list", "-q"}, "", seconds(30));
  return Tokens(r.out);
}

std::string Stack::Logs() const {
  return "--- portholed.log (tail) ---\n" + Tail(ReadFile(dir_ + "/portholed.log"), 4000) +
         "\n--- node.log (tail) ---\n" + Tail(ReadFile(dir_ + "/node.log"), 4000) + "\n---";
}

// --- helpers ------------------------------------------------------------------

Json BusyboxContainer(const std::string& name, const std::vector<std::string>& command) {
  return {{"name", name},
          {"image", "busybox"},
          {"command", command},
          {"essential", true},
          {"stopTimeout", 2},
          {"linuxParameters", {{"initProcessEnabled", true}}}};
}

std::string UniqueName(const std::string& prefix) {
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++g_name_counter);
}

std::vector<std::string> Tokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::istringstream in(text);
  std::string t;
  while (in >> t) tokens.push_back(t);
  return tokens;
}

// --- StackTest --------------------------------------------------------------

Stack* StackTest::stack_ = nullptr;
std::string StackTest::skip_reason_;
std::string StackTest::start_error_;

void StackTest::StartStack() { StartStack(StackOptions{}); }

void StackTest::StartStack(const StackOptions& options) {
  skip_reason_ = MissingPrerequisite();
  start_error_.clear();
  if (!skip_reason_.empty()) return;
  stack_ = new Stack;
  if (std::string error = stack_->Start(options); !error.empty()) SetSuiteError("the stack did not start: " + error);
}

void StackTest::StopStack() {
  delete stack_;
  stack_ = nullptr;
}

void StackTest::SetSuiteError(const std::string& error) {
  if (!start_error_.empty()) return;
  start_error_ = error + (stack_ ? "\n" + stack_->Logs() : "");
  // GoogleTest skips every test of a suite whose SetUpTestSuite failed, so
  // say why here.
  ADD_FAILURE() << "suite set-up failed: " << start_error_;
}

void StackTest::SetUp() {
  if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  ASSERT_TRUE(start_error_.empty()) << start_error_;
  ASSERT_NE(stack_, nullptr);
}

void StackTest::TearDown() {
  if (HasFailure() && stack_) std::cerr << stack_->Logs() << "\n";
}

}  // namespace porthole::itest
