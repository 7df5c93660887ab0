#pragma once
// One end of a data channel's reliable stream (§4.3), without I/O: the caller
// feeds it received frames and the clock, and writes the frames it returns.
// Used by the exec agent (sends output_stream_data) and by Porthole's client
// (sends input_stream_data).
//
// Delivery contract:
//  * every outgoing stream message gets the next sequence number and is kept
//    until acknowledged; unacknowledged ones are retransmitted when older than
//    the RTO (RTT estimate as §4.3, initial 200 ms, max 1 s), each further
//    retransmission of a message waiting twice as long (up to 32 RTOs), and
//    all of them are re-sent, in order, by ResendAll() after a reconnect;
//  * incoming stream messages are delivered exactly once, in sequence order:
//    seq == expected is delivered (plus any buffered successors), seq > expected
//    is acknowledged and buffered (bounded), seq < expected is re-acknowledged
//    and not delivered again;
//  * a peer that breaks the protocol (wrong message type for the direction,
//    sequence number negative or beyond the reorder window, buffers over their
//    bounds) gets an error: the caller must close the channel. Errors carry
//    code "InvalidFrame" (undecodable frame), "InvalidPayload" (bad ack or
//    channel_closed JSON) or "ProtocolViolation" (sequencing, direction);
//  * acknowledgements are matched by sequence number (as the plugin does);
//    acks naming the other direction's message type are ignored; RTT samples
//    come only from messages that were never retransmitted (Karn's rule);
//  * start_publication / pause_publication are accepted and ignored;
//    channel_closed is reported in Incoming::channel_closed.
//
// Backpressure, receiving: SetAcceptingStreamData(false) makes Receive() drop
// new stream messages unacknowledged (acknowledgements and channel_closed are
// still processed), so the sender keeps them and retransmits them, backing
// off, until the receiver accepts again: the protocol's own flow control,
// used when what the messages feed (a PTY whose program does not read) is full.
//
// Backpressure, sending: Send() never refuses or drops a message. When
// UnacknowledgedCount() reaches Limits::max_unacknowledged_messages
// (OverUnacknowledgedLimit()), the caller should stop reading from its source
// (pty, socket) until acknowledgements bring it back under the limit.
//
// Caveat (§4.3): the plugin silently drops, without re-acking, a message
// whose seq it has already processed; after a reconnect, such a message stays
// unacknowledged here and is retransmitted until the caller gives up on it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/client_message.h"
#include "protocol/messages.h"

namespace porthole::protocol {

using SteadyTime = std::chrono::steady_clock::time_point;

class SequencedStream {
 public:
  enum class Role { kAgent, kClient };

  struct Limits {
    size_t max_unacknowledged_messages = 10000;
    size_t max_reorder_messages = 10000;
    size_t max_reorder_bytes = 64 * 1024 * 1024;
  };

  explicit SequencedStream(Role role);
  SequencedStream(Role role, Limits limits);

  // Builds the next stream message and remembers it until acknowledged.
  // Returns the encoded frame to write now.
  std::string Send(PayloadType type, std::string payload, SteadyTime now, uint64_t flags = 0);

  struct Incoming {
    std::vector<std::string> frames_to_send;  // acknowledgements, in order
    std::vector<ClientMessage> delivered;     // new stream messages, in order
    std::optional<ChannelClosed> channel_closed;
  };
  Result<Incoming> Receive(std::string_view frame, SteadyTime now);

  // Frames whose RTO has passed (now - last send >= Rto()), oldest first;
  // their send time is reset.
  std::vector<std::string> DueRetransmissions(SteadyTime now);
  // Every unacknowledged frame, oldest first (after a reconnect).
  std::vector<std::string> ResendAll(SteadyTime now);

  void SetAcceptingStreamData(bool accepting) { accepting_ = accepting; }
  // Stream messages sent from now on carry no payload digest (the peer asked
  // for "OutputWithoutDigest"); acknowledgements always do.
  void OmitOutgoingDigests() { outgoing_digest_ = PayloadDigest::kOmitted; }
  // Accept received frames whose digest is all zeros, unchecked (this end
  // offered "OutputWithoutDigest").
  void AcceptOmittedDigests() { omitted_digest_allowed_ = true; }
  bool AcceptingStreamData() const { return accepting_; }

  bool AllAcknowledged() const { return unacked_.empty(); }
  size_t UnacknowledgedCount() const { return unacked_.size(); }
  size_t UnacknowledgedBytes() const { return unacked_bytes_; }
  bool OverUnacknowledgedLimit() const { return unacked_.size() >= limits_.max_unacknowledged_messages; }
  int64_t NextOutgoingSequence() const { return next_seq_; }
  int64_t ExpectedIncomingSequence() const { return expected_seq_; }
  std::chrono::milliseconds Rto() const { return rto_; }

 private:
  struct Pending {
    std::string frame;
    SteadyTime sent_at;
    SteadyTime first_sent_at;
    bool retransmitted = false;
    int retransmissions = 0;
  };
  void OnAcknowledge(const Acknowledge& ack, SteadyTime now);

  Role role_;
  Limits limits_;
  int64_t next_seq_ = 0;
  int64_t expected_seq_ = 0;
  bool accepting_ = true;
  PayloadDigest outgoing_digest_ = PayloadDigest::kComputed;
  bool omitted_digest_allowed_ = false;
  std::map<int64_t, Pending> unacked_;
  size_t unacked_bytes_ = 0;
  std::map<int64_t, ClientMessage> reorder_;
  size_t reorder_bytes_ = 0;
  std::chrono::microseconds rtt_{100000};
  std::chrono::microseconds rttvar_{0};
  std::chrono::milliseconds rto_{200};
};

}  // namespace porthole::protocol
