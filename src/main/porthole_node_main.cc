// porthole-node --data-dir DIR --endpoint URL [--join-token-file FILE] [--bridge NAME --bridge-subnet CIDR]
// Joins with a join token (--join-token-file, or PORTHOLE_JOIN_TOKEN) or, without
// one, with IAM credentials from the standard AWS environment variables and
// shared files; afterwards it signs with its own instance credentials only.
// Region and CA come from the AWS settings (AWS_CONFIG_FILE, AWS_CA_BUNDLE, ...).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>

#include "common/aws_config.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/log.h"
#include "net/aws_json_client.h"
#include "node/node_agent.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"porthole-node: runs Porthole tasks on this host with runc"};
  std::string data_dir = "porthole-node-data";
  std::string endpoint;
  std::string profile;
  std::string exec_agent;
  std::string join_token_file;
  bool stop_tasks_on_exit = false;
  bool clean_up = false;
  porthole::node::CniConfig network;
  app.add_option("--data-dir", data_dir, "node state, images and bundles")->capture_default_str();
  auto* endpoint_option = app.add_option("--endpoint", endpoint, "portholed URL, e.g. https://127.0.0.1:8443");
  app.add_flag("--clean-up", clean_up,
               "remove every task's containers and networks left in --data-dir, then exit (no --endpoint needed)");
  app.add_option("--profile", profile, "AWS profile with IAM credentials to join with (when no join token)");
  app.add_option("--join-token-file", join_token_file, "file holding a join token (porthole node-token create)");
  app.add_option("--exec-agent", exec_agent, "porthole-exec-agent binary (default: next to this program)");
  app.add_flag("--stop-tasks-on-exit", stop_tasks_on_exit, "stop and remove every task on SIGINT/SIGTERM");
  app.add_option("--bridge", network.bridge, "bridge of bridge and awsvpc tasks (made when missing)")
      ->capture_default_str();
  app.add_option("--bridge-subnet", network.subnet, "IPv4 subnet of the bridge; tasks get addresses in it")
      ->capture_default_str();
  app.add_option("--cni-plugin-dir", network.plugin_dir, "where the CNI plugins are")->capture_default_str();
  std::string cgroup_parent;
  int64_t pids_limit = 4096;
  app.add_option("--cgroup-parent", cgroup_parent,
                 "control group of this node's tasks, its own (default: porthole/node-<digest of --data-dir>)");
  app.add_option("--pids-limit", pids_limit, "most processes per container (0: no limit)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  porthole::log::SetProgram("porthole-node");
  network.network_name = "porthole-" + network.bridge;  // one IPAM space and rule set per bridge
  // The bridge is the host's, so are its addresses: every node on it shares
  // one IPAM store (host-local locks it), gone with the bridge at a reboot.
  network.ipam_dir = "/run/porthole/ipam";
  const std::string absolute_data_dir = std::filesystem::absolute(data_dir).lexically_normal().string();
  if (cgroup_parent.empty())
    cgroup_parent = "porthole/node-" + porthole::crypto::HexEncode(porthole::crypto::Sha256(absolute_data_dir)).substr(0, 12);
  if (clean_up) {
    porthole::node::NodeOptions options;
    options.data_dir = std::filesystem::absolute(data_dir).string();
    options.network = network;
    options.cgroup_parent = cgroup_parent;
    auto status = porthole::node::CleanUpNode(options);
    if (!status) {
      std::cerr << "porthole-node: " << status.error().message << "\n";
      return 1;
    }
    return 0;
  }
  if (endpoint_option->count() == 0) {
    std::cerr << "porthole-node: --endpoint is required\n";
    return 2;
  }

  porthole::ResolveOptions resolve;
  if (!profile.empty()) resolve.profile = profile;
  resolve.endpoint_url = endpoint;
  std::string join_token;
  if (!join_token_file.empty()) {
    auto text = porthole::ReadFile(join_token_file, 4096);
    if (!text) {
      std::cerr << "porthole-node: cannot read " << join_token_file << "\n";
      return 2;
    }
    join_token = *text;
    while (!join_token.empty() && std::isspace(static_cast<unsigned char>(join_token.back()))) join_token.pop_back();
  } else if (const char* env = std::getenv("PORTHOLE_JOIN_TOKEN")) {
    join_token = env;
  }
  // Credentials are optional: a node with a join token, or with its own
  // instance credentials from an earlier start, needs none.
  resolve.require_credentials = false;
  auto settings = porthole::ResolveAwsSettings(resolve);
  if (!settings) {
    std::cerr << "porthole-node: " << settings.error().message << "\n";
    return 2;
  }
  auto ca = porthole::net::ReadCaBundle(settings->ca_bundle);
  if (!ca) {
    std::cerr << "porthole-node: " << ca.error().message << "\n";
    return 2;
  }
  if (exec_agent.empty())
    exec_agent = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "porthole-exec-agent").string();

  porthole::node::NodeOptions options;
  options.data_dir = std::filesystem::absolute(data_dir).string();
  options.endpoint = endpoint;
  options.join_token = join_token;
  options.join_credentials = {settings->access_key_id, settings->secret_access_key, settings->session_token};
  options.region = settings->region;
  options.ca_pem = *ca;
  options.exec_agent_path = exec_agent;
  options.stop_tasks_on_exit = stop_tasks_on_exit;
  options.network = network;
  options.cgroup_parent = cgroup_parent;
  options.pids_limit = pids_limit;

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto status = porthole::node::RunNode(options, g_stop);
  if (!status) {
    std::cerr << "porthole-node: " << status.error().message << "\n";
    return 1;
  }
  return 0;
}
