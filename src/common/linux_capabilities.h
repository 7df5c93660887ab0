#pragma once
// Linux capability names, as task definitions give them
// (linuxParameters.capabilities: "SYS_ADMIN" or "CAP_SYS_ADMIN", and "ALL")
// and as the OCI config writes them ("CAP_SYS_ADMIN").
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace porthole {

// Every capability of Linux 5.9 and later (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE).
const std::vector<std::string>& AllCapabilities();

// Docker's default set: what a container has unless its definition adds or drops.
const std::vector<std::string>& DefaultCapabilities();

// "CAP_" + the upper-cased name when `name` (with or without the prefix,
// any case) is a capability; nullopt otherwise. "ALL" is not a capability.
std::optional<std::string> CanonicalCapability(std::string_view name);

// The bounding set of a container with `add` and `drop` (names as
// CanonicalCapability reads them, or "ALL"), applied as Docker applies
// them: start from the default set; drop "ALL" empties it, otherwise the
// dropped names leave; then add "ALL" gives every capability, otherwise the
// added ones join. Names are expected to be valid (checked on registration).
std::vector<std::string> ResolveCapabilities(const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop);

}  // namespace porthole
