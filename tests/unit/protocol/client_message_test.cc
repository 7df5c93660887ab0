#include "protocol/client_message.h"

#include <gtest/gtest.h>

#include <random>

#include "common/crypto.h"
#include "common/ids.h"

namespace porthole::protocol {
namespace {

// shared/protocol/session-data-channel.md §4: the plugin's Size message, seq 1,
// captured live. (The doc's MessageType row shows 17 "20" bytes; its own
// annotation, the 32-byte field and the 142-byte total all say 15.)
constexpr std::string_view kCapturedSizeHex =
    "00000074"
    "696e7075745f73747265616d5f64617461"  // "input_stream_data"
    "202020202020202020202020202020"      // 15 spaces
    "00000001"
    "000001a222090c1e"
    "0000000000000001"
    "0000000000000000"
    "9d5a8cf65457cd03"
    "ff30baedbede4c9c"
    "f6bd3c835bc7077a5db2645c54dcbc578928568e6ae9266b21fb15a1fc512646"
    "00000003"
    "00000016"
    "7b22636f6c73223a3132302c22726f7773223a33307d";

std::string Unhex(std::string_view hex) {
  auto bytes = crypto::HexDecode(hex);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or("");
}

ClientMessage Sample(std::string payload = "hello") {
  ClientMessage m;
  m.message_type = std::string(kOutputStreamData);
  m.created_date_ms = 1700000000123;
  m.sequence_number = 42;
  m.flags = kFlagSyn;
  m.message_id = ids::NewUuidBytes();
  m.payload_type = PayloadType::kOutput;
  m.payload = std::move(payload);
  return m;
}

void PutU32At(std::string& frame, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) frame[offset + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

TEST(ClientMessageTest, DecodesCapturedSizeMessage) {
  std::string frame = Unhex(kCapturedSizeHex);
  ASSERT_EQ(frame.size(), 142u);
  auto m = Decode(frame);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->message_type, "input_stream_data");
  EXPECT_EQ(m->schema_version, 1u);
  EXPECT_EQ(m->created_date_ms, 0x000001a222090c1eull);
  EXPECT_EQ(m->sequence_number, 1);
  EXPECT_EQ(m->flags, 0u);
  EXPECT_EQ(ids::UuidToString(m->message_id), "ff30baed-bede-4c9c-9d5a-8cf65457cd03");
  EXPECT_EQ(m->payload_type, PayloadType::kSize);
  EXPECT_EQ(m->payload, R"({"cols":120,"rows":30})");
}

TEST(ClientMessageTest, ReencodesCapturedSizeMessageByteIdentically) {
  std::string frame = Unhex(kCapturedSizeHex);
  ClientMessage m;
  m.message_type = "input_stream_data";
  m.schema_version = 1;
  m.created_date_ms = 0x000001a222090c1eull;
  m.sequence_number = 1;
  m.flags = 0;
  m.message_id = *ids::ParseUuid("ff30baed-bede-4c9c-9d5a-8cf65457cd03");
  m.payload_type = PayloadType::kSize;
  m.payload = R"({"cols":120,"rows":30})";
  EXPECT_EQ(crypto::HexEncode(Encode(m)), kCapturedSizeHex);

  auto decoded = Decode(frame);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(Encode(*decoded), frame);
}

TEST(ClientMessageTest, RoundTripsAllFields) {
  ClientMessage m = Sample(std::string("\0\x01\xff binary", 10));
  m.sequence_number = -7;  // int64 on the wire; Decode leaves policy to the caller
  m.flags = 0xfedcba9876543210ull;
  m.schema_version = 0x01020304;
  std::string frame = Encode(m);
  ASSERT_EQ(frame.size(), kHeaderSize + m.payload.size());
  auto d = Decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->message_type, m.message_type);
  EXPECT_EQ(d->schema_version, m.schema_version);
  EXPECT_EQ(d->created_date_ms, m.created_date_ms);
  EXPECT_EQ(d->sequence_number, m.sequence_number);
  EXPECT_EQ(d->flags, m.flags);
  EXPECT_EQ(d->message_id, m.message_id);
  EXPECT_EQ(d->payload_type, m.payload_type);
  EXPECT_EQ(d->payload, m.payload);
}

TEST(ClientMessageTest, EncodeLayout) {
  ClientMessage m = Sample("abc");
  std::string frame = Encode(m);
  EXPECT_EQ(frame.substr(0, 4), std::string("\0\0\0\x74", 4));
  EXPECT_EQ(frame.substr(4, 32), std::string(kOutputStreamData) + std::string(32 - kOutputStreamData.size(), ' '));
  EXPECT_EQ(frame.substr(64, 8), std::string(reinterpret_cast<const char*>(m.message_id.data()) + 8, 8));
  EXPECT_EQ(frame.substr(72, 8), std::string(reinterpret_cast<const char*>(m.message_id.data()), 8));
  EXPECT_EQ(frame.substr(80, 32), crypto::Sha256("abc"));
  EXPECT_EQ(frame.substr(112, 8), std::string("\0\0\0\x01\0\0\0\x03", 8));
  EXPECT_EQ(frame.substr(120), "abc");
}

TEST(ClientMessageTest, EncodeFillsZeroCreatedDate) {
  ClientMessage m = Sample();
  m.created_date_ms = 0;
  uint64_t before = NowMillis();
  auto d = Decode(Encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_GE(d->created_date_ms, before);
  EXPECT_LE(d->created_date_ms, NowMillis());
}

TEST(ClientMessageTest, AcceptsNulPaddedMessageType) {
  std::string frame = Encode(Sample());
  for (size_t i = 4 + kOutputStreamData.size(); i < 36; ++i) frame[i] = '\0';
  auto d = Decode(frame);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->message_type, kOutputStreamData);
}

TEST(ClientMessageTest, AcceptsEmptyPayload) {
  auto d = Decode(Encode(Sample("")));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->payload, "");
}

void ExpectInvalid(std::string_view frame, std::string_view message_part) {
  auto d = Decode(frame);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "InvalidFrame");
  EXPECT_NE(d.error().message.find(message_part), std::string::npos) << d.error().message;
}

TEST(ClientMessageTest, RejectsShortFrame) {
  std::string frame = Encode(Sample());
  ExpectInvalid("", "header");
  ExpectInvalid(frame.substr(0, kHeaderSize - 1), "header");
}

TEST(ClientMessageTest, RejectsBadHeaderLength) {
  std::string frame = Encode(Sample());
  PutU32At(frame, 0, 0);
  ExpectInvalid(frame, "HeaderLength");
  PutU32At(frame, 0, 120);
  ExpectInvalid(frame, "HeaderLength");
}

TEST(ClientMessageTest, RejectsPayloadLengthMismatch) {
  std::string frame = Encode(Sample("hello"));
  ExpectInvalid(frame.substr(0, frame.size() - 1), "PayloadLength");
  ExpectInvalid(frame + "x", "PayloadLength");
  PutU32At(frame, 116, 0xffffffff);
  ExpectInvalid(frame, "PayloadLength");
}

TEST(ClientMessageTest, RejectsOversizedPayload) {
  std::string frame = Encode(Sample(std::string(kMaxPayloadSize + 1, 'x')));
  ExpectInvalid(frame, "limit");
  EXPECT_TRUE(Decode(Encode(Sample(std::string(kMaxPayloadSize, 'x')))).ok());
}

TEST(ClientMessageTest, RejectsEmptyMessageType) {
  ClientMessage m = Sample();
  m.message_type = "";
  ExpectInvalid(Encode(m), "MessageType");
  std::string frame = Encode(Sample());
  for (size_t i = 4; i < 36; ++i) frame[i] = '\0';
  ExpectInvalid(frame, "MessageType");
}

TEST(ClientMessageTest, RejectsNonPrintableMessageType) {
  std::string frame = Encode(Sample());
  frame[6] = '\x01';
  ExpectInvalid(frame, "MessageType");
}

TEST(ClientMessageTest, RejectsZeroCreatedDate) {
  std::string frame = Encode(Sample());
  for (size_t i = 40; i < 48; ++i) frame[i] = '\0';
  ExpectInvalid(frame, "CreatedDate");
}

TEST(ClientMessageTest, RejectsDigestMismatch) {
  std::string frame = Encode(Sample("hello"));
  frame.back() ^= 1;
  ExpectInvalid(frame, "PayloadDigest");
  frame = Encode(Sample("hello"));
  frame[80] ^= 1;
  ExpectInvalid(frame, "PayloadDigest");
}

// "OutputWithoutDigest": zeros on the wire, accepted only where allowed, and
// a digest that is present is still checked.
TEST(ClientMessageTest, OmittedDigestIsZerosAndAcceptedOnlyWhenAllowed) {
  std::string frame = Encode(Sample("hello"), PayloadDigest::kOmitted);
  EXPECT_EQ(frame.substr(kOffPayloadDigest, kDigestSize), std::string(kDigestSize, '\0'));
  ExpectInvalid(frame, "PayloadDigest");
  auto accepted = Decode(frame, true);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(accepted->payload, "hello");

  std::string wrong = Encode(Sample("hello"));
  wrong.back() ^= 1;
  EXPECT_FALSE(Decode(wrong, true).ok());
  std::string one_bit = frame;
  one_bit[kOffPayloadDigest + 31] = 1;  // not all zeros: checked, and wrong
  EXPECT_FALSE(Decode(one_bit, true).ok());
  EXPECT_TRUE(Decode(Encode(Sample("hello")), true).ok());
}

// What the gateway relays with: every check but the digest, no payload copy.
TEST(ClientMessageTest, DecodeHeaderChecksAllButTheDigest) {
  ClientMessage m = Sample("hello");
  m.sequence_number = 41;
  std::string frame = Encode(m);
  auto header = DecodeHeader(frame);
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header->message_type, m.message_type);
  EXPECT_EQ(header->sequence_number, 41);
  EXPECT_EQ(header->payload_type, m.payload_type);
  EXPECT_TRUE(header->payload.empty());

  frame.back() ^= 1;  // the payload no longer matches its digest: only Decode sees it
  EXPECT_TRUE(DecodeHeader(frame).ok());
  EXPECT_FALSE(Decode(frame).ok());

  std::string short_length = Encode(m);
  PutU32At(short_length, 116, 4);
  EXPECT_FALSE(DecodeHeader(short_length).ok());
  std::string no_date = Encode(m);
  for (size_t i = 40; i < 48; ++i) no_date[i] = '\0';
  EXPECT_FALSE(DecodeHeader(no_date).ok());
  EXPECT_FALSE(DecodeHeader(frame.substr(0, kHeaderSize - 1)).ok());
}

TEST(ClientMessageTest, PublicationMessagesSkipDateAndDigestChecks) {
  for (std::string_view type : {kStartPublication, kPausePublication}) {
    ClientMessage m = Sample("x");
    m.message_type = std::string(type);
    std::string frame = Encode(m);
    for (size_t i = 40; i < 48; ++i) frame[i] = '\0';
    frame[80] ^= 1;
    auto d = Decode(frame);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->message_type, type);
    EXPECT_EQ(d->created_date_ms, 0u);
  }
}

// Garbage must yield errors (or, by chance, a valid message), never a crash
// or an over-read (run under ASan to check the latter).
TEST(ClientMessageTest, SurvivesGarbageAndTruncation) {
  std::mt19937_64 rng(12345);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  for (int i = 0; i < 5000; ++i) {
    std::string junk = random_bytes(rng() % 400);
    (void)Decode(junk);
    if (junk.size() >= kHeaderSize) {
      PutU32At(junk, 0, kHeaderLength);  // get past the first check
      PutU32At(junk, 116, static_cast<uint32_t>(junk.size() - kHeaderSize));
      auto d = Decode(junk);
      if (!d.ok()) {
        EXPECT_EQ(d.error().code, "InvalidFrame");
      }
    }
  }
  std::string valid = Encode(Sample("some payload bytes"));
  for (size_t n = 0; n < valid.size(); ++n) {
    auto d = Decode(std::string_view(valid).substr(0, n));  // every truncation
    EXPECT_FALSE(d.ok()) << n;
  }
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = valid;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    (void)Decode(mutated);
  }
}

}  // namespace
}  // namespace porthole::protocol
