#include "protocol/messages.h"

#include <gtest/gtest.h>

#include "common/ids.h"

namespace porthole::protocol {
namespace {

using nlohmann::json;

void ExpectInvalidPayload(const Error& e, std::string_view part) {
  EXPECT_EQ(e.code, "InvalidPayload");
  EXPECT_NE(e.message.find(part), std::string::npos) << e.message;
}

// ---- OpenDataChannel ----

TEST(OpenDataChannelTest, KeysInProtocolOrder) {
  OpenDataChannel m;
  m.request_id = "108f6a6e-0000-4000-8000-000000000001";
  m.token_value = "FAKE-TOKEN-abcdef0123456789";
  m.client_id = "5942e79a-0000-4000-8000-000000000002";
  m.client_version = "1.2.677.0";
  EXPECT_EQ(ToJson(m),
            R"({"MessageSchemaVersion":"1.0","RequestId":"108f6a6e-0000-4000-8000-000000000001",)"
            R"("TokenValue":"FAKE-TOKEN-abcdef0123456789","ClientId":"5942e79a-0000-4000-8000-000000000002",)"
            R"("ClientVersion":"1.2.677.0"})");
  auto parsed = ParseOpenDataChannel(ToJson(m));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->message_schema_version, "1.0");
  EXPECT_EQ(parsed->request_id, m.request_id);
  EXPECT_EQ(parsed->token_value, m.token_value);
  EXPECT_EQ(parsed->client_id, m.client_id);
  EXPECT_EQ(parsed->client_version, m.client_version);
}

TEST(OpenDataChannelTest, ClientVersionOptionalUnknownIgnored) {
  auto parsed = ParseOpenDataChannel(
      R"({"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c","Extra":[1,2]})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->client_version, "");
  EXPECT_EQ(parsed->token_value, "t");
}

TEST(OpenDataChannelTest, RejectsBadInput) {
  ExpectInvalidPayload(ParseOpenDataChannel("not json").error(), "not valid JSON");
  ExpectInvalidPayload(ParseOpenDataChannel("[1]").error(), "not a JSON object");
  ExpectInvalidPayload(ParseOpenDataChannel(R"({"MessageSchemaVersion":"1.0","RequestId":"r","ClientId":"c"})").error(),
                       "TokenValue");
  ExpectInvalidPayload(
      ParseOpenDataChannel(R"({"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":5,"ClientId":"c"})").error(),
      "TokenValue");
  ExpectInvalidPayload(ParseOpenDataChannel(std::string(kMaxPayloadSize + 1, ' ')).error(), "larger");
}

// ---- Acknowledge ----

TEST(AcknowledgeTest, JsonShape) {
  Acknowledge a{"output_stream_data", "ff30baed-bede-4c9c-9d5a-8cf65457cd03", 7, true};
  EXPECT_EQ(ToJson(a),
            R"({"AcknowledgedMessageType":"output_stream_data",)"
            R"("AcknowledgedMessageId":"ff30baed-bede-4c9c-9d5a-8cf65457cd03",)"
            R"("AcknowledgedMessageSequenceNumber":7,"IsSequentialMessage":true})");
  auto p = ParseAcknowledge(ToJson(a));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->acknowledged_message_type, a.acknowledged_message_type);
  EXPECT_EQ(p->acknowledged_message_id, a.acknowledged_message_id);
  EXPECT_EQ(p->acknowledged_sequence_number, 7);
  EXPECT_TRUE(p->is_sequential_message);
}

TEST(AcknowledgeTest, RejectsWrongTypes) {
  ExpectInvalidPayload(ParseAcknowledge(R"({"AcknowledgedMessageType":"x","AcknowledgedMessageId":"y",)"
                                        R"("AcknowledgedMessageSequenceNumber":"7"})")
                           .error(),
                       "AcknowledgedMessageSequenceNumber");
  ExpectInvalidPayload(ParseAcknowledge(R"({"AcknowledgedMessageType":"x","AcknowledgedMessageId":"y",)"
                                        R"("AcknowledgedMessageSequenceNumber":1.5})")
                           .error(),
                       "AcknowledgedMessageSequenceNumber");
  ExpectInvalidPayload(ParseAcknowledge(R"({"AcknowledgedMessageType":"x","AcknowledgedMessageId":"y",)"
                                        R"("AcknowledgedMessageSequenceNumber":18446744073709551615})")
                           .error(),
                       "out of range");
  ExpectInvalidPayload(ParseAcknowledge(R"({"AcknowledgedMessageId":"y","AcknowledgedMessageSequenceNumber":1})").error(),
                       "AcknowledgedMessageType");
  ExpectInvalidPayload(ParseAcknowledge(R"({"AcknowledgedMessageType":"x","AcknowledgedMessageId":"y",)"
                                        R"("AcknowledgedMessageSequenceNumber":1,"IsSequentialMessage":"yes"})")
                           .error(),
                       "IsSequentialMessage");
}

TEST(AcknowledgeTest, EncodeAcknowledgeForFrame) {
  ClientMessage acked;
  acked.message_type = std::string(kInputStreamData);
  acked.created_date_ms = 1;
  acked.sequence_number = 12;
  acked.message_id = ids::NewUuidBytes();
  acked.payload_type = PayloadType::kOutput;
  acked.payload = "ls\n";
  auto frame = Decode(EncodeAcknowledgeFor(acked));
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  EXPECT_EQ(frame->message_type, "acknowledge");
  EXPECT_EQ(frame->sequence_number, 0);
  EXPECT_EQ(frame->flags, 3u);
  EXPECT_EQ(frame->payload_type, PayloadType::kNone);
  EXPECT_NE(frame->created_date_ms, 0u);
  EXPECT_NE(frame->message_id, acked.message_id);
  auto ack = ParseAcknowledge(frame->payload);
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->acknowledged_message_type, "input_stream_data");
  EXPECT_EQ(ack->acknowledged_message_id, ids::UuidToString(acked.message_id));
  EXPECT_EQ(ack->acknowledged_sequence_number, 12);
  EXPECT_TRUE(ack->is_sequential_message);
  // Fresh MessageId each time.
  auto again = Decode(EncodeAcknowledgeFor(acked));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->message_id, frame->message_id);
}

// ---- channel_closed ----

TEST(ChannelClosedTest, JsonShape) {
  ChannelClosed c{"11111111-2222-4333-8444-555555555555", "2024-10-15T12:00:00.000Z", "ecs:demo_t_r", "sess-1",
                  "bye"};
  EXPECT_EQ(ToJson(c),
            R"({"MessageId":"11111111-2222-4333-8444-555555555555","CreatedDate":"2024-10-15T12:00:00.000Z",)"
            R"("DestinationId":"ecs:demo_t_r","SessionId":"sess-1","MessageType":"channel_closed",)"
            R"("SchemaVersion":1,"Output":"bye"})");
  auto p = ParseChannelClosed(ToJson(c));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->message_id, c.message_id);
  EXPECT_EQ(p->created_date, c.created_date);
  EXPECT_EQ(p->destination_id, c.destination_id);
  EXPECT_EQ(p->session_id, c.session_id);
  EXPECT_EQ(p->output, c.output);
}

TEST(ChannelClosedTest, EncodeChannelClosedFrame) {
  auto frame = Decode(EncodeChannelClosed("sess-9", "ecs:demo_a_b", "Session terminated"));
  ASSERT_TRUE(frame.ok()) << frame.error().message;
  EXPECT_EQ(frame->message_type, "channel_closed");
  EXPECT_EQ(frame->sequence_number, 0);
  EXPECT_EQ(frame->flags, 3u);
  EXPECT_EQ(frame->payload_type, PayloadType::kNone);
  EXPECT_NE(frame->created_date_ms, 0u);
  auto body = json::parse(frame->payload);
  EXPECT_EQ(body["MessageId"], ids::UuidToString(frame->message_id));
  EXPECT_TRUE(body["CreatedDate"].is_string());
  EXPECT_FALSE(body["CreatedDate"].get<std::string>().empty());
  EXPECT_EQ(body["DestinationId"], "ecs:demo_a_b");
  EXPECT_EQ(body["SessionId"], "sess-9");
  EXPECT_EQ(body["MessageType"], "channel_closed");
  EXPECT_EQ(body["SchemaVersion"], 1);
  EXPECT_TRUE(body["SchemaVersion"].is_number());
  EXPECT_EQ(body["Output"], "Session terminated");
}

TEST(ChannelClosedTest, InvalidUtf8OutputDoesNotThrow) {
  auto frame = Decode(EncodeChannelClosed("s", "d", "bad \xff utf8"));
  ASSERT_TRUE(frame.ok());
  auto p = ParseChannelClosed(frame->payload);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->session_id, "s");
}

TEST(ChannelClosedTest, RejectsMissingAndWrongTypes) {
  ExpectInvalidPayload(ParseChannelClosed(R"({"MessageId":"m"})").error(), "SessionId");
  ExpectInvalidPayload(ParseChannelClosed(R"({"MessageId":"m","SessionId":1})").error(), "SessionId");
  ExpectInvalidPayload(ParseChannelClosed(R"({"MessageId":"m","SessionId":"s","Output":{}})").error(), "Output");
  EXPECT_TRUE(ParseChannelClosed(R"({"MessageId":"m","SessionId":"s","SchemaVersion":1,"New":true})").ok());
}

// ---- handshake ----

TEST(HandshakeRequestTest, JsonShapeWithKms) {
  HandshakeRequest r;
  r.properties = json::parse(R"({"linux":{"commands":"","runAsElevated":false}})");
  r.kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/abc";
  EXPECT_EQ(ToJson(r),
            R"({"AgentVersion":"3.3.1142.0","RequestedClientActions":[)"
            R"({"ActionType":"SessionType","ActionParameters":{"SessionType":"InteractiveCommands",)"
            R"("Properties":{"linux":{"commands":"","runAsElevated":false}}}},)"
            R"({"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":"arn:aws:kms:us-east-1:123456789012:key/abc"}}]})");
  auto p = ParseHandshakeRequest(ToJson(r));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->agent_version, "3.3.1142.0");
  EXPECT_EQ(p->session_type, "InteractiveCommands");
  EXPECT_EQ(p->properties, r.properties);
  EXPECT_EQ(p->kms_key_id, r.kms_key_id);
}

TEST(HandshakeRequestTest, WithoutKms) {
  HandshakeRequest r;
  r.session_type = "Port";
  r.properties = json{{"portNumber", "8080"}, {"type", "LocalPortForwarding"}};
  std::string text = ToJson(r);
  EXPECT_EQ(text.find("KMSEncryption"), std::string::npos);
  auto p = ParseHandshakeRequest(text);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->session_type, "Port");
  EXPECT_FALSE(p->kms_key_id.has_value());
  EXPECT_EQ(p->properties["portNumber"], "8080");
}

TEST(HandshakeRequestTest, IgnoresUnknownActionsRejectsBadOnes) {
  auto p = ParseHandshakeRequest(
      R"({"AgentVersion":"3.3.1142.0","Future":1,"RequestedClientActions":[{"ActionType":"Other","ActionParameters":5},)"
      R"({"ActionType":"SessionType","ActionParameters":{"SessionType":"Standard_Stream"}}]})");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->session_type, "Standard_Stream");
  EXPECT_TRUE(p->properties.is_object());

  ExpectInvalidPayload(ParseHandshakeRequest(R"({"RequestedClientActions":[]})").error(), "AgentVersion");
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1.0.0.0"})").error(), "RequestedClientActions");
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1.0.0.0","RequestedClientActions":{}})").error(),
                       "RequestedClientActions");
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1.0.0.0","RequestedClientActions":[]})").error(),
                       "SessionType");
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1","RequestedClientActions":[)"
                                             R"({"ActionType":"SessionType","ActionParameters":{}}]})")
                           .error(),
                       "SessionType");
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1","RequestedClientActions":[)"
                                             R"({"ActionType":"SessionType","ActionParameters":{"SessionType":"x"}},)"
                                             R"({"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":7}}]})")
                           .error(),
                       "KMSKeyId");
}

// Found with tests/fuzz/messages_fuzz.cc (on a directed input): a Properties value nested 120000
// levels deep (240 KB, under the 256 KiB payload limit) overflowed the stack
// when the parsed value was copied. Every payload parser refuses such depth.
TEST(HandshakeRequestTest, RejectsDeepNestingInsteadOfOverflowingTheStack) {
  const std::string deep = std::string(120000, '[') + std::string(120000, ']');
  ExpectInvalidPayload(ParseHandshakeRequest(R"({"AgentVersion":"1","RequestedClientActions":[)"
                                             R"({"ActionType":"SessionType","ActionParameters":)"
                                             R"({"SessionType":"x","Properties":)" +
                                             deep + "}}]}")
                           .error(),
                       "nested deeper than 64");
  ExpectInvalidPayload(ParseHandshakeResponse(R"({"ClientVersion":"1","ProcessedClientActions":[)"
                                              R"({"ActionType":"x","ActionStatus":1,"ActionResult":)" +
                                              deep + "}]}")
                           .error(),
                       "nested deeper than 64");
  // 64 levels in all (the document's own object included) are fine; brackets in strings do not count.
  auto p = ParseHandshakeRequest(R"({"AgentVersion":"1","RequestedClientActions":[{"ActionType":"SessionType",)"
                                 R"("ActionParameters":{"SessionType":"[[[[","Properties":)" +
                                 std::string(60, '[') + std::string(60, ']') + "}}]}");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->properties.is_array());
}

TEST(HandshakeResponseTest, ParsesPluginSample) {
  // §5, verified live.
  auto p = ParseHandshakeResponse(
      R"({"ClientVersion":"1.2.677.0","ProcessedClientActions":[)"
      R"({"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""},)"
      R"({"ActionType":"KMSEncryption","ActionStatus":1,"ActionResult":{"KMSCipherTextKey":"AQID","KMSCipherTextHash":null},"Error":""}],)"
      R"("Errors":null})");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->client_version, "1.2.677.0");
  ASSERT_EQ(p->processed_client_actions.size(), 2u);
  EXPECT_EQ(p->processed_client_actions[0].action_type, "SessionType");
  EXPECT_EQ(p->processed_client_actions[0].action_status, 1);
  EXPECT_TRUE(p->processed_client_actions[0].action_result.is_null());
  EXPECT_EQ(p->processed_client_actions[1].action_result["KMSCipherTextKey"], "AQID");
  EXPECT_TRUE(p->errors.empty());
  EXPECT_TRUE(p->porthole_features.empty());
}

TEST(HandshakeResponseTest, JsonShapeAndFeatures) {
  HandshakeResponse r;
  r.client_version = "porthole-0.1.0";
  r.processed_client_actions.push_back({"SessionType", 1, nullptr, ""});
  EXPECT_EQ(ToJson(r),
            R"({"ClientVersion":"porthole-0.1.0","ProcessedClientActions":[)"
            R"({"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null})");
  r.porthole_features = {"ExitCode"};
  r.errors = {"boom"};
  EXPECT_EQ(ToJson(r),
            R"({"ClientVersion":"porthole-0.1.0","ProcessedClientActions":[)"
            R"({"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],)"
            R"("Errors":["boom"],"PortholeFeatures":["ExitCode"]})");
  auto p = ParseHandshakeResponse(ToJson(r));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->porthole_features, std::vector<std::string>{"ExitCode"});
  EXPECT_EQ(p->errors, std::vector<std::string>{"boom"});
}

TEST(HandshakeResponseTest, RejectsBadInput) {
  ExpectInvalidPayload(ParseHandshakeResponse(R"({"ProcessedClientActions":[]})").error(), "ClientVersion");
  ExpectInvalidPayload(ParseHandshakeResponse(R"({"ClientVersion":"1"})").error(), "ProcessedClientActions");
  ExpectInvalidPayload(ParseHandshakeResponse(R"({"ClientVersion":"1","ProcessedClientActions":[{"ActionType":"x"}]})").error(),
                       "ActionStatus");
  ExpectInvalidPayload(ParseHandshakeResponse(R"({"ClientVersion":"1","ProcessedClientActions":[],"Errors":[1]})").error(),
                       "Errors");
  ExpectInvalidPayload(
      ParseHandshakeResponse(R"({"ClientVersion":"1","ProcessedClientActions":[],"PortholeFeatures":"ExitCode"})").error(),
      "PortholeFeatures");
  EXPECT_TRUE(ParseHandshakeResponse(R"({"ClientVersion":"1","ProcessedClientActions":null})").ok());
}

TEST(HandshakeCompleteTest, RoundTrip) {
  HandshakeComplete c{1234567890123, "This session is encrypted using AWS KMS."};
  EXPECT_EQ(ToJson(c),
            R"({"HandshakeTimeToComplete":1234567890123,"CustomerMessage":"This session is encrypted using AWS KMS."})");
  auto p = ParseHandshakeComplete(ToJson(c));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->handshake_time_to_complete_ns, 1234567890123);
  EXPECT_EQ(p->customer_message, c.customer_message);
  ExpectInvalidPayload(ParseHandshakeComplete(R"({"CustomerMessage":""})").error(), "HandshakeTimeToComplete");
  ExpectInvalidPayload(ParseHandshakeComplete(R"({"HandshakeTimeToComplete":"1"})").error(), "HandshakeTimeToComplete");
}

// ---- Size, ExitCode ----

TEST(TerminalSizeTest, MatchesPluginBytes) {
  EXPECT_EQ(ToJson(TerminalSize{120, 30}), R"({"cols":120,"rows":30})");
  auto p = ParseTerminalSize(R"({"cols":300,"rows":100})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cols, 300u);
  EXPECT_EQ(p->rows, 100u);
  ExpectInvalidPayload(ParseTerminalSize(R"({"cols":-1,"rows":1})").error(), "cols");
  ExpectInvalidPayload(ParseTerminalSize(R"({"cols":4294967296,"rows":1})").error(), "cols");
  ExpectInvalidPayload(ParseTerminalSize(R"({"cols":1})").error(), "rows");
  ExpectInvalidPayload(ParseTerminalSize(R"({"cols":1,"rows":"2"})").error(), "rows");
}

TEST(ExitCodeTest, FormatAndParse) {
  EXPECT_EQ(FormatExitCode(0), "EXIT_CODE: 0");
  EXPECT_EQ(FormatExitCode(137), "EXIT_CODE: 137");
  EXPECT_EQ(ParseExitCode("EXIT_CODE: 137"), 137);
  EXPECT_EQ(ParseExitCode("EXIT_CODE: -1\n"), -1);
  EXPECT_EQ(ParseExitCode(FormatExitCode(255)), 255);
  EXPECT_EQ(ParseExitCode("EXIT_CODE: "), std::nullopt);
  EXPECT_EQ(ParseExitCode("EXIT_CODE: 1x"), std::nullopt);
  EXPECT_EQ(ParseExitCode("EXIT_CODE: 99999999999"), std::nullopt);
  EXPECT_EQ(ParseExitCode("exit 1"), std::nullopt);
  EXPECT_EQ(ParseExitCode(""), std::nullopt);
}

// ---- every parser on hostile input ----

TEST(MessagesTest, ParsersSurviveHostileJson) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_obj = R"({"a":)" + std::string(50000, '[') + std::string(50000, ']') + "}";
  for (const std::string& text :
       {std::string(""), std::string("{"), std::string("null"), std::string("\"\xff\""), deep, deep_obj,
        std::string("{\"TokenValue\":\"\xc3\x28\"}"), std::string(R"({"cols":1e400,"rows":1})")}) {
    EXPECT_FALSE(ParseOpenDataChannel(text).ok());
    EXPECT_FALSE(ParseAcknowledge(text).ok());
    EXPECT_FALSE(ParseChannelClosed(text).ok());
    EXPECT_FALSE(ParseHandshakeRequest(text).ok());
    EXPECT_FALSE(ParseHandshakeResponse(text).ok());
    EXPECT_FALSE(ParseHandshakeComplete(text).ok());
    EXPECT_FALSE(ParseTerminalSize(text).ok());
  }
}

TEST(PortholeClientHandshakeResponse, AcceptsTheSessionAndDeclinesKms) {
  HandshakeRequest request;
  request.kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/k";
  auto parsed = ParseHandshakeResponse(ToJson(PortholeClientHandshakeResponse(request, "porthole/1")));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->client_version, "porthole/1");
  EXPECT_EQ(parsed->porthole_features, (std::vector<std::string>{"ExitCode", "OutputWithoutDigest"}));
  EXPECT_TRUE(Offers(*parsed, kFeatureExitCode));
  EXPECT_TRUE(Offers(*parsed, kFeatureOutputWithoutDigest));
  EXPECT_FALSE(Offers(*parsed, "Output"));  // whole names only
  EXPECT_FALSE(Offers(HandshakeResponse{}, kFeatureExitCode));  // AWS's plugin offers nothing
  ASSERT_EQ(parsed->processed_client_actions.size(), 2u);
  EXPECT_EQ(parsed->processed_client_actions[0].action_type, "SessionType");
  EXPECT_EQ(parsed->processed_client_actions[0].action_status, 1);
  EXPECT_EQ(parsed->processed_client_actions[1].action_type, "KMSEncryption");
  EXPECT_EQ(parsed->processed_client_actions[1].action_status, 3);
  EXPECT_EQ(parsed->errors.size(), 1u);

  // A request that did not parse: the session type is refused, nothing else said.
  Result<HandshakeRequest> garbage = ParseHandshakeRequest("{");
  auto refused = PortholeClientHandshakeResponse(garbage, "porthole/1");
  ASSERT_EQ(refused.processed_client_actions.size(), 1u);
  EXPECT_EQ(refused.processed_client_actions[0].action_status, 2);
}

}  // namespace
}  // namespace porthole::protocol
