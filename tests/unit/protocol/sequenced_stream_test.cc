#include "protocol/sequenced_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/crypto.h"
#include "common/ids.h"

namespace porthole::protocol {
namespace {

using std::chrono::milliseconds;
using Role = SequencedStream::Role;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1);

std::string StreamFrame(std::string_view type, int64_t seq, std::string payload = "x") {
  ClientMessage m;
  m.message_type = std::string(type);
  m.created_date_ms = 1700000000000;
  m.sequence_number = seq;
  m.message_id = ids::NewUuidBytes();
  m.payload_type = PayloadType::kOutput;
  m.payload = std::move(payload);
  return Encode(m);
}

std::string AckFrame(std::string_view acked_type, int64_t seq) {
  ClientMessage acked;
  acked.message_type = std::string(acked_type);
  acked.sequence_number = seq;
  acked.message_id = ids::NewUuidBytes();
  return EncodeAcknowledgeFor(acked);
}

// The Acknowledge carried by an acknowledge frame.
Acknowledge AckOf(std::string_view frame) {
  auto m = Decode(frame);
  EXPECT_TRUE(m.ok());
  if (!m.ok()) return {};
  EXPECT_EQ(m->message_type, kAcknowledge);
  EXPECT_EQ(m->sequence_number, 0);
  EXPECT_EQ(m->flags, 3u);
  auto a = ParseAcknowledge(m->payload);
  EXPECT_TRUE(a.ok());
  return a.ok() ? *a : Acknowledge{};
}

std::vector<int64_t> DeliveredSeqs(const SequencedStream::Incoming& in) {
  std::vector<int64_t> seqs;
  for (const auto& m : in.delivered) seqs.push_back(m.sequence_number);
  return seqs;
}

TEST(SequencedStreamTest, SendBuildsDirectionalFrames) {
  SequencedStream agent(Role::kAgent);
  SequencedStream client(Role::kClient);
  auto a0 = Decode(agent.Send(PayloadType::kHandshakeRequest, "{}", kT0));
  auto a1 = Decode(agent.Send(PayloadType::kOutput, "out", kT0));
  auto c0 = Decode(client.Send(PayloadType::kHandshakeResponse, "{}", kT0));
  ASSERT_TRUE(a0.ok() && a1.ok() && c0.ok());
  EXPECT_EQ(a0->message_type, kOutputStreamData);
  EXPECT_EQ(a0->sequence_number, 0);
  EXPECT_EQ(a0->flags, kFlagSyn);  // the real agent marks seq 0 SYN
  EXPECT_EQ(a0->payload_type, PayloadType::kHandshakeRequest);
  EXPECT_EQ(a1->sequence_number, 1);
  EXPECT_EQ(a1->flags, 0u);
  EXPECT_EQ(a1->payload, "out");
  EXPECT_NE(a0->message_id, a1->message_id);
  EXPECT_EQ(c0->message_type, kInputStreamData);
  EXPECT_EQ(c0->sequence_number, 0);
  EXPECT_EQ(c0->flags, 0u);  // the plugin sends 0
  EXPECT_EQ(agent.NextOutgoingSequence(), 2);
  EXPECT_EQ(agent.UnacknowledgedCount(), 2u);
  EXPECT_GT(agent.UnacknowledgedBytes(), 2 * kHeaderSize);
  EXPECT_FALSE(agent.AllAcknowledged());
}

TEST(SequencedStreamTest, OmittedDigestsOnlyAfterTheFeatureBothWays) {
  SequencedStream agent(Role::kAgent);
  SequencedStream client(Role::kClient);
  std::string before = agent.Send(PayloadType::kOutput, "before", kT0);
  agent.OmitOutgoingDigests();
  std::string after = agent.Send(PayloadType::kOutput, "after", kT0);
  EXPECT_EQ(before.substr(kOffPayloadDigest, kDigestSize), crypto::Sha256("before"));
  EXPECT_EQ(after.substr(kOffPayloadDigest, kDigestSize), std::string(kDigestSize, '\0'));

  ASSERT_TRUE(client.Receive(before, kT0).ok());
  EXPECT_FALSE(client.Receive(after, kT0).ok());  // not offered: a zero digest is a mismatch
  client.AcceptOmittedDigests();
  auto in = client.Receive(after, kT0);
  ASSERT_TRUE(in.ok()) << in.error().message;
  ASSERT_EQ(in->delivered.size(), 1u);
  EXPECT_EQ(in->delivered[0].payload, "after");
  // Acknowledgements keep their digest: AWS's agent checks every frame.
  ASSERT_EQ(in->frames_to_send.size(), 1u);
  EXPECT_TRUE(Decode(in->frames_to_send[0]).ok());
}

TEST(SequencedStreamTest, DeliversInOrderAndAcks) {
  SequencedStream agent(Role::kAgent);
  for (int64_t seq = 0; seq < 3; ++seq) {
    std::string frame = StreamFrame(kInputStreamData, seq, "k" + std::to_string(seq));
    auto in = agent.Receive(frame, kT0);
    ASSERT_TRUE(in.ok()) << in.error().message;
    ASSERT_EQ(in->delivered.size(), 1u);
    EXPECT_EQ(in->delivered[0].sequence_number, seq);
    EXPECT_EQ(in->delivered[0].payload, "k" + std::to_string(seq));
    ASSERT_EQ(in->frames_to_send.size(), 1u);
    Acknowledge ack = AckOf(in->frames_to_send[0]);
    EXPECT_EQ(ack.acknowledged_message_type, kInputStreamData);
    EXPECT_EQ(ack.acknowledged_sequence_number, seq);
    EXPECT_EQ(ack.acknowledged_message_id, ids::UuidToString(Decode(frame)->message_id));
    EXPECT_FALSE(in->channel_closed.has_value());
  }
  EXPECT_EQ(agent.ExpectedIncomingSequence(), 3);
}

TEST(SequencedStreamTest, BuffersOutOfOrderThenDrains) {
  SequencedStream client(Role::kClient);
  for (int64_t seq : {3, 1, 2}) {
    auto in = client.Receive(StreamFrame(kOutputStreamData, seq, std::to_string(seq)), kT0);
    ASSERT_TRUE(in.ok());
    EXPECT_TRUE(in->delivered.empty());
    ASSERT_EQ(in->frames_to_send.size(), 1u);  // acked on receipt
    EXPECT_EQ(AckOf(in->frames_to_send[0]).acknowledged_sequence_number, seq);
  }
  auto in = client.Receive(StreamFrame(kOutputStreamData, 0, "0"), kT0);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(DeliveredSeqs(*in), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(in->delivered[2].payload, "2");
  EXPECT_EQ(in->frames_to_send.size(), 1u);
  EXPECT_EQ(client.ExpectedIncomingSequence(), 4);
}

TEST(SequencedStreamTest, DuplicatesAreReackedNotRedelivered) {
  SequencedStream agent(Role::kAgent);
  std::string f0 = StreamFrame(kInputStreamData, 0);
  std::string f2 = StreamFrame(kInputStreamData, 2);
  ASSERT_EQ(agent.Receive(f0, kT0)->delivered.size(), 1u);
  // Already delivered: re-ack (the sender lost our ack), no delivery.
  auto dup = agent.Receive(f0, kT0);
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->delivered.empty());
  ASSERT_EQ(dup->frames_to_send.size(), 1u);
  EXPECT_EQ(AckOf(dup->frames_to_send[0]).acknowledged_sequence_number, 0);
  // Duplicate of a buffered message: re-ack, buffered once.
  ASSERT_TRUE(agent.Receive(f2, kT0).ok());
  auto dup2 = agent.Receive(f2, kT0);
  ASSERT_TRUE(dup2.ok());
  EXPECT_TRUE(dup2->delivered.empty());
  EXPECT_EQ(dup2->frames_to_send.size(), 1u);
  auto in = agent.Receive(StreamFrame(kInputStreamData, 1), kT0);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(DeliveredSeqs(*in), (std::vector<int64_t>{1, 2}));
}

TEST(SequencedStreamTest, AcksClearUnackedAndUpdateRto) {
  SequencedStream agent(Role::kAgent);
  agent.Send(PayloadType::kOutput, "a", kT0);
  agent.Send(PayloadType::kOutput, "b", kT0);
  EXPECT_EQ(agent.Rto(), milliseconds(200));
  auto in = agent.Receive(AckFrame(kOutputStreamData, 1), kT0 + milliseconds(50));
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in->frames_to_send.empty());
  EXPECT_TRUE(in->delivered.empty());
  EXPECT_EQ(agent.UnacknowledgedCount(), 1u);
  // sample 50 ms: RTTVar = 0.25*|100-50| = 12.5; RTT = 0.875*100 + 0.125*50 = 93.75;
  // RTO = 93.75 + max(10, 50) = 143.75 -> 144 ms.
  EXPECT_EQ(agent.Rto(), milliseconds(144));
  // Duplicate ack and acks for unknown sequence numbers: no effect.
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 1), kT0 + milliseconds(60)).ok());
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 99), kT0 + milliseconds(60)).ok());
  EXPECT_EQ(agent.UnacknowledgedCount(), 1u);
  // An ack naming the other direction's type does not clear ours.
  ASSERT_TRUE(agent.Receive(AckFrame(kInputStreamData, 0), kT0 + milliseconds(60)).ok());
  EXPECT_EQ(agent.UnacknowledgedCount(), 1u);
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 0), kT0 + milliseconds(60)).ok());
  EXPECT_TRUE(agent.AllAcknowledged());
  EXPECT_EQ(agent.UnacknowledgedBytes(), 0u);
}

TEST(SequencedStreamTest, RtoIsCappedAtOneSecond) {
  SequencedStream client(Role::kClient);
  for (int i = 0; i < 20; ++i) {
    SteadyTime t = kT0 + std::chrono::seconds(10 * i);
    client.Send(PayloadType::kOutput, "x", t);
    ASSERT_TRUE(client.Receive(AckFrame(kInputStreamData, i), t + std::chrono::seconds(5)).ok());
  }
  EXPECT_EQ(client.Rto(), milliseconds(1000));
}

TEST(SequencedStreamTest, RetransmitsAfterRto) {
  SequencedStream client(Role::kClient);
  std::string frame = client.Send(PayloadType::kOutput, "ls\n", kT0);
  EXPECT_TRUE(client.DueRetransmissions(kT0 + milliseconds(199)).empty());
  auto due = client.DueRetransmissions(kT0 + milliseconds(200));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], frame);  // same seq and MessageId, byte-identical
  // Send time was reset, and the next retransmission waits twice as long.
  EXPECT_TRUE(client.DueRetransmissions(kT0 + milliseconds(300)).empty());
  EXPECT_TRUE(client.DueRetransmissions(kT0 + milliseconds(599)).empty());
  EXPECT_EQ(client.DueRetransmissions(kT0 + milliseconds(600)).size(), 1u);
  // Ack of a retransmitted message: cleared, but no RTT sample (Karn).
  ASSERT_TRUE(client.Receive(AckFrame(kInputStreamData, 0), kT0 + milliseconds(610)).ok());
  EXPECT_TRUE(client.AllAcknowledged());
  EXPECT_EQ(client.Rto(), milliseconds(200));
  EXPECT_TRUE(client.DueRetransmissions(kT0 + milliseconds(5000)).empty());
}

// Receive-side flow control: while not accepting, new stream messages are
// dropped unacknowledged (so the sender keeps and retransmits them), while
// acknowledgements, re-acks of old messages and channel_closed still work.
TEST(SequencedStreamTest, NotAcceptingDropsNewMessagesUnacknowledged) {
  SequencedStream agent(Role::kAgent);
  auto first = agent.Receive(StreamFrame(kInputStreamData, 0, "a"), kT0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->delivered.size(), 1u);
  agent.Send(PayloadType::kOutput, "out", kT0);
  agent.SetAcceptingStreamData(false);
  for (int64_t seq : {1, 2}) {
    auto in = agent.Receive(StreamFrame(kInputStreamData, seq, "b"), kT0);
    ASSERT_TRUE(in.ok());
    EXPECT_TRUE(in->delivered.empty());
    EXPECT_TRUE(in->frames_to_send.empty()) << "no ack: the sender must keep it";
  }
  auto again = agent.Receive(StreamFrame(kInputStreamData, 0, "a"), kT0);  // already delivered: re-acked
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->frames_to_send.size(), 1u);
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 0), kT0).ok());
  EXPECT_TRUE(agent.AllAcknowledged());
  // Accepting again, the retransmission is delivered in order.
  agent.SetAcceptingStreamData(true);
  auto retransmitted = agent.Receive(StreamFrame(kInputStreamData, 1, "b"), kT0);
  ASSERT_TRUE(retransmitted.ok());
  ASSERT_EQ(retransmitted->delivered.size(), 1u);
  EXPECT_EQ(retransmitted->delivered[0].sequence_number, 1);
}

// A peer that acknowledges nothing is not sent the whole window every RTO:
// each message's wait doubles, up to 32 RTOs (RFC 6298 §5.5).
TEST(SequencedStreamTest, RetransmissionsBackOffExponentially) {
  SequencedStream agent(Role::kAgent);
  agent.Send(PayloadType::kOutput, "x", kT0);
  std::vector<int> sent_at_ms;
  for (int ms = 0; ms <= 20000; ms += 10)
    if (!agent.DueRetransmissions(kT0 + milliseconds(ms)).empty()) sent_at_ms.push_back(ms);
  // RTO 200 ms: retransmitted at 200, then 400, 800, 1600, 3200 and 6400 ms later (the cap).
  EXPECT_EQ(sent_at_ms, (std::vector<int>{200, 600, 1400, 3000, 6200, 12600, 19000}));
}

TEST(SequencedStreamTest, DueRetransmissionsReturnsAllDueOldestFirst) {
  SequencedStream agent(Role::kAgent);
  std::string a = agent.Send(PayloadType::kOutput, "a", kT0);
  std::string b = agent.Send(PayloadType::kOutput, "b", kT0 + milliseconds(50));
  agent.Send(PayloadType::kOutput, "c", kT0 + milliseconds(200));
  auto due = agent.DueRetransmissions(kT0 + milliseconds(250));
  EXPECT_EQ(due, (std::vector<std::string>{a, b}));
}

TEST(SequencedStreamTest, ResendAllInOrder) {
  SequencedStream agent(Role::kAgent);
  std::vector<std::string> sent;
  for (int i = 0; i < 5; ++i) sent.push_back(agent.Send(PayloadType::kOutput, std::to_string(i), kT0 + milliseconds(i)));
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 2), kT0 + milliseconds(10)).ok());
  auto all = agent.ResendAll(kT0 + milliseconds(20));
  EXPECT_EQ(all, (std::vector<std::string>{sent[0], sent[1], sent[3], sent[4]}));
  EXPECT_TRUE(agent.DueRetransmissions(kT0 + milliseconds(20) + agent.Rto() - milliseconds(1)).empty());
  EXPECT_EQ(agent.DueRetransmissions(kT0 + milliseconds(20) + agent.Rto()).size(), 4u);
}

TEST(SequencedStreamTest, RejectsWrongDirection) {
  SequencedStream agent(Role::kAgent);
  auto e = agent.Receive(StreamFrame(kOutputStreamData, 0), kT0);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "ProtocolViolation");
  SequencedStream client(Role::kClient);
  EXPECT_FALSE(client.Receive(StreamFrame(kInputStreamData, 0), kT0).ok());
  EXPECT_FALSE(client.Receive(StreamFrame("agent_session_state", 0), kT0).ok());
}

TEST(SequencedStreamTest, RejectsGarbage) {
  SequencedStream agent(Role::kAgent);
  auto e = agent.Receive("definitely not a frame", kT0);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, "InvalidFrame");
  std::string frame = StreamFrame(kInputStreamData, 0, "payload");
  frame.back() ^= 0x40;
  EXPECT_EQ(agent.Receive(frame, kT0).error().code, "InvalidFrame");
  // A well-formed acknowledge frame whose JSON is broken.
  ClientMessage bad_ack;
  bad_ack.message_type = std::string(kAcknowledge);
  bad_ack.created_date_ms = 1;
  bad_ack.flags = 3;
  bad_ack.payload = "{\"AcknowledgedMessageSequenceNumber\":\"zero\"}";
  EXPECT_EQ(agent.Receive(Encode(bad_ack), kT0).error().code, "InvalidPayload");
  EXPECT_EQ(agent.ExpectedIncomingSequence(), 0);
}

TEST(SequencedStreamTest, RejectsSequenceOutsideWindow) {
  SequencedStream::Limits limits;
  limits.max_reorder_messages = 4;
  SequencedStream agent(Role::kAgent, limits);
  EXPECT_EQ(agent.Receive(StreamFrame(kInputStreamData, -1), kT0).error().code, "ProtocolViolation");
  EXPECT_TRUE(agent.Receive(StreamFrame(kInputStreamData, 4), kT0).ok());
  EXPECT_EQ(agent.Receive(StreamFrame(kInputStreamData, 5), kT0).error().code, "ProtocolViolation");
  EXPECT_FALSE(agent.Receive(StreamFrame(kInputStreamData, INT64_MAX), kT0).ok());
  ASSERT_EQ(agent.Receive(StreamFrame(kInputStreamData, 0), kT0)->delivered.size(), 1u);
  EXPECT_TRUE(agent.Receive(StreamFrame(kInputStreamData, 5), kT0).ok());  // window moved
}

TEST(SequencedStreamTest, RejectsReorderBytesOverLimit) {
  SequencedStream::Limits limits;
  limits.max_reorder_bytes = 10;
  SequencedStream client(Role::kClient, limits);
  EXPECT_TRUE(client.Receive(StreamFrame(kOutputStreamData, 1, "12345678"), kT0).ok());
  EXPECT_EQ(client.Receive(StreamFrame(kOutputStreamData, 2, "123"), kT0).error().code, "ProtocolViolation");
  // In-order messages are not buffered, so they are not limited by it.
  auto in = client.Receive(StreamFrame(kOutputStreamData, 0, std::string(100, 'z')), kT0);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(DeliveredSeqs(*in), (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(client.Receive(StreamFrame(kOutputStreamData, 3, "1234567890"), kT0).ok());
}

TEST(SequencedStreamTest, UnackedLimitIsBackpressureNotLoss) {
  SequencedStream::Limits limits;
  limits.max_unacknowledged_messages = 2;
  SequencedStream agent(Role::kAgent, limits);
  agent.Send(PayloadType::kOutput, "a", kT0);
  EXPECT_FALSE(agent.OverUnacknowledgedLimit());
  agent.Send(PayloadType::kOutput, "b", kT0);
  EXPECT_TRUE(agent.OverUnacknowledgedLimit());
  EXPECT_FALSE(agent.Send(PayloadType::kOutput, "c", kT0).empty());
  EXPECT_EQ(agent.UnacknowledgedCount(), 3u);
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 0), kT0).ok());
  ASSERT_TRUE(agent.Receive(AckFrame(kOutputStreamData, 1), kT0).ok());
  EXPECT_FALSE(agent.OverUnacknowledgedLimit());
}

TEST(SequencedStreamTest, ChannelClosedAndPublicationMessages) {
  SequencedStream client(Role::kClient);
  for (std::string_view type : {kStartPublication, kPausePublication}) {
    ClientMessage m;
    m.message_type = std::string(type);
    auto in = client.Receive(Encode(m), kT0);
    ASSERT_TRUE(in.ok()) << in.error().message;
    EXPECT_TRUE(in->frames_to_send.empty());
    EXPECT_TRUE(in->delivered.empty());
    EXPECT_FALSE(in->channel_closed.has_value());
  }
  auto in = client.Receive(EncodeChannelClosed("sess-1", "ecs:x", "gone"), kT0);
  ASSERT_TRUE(in.ok()) << in.error().message;
  ASSERT_TRUE(in->channel_closed.has_value());
  EXPECT_EQ(in->channel_closed->session_id, "sess-1");
  EXPECT_EQ(in->channel_closed->output, "gone");
  EXPECT_TRUE(in->frames_to_send.empty());
}

// A one-way simulated link that drops, delays (and so reorders) and
// duplicates frames.
class LossyLink {
 public:
  explicit LossyLink(std::mt19937_64& rng) : rng_(rng) {}

  void Push(std::string frame, SteadyTime now) {
    std::uniform_real_distribution<double> p(0, 1);
    if (p(rng_) < 0.2) return;  // lost
    int copies = p(rng_) < 0.1 ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      milliseconds delay(std::uniform_int_distribution<int>(0, 80)(rng_));
      in_flight_.push_back({now + delay, order_++, frame});
    }
  }

  std::vector<std::string> PopDue(SteadyTime now) {
    std::vector<InFlight> due;
    auto split = std::partition(in_flight_.begin(), in_flight_.end(),
                                [&](const InFlight& f) { return f.deliver_at > now; });
    due.assign(std::make_move_iterator(split), std::make_move_iterator(in_flight_.end()));
    in_flight_.erase(split, in_flight_.end());
    std::sort(due.begin(), due.end(), [](const InFlight& a, const InFlight& b) {
      return std::tie(a.deliver_at, a.order) < std::tie(b.deliver_at, b.order);
    });
    std::vector<std::string> frames;
    for (auto& f : due) frames.push_back(std::move(f.frame));
    return frames;
  }

 private:
  struct InFlight {
    SteadyTime deliver_at;
    uint64_t order;
    std::string frame;
  };
  std::mt19937_64& rng_;
  std::vector<InFlight> in_flight_;
  uint64_t order_ = 0;
};

struct Endpoint {
  Endpoint(Role role, SequencedStream::Limits limits, std::string data)
      : stream(role, limits), source(std::move(data)) {}
  SequencedStream stream;
  std::string source;
  size_t sent = 0;
  std::string sink;
  int64_t next_delivered_seq = 0;
  int retransmissions = 0;
  int undelivered_receipts = 0;  // duplicates and out-of-order arrivals
};

void RunLossyLink(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto random_data = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  SequencedStream::Limits limits;
  limits.max_unacknowledged_messages = 32;
  Endpoint agent(Role::kAgent, limits, random_data(60000));
  Endpoint client(Role::kClient, limits, random_data(20000));
  LossyLink to_client(rng), to_agent(rng);

  auto step = [&](Endpoint& self, LossyLink& out, LossyLink& in, SteadyTime now) {
    // Send while there is data and the peer keeps up.
    for (int burst = 0; burst < 4 && self.sent < self.source.size() && !self.stream.OverUnacknowledgedLimit();
         ++burst) {
      size_t n = std::min<size_t>(1 + rng() % 1024, self.source.size() - self.sent);
      out.Push(self.stream.Send(PayloadType::kOutput, self.source.substr(self.sent, n), now), now);
      self.sent += n;
    }
    for (std::string& frame : in.PopDue(now)) {
      auto got = self.stream.Receive(frame, now);
      ASSERT_TRUE(got.ok()) << got.error().message;
      for (std::string& ack : got->frames_to_send) out.Push(std::move(ack), now);
      if (got->delivered.empty() && !got->frames_to_send.empty()) ++self.undelivered_receipts;
      for (const ClientMessage& m : got->delivered) {
        ASSERT_EQ(m.sequence_number, self.next_delivered_seq++);
        self.sink += m.payload;
      }
    }
    for (std::string& frame : self.stream.DueRetransmissions(now)) {
      ++self.retransmissions;
      out.Push(std::move(frame), now);
    }
  };

  SteadyTime now = kT0;
  auto done = [&] {
    return agent.sent == agent.source.size() && client.sent == client.source.size() &&
           agent.stream.AllAcknowledged() && client.stream.AllAcknowledged();
  };
  int ticks = 0;
  for (; ticks < 200000 && !done(); ++ticks) {
    now += milliseconds(5);
    step(agent, to_client, to_agent, now);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    step(client, to_agent, to_client, now);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
  }
  ASSERT_TRUE(done()) << "did not converge in " << ticks << " ticks";
  EXPECT_EQ(client.sink.size(), agent.source.size());
  EXPECT_TRUE(client.sink == agent.source);
  EXPECT_EQ(agent.sink.size(), client.source.size());
  EXPECT_TRUE(agent.sink == client.source);
  // The link really did lose, reorder and duplicate.
  EXPECT_GT(agent.retransmissions, 10);
  EXPECT_GT(client.retransmissions, 10);
  EXPECT_GT(agent.undelivered_receipts, 10);
  EXPECT_GT(client.undelivered_receipts, 10);
}

TEST(SequencedStreamTest, LossyReorderingDuplicatingLinkDeliversExactStreamsBothWays) {
  for (uint64_t seed : {20241015u, 1u, 2u, 3u, 4u}) {
    SCOPED_TRACE(seed);
    RunLossyLink(seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace porthole::protocol
