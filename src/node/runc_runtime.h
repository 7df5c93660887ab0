#pragma once
// ContainerRuntime on runc (OCI bundles), one runc state root per runtime.
//
// Bundle layout (everything host-side; the container only sees rootfs/):
//   <bundle>/.porthole-bundle  marker: Remove() deletes only marked bundles
//   <bundle>/config.json       OCI runtime spec
//   <bundle>/rootfs/           private copy of the image
//   <bundle>/container.log     the container's stdout and stderr, and runc's
//   <bundle>/init.pid          written by runc once the process has started
//   <bundle>/exit_code         written by the supervisor when runc exits:
//                              the exit code, or 128+signal
//
// Each container runs under a detached supervisor process (porthole-supervise,
// see StartSupervised) running `runc run` in the foreground, so containers keep
// running when the node process exits or restarts, and their exit status is
// recorded. All methods may be called from several threads at once.
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "node/container_runtime.h"
#include "node/image_store.h"
#include "node/subprocess.h"

namespace porthole::node {

class RuncRuntime : public ContainerRuntime {
 public:
  // `images` must outlive the runtime. Every runc call uses
  // `runc --root <runc_root_dir>`, so separate runtimes (tests, several
  // nodes on one host) never see each other's containers. `runc_binary` is
  // looked up in PATH unless absolute. `supervisor` is porthole-supervise
  // (default: beside this program).
  RuncRuntime(ImageStore& images, std::string runc_root_dir, std::string tini_path = "/usr/bin/tini-static",
              std::string runc_binary = "runc", std::string supervisor = SupervisorBesideThisProgram());

  // Errors: "InvalidParameterException" (bad spec, id in use, bundle_dir
  // exists), "ClientException" (image not found), "ContainerStartFailed"
  // (runc refused or the process could not start; the message carries the
  // tail of container.log). A container that starts and exits at once is a
  // success: State() reports its exit code. On failure nothing is left
  // behind (no bundle, no runc state).
  Status Run(const ContainerSpec& spec) override;

  // kStopped with exit_code once the exit file exists; else runc's view
  // (kCreated, kRunning with pid; "paused" counts as kRunning). When runc
  // does not know the id: error "ContainerNotFound" if there is no bundle;
  // else the exit file is awaited for up to a second (the supervisor writes
  // it just after runc exits) and, failing that, kStopped without exit_code
  // (the supervisor was lost, e.g. killed).
  Result<ContainerState> State(const std::string& id, const std::string& bundle_dir) override;

  // `runc kill`. A container that is not running or no longer exists is not
  // an error (stopping is idempotent).
  Status Kill(const std::string& id, int signal) override;

  // `runc exec -d` with a process.json derived from the container's
  // config.json (so capabilities follow the exec uid: the default set for
  // uid 0, none effective otherwise). stdin is /dev/null; stdout and stderr
  // append to spec.log_path (created 0600 if missing; not a symlink), which
  // also receives runc's own error message on failure. Errors:
  // "InvalidParameterException", "ContainerNotRunning", "ContainerExecFailed".
  Result<int> Exec(const std::string& id, const ExecSpec& spec) override;

  // `runc delete --force` (a missing container is fine), waits briefly for
  // the supervisor to record the exit status, then removes the bundle
  // directory, refusing directories without the bundle marker. A missing
  // bundle is not an error.
  Status Remove(const std::string& id, const std::string& bundle_dir) override;

  Result<std::vector<std::string>> List() override;

  // The resolved runc binary; empty when runc was not found.
  const std::string& runc_path() const { return runc_path_; }

  // How long Run() waits for the container to start (default 10 s).
  void set_start_timeout(std::chrono::milliseconds t) { start_timeout_ = t; }

 private:
  // `runc state <id>`: nullopt when runc does not know the id.
  Result<std::optional<nlohmann::json>> RuncState(const std::string& id);
  Result<SubprocessResult> Runc(std::vector<std::string> args);
  Status Cleanup(const std::string& id, const std::string& bundle_dir);

  ImageStore& images_;
  std::string root_dir_;
  std::string tini_path_;
  std::string runc_path_;
  std::string supervisor_;
  std::string hostname_;
  std::chrono::milliseconds start_timeout_{10000};
};

}  // namespace porthole::node
