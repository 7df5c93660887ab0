// porthole-node --data-dir DIR --endpoint URL
// Credentials, region and CA come from the standard AWS environment variables
// and shared files (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_CA_BUNDLE, ...).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>

#include "common/aws_config.h"
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
  bool stop_tasks_on_exit = false;
  app.add_option("--data-dir", data_dir, "node state, images and bundles")->capture_default_str();
  app.add_option("--endpoint", endpoint, "portholed URL, e.g. https://127.0.0.1:8443")->required();
  app.add_option("--profile", profile, "AWS profile with the node's credentials");
  app.add_option("--exec-agent", exec_agent, "porthole-exec-agent binary (default: next to this program)");
  app.add_flag("--stop-tasks-on-exit", stop_tasks_on_exit, "stop and remove every task on SIGINT/SIGTERM");
  CLI11_PARSE(app, argc, argv);
  porthole::log::SetProgram("porthole-node");

  porthole::ResolveOptions resolve;
  if (!profile.empty()) resolve.profile = profile;
  resolve.endpoint_url = endpoint;
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
  options.credentials = {settings->access_key_id, settings->secret_access_key, settings->session_token};
  options.region = settings->region;
  options.ca_pem = *ca;
  options.exec_agent_path = exec_agent;
  options.stop_tasks_on_exit = stop_tasks_on_exit;

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
