#include "protocol/sequenced_stream.h"

#include <algorithm>

#include "common/ids.h"

namespace porthole::protocol {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// §4.3 RTO bounds.
constexpr microseconds kMinRtoVariance{10000};
constexpr milliseconds kMaxRto{1000};
// A message's RTO doubles with each retransmission, up to 2^5 times the RTO.
constexpr int kMaxBackoffDoublings = 5;

Error Violation(std::string message) { return MakeError("ProtocolViolation", std::move(message)); }

}  // namespace

SequencedStream::SequencedStream(Role role) : SequencedStream(role, Limits{}) {}

SequencedStream::SequencedStream(Role role, Limits limits) : role_(role), limits_(limits) {}

std::string SequencedStream::Send(PayloadType type, std::string payload, SteadyTime now, uint64_t flags) {
  ClientMessage m;
  m.message_type = std::string(role_ == Role::kAgent ? kOutputStreamData : kInputStreamData);
  m.created_date_ms = NowMillis();
  m.sequence_number = next_seq_++;
  m.flags = flags;
  // The real agent marks its first stream message SYN; the plugin sends 0.
  if (role_ == Role::kAgent && m.sequence_number == 0) m.flags |= kFlagSyn;
  m.message_id = ids::NewUuidBytes();
  m.payload_type = type;
  m.payload = std::move(payload);
  std::string frame = Encode(m, outgoing_digest_);
  unacked_bytes_ += frame.size();
  unacked_.emplace(m.sequence_number, Pending{frame, now, now, false});
  return frame;
}

Result<SequencedStream::Incoming> SequencedStream::Receive(std::string_view frame, SteadyTime now) {
  auto decoded = Decode(frame, omitted_digest_allowed_);
  if (!decoded) return decoded.error();
  ClientMessage& m = *decoded;
  Incoming in;

  if (m.message_type == kAcknowledge) {
    auto ack = ParseAcknowledge(m.payload);
    if (!ack) return ack.error();
    OnAcknowledge(*ack, now);
    return in;
  }
  if (m.message_type == kChannelClosed) {
    auto closed = ParseChannelClosed(m.payload);
    if (!closed) return closed.error();
    in.channel_closed = std::move(*closed);
    return in;
  }
  if (m.message_type == kStartPublication || m.message_type == kPausePublication) return in;

  std::string_view incoming_type = role_ == Role::kAgent ? kInputStreamData : kOutputStreamData;
  if (m.message_type != incoming_type) {
    return Violation("unexpected MessageType \"" + m.message_type + "\" (this end receives " +
                     std::string(incoming_type) + ")");
  }

  const int64_t seq = m.sequence_number;
  if (seq < 0) return Violation("negative SequenceNumber " + std::to_string(seq));
  if (seq < expected_seq_) {
    // Already delivered (e.g. our ack was lost): acknowledge again only.
    in.frames_to_send.push_back(EncodeAcknowledgeFor(m));
    return in;
  }
  // Not accepting: dropped unacknowledged, the sender will retransmit it.
  if (!accepting_) return in;
  // seq >= expected_seq_ >= 0, so the subtraction cannot overflow.
  if (static_cast<uint64_t>(seq - expected_seq_) > limits_.max_reorder_messages) {
    return Violation("SequenceNumber " + std::to_string(seq) + " is beyond the reorder window (expected " +
                     std::to_string(expected_seq_) + ")");
  }
  if (seq > expected_seq_) {
    if (reorder_.count(seq) == 0) {
      if (reorder_.size() + 1 > limits_.max_reorder_messages ||
          reorder_bytes_ + m.payload.size() > limits_.max_reorder_bytes) {
        return Violation("reorder buffer is full");
      }
      in.frames_to_send.push_back(EncodeAcknowledgeFor(m));
      reorder_bytes_ += m.payload.size();
      reorder_.emplace(seq, std::move(m));
    } else {
      in.frames_to_send.push_back(EncodeAcknowledgeFor(m));  // duplicate of a buffered message
    }
    return in;
  }

  in.frames_to_send.push_back(EncodeAcknowledgeFor(m));
  in.delivered.push_back(std::move(m));
  ++expected_seq_;
  for (auto it = reorder_.begin(); it != reorder_.end() && it->first == expected_seq_; it = reorder_.erase(it)) {
    reorder_bytes_ -= it->second.payload.size();
    in.delivered.push_back(std::move(it->second));
    ++expected_seq_;
  }
  return in;
}

void SequencedStream::OnAcknowledge(const Acknowledge& ack, SteadyTime now) {
  // Matched by sequence number, as the plugin does. Acks for the other
  // direction's type or for messages no longer pending are ignored.
  std::string_view outgoing_type = role_ == Role::kAgent ? kOutputStreamData : kInputStreamData;
  if (ack.acknowledged_message_type != outgoing_type) return;
  auto it = unacked_.find(ack.acknowledged_sequence_number);
  if (it == unacked_.end()) return;
  const Pending& p = it->second;
  // Karn's rule: an ack for a retransmitted message is ambiguous, so only
  // first transmissions give RTT samples.
  if (!p.retransmitted) {
    microseconds sample = std::max(microseconds{0}, std::chrono::duration_cast<microseconds>(now - p.first_sent_at));
    microseconds diff = rtt_ > sample ? rtt_ - sample : sample - rtt_;
    // §4.3: RTTVar = 0.75 RTTVar + 0.25 |RTT - sample|; RTT = 0.875 RTT + 0.125 sample.
    rttvar_ = (rttvar_ * 3 + diff) / 4;
    rtt_ = (rtt_ * 7 + sample) / 8;
    microseconds rto = rtt_ + std::max(kMinRtoVariance, rttvar_ * 4);
    rto_ = std::min(kMaxRto, std::chrono::ceil<milliseconds>(rto));
  }
  unacked_bytes_ -= p.frame.size();
  unacked_.erase(it);
}

std::vector<std::string> SequencedStream::DueRetransmissions(SteadyTime now) {
  std::vector<std::string> due;
  for (auto& [seq, p] : unacked_) {
    // Exponential backoff per message (RFC 6298 §5.5): a peer that
    // acknowledges nothing is not sent the whole window again every RTO.
    if (now - p.sent_at < rto_ * (1 << std::min(p.retransmissions, kMaxBackoffDoublings))) continue;
    p.sent_at = now;
    p.retransmitted = true;
    p.retransmissions++;
    due.push_back(p.frame);
  }
  return due;
}

std::vector<std::string> SequencedStream::ResendAll(SteadyTime now) {
  std::vector<std::string> frames;
  frames.reserve(unacked_.size());
  for (auto& [seq, p] : unacked_) {
    p.sent_at = now;
    p.retransmitted = true;
    frames.push_back(p.frame);
  }
  return frames;
}

}  // namespace porthole::protocol
