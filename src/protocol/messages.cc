#include "protocol/messages.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>

#include "common/bounded_json.h"
#include "common/ids.h"

namespace porthole::protocol {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

Error InvalidPayload(std::string_view what, std::string_view problem) {
  return MakeError("InvalidPayload", std::string(what) + ": " + std::string(problem));
}

// Strings we serialize may come from a remote peer or a process; invalid
// UTF-8 is replaced rather than thrown about.
std::string Dump(const ordered_json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Result<json> ParseObject(std::string_view text, std::string_view what) {
  if (text.size() > kMaxPayloadSize) {
    return InvalidPayload(what, "larger than " + std::to_string(kMaxPayloadSize) + " bytes");
  }
  json j = ParseBoundedJson(text);
  if (j.is_discarded()) {
    return InvalidPayload(what, "not valid JSON, or nested deeper than " + std::to_string(kMaxPeerJsonDepth) +
                                    " levels");
  }
  if (!j.is_object()) return InvalidPayload(what, "not a JSON object");
  return j;
}

// The value of `key` in `obj`, or nullptr when absent or null.
const json* Find(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Field readers: on success they fill `*out` (left alone when an optional
// field is absent) and return nullopt; otherwise the error to return.
std::optional<Error> ReadString(const json& obj, const char* key, std::string_view what, bool required,
                                std::string* out) {
  const json* v = Find(obj, key);
  if (v == nullptr) {
    if (required) return InvalidPayload(what, std::string("missing ") + key);
    return std::nullopt;
  }
  if (!v->is_string()) return InvalidPayload(what, std::string(key) + " is not a string");
  *out = v->get<std::string>();
  return std::nullopt;
}

std::optional<Error> ReadInt64(const json& obj, const char* key, std::string_view what, bool required,
                               int64_t* out) {
  const json* v = Find(obj, key);
  if (v == nullptr) {
    if (required) return InvalidPayload(what, std::string("missing ") + key);
    return std::nullopt;
  }
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidPayload(what, std::string(key) + " is out of range");
    }
    *out = static_cast<int64_t>(u);
    return std::nullopt;
  }
  if (v->is_number_integer()) {
    *out = v->get<int64_t>();
    return std::nullopt;
  }
  return InvalidPayload(what, std::string(key) + " is not an integer");
}

std::optional<Error> ReadUint32(const json& obj, const char* key, std::string_view what, bool required,
                                uint32_t* out) {
  const json* v = Find(obj, key);
  if (v == nullptr) {
    if (required) return InvalidPayload(what, std::string("missing ") + key);
    return std::nullopt;
  }
  if (!v->is_number_unsigned()) return InvalidPayload(what, std::string(key) + " is not an unsigned integer");
  uint64_t u = v->get<uint64_t>();
  if (u > std::numeric_limits<uint32_t>::max()) return InvalidPayload(what, std::string(key) + " is out of range");
  *out = static_cast<uint32_t>(u);
  return std::nullopt;
}

std::optional<Error> ReadBool(const json& obj, const char* key, std::string_view what, bool required, bool* out) {
  const json* v = Find(obj, key);
  if (v == nullptr) {
    if (required) return InvalidPayload(what, std::string("missing ") + key);
    return std::nullopt;
  }
  if (!v->is_boolean()) return InvalidPayload(what, std::string(key) + " is not a boolean");
  *out = v->get<bool>();
  return std::nullopt;
}

// An array of strings; absent or null leaves `*out` empty.
std::optional<Error> ReadStringArray(const json& obj, const char* key, std::string_view what,
                                     std::vector<std::string>* out) {
  const json* v = Find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) return InvalidPayload(what, std::string(key) + " is not an array");
  for (const json& e : *v) {
    if (!e.is_string()) return InvalidPayload(what, std::string(key) + " has an element that is not a string");
    out->push_back(e.get<std::string>());
  }
  return std::nullopt;
}

ordered_json ToOrdered(const json& j) {
  return ordered_json::parse(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// "2024-10-15T12:34:56.789Z"
std::string FormatTimestamp(uint64_t epoch_ms) {
  std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03uZ", static_cast<unsigned>(epoch_ms % 1000));
  return std::string(buf, n) + millis;
}

constexpr std::string_view kSessionTypeAction = "SessionType";
constexpr std::string_view kKmsEncryptionAction = "KMSEncryption";
constexpr std::string_view kExitCodePrefix = "EXIT_CODE: ";

}  // namespace

// ---- §3 OpenDataChannel ----

std::string ToJson(const OpenDataChannel& m) {
  ordered_json j;
  j["MessageSchemaVersion"] = m.message_schema_version;
  j["RequestId"] = m.request_id;
  j["TokenValue"] = m.token_value;
  j["ClientId"] = m.client_id;
  j["ClientVersion"] = m.client_version;
  return Dump(j);
}

Result<OpenDataChannel> ParseOpenDataChannel(std::string_view text) {
  constexpr std::string_view kWhat = "OpenDataChannel";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  OpenDataChannel m;
  // ClientVersion is optional: plugins before 1.2.677.0 do not send it.
  if (auto e = ReadString(*j, "MessageSchemaVersion", kWhat, true, &m.message_schema_version)) return *e;
  if (auto e = ReadString(*j, "RequestId", kWhat, true, &m.request_id)) return *e;
  if (auto e = ReadString(*j, "TokenValue", kWhat, true, &m.token_value)) return *e;
  if (auto e = ReadString(*j, "ClientId", kWhat, true, &m.client_id)) return *e;
  if (auto e = ReadString(*j, "ClientVersion", kWhat, false, &m.client_version)) return *e;
  return m;
}

// ---- §4.4 Acknowledge ----

std::string ToJson(const Acknowledge& m) {
  ordered_json j;
  j["AcknowledgedMessageType"] = m.acknowledged_message_type;
  j["AcknowledgedMessageId"] = m.acknowledged_message_id;
  j["AcknowledgedMessageSequenceNumber"] = m.acknowledged_sequence_number;
  j["IsSequentialMessage"] = m.is_sequential_message;
  return Dump(j);
}

Result<Acknowledge> ParseAcknowledge(std::string_view text) {
  constexpr std::string_view kWhat = "acknowledge";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  Acknowledge m;
  if (auto e = ReadString(*j, "AcknowledgedMessageType", kWhat, true, &m.acknowledged_message_type)) return *e;
  if (auto e = ReadString(*j, "AcknowledgedMessageId", kWhat, true, &m.acknowledged_message_id)) return *e;
  if (auto e = ReadInt64(*j, "AcknowledgedMessageSequenceNumber", kWhat, true, &m.acknowledged_sequence_number)) {
    return *e;
  }
  if (auto e = ReadBool(*j, "IsSequentialMessage", kWhat, false, &m.is_sequential_message)) return *e;
  return m;
}

std::string EncodeAcknowledgeFor(const ClientMessage& acked) {
  Acknowledge ack;
  ack.acknowledged_message_type = acked.message_type;
  ack.acknowledged_message_id = ids::UuidToString(acked.message_id);
  ack.acknowledged_sequence_number = acked.sequence_number;
  ack.is_sequential_message = true;
  ClientMessage m;
  m.message_type = std::string(kAcknowledge);
  m.created_date_ms = NowMillis();
  m.sequence_number = 0;
  m.flags = kFlagSyn | kFlagFin;
  m.message_id = ids::NewUuidBytes();
  m.payload_type = PayloadType::kNone;
  m.payload = ToJson(ack);
  return Encode(m);
}

// ---- §7 channel_closed ----

std::string ToJson(const ChannelClosed& m) {
  ordered_json j;
  j["MessageId"] = m.message_id;
  j["CreatedDate"] = m.created_date;
  j["DestinationId"] = m.destination_id;
  j["SessionId"] = m.session_id;
  j["MessageType"] = kChannelClosed;
  j["SchemaVersion"] = 1;
  j["Output"] = m.output;
  return Dump(j);
}

Result<ChannelClosed> ParseChannelClosed(std::string_view text) {
  constexpr std::string_view kWhat = "channel_closed";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  ChannelClosed m;
  if (auto e = ReadString(*j, "MessageId", kWhat, true, &m.message_id)) return *e;
  if (auto e = ReadString(*j, "CreatedDate", kWhat, false, &m.created_date)) return *e;
  if (auto e = ReadString(*j, "DestinationId", kWhat, false, &m.destination_id)) return *e;
  if (auto e = ReadString(*j, "SessionId", kWhat, true, &m.session_id)) return *e;
  if (auto e = ReadString(*j, "Output", kWhat, false, &m.output)) return *e;
  std::string type;
  if (auto e = ReadString(*j, "MessageType", kWhat, false, &type)) return *e;
  if (!type.empty() && type != kChannelClosed) return InvalidPayload(kWhat, "MessageType is not channel_closed");
  return m;
}

std::string EncodeChannelClosed(std::string_view session_id, std::string_view destination_id,
                                std::string_view output) {
  ClientMessage m;
  m.message_type = std::string(kChannelClosed);
  m.created_date_ms = NowMillis();
  m.sequence_number = 0;
  m.flags = kFlagSyn | kFlagFin;
  m.message_id = ids::NewUuidBytes();
  m.payload_type = PayloadType::kNone;
  ChannelClosed body;
  body.message_id = ids::UuidToString(m.message_id);
  body.created_date = FormatTimestamp(m.created_date_ms);
  body.destination_id = std::string(destination_id);
  body.session_id = std::string(session_id);
  body.output = std::string(output);
  m.payload = ToJson(body);
  return Encode(m);
}

// ---- §5 handshake ----

std::string ToJson(const HandshakeRequest& m) {
  ordered_json session_type;
  session_type["ActionType"] = kSessionTypeAction;
  session_type["ActionParameters"]["SessionType"] = m.session_type;
  session_type["ActionParameters"]["Properties"] = ToOrdered(m.properties);
  ordered_json actions = ordered_json::array();
  actions.push_back(std::move(session_type));
  if (m.kms_key_id) {
    ordered_json kms;
    kms["ActionType"] = kKmsEncryptionAction;
    kms["ActionParameters"]["KMSKeyId"] = *m.kms_key_id;
    actions.push_back(std::move(kms));
  }
  ordered_json j;
  j["AgentVersion"] = m.agent_version;
  j["RequestedClientActions"] = std::move(actions);
  return Dump(j);
}

Result<HandshakeRequest> ParseHandshakeRequest(std::string_view text) {
  constexpr std::string_view kWhat = "HandshakeRequest";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  HandshakeRequest m;
  if (auto e = ReadString(*j, "AgentVersion", kWhat, true, &m.agent_version)) return *e;
  const json* actions = Find(*j, "RequestedClientActions");
  if (actions == nullptr) return InvalidPayload(kWhat, "missing RequestedClientActions");
  if (!actions->is_array()) return InvalidPayload(kWhat, "RequestedClientActions is not an array");
  bool have_session_type = false;
  for (const json& action : *actions) {
    if (!action.is_object()) return InvalidPayload(kWhat, "a RequestedClientActions element is not an object");
    std::string type;
    if (auto e = ReadString(action, "ActionType", kWhat, true, &type)) return *e;
    if (type != kSessionTypeAction && type != kKmsEncryptionAction) continue;  // unknown actions: ignored
    const json* params = Find(action, "ActionParameters");
    if (params == nullptr || !params->is_object()) {
      return InvalidPayload(kWhat, type + " action has no ActionParameters object");
    }
    if (type == kSessionTypeAction) {
      if (have_session_type) return InvalidPayload(kWhat, "more than one SessionType action");
      have_session_type = true;
      if (auto e = ReadString(*params, "SessionType", kWhat, true, &m.session_type)) return *e;
      const json* properties = Find(*params, "Properties");
      m.properties = properties != nullptr ? *properties : json::object();
    } else {
      if (m.kms_key_id) return InvalidPayload(kWhat, "more than one KMSEncryption action");
      std::string key_id;
      if (auto e = ReadString(*params, "KMSKeyId", kWhat, true, &key_id)) return *e;
      m.kms_key_id = std::move(key_id);
    }
  }
  if (!have_session_type) return InvalidPayload(kWhat, "no SessionType action");
  return m;
}

bool Offers(const HandshakeResponse& response, std::string_view feature) {
  for (const auto& f : response.porthole_features)
    if (f == feature) return true;
  return false;
}

HandshakeResponse PortholeClientHandshakeResponse(const Result<HandshakeRequest>& request,
                                                  std::string client_version) {
  HandshakeResponse response;
  response.client_version = std::move(client_version);
  response.porthole_features = {std::string(kFeatureExitCode), std::string(kFeatureOutputWithoutDigest)};
  ProcessedClientAction session_type;
  session_type.action_type = "SessionType";
  session_type.action_status = request ? 1 : 2;
  response.processed_client_actions.push_back(session_type);
  if (request && request->kms_key_id) {
    ProcessedClientAction kms;
    kms.action_type = "KMSEncryption";
    kms.action_status = 3;
    kms.error = "KMS encryption is not supported by this client";
    response.processed_client_actions.push_back(kms);
    response.errors.push_back(kms.error);
  }
  return response;
}

std::string ToJson(const HandshakeResponse& m) {
  ordered_json actions = ordered_json::array();
  for (const ProcessedClientAction& a : m.processed_client_actions) {
    ordered_json action;
    action["ActionType"] = a.action_type;
    action["ActionStatus"] = a.action_status;
    action["ActionResult"] = ToOrdered(a.action_result);
    action["Error"] = a.error;
    actions.push_back(std::move(action));
  }
  ordered_json j;
  j["ClientVersion"] = m.client_version;
  j["ProcessedClientActions"] = std::move(actions);
  // The plugin sends null for no errors (a nil Go slice).
  j["Errors"] = m.errors.empty() ? ordered_json(nullptr) : ordered_json(m.errors);
  if (!m.porthole_features.empty()) j["PortholeFeatures"] = m.porthole_features;
  return Dump(j);
}

Result<HandshakeResponse> ParseHandshakeResponse(std::string_view text) {
  constexpr std::string_view kWhat = "HandshakeResponse";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  HandshakeResponse m;
  if (auto e = ReadString(*j, "ClientVersion", kWhat, true, &m.client_version)) return *e;
  if (!j->contains("ProcessedClientActions")) return InvalidPayload(kWhat, "missing ProcessedClientActions");
  if (const json* actions = Find(*j, "ProcessedClientActions")) {  // null: none (a nil Go slice)
    if (!actions->is_array()) return InvalidPayload(kWhat, "ProcessedClientActions is not an array");
    for (const json& action : *actions) {
      if (!action.is_object()) return InvalidPayload(kWhat, "a ProcessedClientActions element is not an object");
      ProcessedClientAction a;
      if (auto e = ReadString(action, "ActionType", kWhat, true, &a.action_type)) return *e;
      int64_t status = 0;
      if (auto e = ReadInt64(action, "ActionStatus", kWhat, true, &status)) return *e;
      if (status < std::numeric_limits<int>::min() || status > std::numeric_limits<int>::max()) {
        return InvalidPayload(kWhat, "ActionStatus is out of range");
      }
      a.action_status = static_cast<int>(status);
      if (const json* result = Find(action, "ActionResult")) a.action_result = *result;
      if (auto e = ReadString(action, "Error", kWhat, false, &a.error)) return *e;
      m.processed_client_actions.push_back(std::move(a));
    }
  }
  if (auto e = ReadStringArray(*j, "Errors", kWhat, &m.errors)) return *e;
  if (auto e = ReadStringArray(*j, "PortholeFeatures", kWhat, &m.porthole_features)) return *e;
  return m;
}

std::string ToJson(const HandshakeComplete& m) {
  ordered_json j;
  j["HandshakeTimeToComplete"] = m.handshake_time_to_complete_ns;
  j["CustomerMessage"] = m.customer_message;
  return Dump(j);
}

Result<HandshakeComplete> ParseHandshakeComplete(std::string_view text) {
  constexpr std::string_view kWhat = "HandshakeComplete";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  HandshakeComplete m;
  if (auto e = ReadInt64(*j, "HandshakeTimeToComplete", kWhat, true, &m.handshake_time_to_complete_ns)) return *e;
  if (auto e = ReadString(*j, "CustomerMessage", kWhat, false, &m.customer_message)) return *e;
  return m;
}

// ---- PayloadType 3 ----

std::string ToJson(const TerminalSize& m) {
  ordered_json j;
  j["cols"] = m.cols;
  j["rows"] = m.rows;
  return Dump(j);
}

Result<TerminalSize> ParseTerminalSize(std::string_view text) {
  constexpr std::string_view kWhat = "Size";
  auto j = ParseObject(text, kWhat);
  if (!j) return j.error();
  TerminalSize m;
  if (auto e = ReadUint32(*j, "cols", kWhat, true, &m.cols)) return *e;
  if (auto e = ReadUint32(*j, "rows", kWhat, true, &m.rows)) return *e;
  return m;
}

// ---- PayloadType 12 ----

std::string FormatExitCode(int code) { return std::string(kExitCodePrefix) + std::to_string(code); }

std::optional<int> ParseExitCode(std::string_view payload) {
  if (payload.substr(0, kExitCodePrefix.size()) != kExitCodePrefix) return std::nullopt;
  std::string_view number = payload.substr(kExitCodePrefix.size());
  // Tolerate a trailing line ending.
  while (!number.empty() && (number.back() == '\n' || number.back() == '\r')) number.remove_suffix(1);
  if (number.empty()) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  return value;
}

}  // namespace porthole::protocol
