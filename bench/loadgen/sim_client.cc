#include "sim_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/ids.h"
#include "net/https_client.h"
#include "protocol/messages.h"

namespace porthole::loadgen {

namespace {
using protocol::PayloadType;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kLostAfter = std::chrono::seconds(2);
constexpr int kStartAttempts = 4;
constexpr char kKeys[] = "abcdefghijklmnopqrstuvwxyz";
}  // namespace

SimClient::SimClient(Party& party, const net::AwsJsonClient& api, ClientTarget target,
                     std::chrono::milliseconds key_interval, uint32_t seed, EchoSamples& samples)
    : party_(party), api_(api), target_(std::move(target)), key_interval_(key_interval), rng_(seed),
      samples_(samples), stream_(protocol::SequencedStream::Role::kClient), key_timer_(party.executor) {}

SimClient::~SimClient() { party_.ticker.Remove(this); }

// ExecuteCommand, retried on connection errors only (a refused call is a result).
asio::awaitable<Result<Json>> SimClient::StartSession() {
  Json input = {{"cluster", target_.cluster},   {"task", target_.task_arn}, {"container", target_.container},
                {"command", "/bin/sh"},         {"interactive", true}};
  Result<Json> out = MakeError("ConnectionError", "not attempted");
  std::chrono::milliseconds backoff(250);
  for (int attempt = 0; attempt < kStartAttempts; attempt++) {
    {
      auto permit = co_await party_.limiter.Acquire();
      out = co_await CallApi(party_, api_, std::string(kEcsTarget) + "ExecuteCommand", input);
    }
    if (out || out.error().code != "ConnectionError") break;
    asio::steady_timer t(party_.executor, backoff);
    co_await t.async_wait(kUseTuple);
    backoff *= 2;
  }
  co_return out;
}

asio::awaitable<void> SimClient::Run() {
  auto self = shared_from_this();
  auto out = co_await StartSession();
  if (!out) {
    party_.stats.Error("api_ExecuteCommand", out.error().code + ": " + out.error().message);
    state_ = State::kFailed;
    co_return;
  }
  const Json session = out->value("session", Json::object());
  session_id_ = session.value("sessionId", "");
  auto url = net::ParseUrl(session.value("streamUrl", ""));
  if (!url) {
    party_.stats.Error("client_stream_url", url.error().message);
    state_ = State::kFailed;
    co_return;
  }
  Result<std::shared_ptr<net::WebSocket>> ws = MakeError("ConnectionError", "not attempted");
  {
    auto permit = co_await party_.limiter.Acquire();
    ws = co_await net::ConnectWebSocket(party_.executor, *url, {}, party_.tls, std::chrono::seconds(30));
  }
  if (!ws) {
    party_.stats.Error("client_connect", ws.error().message);
    state_ = State::kFailed;
    co_return;
  }
  ws_ = *ws;
  protocol::OpenDataChannel open;
  open.request_id = ids::NewUuid();
  open.token_value = session.value("tokenValue", "");
  open.client_id = ids::NewUuid();
  open.client_version = "porthole-loadgen/" PORTHOLE_VERSION;
  ws_->Send(protocol::ToJson(open), false);
  party_.ticker.Add(this);

  std::string closed_reason;
  bool closed = false;
  while (auto message = co_await ws_->Read()) {
    auto incoming = stream_.Receive(message->data, SteadyClock::now());
    if (!incoming) {
      party_.stats.Error("client_protocol", incoming.error().message);
      break;
    }
    for (auto& ack : incoming->frames_to_send) ws_->Send(std::move(ack), true);
    for (auto& m : incoming->delivered) Deliver(m);
    if (incoming->channel_closed) {
      closed = true;
      closed_reason = incoming->channel_closed->output;
      break;
    }
  }
  party_.ticker.Remove(this);
  typing_ = false;
  key_timer_.cancel();
  clean_end_ = closed && exit_code_ == 0;
  if (!clean_end_)
    party_.stats.Error("client_session_ended",
                       session_id_ + (closed ? ": channel_closed: " + closed_reason : ": the connection dropped"));
  state_ = state_ == State::kStarting ? State::kFailed : State::kEnded;
  ws_->Close();
}

void SimClient::SendStream(PayloadType type, std::string payload) {
  std::string frame = stream_.Send(type, std::move(payload), SteadyClock::now());
  if (ws_ && ws_->IsOpen()) ws_->Send(std::move(frame), true);
}

void SimClient::Deliver(const protocol::ClientMessage& m) {
  switch (m.payload_type) {
    case PayloadType::kHandshakeRequest: {
      auto response = protocol::PortholeClientHandshakeResponse(protocol::ParseHandshakeRequest(m.payload),
                                                                "porthole-loadgen/" PORTHOLE_VERSION);
      if (protocol::Offers(response, protocol::kFeatureOutputWithoutDigest)) stream_.AcceptOmittedDigests();
      SendStream(PayloadType::kHandshakeResponse, protocol::ToJson(response));
      break;
    }
    case PayloadType::kHandshakeComplete:
      // The plugin's size without a terminal, then the "user" starts typing.
      SendStream(PayloadType::kSize, protocol::ToJson(protocol::TerminalSize{300, 100}));
      state_ = State::kActive;
      typing_ = true;
      ScheduleKey();
      break;
    case PayloadType::kOutput:
      if (party_.stats.measuring)
        party_.stats.to_client_ms.Add(static_cast<double>(protocol::NowMillis() - m.created_date_ms));
      if (pending_ && m.payload.find(pending_key_) != std::string::npos) {
        pending_ = false;
        if (pending_measured_ && samples_.measuring)
          samples_.ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - sent_at_).count());
        ScheduleKey();
      }
      break;
    case PayloadType::kExitCode:
      exit_code_ = protocol::ParseExitCode(m.payload);
      break;
    default:
      break;
  }
}

void SimClient::ScheduleKey() {
  if (!typing_) return;
  std::exponential_distribution<double> wait(1.0 / static_cast<double>(key_interval_.count()));
  key_timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(wait(rng_) * 1000)));
  key_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self) self->TypeKey();
  });
}

void SimClient::TypeKey() {
  if (!typing_ || pending_) return;
  pending_key_ = kKeys[keys_++ % (sizeof kKeys - 1)];
  pending_ = true;
  pending_measured_ = samples_.measuring;
  if (pending_measured_) samples_.typed++;
  sent_at_ = SteadyClock::now();
  SendStream(PayloadType::kOutput, std::string(1, pending_key_));
}

void SimClient::Tick(SteadyClock::time_point now) {
  if (!ws_ || !ws_->IsOpen()) return;
  if (ws_->QueuedBytes() == 0) {
    for (auto& frame : stream_.DueRetransmissions(now)) {
      if (party_.stats.measuring) party_.stats.client_retransmissions++;
      ws_->Send(std::move(frame), true);
    }
  }
  if (pending_ && now - sent_at_ > kLostAfter) {
    pending_ = false;
    if (pending_measured_ && samples_.measuring) samples_.lost++;
    ScheduleKey();
  }
}

void SimClient::Exit() {
  typing_ = false;
  key_timer_.cancel();
  if (state_ == State::kActive) SendStream(PayloadType::kOutput, "\x04");
}

void SimClient::Abort() {
  typing_ = false;
  key_timer_.cancel();
  if (ws_) ws_->Abort();
}

}  // namespace porthole::loadgen
