// Fuzzes protocol::SequencedStream::Receive with a sequence of frames, fed to
// two streams (an agent end and a client end) over pinned time, and checks
// the delivery contract of sequenced_stream.h against a model kept here.
//
// Input: records of [control byte][u16 big-endian length][frame bytes].
// Control bits:
//   0     which end receives the frame (0 agent, 1 client)
//   1     repair the frame first: HeaderLength 116, PayloadLength and
//         PayloadDigest made right, CreatedDate non-zero (so mutations of the
//         payload reach the acknowledge/channel_closed parsers and the
//         sequencing logic instead of stopping at the digest check)
//   2     toggle SetAcceptingStreamData on that end
//   3     that end Send()s one message first (something to acknowledge)
//   4-6   advance the clock by n * 150 ms first, then ask for retransmissions
//   7     call ResendAll() after the frame
//
// Properties, beyond "no crash, no throw":
//  * errors carry InvalidFrame, InvalidPayload or ProtocolViolation and leave
//    the stream as it was;
//  * messages are delivered exactly once, in sequence order from 0, each the
//    first copy of its sequence number that the stream accepted, and only of
//    the type this end receives;
//  * each frame to send back is a well-formed acknowledge of a received
//    message; acknowledgements remove exactly the pending message they name;
//  * UnacknowledgedCount/Bytes, DueRetransmissions and ResendAll agree with
//    the messages sent and not yet acknowledged; the RTO stays in 10..1000 ms.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "fuzz_support.h"
#include "protocol/client_message.h"
#include "protocol/messages.h"
#include "protocol/sequenced_stream.h"

namespace porthole::protocol {
namespace {

using std::chrono::milliseconds;

constexpr size_t kOffPayloadDigest = 80;
constexpr size_t kOffCreatedDate = 40;
constexpr size_t kOffPayloadLength = 116;

void PutU32At(std::string& frame, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) frame[offset + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

void Repair(std::string& frame) {
  if (frame.size() < kHeaderSize) return;
  PutU32At(frame, 0, kHeaderLength);
  PutU32At(frame, kOffPayloadLength, static_cast<uint32_t>(frame.size() - kHeaderSize));
  if (frame.substr(kOffCreatedDate, 8) == std::string(8, '\0')) frame[kOffCreatedDate + 7] = 1;
  frame.replace(kOffPayloadDigest, 32, crypto::Sha256(std::string_view(frame).substr(kHeaderSize)));
}

// One end under test and what the model says about it.
struct End {
  SequencedStream::Role role;
  SequencedStream stream;
  std::string_view incoming_type;
  std::string_view outgoing_type;
  int64_t expected = 0;                         // next sequence number to deliver
  std::map<int64_t, std::string> first_copy;    // accepted, not yet delivered: payload
  std::map<int64_t, size_t> pending;            // sent, not acknowledged: frame size
  int64_t next_send = 0;

  static SequencedStream::Limits SmallLimits() {
    SequencedStream::Limits limits;
    limits.max_unacknowledged_messages = 8;
    limits.max_reorder_messages = 16;
    limits.max_reorder_bytes = 4096;
    return limits;
  }
  explicit End(SequencedStream::Role r)
      : role(r),
        stream(r, SmallLimits()),
        incoming_type(r == SequencedStream::Role::kAgent ? kInputStreamData : kOutputStreamData),
        outgoing_type(r == SequencedStream::Role::kAgent ? kOutputStreamData : kInputStreamData) {}
};

size_t PendingBytes(const End& end) {
  size_t bytes = 0;
  for (const auto& [seq, size] : end.pending) bytes += size;
  return bytes;
}

void CheckInvariants(const End& end) {
  FUZZ_CHECK(end.stream.ExpectedIncomingSequence() == end.expected);
  FUZZ_CHECK(end.stream.UnacknowledgedCount() == end.pending.size());
  FUZZ_CHECK(end.stream.UnacknowledgedBytes() == PendingBytes(end));
  FUZZ_CHECK(end.stream.AllAcknowledged() == end.pending.empty());
  FUZZ_CHECK(end.stream.NextOutgoingSequence() == end.next_send);
  FUZZ_CHECK(end.stream.Rto() >= milliseconds(10) && end.stream.Rto() <= milliseconds(1000));
}

// A frame the stream hands back for (re)transmission: one of its own pending messages.
void CheckOwnFrame(const End& end, const std::string& frame) {
  Result<ClientMessage> m = Decode(frame);
  FUZZ_CHECK_MSG(m.ok(), m.ok() ? "" : m.error().message);
  FUZZ_CHECK(m->message_type == end.outgoing_type);
  FUZZ_CHECK(end.pending.count(m->sequence_number) == 1);
}

void CheckAcknowledgeFrame(const End& end, const std::string& frame) {
  Result<ClientMessage> m = Decode(frame);
  FUZZ_CHECK_MSG(m.ok(), m.ok() ? "" : m.error().message);
  FUZZ_CHECK(m->message_type == kAcknowledge);
  FUZZ_CHECK(m->flags == (kFlagSyn | kFlagFin));
  FUZZ_CHECK(m->payload_type == PayloadType::kNone);
  Result<Acknowledge> ack = ParseAcknowledge(m->payload);
  FUZZ_CHECK_MSG(ack.ok(), m->payload);
  FUZZ_CHECK(ack->acknowledged_message_type == end.incoming_type);
  FUZZ_CHECK(ack->is_sequential_message);
  FUZZ_CHECK(ack->acknowledged_sequence_number >= 0);
}

void ReceiveOne(End& end, const std::string& frame, SteadyTime now) {
  const int64_t expected_before = end.stream.ExpectedIncomingSequence();
  const size_t unacked_before = end.stream.UnacknowledgedCount();
  const bool accepting = end.stream.AcceptingStreamData();

  Result<SequencedStream::Incoming> in = end.stream.Receive(frame, now);
  if (!in.ok()) {
    const std::string& code = in.error().code;
    FUZZ_CHECK_MSG(code == "InvalidFrame" || code == "InvalidPayload" || code == "ProtocolViolation", code);
    FUZZ_CHECK(end.stream.ExpectedIncomingSequence() == expected_before);
    FUZZ_CHECK(end.stream.UnacknowledgedCount() == unacked_before);
    CheckInvariants(end);
    return;
  }
  // The frame decoded (Receive decodes first), so the model can look at it.
  Result<ClientMessage> m = Decode(frame);
  FUZZ_CHECK(m.ok());

  if (m->message_type == kAcknowledge) {
    Result<Acknowledge> ack = ParseAcknowledge(m->payload);
    FUZZ_CHECK(ack.ok());
    if (ack->acknowledged_message_type == end.outgoing_type) end.pending.erase(ack->acknowledged_sequence_number);
  } else if (m->message_type == kChannelClosed) {
    FUZZ_CHECK(in->channel_closed.has_value());
    FUZZ_CHECK(ParseChannelClosed(m->payload).ok());
  } else if (m->message_type == end.incoming_type) {
    const int64_t seq = m->sequence_number;
    FUZZ_CHECK(seq >= 0);
    if (seq >= end.expected && accepting && end.first_copy.count(seq) == 0) end.first_copy.emplace(seq, m->payload);
    if (!accepting && seq >= end.expected) {
      FUZZ_CHECK(in->frames_to_send.empty());  // dropped unacknowledged
    } else {
      FUZZ_CHECK(in->frames_to_send.size() == 1);
    }
  } else {
    FUZZ_CHECK_MSG(m->message_type == kStartPublication || m->message_type == kPausePublication, m->message_type);
  }
  if (m->message_type != kChannelClosed) FUZZ_CHECK(!in->channel_closed.has_value());
  if (m->message_type != end.incoming_type) {
    FUZZ_CHECK(in->frames_to_send.empty());
    FUZZ_CHECK(in->delivered.empty());
  }

  for (const std::string& ack_frame : in->frames_to_send) CheckAcknowledgeFrame(end, ack_frame);
  for (const ClientMessage& d : in->delivered) {
    FUZZ_CHECK(d.message_type == end.incoming_type);
    FUZZ_CHECK(d.sequence_number == end.expected);
    auto first = end.first_copy.find(d.sequence_number);
    FUZZ_CHECK(first != end.first_copy.end());
    FUZZ_CHECK(d.payload == first->second);
    end.first_copy.erase(first);
    ++end.expected;
  }
  FUZZ_CHECK(end.stream.UnacknowledgedCount() <= unacked_before);
  CheckInvariants(end);
}

void SendOne(End& end, SteadyTime now, uint8_t control) {
  const std::string frame =
      end.stream.Send(PayloadType::kOutput, std::string(control % 5, 'o'), now, control & 1 ? kFlagFin : 0);
  Result<ClientMessage> m = Decode(frame);
  FUZZ_CHECK(m.ok());
  FUZZ_CHECK(m->message_type == end.outgoing_type);
  FUZZ_CHECK(m->sequence_number == end.next_send);
  end.pending.emplace(end.next_send++, frame.size());
  CheckInvariants(end);
}

}  // namespace
}  // namespace porthole::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace porthole::protocol;
  porthole::fuzz::InputReader input(data, size);
  End agent(SequencedStream::Role::kAgent);
  End client(SequencedStream::Role::kClient);
  SteadyTime now = SteadyTime() + std::chrono::hours(1);

  while (!input.empty()) {
    const uint8_t control = input.Byte();
    const size_t length = input.U16();
    std::string frame(input.Bytes(length));
    End& end = control & 1 ? client : agent;

    if (control & 2) Repair(frame);
    if (control & 4) end.stream.SetAcceptingStreamData(!end.stream.AcceptingStreamData());
    if (control & 8) SendOne(end, now, control);
    if (const int steps = (control >> 4) & 7; steps != 0) {
      now += milliseconds(150 * steps);
      for (const std::string& f : end.stream.DueRetransmissions(now)) CheckOwnFrame(end, f);
      CheckInvariants(end);
    }
    ReceiveOne(end, frame, now);
    if (control & 0x80) {
      const std::vector<std::string> all = end.stream.ResendAll(now);
      FUZZ_CHECK(all.size() == end.pending.size());
      auto it = end.pending.begin();
      for (const std::string& f : all) {
        CheckOwnFrame(end, f);
        FUZZ_CHECK(Decode(f)->sequence_number == it->first);
        FUZZ_CHECK(f.size() == it->second);
        ++it;
      }
    }
  }
  return 0;
}
