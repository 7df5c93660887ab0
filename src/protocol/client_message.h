#pragma once
// The Session Manager data-channel wire format ("ClientMessage"), byte for
// byte as in shared/protocol/session-data-channel.md §4: a 120-byte
// big-endian header followed by the payload.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "common/result.h"

namespace porthole::protocol {

// §4.1 message types.
inline constexpr std::string_view kInputStreamData = "input_stream_data";
inline constexpr std::string_view kOutputStreamData = "output_stream_data";
inline constexpr std::string_view kAcknowledge = "acknowledge";
inline constexpr std::string_view kChannelClosed = "channel_closed";
inline constexpr std::string_view kStartPublication = "start_publication";
inline constexpr std::string_view kPausePublication = "pause_publication";

// §4.2 payload types.
enum class PayloadType : uint32_t {
  kNone = 0,  // acknowledge, channel_closed
  kOutput = 1,
  kError = 2,
  kSize = 3,
  kParameter = 4,
  kHandshakeRequest = 5,
  kHandshakeResponse = 6,
  kHandshakeComplete = 7,
  kEncChallengeRequest = 8,
  kEncChallengeResponse = 9,
  kFlag = 10,
  kStdErr = 11,
  kExitCode = 12,
};

inline constexpr size_t kHeaderSize = 120;
inline constexpr uint32_t kHeaderLength = 116;  // what the plugin writes; see §4 row 1
// Upper bound on a payload we accept from the network (every parser has a limit).
inline constexpr size_t kMaxPayloadSize = 256 * 1024;

// Field offsets of the §4 header table (for tests and tools that build frames).
inline constexpr size_t kOffHeaderLength = 0;
inline constexpr size_t kOffMessageType = 4;
inline constexpr size_t kMessageTypeSize = 32;
inline constexpr size_t kOffSchemaVersion = 36;
inline constexpr size_t kOffCreatedDate = 40;
inline constexpr size_t kOffSequenceNumber = 48;
inline constexpr size_t kOffFlags = 56;
inline constexpr size_t kOffMessageId = 64;
inline constexpr size_t kOffPayloadDigest = 80;
inline constexpr size_t kDigestSize = 32;
inline constexpr size_t kOffPayloadType = 112;
inline constexpr size_t kOffPayloadLength = 116;
static_assert(kOffPayloadLength + 4 == kHeaderSize);
static_assert(kOffPayloadLength == kHeaderLength);

inline constexpr uint64_t kFlagSyn = 1;
inline constexpr uint64_t kFlagFin = 2;

struct ClientMessage {
  std::string message_type;
  uint32_t schema_version = 1;
  uint64_t created_date_ms = 0;  // Unix epoch milliseconds; never 0 on the wire
  int64_t sequence_number = 0;
  uint64_t flags = 0;
  ids::UuidBytes message_id{};   // in normal UUID byte order (the wire swaps halves)
  PayloadType payload_type = PayloadType::kNone;
  std::string payload;
};

// Whether a frame's PayloadDigest is computed. kOmitted writes 32 zero
// bytes: only for a peer that asked for it (the "OutputWithoutDigest"
// Porthole feature), to which the digest adds nothing TLS does not already
// guarantee and costs a SHA-256 pass over every byte on both ends.
enum class PayloadDigest { kComputed, kOmitted };

// Serializes `m`: HeaderLength 116, MessageType space-padded to 32 bytes,
// MessageId halves swapped, PayloadDigest = SHA-256(payload) (or zeros, see
// above). A zero created_date_ms is replaced by the current time.
std::string Encode(const ClientMessage& m, PayloadDigest digest = PayloadDigest::kComputed);

// Parses and validates one frame as the plugin does (§4 "Validation"), plus
// our own limits: frame shorter than the header, HeaderLength other than 116,
// PayloadLength disagreeing with the frame size, payload over kMaxPayloadSize,
// empty MessageType, CreatedDate 0 or a digest mismatch are errors
// (code "InvalidFrame", message naming the field). start_publication and
// pause_publication skip the digest/date checks. As in the plugin, the digest
// is only checked when the payload is non-empty. MessageType padding (NUL or
// whitespace) is stripped; a type with other non-printable bytes is an error.
// With `omitted_digest_allowed` an all-zero PayloadDigest is taken as "not
// computed" and not checked (any other digest still is).
Result<ClientMessage> Decode(std::string_view frame, bool omitted_digest_allowed = false);

// Every check of Decode but the payload digest, and the payload is not
// copied (left empty): what a relay needs to route a frame it passes on
// unchanged, whose ends check the digest themselves.
Result<ClientMessage> DecodeHeader(std::string_view frame);

uint64_t NowMillis();

}  // namespace porthole::protocol
