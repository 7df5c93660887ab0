#include "common/ids.h"

#include <cstring>

#include "common/crypto.h"

namespace porthole::ids {

UuidBytes NewUuidBytes() {
  std::string r = crypto::RandomBytes(16);
  UuidBytes u{};
  std::memcpy(u.data(), r.data(), 16);
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

std::string UuidToString(const UuidBytes& u) {
  std::string hex = crypto::HexEncode(std::string_view(reinterpret_cast<const char*>(u.data()), u.size()));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

std::optional<UuidBytes> ParseUuid(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    return std::nullopt;
  std::string hex;
  for (char c : text)
    if (c != '-') hex.push_back(c);
  auto raw = crypto::HexDecode(hex);
  if (!raw || raw->size() != 16) return std::nullopt;
  UuidBytes u{};
  std::memcpy(u.data(), raw->data(), 16);
  return u;
}

std::string NewUuid() { return UuidToString(NewUuidBytes()); }
std::string RandomHex(size_t n_bytes) { return crypto::HexEncode(crypto::RandomBytes(n_bytes)); }
std::string NewTaskId() { return RandomHex(16); }
std::string RandomToken(size_t n_bytes) { return crypto::Base64UrlEncode(crypto::RandomBytes(n_bytes)); }

}  // namespace porthole::ids
