#include "protocol/client_message.h"

#include <algorithm>
#include <cstring>

#include "common/crypto.h"

namespace porthole::protocol {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Callers guarantee `offset + 4 <= in.size()` (the header size is checked first).
uint32_t GetU32(std::string_view in, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}

uint64_t GetU64(std::string_view in, size_t offset) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[offset + i]);
  return v;
}

Error InvalidFrame(std::string message) { return MakeError("InvalidFrame", std::move(message)); }

bool IsPadding(char c) { return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

uint64_t NowMillis() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
}

std::string Encode(const ClientMessage& m, PayloadDigest digest) {
  std::string out;
  out.reserve(kHeaderSize + m.payload.size());
  PutU32(out, kHeaderLength);
  // Message types are short ASCII constants; a longer one is a programming
  // error and is cut to the field size rather than corrupting the layout.
  std::string type = m.message_type.substr(0, kMessageTypeSize);
  type.resize(kMessageTypeSize, ' ');
  out += type;
  PutU32(out, m.schema_version);
  PutU64(out, m.created_date_ms != 0 ? m.created_date_ms : NowMillis());
  PutU64(out, static_cast<uint64_t>(m.sequence_number));
  PutU64(out, m.flags);
  // Halves swapped: UUID bytes 8..15 first, then bytes 0..7.
  out.append(reinterpret_cast<const char*>(m.message_id.data()) + 8, 8);
  out.append(reinterpret_cast<const char*>(m.message_id.data()), 8);
  if (digest == PayloadDigest::kComputed) {
    out += crypto::Sha256(m.payload);
  } else {
    out.append(kDigestSize, '\0');
  }
  PutU32(out, static_cast<uint32_t>(m.payload_type));
  PutU32(out, static_cast<uint32_t>(m.payload.size()));
  out += m.payload;
  return out;
}

namespace {
bool IsPublicationControl(std::string_view type) { return type == kStartPublication || type == kPausePublication; }
}  // namespace

Result<ClientMessage> DecodeHeader(std::string_view frame) {
  if (frame.size() < kHeaderSize) {
    return InvalidFrame("frame is " + std::to_string(frame.size()) + " bytes, shorter than the " +
                        std::to_string(kHeaderSize) + "-byte header");
  }
  uint32_t header_length = GetU32(frame, kOffHeaderLength);
  if (header_length != kHeaderLength) {
    return InvalidFrame("HeaderLength is " + std::to_string(header_length) + ", expected " +
                        std::to_string(kHeaderLength));
  }
  uint32_t payload_length = GetU32(frame, kOffPayloadLength);
  if (payload_length > kMaxPayloadSize) {
    return InvalidFrame("PayloadLength " + std::to_string(payload_length) + " exceeds the limit of " +
                        std::to_string(kMaxPayloadSize));
  }
  if (frame.size() - kHeaderSize != payload_length) {
    return InvalidFrame("PayloadLength " + std::to_string(payload_length) + " disagrees with the " +
                        std::to_string(frame.size() - kHeaderSize) + " bytes after the header");
  }

  ClientMessage m;
  // MessageType: strip NUL/space padding on both ends, as the plugin does.
  std::string_view type = frame.substr(kOffMessageType, kMessageTypeSize);
  while (!type.empty() && IsPadding(type.back())) type.remove_suffix(1);
  while (!type.empty() && IsPadding(type.front())) type.remove_prefix(1);
  if (type.empty()) return InvalidFrame("MessageType is empty");
  if (!std::all_of(type.begin(), type.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return InvalidFrame("MessageType contains a byte that is not printable ASCII");
  }
  m.message_type = std::string(type);

  m.schema_version = GetU32(frame, kOffSchemaVersion);
  m.created_date_ms = GetU64(frame, kOffCreatedDate);
  m.sequence_number = static_cast<int64_t>(GetU64(frame, kOffSequenceNumber));
  m.flags = GetU64(frame, kOffFlags);
  std::memcpy(m.message_id.data() + 8, frame.data() + kOffMessageId, 8);
  std::memcpy(m.message_id.data(), frame.data() + kOffMessageId + 8, 8);
  m.payload_type = static_cast<PayloadType>(GetU32(frame, kOffPayloadType));

  // The plugin's Validate(): publication control messages are not checked.
  if (IsPublicationControl(m.message_type)) return m;
  if (m.created_date_ms == 0) return InvalidFrame("CreatedDate is 0");
  return m;
}

Result<ClientMessage> Decode(std::string_view frame, bool omitted_digest_allowed) {
  auto m = DecodeHeader(frame);
  if (!m) return m;
  m->payload = std::string(frame.substr(kHeaderSize));
  if (IsPublicationControl(m->message_type) || m->payload.empty()) return m;
  std::string_view digest = frame.substr(kOffPayloadDigest, kDigestSize);
  if (omitted_digest_allowed && digest.find_first_not_of('\0') == std::string_view::npos) return m;
  if (crypto::Sha256(m->payload) != digest) {
    return InvalidFrame("PayloadDigest does not match SHA-256 of the payload");
  }
  return m;
}

}  // namespace porthole::protocol
