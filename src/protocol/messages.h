#pragma once
// JSON payloads carried by ClientMessages and the data channel's opening
// text frame (shared/protocol/session-data-channel.md §3, §4.4, §5, §7).
// Parsers accept unknown fields and reject missing required ones.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "protocol/client_message.h"

namespace porthole::protocol {

// §3: the first (text) frame a client sends on a data channel.
struct OpenDataChannel {
  std::string message_schema_version = "1.0";
  std::string request_id;
  std::string token_value;
  std::string client_id;
  std::string client_version;
};
std::string ToJson(const OpenDataChannel& m);  // keys in the §3 order
Result<OpenDataChannel> ParseOpenDataChannel(std::string_view json);

// §4.4
struct Acknowledge {
  std::string acknowledged_message_type;
  std::string acknowledged_message_id;  // UUID string
  int64_t acknowledged_sequence_number = 0;
  bool is_sequential_message = true;
};
std::string ToJson(const Acknowledge& m);
Result<Acknowledge> ParseAcknowledge(std::string_view json);
// The full acknowledge frame for `acked` (seq 0, flags SYN|FIN, PayloadType 0).
std::string EncodeAcknowledgeFor(const ClientMessage& acked);

// §7: channel_closed payload.
struct ChannelClosed {
  std::string message_id;
  std::string created_date;  // timestamp string
  std::string destination_id;
  std::string session_id;
  std::string output;  // optional text shown by the plugin
};
std::string ToJson(const ChannelClosed& m);
Result<ChannelClosed> ParseChannelClosed(std::string_view json);
// The full channel_closed frame (seq 0, flags 3, PayloadType 0, non-zero date).
std::string EncodeChannelClosed(std::string_view session_id, std::string_view destination_id,
                                std::string_view output);

// §5 handshake.
struct HandshakeRequest {
  std::string agent_version = "3.3.1142.0";  // must be 4-part and > 3.1.1511.0
  std::string session_type = "InteractiveCommands";
  nlohmann::json properties = nlohmann::json::object();
  std::optional<std::string> kms_key_id;  // adds the KMSEncryption action
};
std::string ToJson(const HandshakeRequest& m);
Result<HandshakeRequest> ParseHandshakeRequest(std::string_view json);

struct ProcessedClientAction {
  std::string action_type;
  int action_status = 1;  // 1 Success, 2 Failed, 3 Unsupported
  nlohmann::json action_result;  // null when none
  std::string error;
};
struct HandshakeResponse {
  std::string client_version;
  std::vector<ProcessedClientAction> processed_client_actions;
  std::vector<std::string> errors;
  // Porthole extension, ignored by AWS's agent: what this client understands
  // beyond the plugin (kFeature* below).
  std::vector<std::string> porthole_features;
};
// The client wants a PayloadType 12 frame with the remote exit status before
// channel_closed.
inline constexpr std::string_view kFeatureExitCode = "ExitCode";
// The client takes output_stream_data whose PayloadDigest is all zeros
// (not computed) without checking it.
inline constexpr std::string_view kFeatureOutputWithoutDigest = "OutputWithoutDigest";
// Whether `response` lists `feature` in its PortholeFeatures.
bool Offers(const HandshakeResponse& response, std::string_view feature);
std::string ToJson(const HandshakeResponse& m);
// What Porthole's own clients answer (the CLI; the load generator's simulated
// ones): the session type accepted when `request` parsed, KMS encryption
// declined (not supported by these clients yet), and both features above.
HandshakeResponse PortholeClientHandshakeResponse(const Result<HandshakeRequest>& request,
                                                  std::string client_version);
Result<HandshakeResponse> ParseHandshakeResponse(std::string_view json);

struct HandshakeComplete {
  int64_t handshake_time_to_complete_ns = 0;
  std::string customer_message;
};
std::string ToJson(const HandshakeComplete& m);
Result<HandshakeComplete> ParseHandshakeComplete(std::string_view json);

// PayloadType 3.
struct TerminalSize {
  uint32_t cols = 0;
  uint32_t rows = 0;
};
std::string ToJson(const TerminalSize& m);
Result<TerminalSize> ParseTerminalSize(std::string_view json);

// PayloadType 12 as Porthole sends it: "EXIT_CODE: <n>" (the text form the
// NonInteractiveCommands plugin uses). Returns nullopt for anything else.
std::string FormatExitCode(int code);
std::optional<int> ParseExitCode(std::string_view payload);

}  // namespace porthole::protocol
