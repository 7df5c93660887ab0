#pragma once
// Running OCI containers on this host. The seam between the node agent's task
// lifecycle and runc (tests may substitute a fake).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace porthole::node {

struct BindMount {
  std::string source;       // host path
  std::string destination;  // path inside the container
  bool read_only = true;
};

// A resource limit of the container's processes (ECS's ulimits).
struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE", ...
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// A tmpfs of the container (ECS's linuxParameters.tmpfs).
struct TmpfsMount {
  std::string destination;
  uint64_t size_bytes = 0;
  std::vector<std::string> options;  // mount options as ECS lists them ("noexec", "mode=1777", ...)
};

// Everything needed to write an OCI bundle and run one container.
struct ContainerSpec {
  std::string id;          // runc container id; unique on this host ([A-Za-z0-9_.-], <= 64 chars)
  std::string bundle_dir;  // created by the runtime; holds config.json, rootfs/, logs and the exit file
  std::string image;       // name in the ImageStore, e.g. "busybox" or "busybox:latest"
  std::vector<std::string> args;  // entryPoint + command, already merged; non-empty
  std::vector<std::string> env;   // "K=V"; PATH and HOSTNAME defaulted if absent
  std::string cwd = "/";
  std::string user;        // as in the ECS container definition: "", "uid", "uid:gid", "name", "name:group"
  bool readonly_rootfs = false;
  bool init_process = false;  // tini-static as PID 1 (the host's /usr/bin/tini-static, bind-mounted ro)
  // The bounding set ("CAP_..."); nullopt: Docker's default. Exec'd
  // processes get the container's set.
  std::optional<std::vector<std::string>> capabilities;
  std::string hostname;
  std::vector<BindMount> mounts;
  // The network namespace: the host's (host_network), the one mounted at
  // netns_path (node/network_namespace.h), or else a new one with only lo.
  bool host_network = false;
  std::string netns_path;
  // runc's linux.cgroupsPath (node/cgroups.h); empty: runc's default. The
  // limits live on the node's groups above it.
  std::string cgroups_path;
  // The container's memory control group directory, watched for OOM kills by
  // its supervisor (which outlives a node restart); empty: not watched.
  std::string oom_watch_dir;
  std::vector<Rlimit> rlimits;    // replace the default of the same type
  uint64_t shm_size_bytes = 0;    // /dev/shm; 0: 64 MiB, as Docker
  std::vector<TmpfsMount> tmpfs;
};

enum class ContainerStatus { kCreated, kRunning, kStopped, kUnknown };

struct ContainerState {
  ContainerStatus status = ContainerStatus::kUnknown;
  int pid = 0;                       // host pid of the container's init, when running
  std::optional<int> exit_code;      // once stopped: exit status, or 128+signal
  bool oom_killed = false;           // once stopped: killed for memory (ContainerSpec::oom_watch_dir)
};

// A process started inside a running container.
struct ExecSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string log_path;  // host file receiving the process's stdout and stderr
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // Prepares the bundle (rootfs from the image, config.json) and starts the
  // container. Returns once the container's process is running or has failed
  // to start (error "ContainerStartFailed" with runc's message). The container
  // is supervised by a detached process that outlives the caller, so a node
  // restart does not stop or orphan it; its exit status lands in the bundle.
  virtual Status Run(const ContainerSpec& spec) = 0;

  // State of a container this runtime started (also after a restart of the
  // caller: it reads runc's state and the bundle's exit file).
  virtual Result<ContainerState> State(const std::string& id, const std::string& bundle_dir) = 0;

  // Sends `signal` to the container's init process.
  virtual Status Kill(const std::string& id, int signal) = 0;

  // Starts a detached process inside the running container (`runc exec -d`);
  // returns its host pid.
  virtual Result<int> Exec(const std::string& id, const ExecSpec& spec) = 0;

  // Removes runc's state for a stopped container and its bundle directory.
  virtual Status Remove(const std::string& id, const std::string& bundle_dir) = 0;

  // Ids of the containers runc knows about under this runtime's root.
  virtual Result<std::vector<std::string>> List() = 0;
};

}  // namespace porthole::node
