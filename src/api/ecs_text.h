#pragma once
// Error texts that must match ECS (shared/ecs-exec.md, shared/reference/ecs-exec-in-practice.md §1.1).
#include <string_view>

namespace porthole::api::text {

inline constexpr std::string_view kExecNotEnabledOrAgentNotRunning =
    "The execute command failed because execute command was not enabled when the task was run or the execute "
    "command agent isn't running. Wait and try again or run a new task with execute command enabled and try again.";
inline constexpr std::string_view kInteractiveOnly = "Interactive is the only mode supported currently.";
inline constexpr std::string_view kTargetNotConnected =
    "The execute command failed due to an internal error. Try again later.";
inline constexpr std::string_view kTaskNotFound = "The specified task was not found.";
inline constexpr std::string_view kContainerRequired =
    "The task has more than one container: specify the container to run the command in with --container.";

}  // namespace porthole::api::text
