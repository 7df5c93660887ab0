#pragma once
// Identifiers: UUIDs, ECS-style task ids, secrets for tokens and keys.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::ids {

using UuidBytes = std::array<uint8_t, 16>;

UuidBytes NewUuidBytes();                      // random version-4 UUID
std::string UuidToString(const UuidBytes& u);  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lowercase
std::optional<UuidBytes> ParseUuid(std::string_view text);
std::string NewUuid();

// 32 lowercase hex characters, as ECS task ids are.
std::string NewTaskId();
// `n` random bytes as lowercase hex.
std::string RandomHex(size_t n_bytes);
// Random token of `n_bytes` entropy, base64url without padding.
std::string RandomToken(size_t n_bytes);

}  // namespace porthole::ids
