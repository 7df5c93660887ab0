#pragma once
// The OCI runtime spec (1.0.2) config.json for one container, and the
// validation of a ContainerSpec that comes before it.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/container_runtime.h"
#include "node/container_user.h"

namespace porthole::node {

// Where the init (tini) is bind-mounted inside containers with
// init_process, and the PATH containers get when their env has none.
inline constexpr const char kInitPathInContainer[] = "/managed-agents/init/tini";
inline constexpr const char kDefaultPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// True for a runc container id: 1-64 bytes of [A-Za-z0-9_.-], not "." or
// "..", not starting with '-' or '.'.
bool IsValidContainerId(const std::string& id);

// True for a path inside the container usable as a working directory or
// mount destination: absolute, no "." / ".." / empty components, and not
// under /proc (a `/proc/self/fd/N` cwd is the CVE-2024-21626 escape).
bool IsSafeContainerPath(const std::string& path);

// Checks everything Run() relies on; error "InvalidParameterException"
// naming the offending field.
Status ValidateContainerSpec(const ContainerSpec& spec);

// The OCI rlimit type for ECS's ulimit name ("nofile" -> "RLIMIT_NOFILE");
// empty for a name ECS does not define.
std::string RlimitTypeFor(const std::string& ecs_name);

// Checks an ExecSpec; error "InvalidParameterException".
Status ValidateExecSpec(const ExecSpec& spec);

struct OciOptions {
  std::string tini_path;  // host path of the static tini, bind-mounted when spec.init_process
  std::string hostname;   // used when spec.hostname is empty
};

// The config.json for `spec` (already validated), running as `user`.
// pid, ipc, uts and mount namespaces, and the network namespace
// spec.host_network / spec.netns_path choose; spec.capabilities (Docker's default set unless given) for
// uid 0 (bounding only for other users) and Docker's default seccomp
// profile for that set (node/seccomp_profile.h);
// no_new_privs; the runc default masked and read-only paths;
// spec.mounts as recursive bind mounts (read-only ones recursively so),
// spec.tmpfs, spec.rlimits over the default RLIMIT_NOFILE 1024, /dev/shm of
// spec.shm_size_bytes, and linux.cgroupsPath from spec.cgroups_path.
nlohmann::json BuildOciConfig(const ContainerSpec& spec, const ContainerUser& user, const OciOptions& options);

// The OCI process.capabilities for a process running as `uid` with the
// bounding set `caps`: root has them all effective; another user, as after
// execve, only the bounding set.
nlohmann::json CapabilitiesFor(uint32_t uid, const std::vector<std::string>& caps);

// `base` "K=V" entries with those named in `overrides` replaced; new names
// appended in order. Among duplicates in `overrides` the last one wins.
std::vector<std::string> MergeEnv(const std::vector<std::string>& base, const std::vector<std::string>& overrides);

}  // namespace porthole::node
