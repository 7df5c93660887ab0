#pragma once
// ECS's network modes (TaskDefinition.networkMode), shared by the control
// plane that validates a definition and the node that sets the task's
// network up (node/task_network.h).
#include <array>
#include <optional>
#include <string_view>

namespace porthole {

enum class NetworkMode { kBridge, kAwsvpc, kHost, kNone };

// The default on ECS's EC2 launch type.
inline constexpr NetworkMode kDefaultNetworkMode = NetworkMode::kBridge;

inline constexpr std::array<std::string_view, 4> kEcsNetworkModeNames = {"bridge", "awsvpc", "host", "none"};

inline std::string_view NetworkModeName(NetworkMode mode) { return kEcsNetworkModeNames[static_cast<size_t>(mode)]; }

inline std::optional<NetworkMode> ParseNetworkMode(std::string_view name) {
  for (size_t i = 0; i < kEcsNetworkModeNames.size(); ++i)
    if (kEcsNetworkModeNames[i] == name) return static_cast<NetworkMode>(i);
  return std::nullopt;
}

}  // namespace porthole
