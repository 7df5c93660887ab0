// Fuzzes the data-channel frame decoder (protocol::Decode) with the input as
// one frame, and once more with its PayloadLength and PayloadDigest made
// right (a random frame almost never has a matching SHA-256, so without this
// the fuzzer would not get past the digest check).
//
// Properties, beyond "no crash, no throw":
//  * an error is "InvalidFrame" with a message;
//  * a decoded frame has the members Decode promises (non-empty printable
//    MessageType of at most 32 bytes, the payload after the header, within
//    kMaxPayloadSize, a non-zero CreatedDate unless a publication message);
//  * DecodeHeader (the gateway's relay) accepts whatever Decode accepts,
//    with the same header fields, and refuses nothing Decode accepts
//    but for the digest;
//  * Decode allowing omitted digests accepts the same frames with the same
//    members, and more only when the digest is all zeros;
//  * Encode(Decode(x)) decodes to the same message, Encode of that is
//    byte-identical, and it differs from x only where Decode normalizes: the
//    MessageType padding and, when Decode did not check it, the digest.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "fuzz_support.h"
#include "protocol/client_message.h"

namespace porthole::protocol {
namespace {

void PutU32At(std::string& frame, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) frame[offset + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

bool SameMessage(const ClientMessage& a, const ClientMessage& b) {
  return a.message_type == b.message_type && a.schema_version == b.schema_version &&
         a.created_date_ms == b.created_date_ms && a.sequence_number == b.sequence_number && a.flags == b.flags &&
         a.message_id == b.message_id && a.payload_type == b.payload_type && a.payload == b.payload;
}

void CheckFrame(std::string_view frame) {
  Result<ClientMessage> m = Decode(frame);
  Result<ClientMessage> header = DecodeHeader(frame);
  // With OutputWithoutDigest negotiated, Decode accepts more only by skipping an all-zero digest.
  Result<ClientMessage> omitted = Decode(frame, /*omitted_digest_allowed=*/true);
  if (m.ok()) FUZZ_CHECK(omitted.ok() && SameMessage(*m, *omitted));
  if (!m.ok() && omitted.ok()) {
    FUZZ_CHECK(frame.substr(kOffPayloadDigest, kDigestSize) == std::string(kDigestSize, '\0'));
    FUZZ_CHECK(header.ok() && omitted->payload == frame.substr(kHeaderSize));
  }
  if (!m.ok()) {
    FUZZ_CHECK(m.error().code == "InvalidFrame");
    FUZZ_CHECK(!m.error().message.empty());
    if (header.ok()) FUZZ_CHECK_MSG(m.error().message.find("PayloadDigest") != std::string::npos, m.error().message);
    return;
  }
  FUZZ_CHECK(header.ok());
  ClientMessage with_payload = *header;
  with_payload.payload = m->payload;
  FUZZ_CHECK(header->payload.empty() && SameMessage(with_payload, *m));
  const std::string& type = m->message_type;
  FUZZ_CHECK(!type.empty() && type.size() <= kMessageTypeSize);
  for (char c : type) FUZZ_CHECK(c > 0x20 && c < 0x7f);
  FUZZ_CHECK(frame.size() >= kHeaderSize);
  FUZZ_CHECK(m->payload == frame.substr(kHeaderSize));
  FUZZ_CHECK(m->payload.size() <= kMaxPayloadSize);
  const bool publication = type == kStartPublication || type == kPausePublication;
  if (!publication) FUZZ_CHECK(m->created_date_ms != 0);

  // Encode of a zero CreatedDate (publication messages only) puts in the current time.
  const std::string again = Encode(*m);
  FUZZ_CHECK(again.size() == frame.size());
  Result<ClientMessage> m2 = Decode(again);
  FUZZ_CHECK_MSG(m2.ok(), m2.ok() ? "" : m2.error().message);
  if (m->created_date_ms == 0) {
    FUZZ_CHECK(m2->created_date_ms != 0);
    m2->created_date_ms = 0;
  }
  FUZZ_CHECK(SameMessage(*m, *m2));
  if (m->created_date_ms != 0) FUZZ_CHECK(Encode(*m2) == again);

  // Bytes outside MessageType, CreatedDate and PayloadDigest are kept exactly.
  FUZZ_CHECK(again.substr(0, kOffMessageType) == frame.substr(0, kOffMessageType));
  FUZZ_CHECK(again.substr(kOffMessageType + kMessageTypeSize, kOffCreatedDate - kOffMessageType - kMessageTypeSize) ==
             frame.substr(kOffMessageType + kMessageTypeSize, kOffCreatedDate - kOffMessageType - kMessageTypeSize));
  if (m->created_date_ms != 0) FUZZ_CHECK(again.substr(kOffCreatedDate, 8) == frame.substr(kOffCreatedDate, 8));
  FUZZ_CHECK(again.substr(kOffCreatedDate + 8, kOffPayloadDigest - kOffCreatedDate - 8) ==
             frame.substr(kOffCreatedDate + 8, kOffPayloadDigest - kOffCreatedDate - 8));
  FUZZ_CHECK(again.substr(kOffPayloadDigest + kDigestSize) == frame.substr(kOffPayloadDigest + kDigestSize));
  // A checked digest is kept; an unchecked one is replaced by the right one.
  FUZZ_CHECK(again.substr(kOffPayloadDigest, kDigestSize) == crypto::Sha256(m->payload));
  if (!publication && !m->payload.empty()) {
    FUZZ_CHECK(again.substr(kOffPayloadDigest, kDigestSize) == frame.substr(kOffPayloadDigest, kDigestSize));
  }
  // A MessageType written as the encoder writes it (left-aligned, space-padded) is kept.
  std::string canonical_type = type;
  canonical_type.resize(kMessageTypeSize, ' ');
  if (frame.substr(kOffMessageType, kMessageTypeSize) == canonical_type) {
    FUZZ_CHECK(again.substr(kOffMessageType, kMessageTypeSize) == canonical_type);
  }
}

}  // namespace
}  // namespace porthole::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::protocol;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  CheckFrame(frame);
  if (size >= kHeaderSize) {
    std::string repaired(frame);
    PutU32At(repaired, kOffPayloadLength, static_cast<uint32_t>(size - kHeaderSize));
    const std::string digest = porthole::crypto::Sha256(frame.substr(kHeaderSize));
    repaired.replace(kOffPayloadDigest, kDigestSize, digest);
    if (repaired != frame) CheckFrame(repaired);
  }
  return 0;
}
