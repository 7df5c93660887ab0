#include "process/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace porthole::process {
namespace {

Error SpawnError(std::string message) { return MakeError("ServerException", std::move(message), 500); }

// NUL-terminated copies of strings, built before fork.
class CStrings {
 public:
  explicit CStrings(const std::vector<std::string>& strings) : storage_(strings) {
    for (auto& s : storage_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

bool HasNul(const std::vector<std::string>& strings) {
  for (const auto& s : strings)
    if (s.find('\0') != std::string::npos) return true;
  return false;
}

// Blocks every signal in the calling thread while it lives.
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

void CloseQuietly(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// What a child reports on its error pipe when a step fails.
enum Step : int { kFork = 1, kSession, kDescriptors, kTerminal, kDirectory, kExecute };
struct ChildFailure {
  int step;
  int error;
};

std::string DescribeStep(int step, const std::string& directory) {
  switch (step) {
    case kFork: return "fork";
    case kSession: return "setsid";
    case kDescriptors: return "setting up descriptors 0-2";
    case kTerminal: return "taking the terminal as controlling terminal";
    case kDirectory: return "chdir " + directory;
    default: return "step " + std::to_string(step);
  }
}

// Everything the child needs, prepared before fork.
struct ChildPlan {
  const char* program;
  char* const* argv;
  char* const* envp;
  int std_fds[3];
  int report_fd;   // write end of the error pipe, or -1
  int release_fd;  // read end of the release pipe, or -1
  bool new_session;
  bool controlling_terminal;
  bool detach;
  int parent_death_signal;
  pid_t parent;
  const char* working_directory;  // nullptr: unchanged
  ChildHook hook;
  const char* failure_message;
  size_t failure_message_size;
};

// --- In the child: async-signal-safe calls only. ---

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

[[noreturn]] void Fail(const ChildPlan& plan, int report_fd, Step step, int exit_code) {
  const int error = errno;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);  // a caller that stopped listening must not turn this into a signal death
  if (report_fd >= 0) {
    ChildFailure failure{step, error};
    WriteAll(report_fd, reinterpret_cast<const char*>(&failure), sizeof failure);
  }
  if (step >= kTerminal && plan.failure_message_size > 0) WriteAll(2, plan.failure_message, plan.failure_message_size);
  ::_exit(exit_code);
}

// Default dispositions for every signal, then an empty mask.
void ResetSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for KILL and STOP
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void CloseFrom(int lowest) {
  if (::syscall(SYS_close_range, static_cast<unsigned>(lowest), ~0U, 0U) == 0) return;
  for (int fd = lowest; fd < 65536; ++fd) ::close(fd);  // kernels before 5.9
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  int report = plan.report_fd;
  if (plan.detach) {
    if (::setsid() < 0) Fail(plan, report, kSession, 126);
    pid_t grandchild = ::fork();
    if (grandchild < 0) Fail(plan, report, kFork, 126);
    if (grandchild > 0) ::_exit(0);  // the program's process is re-parented away from the caller
  }
  if (plan.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, plan.parent_death_signal);
    if (::getppid() != plan.parent) ::_exit(1);  // the caller died before the request took effect
  }
  // The caller's thread blocked every signal across fork: a death signal
  // that came meanwhile is pending and is delivered, with its default
  // action, as the mask clears.
  ResetSignals();
  if ((plan.new_session || plan.controlling_terminal) && !plan.detach && ::setsid() < 0)
    Fail(plan, report, kSession, 126);

  // Descriptors: 0-2 the given ones, 3 the error pipe, 4 the release pipe,
  // nothing else. The sources go to 5 and above first, so that no dup2
  // below clobbers one still to be copied.
  int sources[5] = {plan.std_fds[0], plan.std_fds[1], plan.std_fds[2], report, plan.release_fd};
  for (int& fd : sources) {
    if (fd < 0) continue;
    fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 5);
    if (fd < 0) Fail(plan, report, kDescriptors, 126);
  }
  for (int target = 0; target < 3; ++target)
    if (::dup2(sources[target], target) < 0) Fail(plan, report, kDescriptors, 126);  // clears FD_CLOEXEC
  if (report >= 0) report = ::dup3(sources[3], 3, O_CLOEXEC);
  int release = plan.release_fd >= 0 ? ::dup3(sources[4], 4, O_CLOEXEC) : -1;
  if (plan.release_fd >= 0 && release < 0) Fail(plan, report, kDescriptors, 126);
  if (report < 0) ::close(3);  // whatever of the caller's was there
  if (release < 0) ::close(4);
  CloseFrom(5);

  if (plan.hook.run) plan.hook.run(plan.hook.context);
  if (release >= 0) {
    char go = 0;
    ssize_t got;
    do got = ::read(release, &go, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1) ::_exit(0);  // discarded, or the caller is gone
    ::close(release);
  }
  // After the release: a caller that discards a held child may close the
  // terminal's other side first, and that is no failure.
  if (plan.controlling_terminal && ::ioctl(0, TIOCSCTTY, 0) < 0) Fail(plan, report, kTerminal, 126);
  if (plan.working_directory && ::chdir(plan.working_directory) != 0) Fail(plan, report, kDirectory, 126);
  ::execve(plan.program, plan.argv, plan.envp);
  Fail(plan, report, kExecute, 127);
}

std::string_view PathOf(const std::vector<std::string>& env) {
  for (const auto& entry : env)
    if (entry.rfind("PATH=", 0) == 0) return std::string_view(entry).substr(5);
  return kDefaultPath;
}

}  // namespace

Child::Child(Child&& other) noexcept : pid_(other.pid_), release_fd_(other.release_fd_) {
  other.pid_ = -1;
  other.release_fd_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Discard();
    pid_ = other.pid_;
    release_fd_ = other.release_fd_;
    other.pid_ = -1;
    other.release_fd_ = -1;
  }
  return *this;
}

Child::~Child() { Discard(); }

void Child::Release() {
  if (release_fd_ < 0) return;
  const char go = 'g';
  (void)!::write(release_fd_, &go, 1);
  CloseQuietly(release_fd_);
}

void Child::Discard() { CloseQuietly(release_fd_); }

int StatusCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

std::string FindInPath(const std::string& name, std::string_view path) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view dir = path.substr(start, end - start);
    if (!dir.empty() && dir[0] == '/') {
      std::string candidate = std::string(dir) + "/" + name;
      struct stat st;
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    start = end + 1;
  }
  return "";
}

Result<Child> Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) return SpawnError("spawn: no program given");
  if (HasNul(options.argv) || HasNul(options.env) || options.working_directory.find('\0') != std::string::npos ||
      options.exec_failure_message.find('\0') != std::string::npos)
    return SpawnError("spawn: an argument contains a NUL byte");
  const std::string program = FindInPath(options.argv[0], PathOf(options.env));
  if (program.empty())
    return MakeError("InvalidParameterException", options.argv[0] + ": executable file not found in $PATH");

  CStrings argv(options.argv);
  CStrings envp(options.env);
  int dev_null = -1, report[2] = {-1, -1}, release[2] = {-1, -1};
  auto close_all = [&] {
    for (int* fd : {&dev_null, &report[0], &report[1], &release[0], &release[1]}) CloseQuietly(*fd);
  };
  if (options.stdin_fd < 0 || options.stdout_fd < 0 || options.stderr_fd < 0) {
    dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dev_null < 0) return SpawnError(std::string("open /dev/null: ") + strerror(errno));
  }
  if (!options.held && ::pipe2(report, O_CLOEXEC) != 0) {
    close_all();
    return SpawnError(std::string("pipe: ") + strerror(errno));
  }
  if (options.held && ::pipe2(release, O_CLOEXEC) != 0) {
    close_all();
    return SpawnError(std::string("pipe: ") + strerror(errno));
  }

  ChildPlan plan{};
  plan.program = program.c_str();
  plan.argv = argv.get();
  plan.envp = envp.get();
  plan.std_fds[0] = options.stdin_fd >= 0 ? options.stdin_fd : dev_null;
  plan.std_fds[1] = options.stdout_fd >= 0 ? options.stdout_fd : dev_null;
  plan.std_fds[2] = options.stderr_fd >= 0 ? options.stderr_fd : dev_null;
  plan.report_fd = report[1];
  plan.release_fd = release[0];
  plan.new_session = options.new_session;
  plan.controlling_terminal = options.controlling_terminal;
  plan.detach = options.detach;
  plan.parent_death_signal = options.parent_death_signal;
  plan.parent = ::getpid();
  plan.working_directory = options.working_directory.empty() ? nullptr : options.working_directory.c_str();
  plan.hook = options.before_exec;
  plan.failure_message = options.exec_failure_message.data();
  plan.failure_message_size = options.exec_failure_message.size();

  pid_t pid;
  {
    SignalBlock block;
    pid = ::fork();
    if (pid == 0) RunChild(plan);
  }
  if (pid < 0) {
    close_all();
    return SpawnError(std::string("fork: ") + strerror(errno));
  }
  CloseQuietly(dev_null);
  CloseQuietly(report[1]);
  CloseQuietly(release[0]);

  if (options.detach) {
    // The intermediate child exits as soon as it has forked the program's.
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!options.held) {
    // Closed unread when the program is executed (O_CLOEXEC); a failure
    // before that is reported.
    ChildFailure failure{};
    ssize_t got;
    do got = ::read(report[0], &failure, sizeof failure);
    while (got < 0 && errno == EINTR);
    CloseQuietly(report[0]);
    if (got == static_cast<ssize_t>(sizeof failure)) {
      if (!options.detach) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      }
      if (failure.step == kExecute)
        return SpawnError("cannot execute " + program + ": " + strerror(failure.error));
      return SpawnError("cannot start " + program + ": " + DescribeStep(failure.step, options.working_directory) +
                        ": " + strerror(failure.error));
    }
  }
  return Child(options.detach ? 0 : pid, release[1]);
}

}  // namespace porthole::process
