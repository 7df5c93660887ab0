#pragma once
// Small wrappers over OpenSSL 3 primitives used across Porthole.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::crypto {

// Raw 32-byte digests / MACs (binary strings).
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

std::string HexEncode(std::string_view bytes);  // lowercase
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);
std::string Base64UrlEncode(std::string_view bytes);  // no padding

// Cryptographically secure random bytes (RAND_bytes); aborts if the CSPRNG fails.
std::string RandomBytes(size_t n);

// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace porthole::crypto

namespace porthole::crypto {

// AES-256-GCM with a random 96-bit nonce: returns nonce || ciphertext || tag.
// `key` must be 32 bytes. Used to keep secrets at rest out of the clear.
std::string AesGcmSeal(std::string_view key, std::string_view plaintext);
// Inverse of AesGcmSeal; nullopt when the input was not sealed with `key` or was altered.
std::optional<std::string> AesGcmOpen(std::string_view key, std::string_view sealed);

}  // namespace porthole::crypto
