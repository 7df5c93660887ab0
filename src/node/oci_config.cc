#include "node/oci_config.h"

#include "common/ecs_ulimits.h"
#include "common/linux_capabilities.h"
#include "node/seccomp_profile.h"

#include "node/file_tree.h"

namespace porthole::node {
namespace {

constexpr size_t kMaxArgs = 4096;
constexpr size_t kMaxEnv = 4096;
constexpr size_t kMaxCommandBytes = 1 << 20;  // args and env together
constexpr size_t kMaxMounts = 256;

Error Invalid(std::string message) { return MakeError("InvalidParameterException", std::move(message)); }

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

// Docker's (and containerd's) default set, which ECS containers get.
Status ValidateEnv(const std::vector<std::string>& env, const char* field) {
  if (env.size() > kMaxEnv) return Invalid(std::string(field) + ": too many variables");
  for (const auto& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || HasNul(kv))
      return Invalid(std::string(field) + ": \"" + kv.substr(0, 64) + "\" is not NAME=VALUE");
  }
  return OkStatus();
}

Status ValidateArgs(const std::vector<std::string>& args, const std::vector<std::string>& env, const char* field) {
  if (args.empty() || args[0].empty()) return Invalid(std::string(field) + ": the command is empty");
  if (args.size() > kMaxArgs) return Invalid(std::string(field) + ": too many arguments");
  size_t total = 0;
  for (const auto& a : args) {
    if (HasNul(a)) return Invalid(std::string(field) + ": an argument contains a NUL byte");
    total += a.size() + 1;
  }
  for (const auto& e : env) total += e.size() + 1;
  if (total > kMaxCommandBytes) return Invalid(std::string(field) + ": command and environment are too long");
  return OkStatus();
}

bool HasEnv(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& kv : env)
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=') return true;
  return false;
}

nlohmann::json Mount(const char* destination, const char* type, const char* source,
                     std::vector<std::string> options) {
  return {{"destination", destination}, {"type", type}, {"source", source}, {"options", std::move(options)}};
}

}  // namespace

std::string RlimitTypeFor(const std::string& ecs_name) {
  if (!IsEcsUlimitName(ecs_name)) return "";
  std::string upper = "RLIMIT_";
  for (char c : ecs_name) upper += static_cast<char>(c - 'a' + 'A');
  return upper;
}

bool IsValidContainerId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '-' || id[0] == '.') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsSafeContainerPath(const std::string& path) {
  if (!IsNormalizedAbsolutePath(path) || path.size() > 4096) return false;
  return !(path == "/proc" || path.rfind("/proc/", 0) == 0);
}

Status ValidateContainerSpec(const ContainerSpec& spec) {
  if (!IsValidContainerId(spec.id))
    return Invalid("container id \"" + spec.id.substr(0, 80) + "\" must be 1-64 characters of [A-Za-z0-9_.-]");
  if (!IsNormalizedAbsolutePath(spec.bundle_dir) || spec.bundle_dir == "/")
    return Invalid("bundle directory \"" + spec.bundle_dir + "\" must be an absolute, normalized path");
  if (spec.image.empty()) return Invalid("image: empty");
  if (auto s = ValidateArgs(spec.args, spec.env, "command"); !s.ok()) return s;
  if (auto s = ValidateEnv(spec.env, "environment"); !s.ok()) return s;
  if (!spec.cwd.empty() && !IsSafeContainerPath(spec.cwd))
    return Invalid("workingDirectory \"" + spec.cwd + "\" must be an absolute path outside /proc without . or ..");
  if (spec.hostname.size() > 64) return Invalid("hostname: longer than 64 characters");
  for (char c : spec.hostname) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return Invalid("hostname \"" + spec.hostname + "\" may only contain letters, digits, '-' and '.'");
  }
  if (!spec.netns_path.empty() && (spec.host_network || !IsNormalizedAbsolutePath(spec.netns_path)))
    return Invalid("network namespace \"" + spec.netns_path + "\" must be an absolute, normalized path (and not with host networking)");
  if (!spec.cgroups_path.empty() && (spec.cgroups_path[0] != '/' || !IsNormalizedAbsolutePath(spec.cgroups_path)))
    return Invalid("cgroups path \"" + spec.cgroups_path + "\" must be absolute and normalized");
  for (const auto& r : spec.rlimits) {
    bool known = false;
    for (auto name : kEcsUlimitNames) known = known || r.type == RlimitTypeFor(std::string(name));
    if (!known) return Invalid("ulimit " + r.type.substr(0, 32) + " is not one ECS defines");
    if (r.soft > r.hard) return Invalid("ulimit " + r.type + ": softLimit is above hardLimit");
  }
  if (spec.tmpfs.size() > kMaxMounts) return Invalid("too many tmpfs mounts");
  for (const auto& t : spec.tmpfs) {
    if (!IsSafeContainerPath(t.destination) || t.destination == "/")
      return Invalid("tmpfs containerPath \"" + t.destination + "\" must be an absolute path other than / and /proc");
    if (t.size_bytes == 0) return Invalid("tmpfs " + t.destination + ": size must be at least 1 MiB");
    for (const auto& o : t.options)
      if (o.empty() || o.find(',') != std::string::npos || HasNul(o))
        return Invalid("tmpfs " + t.destination + ": invalid mount option \"" + o.substr(0, 32) + "\"");
  }
  if (spec.mounts.size() > kMaxMounts) return Invalid("too many mount points");
  for (const auto& m : spec.mounts) {
    if (!IsNormalizedAbsolutePath(m.source))
      return Invalid("mount source \"" + m.source + "\" must be an absolute, normalized path");
    if (!IsSafeContainerPath(m.destination) || m.destination == "/")
      return Invalid("mount destination \"" + m.destination + "\" must be an absolute path other than / and /proc");
    if (spec.init_process && (m.destination == kInitPathInContainer))
      return Invalid("mount destination \"" + m.destination + "\" is reserved for the init process");
  }
  return OkStatus();
}

Status ValidateExecSpec(const ExecSpec& spec) {
  if (auto s = ValidateArgs(spec.args, spec.env, "exec command"); !s.ok()) return s;
  if (auto s = ValidateEnv(spec.env, "exec environment"); !s.ok()) return s;
  if (!spec.cwd.empty() && !IsSafeContainerPath(spec.cwd))
    return Invalid("exec working directory \"" + spec.cwd + "\" must be an absolute path outside /proc without . or ..");
  if (spec.uid == 0xffffffffu || spec.gid == 0xffffffffu) return Invalid("exec user: uid/gid 4294967295 is invalid");
  if (!IsNormalizedAbsolutePath(spec.log_path) || spec.log_path == "/")
    return Invalid("exec log path \"" + spec.log_path + "\" must be an absolute, normalized path");
  return OkStatus();
}

nlohmann::json CapabilitiesFor(uint32_t uid, const std::vector<std::string>& caps) {
  // As execve does for a non-root user (and as Docker configures it): the
  // bounding set only; no effective or permitted capabilities.
  if (uid != 0) return {{"bounding", caps}};
  return {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
}

std::vector<std::string> MergeEnv(const std::vector<std::string>& base, const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  auto name_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  for (const auto& kv : base) {
    bool replaced = false;
    for (const auto& o : overrides)
      if (name_of(o) == name_of(kv)) replaced = true;
    if (!replaced) out.push_back(kv);
  }
  for (const auto& o : overrides) {
    // A later duplicate of the same name wins, as in a shell.
    bool later = false;
    for (auto it = out.begin(); it != out.end(); ++it)
      if (name_of(*it) == name_of(o)) {
        *it = o;
        later = true;
        break;
      }
    if (!later) out.push_back(o);
  }
  return out;
}

namespace {

// RLIMIT_NOFILE 1024:1024 unless the definition says otherwise.
nlohmann::json Rlimits(const std::vector<Rlimit>& given) {
  std::vector<Rlimit> all = given;
  bool nofile = false;
  for (const auto& r : given) nofile = nofile || r.type == "RLIMIT_NOFILE";
  if (!nofile) all.insert(all.begin(), Rlimit{"RLIMIT_NOFILE", 1024, 1024});
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : all) out.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
  return out;
}

}  // namespace

nlohmann::json BuildOciConfig(const ContainerSpec& spec, const ContainerUser& user, const OciOptions& options) {
  const std::string hostname = spec.hostname.empty() ? options.hostname : spec.hostname;
  const std::vector<std::string> capabilities = spec.capabilities.value_or(DefaultCapabilities());

  std::vector<std::string> env = MergeEnv({}, spec.env);
  if (!HasEnv(env, "PATH")) env.insert(env.begin(), kDefaultPath);
  if (!HasEnv(env, "HOSTNAME") && !hostname.empty()) env.push_back("HOSTNAME=" + hostname);
  if (!HasEnv(env, "HOME")) env.push_back("HOME=" + user.home);

  std::vector<std::string> args;
  if (spec.init_process) {
    args = {kInitPathInContainer, "--"};
  }
  args.insert(args.end(), spec.args.begin(), spec.args.end());

  nlohmann::json process = {
      {"terminal", false},
      {"user", {{"uid", user.uid}, {"gid", user.gid}}},
      {"args", args},
      {"env", env},
      {"cwd", spec.cwd.empty() ? "/" : spec.cwd},
      {"capabilities", CapabilitiesFor(user.uid, capabilities)},
      {"rlimits", Rlimits(spec.rlimits)},
      {"noNewPrivileges", true},
  };
  if (!user.additional_gids.empty()) process["user"]["additionalGids"] = user.additional_gids;

  nlohmann::json mounts = nlohmann::json::array({
      Mount("/proc", "proc", "proc", {}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm",
            {"nosuid", "noexec", "nodev", "mode=1777",
             "size=" + std::to_string(spec.shm_size_bytes ? spec.shm_size_bytes / 1024 : 65536) + "k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  });
  if (spec.init_process) {
    mounts.push_back(Mount(kInitPathInContainer, "bind", options.tini_path.c_str(), {"bind", "ro", "nosuid", "nodev"}));
  }
  for (const auto& t : spec.tmpfs) {
    std::vector<std::string> opts = {"nosuid", "nodev"};
    opts.insert(opts.end(), t.options.begin(), t.options.end());
    opts.push_back("size=" + std::to_string(t.size_bytes / 1024) + "k");
    mounts.push_back({{"destination", t.destination}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", opts}});
  }
  for (const auto& m : spec.mounts) {
    std::vector<std::string> opts = {"rbind", "nosuid", "nodev"};
    if (m.read_only) {
      opts.push_back("ro");
      opts.push_back("rro");  // submounts too (mount_setattr; runc >= 1.1, Linux >= 5.12)
    } else {
      opts.push_back("rw");
    }
    opts.push_back("rprivate");
    mounts.push_back({{"destination", m.destination}, {"type", "bind"}, {"source", m.source}, {"options", opts}});
  }

  nlohmann::json namespaces =
      nlohmann::json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!spec.netns_path.empty()) {
    namespaces.push_back({{"type", "network"}, {"path", spec.netns_path}});
  } else if (!spec.host_network) {
    namespaces.push_back({{"type", "network"}});  // runc brings its lo up
  }
  nlohmann::json linux_section = {
      {"resources", {{"devices", nlohmann::json::array({{{"allow", false}, {"access", "rwm"}}})}}},
      {"namespaces", namespaces},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
      {"seccomp", DefaultSeccompProfile(capabilities)},
  };

  nlohmann::json config = {
      {"ociVersion", "1.0.2"},
      {"process", process},
      {"root", {{"path", "rootfs"}, {"readonly", spec.readonly_rootfs}}},
      {"mounts", mounts},
      {"linux", linux_section},
  };
  if (!hostname.empty()) config["hostname"] = hostname;
  if (!spec.cgroups_path.empty()) config["linux"]["cgroupsPath"] = spec.cgroups_path;
  return config;
}

}  // namespace porthole::node
