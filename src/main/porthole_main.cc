// porthole: the operator CLI.
//   porthole ecs <operation> ...   ECS operations, AWS CLI flag names and JSON output
//   porthole up                    the embedded default: control plane + node in the foreground
//   porthole env                   export lines for the AWS CLI and this CLI
#include <CLI/CLI.hpp>

#include "cli/ecs_commands.h"
#include "cli/local_stack.h"
#include "cli/plugin_mode.h"

#include <string>

int main(int argc, char** argv) {
  // Installed or linked as session-manager-plugin: the AWS CLI's plugin contract.
  std::string self = argv[0];
  if (self.substr(self.rfind('/') + 1) == "session-manager-plugin") return porthole::cli::RunPluginMode(argc, argv);
  CLI::App app{"porthole: run commands in containers of running tasks (ECS Exec, self-hosted)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "porthole " PORTHOLE_VERSION);
  int exit_code = 0;
  porthole::cli::AddEcsCommands(app, exit_code);

  std::string data_dir = porthole::cli::DefaultDataDir();
  uint16_t port = 8443;
  auto* up = app.add_subcommand("up", "start a local control plane and node (foreground)");
  up->add_option("--data-dir", data_dir, "data directory")->capture_default_str();
  up->add_option("--port", port, "API and gateway port (0: any free port)")->capture_default_str();
  up->callback([&] { exit_code = porthole::cli::RunUp(data_dir, port); });

  auto* env = app.add_subcommand("env", "print the environment for the AWS CLI and porthole");
  env->add_option("--data-dir", data_dir, "data directory")->capture_default_str();
  env->callback([&] { exit_code = porthole::cli::PrintEnv(data_dir); });

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
