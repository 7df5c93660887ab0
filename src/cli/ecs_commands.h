#pragma once
// `porthole ecs <operation>`: the ECS operations with the AWS CLI's flag names
// and JSON output, and `execute-command` with an interactive session.
#include <CLI/CLI.hpp>

namespace porthole::cli {

// Adds the `ecs` subcommand tree to `app`. Running a command sets `exit_code`.
void AddEcsCommands(CLI::App& app, int& exit_code);

}  // namespace porthole::cli
