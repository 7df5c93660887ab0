#pragma once
// ECS's ulimit names (ContainerDefinition.ulimits[].name), shared by the
// control plane that validates a definition and the node that maps each to
// an OCI rlimit ("nofile" -> RLIMIT_NOFILE).
#include <array>
#include <string_view>

namespace porthole {

inline constexpr std::array<std::string_view, 15> kEcsUlimitNames = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"};

inline bool IsEcsUlimitName(std::string_view name) {
  for (auto n : kEcsUlimitNames)
    if (n == name) return true;
  return false;
}

}  // namespace porthole
