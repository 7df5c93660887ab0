#include "sim_agent.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/ids.h"
#include "net/https_client.h"
#include "protocol/messages.h"
#include "protocol/sequenced_stream.h"

namespace porthole::loadgen {

namespace {

using protocol::PayloadType;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kConnectTimeout = std::chrono::seconds(20);

// The agent's end of one session's data channel.
class AgentSession : public Tickable, public std::enable_shared_from_this<AgentSession> {
 public:
  AgentSession(Party& party, const AgentIdentity& identity, Json start)
      : party_(party), identity_(identity), start_(std::move(start)),
        stream_(protocol::SequencedStream::Role::kAgent) {}
  ~AgentSession() override { party_.ticker.Remove(this); }

  asio::awaitable<void> Run() {
    session_id_ = start_.value("sessionId", "");
    net::Url url = party_.endpoint;
    url.target = start_.value("path", "/v1/data-channel/" + session_id_);
    Result<std::shared_ptr<net::WebSocket>> ws = MakeError("ConnectionError", "not attempted");
    {
      auto permit = co_await party_.limiter.Acquire();
      ws = co_await net::ConnectWebSocket(party_.executor, url,
                                          SignedUpgradeHeaders(identity_.credentials, party_.region, url),
                                          party_.tls, kConnectTimeout);
    }
    if (!ws) {
      party_.stats.Error("agent_data_connect", ws.error().message);
      co_return;
    }
    ws_ = *ws;
    protocol::OpenDataChannel open;
    open.request_id = ids::NewUuid();
    open.token_value = start_.value("token", "");
    open.client_id = "porthole-exec-agent";
    open.client_version = kAgentVersion;
    ws_->Send(protocol::ToJson(open), false);

    protocol::HandshakeRequest hello;
    hello.agent_version = kAgentVersion;
    hello.session_type = "InteractiveCommands";
    hello.properties = {{"linux", {{"commands", start_.value("command", "")}, {"runAsElevated", true},
                                   {"separateOutputStream", false}}}};
    handshake_started_ = SteadyClock::now();
    SendStream(PayloadType::kHandshakeRequest, protocol::ToJson(hello));
    party_.ticker.Add(this);
    party_.stats.agent_sessions_open++;

    while (auto message = co_await ws_->Read()) {
      auto incoming = stream_.Receive(message->data, SteadyClock::now());
      if (!incoming) {
        party_.stats.Error("agent_protocol", incoming.error().message);
        break;
      }
      for (auto& ack : incoming->frames_to_send) ws_->Send(std::move(ack), true);
      for (auto& m : incoming->delivered) Deliver(m);
      if (incoming->channel_closed) break;
    }
    party_.stats.agent_sessions_open--;
    party_.ticker.Remove(this);
    ws_->Close();
  }

  void Tick(SteadyClock::time_point now) override {
    if (!ws_ || !ws_->IsOpen()) return;
    // Frames still queued make a retransmission pointless (as in the real agent).
    if (ws_->QueuedBytes() == 0) {
      for (auto& frame : stream_.DueRetransmissions(now)) {
        if (party_.stats.measuring) party_.stats.agent_retransmissions++;
        ws_->Send(std::move(frame), true);
      }
    }
    // The command exited: channel_closed once the client has everything.
    if (exited_ && !closed_sent_ && stream_.AllAcknowledged()) {
      closed_sent_ = true;
      ws_->Send(protocol::EncodeChannelClosed(session_id_, "", ""), true);
      ws_->Close();
    }
  }

 private:
  void SendStream(PayloadType type, std::string payload) {
    std::string frame = stream_.Send(type, std::move(payload), SteadyClock::now());
    if (ws_->IsOpen()) ws_->Send(std::move(frame), true);
  }

  void Deliver(const protocol::ClientMessage& m) {
    switch (m.payload_type) {
      case PayloadType::kHandshakeResponse: {
        auto response = protocol::ParseHandshakeResponse(m.payload);
        bool ok = response.ok();
        if (ok)
          for (const auto& action : response->processed_client_actions) ok = ok && action.action_status == 1;
        if (!ok) {
          party_.stats.Error("agent_handshake", response ? "an action was not processed" : response.error().message);
          ws_->Close();
          return;
        }
        wants_exit_code_ = protocol::Offers(*response, protocol::kFeatureExitCode);
        if (protocol::Offers(*response, protocol::kFeatureOutputWithoutDigest)) stream_.OmitOutgoingDigests();
        protocol::HandshakeComplete complete;
        complete.handshake_time_to_complete_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - handshake_started_).count();
        SendStream(PayloadType::kHandshakeComplete, protocol::ToJson(complete));
        break;
      }
      case PayloadType::kOutput: {
        if (exited_) break;
        if (party_.stats.measuring)
          party_.stats.to_agent_ms.Add(static_cast<double>(protocol::NowMillis() - m.created_date_ms));
        // A terminal with echo on: what is typed comes straight back.
        std::string_view typed = m.payload;
        size_t eof = typed.find('\x04');
        if (eof != 0) SendStream(PayloadType::kOutput, std::string(typed.substr(0, eof)));
        if (eof != std::string_view::npos) Exit();
        break;
      }
      case PayloadType::kFlag:
        if (m.payload.size() == 4 && static_cast<unsigned char>(m.payload[3]) == 2) ws_->Close();  // TerminateSession
        break;
      default:
        break;  // Size and the rest: nothing to do for `cat`
    }
  }

  void Exit() {
    exited_ = true;
    if (wants_exit_code_) SendStream(PayloadType::kExitCode, protocol::FormatExitCode(0));
  }

  Party& party_;
  AgentIdentity identity_;
  Json start_;
  std::string session_id_;
  protocol::SequencedStream stream_;
  std::shared_ptr<net::WebSocket> ws_;
  SteadyClock::time_point handshake_started_;
  bool wants_exit_code_ = false;
  bool exited_ = false;
  bool closed_sent_ = false;
};

}  // namespace

asio::awaitable<void> SimAgent::Run() {
  std::chrono::milliseconds backoff(500);
  net::Url url = party_.endpoint;
  url.target = "/v1/control-channel/" + identity_.task_id + "?container=" + identity_.container;
  while (!closing_) {
    Result<std::shared_ptr<net::WebSocket>> ws = MakeError("ConnectionError", "not attempted");
    {
      auto permit = co_await party_.limiter.Acquire();
      if (closing_) break;
      ws = co_await net::ConnectWebSocket(party_.executor, url,
                                          SignedUpgradeHeaders(identity_.credentials, party_.region, url),
                                          party_.tls, kConnectTimeout);
    }
    if (ws) {
      co_await Serve(*ws);
      if (closing_) break;
      party_.stats.Error("control_dropped", "the control channel of " + identity_.task_id + "/" +
                                                identity_.container + " closed");
    } else {
      party_.stats.Error("control_connect", ws.error().message);
    }
    // Jitter-free backoff is enough here: the generator paces its own connects.
    backoff_timer_.expires_after(backoff);
    co_await backoff_timer_.async_wait(kUseTuple);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

asio::awaitable<void> SimAgent::Serve(std::shared_ptr<net::WebSocket> ws) {
  control_ = ws;
  bool connected = false;
  while (auto message = co_await ws->Read()) {
    Json m = Json::parse(message->data, nullptr, false);
    if (!m.is_object()) continue;
    std::string type = m.value("type", "");
    if (type == "connected") {
      if (!connected) party_.stats.AgentConnected();
      connected = true;
    } else if (type == "error") {
      party_.stats.Error("control_refused", m.value("message", "refused"));
    } else if (type == "start_session") {
      auto session = std::make_shared<AgentSession>(party_, identity_, std::move(m));
      asio::co_spawn(party_.executor, [session]() { return session->Run(); }, asio::detached);
    }
  }
  if (connected) party_.stats.AgentDisconnected();
  control_.reset();
}

void SimAgent::Close() {
  closing_ = true;
  backoff_timer_.cancel();
  if (control_) control_->Close();
}

}  // namespace porthole::loadgen
