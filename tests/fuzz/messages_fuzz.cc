// Fuzzes the handshake and control-message parsers of protocol/messages.h.
// Input: one selector byte (which parser, modulo 8), then the text.
//
// Properties, beyond "no crash, no throw":
//  * an error is "InvalidPayload" with a message that names the message;
//  * what parses has its required members, and survives ToJson: parsing the
//    serialized form gives the same value (properties and action results
//    included), and serializing that gives the same text again;
//  * ParseExitCode(FormatExitCode(n)) == n.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "protocol/messages.h"

namespace porthole::protocol {
namespace {

template <typename T>
bool Failed(const Result<T>& r, std::string_view what) {
  if (r.ok()) return false;
  FUZZ_CHECK_MSG(r.error().code == "InvalidPayload", r.error().code);
  FUZZ_CHECK_MSG(r.error().message.rfind(std::string(what) + ": ", 0) == 0, r.error().message);
  return true;
}

// Parse(ToJson(x)) == x, checked with `same`; ToJson(Parse(ToJson(x))) == ToJson(x).
template <typename T, typename Parse, typename Same>
void CheckRoundTrip(const T& value, Parse parse, Same same) {
  const std::string text = ToJson(value);
  Result<T> again = parse(text);
  FUZZ_CHECK_MSG(again.ok(), again.ok() ? text : again.error().message + " in " + text);
  FUZZ_CHECK_MSG(same(value, *again), text);
  FUZZ_CHECK_MSG(ToJson(*again) == text, text);
}

void OpenDataChannelCase(std::string_view text) {
  Result<OpenDataChannel> m = ParseOpenDataChannel(text);
  if (Failed(m, "OpenDataChannel")) return;
  CheckRoundTrip(*m, ParseOpenDataChannel, [](const OpenDataChannel& a, const OpenDataChannel& b) {
    return a.message_schema_version == b.message_schema_version && a.request_id == b.request_id &&
           a.token_value == b.token_value && a.client_id == b.client_id && a.client_version == b.client_version;
  });
}

void AcknowledgeCase(std::string_view text) {
  Result<Acknowledge> m = ParseAcknowledge(text);
  if (Failed(m, "acknowledge")) return;
  CheckRoundTrip(*m, ParseAcknowledge, [](const Acknowledge& a, const Acknowledge& b) {
    return a.acknowledged_message_type == b.acknowledged_message_type &&
           a.acknowledged_message_id == b.acknowledged_message_id &&
           a.acknowledged_sequence_number == b.acknowledged_sequence_number &&
           a.is_sequential_message == b.is_sequential_message;
  });
}

void ChannelClosedCase(std::string_view text) {
  Result<ChannelClosed> m = ParseChannelClosed(text);
  if (Failed(m, "channel_closed")) return;
  CheckRoundTrip(*m, ParseChannelClosed, [](const ChannelClosed& a, const ChannelClosed& b) {
    return a.message_id == b.message_id && a.created_date == b.created_date && a.destination_id == b.destination_id &&
           a.session_id == b.session_id && a.output == b.output;
  });
}

void HandshakeRequestCase(std::string_view text) {
  Result<HandshakeRequest> m = ParseHandshakeRequest(text);
  if (Failed(m, "HandshakeRequest")) return;
  CheckRoundTrip(*m, ParseHandshakeRequest, [](const HandshakeRequest& a, const HandshakeRequest& b) {
    return a.agent_version == b.agent_version && a.session_type == b.session_type && a.properties == b.properties &&
           a.kms_key_id == b.kms_key_id;
  });
}

void HandshakeResponseCase(std::string_view text) {
  Result<HandshakeResponse> m = ParseHandshakeResponse(text);
  if (Failed(m, "HandshakeResponse")) return;
  CheckRoundTrip(*m, ParseHandshakeResponse, [](const HandshakeResponse& a, const HandshakeResponse& b) {
    if (a.client_version != b.client_version || a.errors != b.errors || a.porthole_features != b.porthole_features ||
        a.processed_client_actions.size() != b.processed_client_actions.size()) {
      return false;
    }
    for (size_t i = 0; i < a.processed_client_actions.size(); ++i) {
      const ProcessedClientAction& x = a.processed_client_actions[i];
      const ProcessedClientAction& y = b.processed_client_actions[i];
      if (x.action_type != y.action_type || x.action_status != y.action_status || x.error != y.error ||
          x.action_result != y.action_result) {
        return false;
      }
    }
    return true;
  });
}

void HandshakeCompleteCase(std::string_view text) {
  Result<HandshakeComplete> m = ParseHandshakeComplete(text);
  if (Failed(m, "HandshakeComplete")) return;
  CheckRoundTrip(*m, ParseHandshakeComplete, [](const HandshakeComplete& a, const HandshakeComplete& b) {
    return a.handshake_time_to_complete_ns == b.handshake_time_to_complete_ns &&
           a.customer_message == b.customer_message;
  });
}

void TerminalSizeCase(std::string_view text) {
  Result<TerminalSize> m = ParseTerminalSize(text);
  if (Failed(m, "Size")) return;
  CheckRoundTrip(*m, ParseTerminalSize,
                 [](const TerminalSize& a, const TerminalSize& b) { return a.cols == b.cols && a.rows == b.rows; });
}

void ExitCodeCase(std::string_view text) {
  std::optional<int> code = ParseExitCode(text);
  if (!code) return;
  FUZZ_CHECK(text.rfind("EXIT_CODE: ", 0) == 0);
  FUZZ_CHECK(ParseExitCode(FormatExitCode(*code)) == code);
}

}  // namespace
}  // namespace porthole::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::protocol;
  porthole::fuzz::InputReader input(data, size);
  const uint8_t selector = input.Byte();
  const std::string_view text = input.Rest();
  switch (selector % 8) {
    case 0:
      OpenDataChannelCase(text);
      break;
    case 1:
      AcknowledgeCase(text);
      break;
    case 2:
      ChannelClosedCase(text);
      break;
    case 3:
      HandshakeRequestCase(text);
      break;
    case 4:
      HandshakeResponseCase(text);
      break;
    case 5:
      HandshakeCompleteCase(text);
      break;
    case 6:
      TerminalSizeCase(text);
      break;
    case 7:
      ExitCodeCase(text);
      break;
  }
  return 0;
}
