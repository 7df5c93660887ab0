#include "node/runc_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <thread>

#include "node/container_user.h"
#include "node/file_tree.h"
#include "node/oci_config.h"

namespace porthole::node {
namespace {

constexpr const char kMarkerFile[] = ".porthole-bundle";
constexpr const char kExitFile[] = "exit_code";
constexpr const char kPidFile[] = "init.pid";
constexpr const char kLogFile[] = "container.log";
constexpr const char kSupervisedFile[] = ".supervised";  // a supervisor was started for this bundle
constexpr size_t kMaxJsonBytes = 4 << 20;
constexpr size_t kLogTailBytes = 2048;

using Clock = std::chrono::steady_clock;

Error Invalid(std::string message) { return MakeError("InvalidParameterException", std::move(message)); }
Error StartFailed(std::string message) { return MakeError("ContainerStartFailed", std::move(message), 500); }
Error Internal(std::string message) { return MakeError("ServerException", std::move(message), 500); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Reads a small host file the node itself wrote; nullopt if missing.
std::optional<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) break;
  }
  ::close(fd);
  return out;
}

// The last `n` bytes of a file, for error messages.
std::string FileTail(const std::string& path, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return "";
  struct stat st;
  std::string out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    off_t start = st.st_size > static_cast<off_t>(n) ? st.st_size - static_cast<off_t>(n) : 0;
    out.resize(static_cast<size_t>(st.st_size - start));
    ssize_t got = ::pread(fd, out.data(), out.size(), start);
    out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::optional<int> ParseInt(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// The supervisor's exit file: the status on its first line, then "oom"
// when the container was killed for memory (porthole-supervise).
struct ExitRecord {
  int code;
  bool oom_killed;
};
std::optional<ExitRecord> ReadExitRecord(const std::string& bundle_dir) {
  auto text = ReadSmallFile(bundle_dir + "/" + kExitFile, 64);
  if (!text) return std::nullopt;
  const size_t line_end = text->find('\n');
  auto code = ParseInt(text->substr(0, line_end));
  const bool oom = line_end != std::string::npos && text->substr(line_end + 1) == "oom\n";
  return ExitRecord{code.value_or(255), oom};  // present but unreadable: stopped all the same
}

// runc reports its errors as `time="..." level=error msg="..."` lines (or
// the bare message); this keeps the message text.
std::string RuncMessage(const std::string& err) {
  std::string text = err;
  size_t msg = text.rfind("msg=\"");
  if (msg != std::string::npos) {
    text = text.substr(msg + 5);
    size_t end = text.rfind('"');
    if (end != std::string::npos) text = text.substr(0, end);
  }
  for (size_t pos; (pos = text.find("\\\"")) != std::string::npos;) text.erase(pos, 1);  // logfmt's \"
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() > 1024) text = text.substr(text.size() - 1024);
  return text;
}

bool NotExist(const std::string& err) { return err.find("does not exist") != std::string::npos; }

void SleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

// Waits up to `timeout` for `path` to exist.
bool WaitForFile(const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (Exists(path)) return true;
    if (Clock::now() >= deadline) return false;
    SleepFor(std::chrono::milliseconds(10));
  }
}

// True when `a` and `b` name the same directory (runc may report the
// bundle with symlinks resolved).
bool SameDirectory(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  std::string name(buf);
  if (name.size() > 64) name.resize(64);
  return name;
}

}  // namespace

RuncRuntime::RuncRuntime(ImageStore& images, std::string runc_root_dir, std::string tini_path,
                         std::string runc_binary, std::string supervisor)
    : images_(images),
      root_dir_(std::move(runc_root_dir)),
      tini_path_(std::move(tini_path)),
      runc_path_(FindExecutable(runc_binary)),
      supervisor_(std::move(supervisor)),
      hostname_(HostName()) {}

Result<SubprocessResult> RuncRuntime::Runc(std::vector<std::string> args) {
  if (runc_path_.empty()) return Internal("runc is not installed");
  args.insert(args.begin(), {runc_path_, "--root", root_dir_});
  SubprocessOptions options;
  options.timeout = std::chrono::seconds(60);
  return RunSubprocess(args, options);
}

Result<std::optional<nlohmann::json>> RuncRuntime::RuncState(const std::string& id) {
  auto r = Runc({"state", "--", id});
  if (!r.ok()) return r.error();
  if (r->exit_code != 0) {
    if (NotExist(r->err)) return std::optional<nlohmann::json>();
    return Internal("runc state " + id + ": " + RuncMessage(r->err));
  }
  auto json = nlohmann::json::parse(r->out, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Internal("runc state " + id + ": unreadable output");
  return std::optional<nlohmann::json>(std::move(json));
}

Status RuncRuntime::Run(const ContainerSpec& spec) {
  if (auto s = ValidateContainerSpec(spec); !s.ok()) return s;
  if (runc_path_.empty()) return StartFailed("runc is not installed on this node");
  if (spec.init_process && ::access(tini_path_.c_str(), X_OK) != 0)
    return StartFailed("initProcessEnabled needs " + tini_path_ + " on the node (install tini)");

  auto known = RuncState(spec.id);
  if (!known.ok()) return known.error();
  if (known->has_value()) return Invalid("container id \"" + spec.id + "\" is already in use");

  const std::string& bundle = spec.bundle_dir;
  {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(bundle).parent_path(), ec);
    if (ec) return StartFailed("cannot create the parent of " + bundle + ": " + ec.message());
    if (::mkdir(bundle.c_str(), 0700) != 0) {
      if (errno == EEXIST) return Invalid("bundle directory " + bundle + " already exists");
      return StartFailed("mkdir " + bundle + ": " + std::strerror(errno));
    }
  }
  // From here on, a failure removes the bundle again.
  auto fail = [&](Error e) -> Status {
    if (auto s = Cleanup(spec.id, bundle); !s.ok()) (void)RemoveTree(bundle);  // the id is someone else's
    return e;
  };
  if (auto s = WriteFileAtomic(bundle + "/" + kMarkerFile, spec.id + "\n", 0600); !s.ok()) return fail(s.error());

  const std::string rootfs = bundle + "/rootfs";
  if (auto r = images_.PrepareRootfs(spec.image, rootfs); !r.ok()) return fail(r.error());
  auto user = ResolveContainerUser(rootfs, spec.user);
  if (!user.ok()) return fail(user.error());
  for (const auto& m : spec.mounts)
    if (!Exists(m.source)) return fail(StartFailed("mount source " + m.source + " does not exist"));

  OciOptions options{tini_path_, hostname_};
  const std::string config = BuildOciConfig(spec, *user, options).dump(2) + "\n";
  if (auto s = WriteFileAtomic(bundle + "/config.json", config, 0600); !s.ok()) return fail(s.error());

  const std::string pid_file = bundle + "/" + kPidFile;
  const std::string exit_file = bundle + "/" + kExitFile;
  const std::string log_file = bundle + "/" + kLogFile;
  std::vector<std::string> argv = {runc_path_, "--root", root_dir_, "run",   "--bundle",
                                   bundle,     "--pid-file", pid_file, "--", spec.id};
  std::vector<std::string> supervisor_options;
  if (!spec.oom_watch_dir.empty()) supervisor_options = {"--oom-watch", spec.oom_watch_dir};
  if (auto s = StartSupervised(argv, {kDefaultPath}, log_file, exit_file, supervisor_, supervisor_options); !s.ok())
    return fail(s.error());
  (void)WriteFileAtomic(bundle + "/" + kSupervisedFile, "", 0600);

  // runc writes the pid file only once the container's process has been
  // started; the exit file appears when `runc run` is over. The exit file
  // without a pid file means the container never started.
  auto deadline = Clock::now() + start_timeout_;
  auto delay = std::chrono::milliseconds(5);
  for (;;) {
    bool exited = Exists(exit_file);
    if (Exists(pid_file)) return OkStatus();
    if (exited) {
      std::string tail = FileTail(log_file, kLogTailBytes);
      return fail(StartFailed("container " + spec.id + " failed to start: " + RuncMessage(tail)));
    }
    if (Clock::now() >= deadline) {
      std::string tail = FileTail(log_file, kLogTailBytes);
      return fail(StartFailed("container " + spec.id + " did not start within " +
                              std::to_string(start_timeout_.count()) + " ms" + (tail.empty() ? "" : ": " + tail)));
    }
    SleepFor(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

Result<ContainerState> RuncRuntime::State(const std::string& id, const std::string& bundle_dir) {
  if (!IsValidContainerId(id)) return Invalid("invalid container id \"" + id.substr(0, 80) + "\"");
  if (!IsNormalizedAbsolutePath(bundle_dir) || bundle_dir == "/")
    return Invalid("bundle directory \"" + bundle_dir + "\" must be an absolute, normalized path");

  auto stopped = [](std::optional<ExitRecord> record) {
    ContainerState s;
    s.status = ContainerStatus::kStopped;
    if (record) {
      s.exit_code = record->code;
      s.oom_killed = record->oom_killed;
    }
    return s;
  };
  if (auto record = ReadExitRecord(bundle_dir)) return stopped(record);

  auto state = RuncState(id);
  if (!state.ok()) return state.error();
  if (state->has_value()) {
    const auto& j = **state;
    std::string status = j.value("status", "");
    ContainerState s;
    if (status == "running" || status == "paused") {
      s.status = ContainerStatus::kRunning;
      s.pid = j.value("pid", 0);
      return s;
    }
    if (status == "created" || status == "creating") {
      s.status = ContainerStatus::kCreated;
      s.pid = j.value("pid", 0);
      return s;
    }
    if (status != "stopped") return Internal("runc state " + id + ": unknown status \"" + status + "\"");
  }
  // Stopped or gone: the supervisor writes the exit file right after
  // `runc run` returns.
  if (!Exists(bundle_dir + "/" + kMarkerFile))
    return MakeError("ContainerNotFound", "no container " + id + " at " + bundle_dir, 404);
  if (WaitForFile(bundle_dir + "/" + kExitFile, std::chrono::milliseconds(1000)))
    return stopped(ReadExitRecord(bundle_dir));
  if (Exists(bundle_dir + "/" + kMarkerFile)) return stopped(std::nullopt);
  return MakeError("ContainerNotFound", "no container " + id + " at " + bundle_dir, 404);
}

Status RuncRuntime::Kill(const std::string& id, int signal) {
  if (!IsValidContainerId(id)) return Invalid("invalid container id \"" + id.substr(0, 80) + "\"");
  if (signal <= 0 || signal >= NSIG) return Invalid("invalid signal " + std::to_string(signal));
  auto r = Runc({"kill", "--", id, std::to_string(signal)});
  if (!r.ok()) return r.error();
  if (r->exit_code == 0) return OkStatus();
  if (NotExist(r->err) || r->err.find("not running") != std::string::npos) return OkStatus();
  return Internal("runc kill " + id + ": " + RuncMessage(r->err));
}

Result<int> RuncRuntime::Exec(const std::string& id, const ExecSpec& spec) {
  if (!IsValidContainerId(id)) return Invalid("invalid container id \"" + id.substr(0, 80) + "\"");
  if (auto s = ValidateExecSpec(spec); !s.ok()) return s.error();

  auto state = RuncState(id);
  if (!state.ok()) return state.error();
  if (!state->has_value() || (**state).value("status", "") != "running")
    return MakeError("ContainerNotRunning", "container " + id + " is not running", 409);
  const std::string bundle = (**state).value("bundle", "");
  if (!IsNormalizedAbsolutePath(bundle) || bundle == "/")
    return Internal("runc state " + id + ": unexpected bundle \"" + bundle + "\"");

  // The bundle's config.json was written by Run(); the container cannot
  // reach it (only rootfs/ is inside).
  auto config_text = ReadSmallFile(bundle + "/config.json", kMaxJsonBytes);
  if (!config_text) return Internal("cannot read the config of container " + id);
  auto config = nlohmann::json::parse(*config_text, nullptr, false);
  if (config.is_discarded() || !config.contains("process") || !config["process"].is_object())
    return Internal("unreadable config of container " + id);

  nlohmann::json process = config["process"];
  std::vector<std::string> base_env;
  if (process.contains("env") && process["env"].is_array())
    for (const auto& e : process["env"])
      if (e.is_string()) base_env.push_back(e.get<std::string>());
  // Args are taken verbatim: the container's init (tini) is not involved.
  process["args"] = spec.args;
  process["env"] = MergeEnv(base_env, spec.env);
  process["cwd"] = spec.cwd.empty() ? "/" : spec.cwd;
  process["user"] = {{"uid", spec.uid}, {"gid", spec.gid}};
  // The container's own bounding set (its definition may add or drop).
  std::vector<std::string> bounding;
  if (process.contains("capabilities") && process["capabilities"].is_object() &&
      process["capabilities"].contains("bounding") && process["capabilities"]["bounding"].is_array())
    for (const auto& cap : process["capabilities"]["bounding"])
      if (cap.is_string()) bounding.push_back(cap.get<std::string>());
  process["capabilities"] = CapabilitiesFor(spec.uid, bounding);
  process["terminal"] = false;
  process["noNewPrivileges"] = true;

  std::string tmp_template = bundle + "/exec-XXXXXX";
  if (::mkdtemp(tmp_template.data()) == nullptr)
    return Internal("mkdtemp in " + bundle + ": " + std::strerror(errno));
  const std::string tmp = tmp_template;
  struct TmpDir {
    std::string path;
    ~TmpDir() { (void)RemoveTree(path); }
  } tmp_guard{tmp};

  const std::string process_file = tmp + "/process.json";
  const std::string pid_file = tmp + "/pid";
  const std::string runc_log = tmp + "/runc.log";
  if (auto s = WriteFileAtomic(process_file, process.dump() + "\n", 0600); !s.ok()) return s.error();

  int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (log_fd < 0) return Internal("open " + spec.log_path + ": " + std::strerror(errno));
  SubprocessOptions options;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  options.timeout = std::chrono::seconds(60);
  auto r = RunSubprocess({runc_path_, "--root", root_dir_, "--log", runc_log, "exec", "--detach", "--pid-file",
                          pid_file, "--process", process_file, "--", id},
                         options);
  ::close(log_fd);
  if (!r.ok()) return r.error();
  if (r->exit_code != 0) {
    std::string why = RuncMessage(FileTail(runc_log, kLogTailBytes));
    return MakeError("ContainerExecFailed", "exec in container " + id + " failed: " + why, 500);
  }
  auto pid_text = ReadSmallFile(pid_file, 64);
  auto pid = pid_text ? ParseInt(*pid_text) : std::nullopt;
  if (!pid || *pid <= 0) return MakeError("ContainerExecFailed", "exec in container " + id + ": no pid file", 500);
  return *pid;
}

Status RuncRuntime::Cleanup(const std::string& id, const std::string& bundle_dir) {
  // Only delete runc's container if it is the one of this bundle: a failed
  // Run() with an id already in use must not take the other container down.
  auto state = RuncState(id);
  if (!state.ok()) return state.error();
  if (state->has_value()) {
    std::string runc_bundle = (**state).value("bundle", "");
    if (!SameDirectory(runc_bundle, bundle_dir))
      return MakeError("InvalidParameterException",
                       "container " + id + " belongs to bundle " + runc_bundle + ", not " + bundle_dir);
    auto r = Runc({"delete", "--force", "--", id});
    if (!r.ok()) return r.error();
    if (r->exit_code != 0 && !NotExist(r->err)) return Internal("runc delete " + id + ": " + RuncMessage(r->err));
  }

  struct stat st;
  if (::lstat(bundle_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return OkStatus();
    return Internal("stat " + bundle_dir + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Internal("refusing to remove " + bundle_dir + ": not a directory");
  const std::string marker = bundle_dir + "/" + kMarkerFile;
  if (::lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Internal("refusing to remove " + bundle_dir + ": not a container bundle");
  // A supervisor still waiting on `runc run` writes the exit file right
  // after runc returns; let it finish before the directory goes.
  if (Exists(bundle_dir + "/" + kSupervisedFile) || Exists(bundle_dir + "/" + kPidFile))
    (void)WaitForFile(bundle_dir + "/" + kExitFile, std::chrono::milliseconds(5000));
  return RemoveTree(bundle_dir);
}

Status RuncRuntime::Remove(const std::string& id, const std::string& bundle_dir) {
  if (!IsValidContainerId(id)) return Invalid("invalid container id \"" + id.substr(0, 80) + "\"");
  if (!IsNormalizedAbsolutePath(bundle_dir) || bundle_dir == "/")
    return Invalid("bundle directory \"" + bundle_dir + "\" must be an absolute, normalized path");
  return Cleanup(id, bundle_dir);
}

Result<std::vector<std::string>> RuncRuntime::List() {
  auto r = Runc({"list", "--format", "json"});
  if (!r.ok()) return r.error();
  if (r->exit_code != 0) return Internal("runc list: " + RuncMessage(r->err));
  auto json = nlohmann::json::parse(r->out, nullptr, false);
  std::vector<std::string> ids;
  if (json.is_null()) return ids;
  if (!json.is_array()) return Internal("runc list: unreadable output");
  for (const auto& c : json)
    if (c.is_object() && c.contains("id") && c["id"].is_string()) ids.push_back(c["id"].get<std::string>());
  return ids;
}

}  // namespace porthole::node
