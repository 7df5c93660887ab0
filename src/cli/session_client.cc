#include "cli/session_client.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/ids.h"
#include "net/https_client.h"
#include "net/retransmit_pacer.h"
#include "protocol/messages.h"
#include "protocol/sequenced_stream.h"

namespace porthole::cli {
namespace asio = boost::asio;
using protocol::PayloadType;

namespace {

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Puts a terminal in raw mode for the session and restores it afterwards.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

class Client {
 public:
  Client(asio::io_context& ioc, const SessionGrantView& grant, std::shared_ptr<net::TlsContext> tls,
         const SessionClientOptions& options)
      : ioc_(ioc), grant_(grant), tls_(std::move(tls)), options_(options),
        stream_(protocol::SequencedStream::Role::kClient), retransmit_(ioc.get_executor()), signals_(ioc, SIGWINCH, SIGINT, SIGTERM) {
    stdin_is_tty_ = ::isatty(options.stdin_fd);
  }

  // Opens the data channel with `token` (the same ClientId every time, as the plugin does).
  asio::awaitable<Status> Connect(const std::string& token) {
    auto url = net::ParseUrl(grant_.stream_url);
    if (!url) co_return url.error();
    if (url->scheme != "wss") co_return MakeError("InvalidParameterException", "the stream URL must use wss://");
    auto ws = co_await net::ConnectWebSocket(ioc_.get_executor(), *url, {}, tls_, std::chrono::seconds(30));
    if (!ws) co_return ws.error();
    ws_ = *ws;
    protocol::OpenDataChannel open;
    open.request_id = ids::NewUuid();
    open.token_value = token;
    open.client_id = client_id_;
    open.client_version = "porthole/" PORTHOLE_VERSION;
    ws_->Send(protocol::ToJson(open), false);
    co_return OkStatus();
  }

  // The socket dropped: ResumeSession, re-dial the original stream URL, and
  // re-send what the agent has not acknowledged. Sequence numbers continue.
  asio::awaitable<bool> Resume() {
    if (!options_.resume) co_return false;
    // As long as the gateway keeps the session (its reconnect grace, 60 s).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(65);
    std::chrono::milliseconds backoff(200);
    while (!finished_ && std::chrono::steady_clock::now() < deadline) {
      asio::steady_timer t(ioc_, backoff);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      auto token = options_.resume();
      if (!token) continue;
      if (!*token) {
        reason_ = "Session: " + grant_.session_id + " timed out.";
        co_return false;
      }
      Status connected = co_await Connect(**token);
      if (!connected) continue;
      for (auto& frame : stream_.ResendAll(std::chrono::steady_clock::now())) ws_->Send(std::move(frame), true);
      co_return true;
    }
    co_return false;
  }

  asio::awaitable<void> Run() {
    client_id_ = ids::NewUuid();
    Status connected = co_await Connect(grant_.token_value);
    if (!connected) co_return Fail(connected.error().message);
    WatchSignals();
    asio::co_spawn(ioc_, RetransmitLoop(), asio::detached);

    while (!finished_) {
      auto message = co_await ws_->Read();
      if (!message) {
        if (!finished_ && co_await Resume()) continue;
        break;
      }
      auto incoming = stream_.Receive(message->data, std::chrono::steady_clock::now());
      if (!incoming) co_return Fail("protocol error: " + incoming.error().message);
      for (auto& ack : incoming->frames_to_send) ws_->Send(std::move(ack), true);
      for (auto& m : incoming->delivered) Deliver(m);
      if (incoming->channel_closed) {
        if (!incoming->channel_closed->output.empty() && !exit_code_)
          reason_ = incoming->channel_closed->output;
        break;
      }
    }
    if (!exit_code_ && reason_.empty()) reason_ = "The connection to the session was lost.";
    Finish();
  }

  int exit_code() const { return exit_code_.value_or(255); }
  const std::string& reason() const { return reason_; }

 private:
  void Fail(const std::string& why) {
    reason_ = why;
    Finish();
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    retransmit_.Stop();
    boost::system::error_code ec;
    signals_.cancel(ec);
    if (ws_) ws_->Abort();
    ioc_.stop();
  }

  // Recorded in the stream first, so input typed during a reconnect is not lost.
  void Send(PayloadType type, std::string payload) {
    std::string frame = stream_.Send(type, std::move(payload), std::chrono::steady_clock::now());
    if (ws_ && ws_->IsOpen()) ws_->Send(std::move(frame), true);
    retransmit_.Sent();
  }

  void Deliver(const protocol::ClientMessage& m) {
    switch (m.payload_type) {
      case PayloadType::kHandshakeRequest: {
        auto response = protocol::PortholeClientHandshakeResponse(protocol::ParseHandshakeRequest(m.payload),
                                                                  "porthole/" PORTHOLE_VERSION);
        // Zero digests are taken from the moment we offer to take them.
        if (protocol::Offers(response, protocol::kFeatureOutputWithoutDigest)) stream_.AcceptOmittedDigests();
        Send(PayloadType::kHandshakeResponse, protocol::ToJson(response));
        break;
      }
      case PayloadType::kHandshakeComplete: {
        auto complete = protocol::ParseHandshakeComplete(m.payload);
        if (complete && !complete->customer_message.empty())
          WriteAll(2, complete->customer_message + "\r\n");
        SendSize();
        StartStdin();
        break;
      }
      case PayloadType::kOutput:
      case PayloadType::kStdErr:
      case PayloadType::kError:
        WriteAll(options_.stdout_fd, m.payload);
        break;
      case PayloadType::kExitCode:
        if (auto code = protocol::ParseExitCode(m.payload)) exit_code_ = *code;
        break;
      default:
        break;
    }
  }

  void SendSize() {
    struct winsize ws {};
    protocol::TerminalSize size{300, 100};  // the plugin's choice without a terminal
    if (::ioctl(options_.stdout_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) size = {ws.ws_col, ws.ws_row};
    else if (::ioctl(options_.stdin_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) size = {ws.ws_col, ws.ws_row};
    Send(PayloadType::kSize, protocol::ToJson(size));
  }

  // Stdin is read on its own thread (it may be a tty, a pipe or a file) and
  // handed to the event loop.
  void StartStdin() {
    if (stdin_started_) return;
    stdin_started_ = true;
    int fd = options_.stdin_fd;
    std::thread([this, fd] {
      char buffer[4096];
      for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          asio::post(ioc_, [this] { OnStdinEnd(); });
          return;
        }
        std::string chunk(buffer, static_cast<size_t>(n));
        asio::post(ioc_, [this, chunk = std::move(chunk)]() mutable {
          if (!chunk.empty()) last_input_byte_ = chunk.back();
          Send(PayloadType::kOutput, std::move(chunk));
        });
      }
    }).detach();
  }

  // Input ended: the remote side sees end-of-file (Ctrl-D at the start of a
  // line), and we keep reading until the session closes, so no output is lost.
  void OnStdinEnd() {
    if (stdin_is_tty_) return;
    if (last_input_byte_ != '\n' && last_input_byte_ != 0) Send(PayloadType::kOutput, "\x04");
    Send(PayloadType::kOutput, "\x04");
  }

  void WatchSignals() {
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec || finished_) return;
      if (signal == SIGWINCH) SendSize();
      else if (signal == SIGINT) Send(PayloadType::kOutput, "\x03");
      else if (signal == SIGTERM) {
        Send(PayloadType::kFlag, std::string("\0\0\0\2", 4));  // TerminateSession
      }
      WatchSignals();
    });
  }

  asio::awaitable<void> RetransmitLoop() {
    // Named, not temporaries in the co_await expression (see the agent's).
    std::function<bool()> unacknowledged = [this] { return !stream_.AllAcknowledged(); };
    std::function<void()> tick = [this] {
      if (finished_ || !ws_ || ws_->QueuedBytes() > 0) return;  // still leaving: the link, not the peer, is slow
      for (auto& frame : stream_.DueRetransmissions(std::chrono::steady_clock::now())) ws_->Send(std::move(frame), true);
    };
    co_await retransmit_.Run(std::move(unacknowledged), std::move(tick));
  }

  asio::io_context& ioc_;
  SessionGrantView grant_;
  std::shared_ptr<net::TlsContext> tls_;
  SessionClientOptions options_;
  protocol::SequencedStream stream_;
  net::RetransmitPacer retransmit_;
  asio::signal_set signals_;
  std::shared_ptr<net::WebSocket> ws_;
  std::string client_id_;
  std::optional<int> exit_code_;
  std::string reason_;
  bool finished_ = false;
  bool stdin_started_ = false;
  bool stdin_is_tty_ = false;
  char last_input_byte_ = 0;
};

}  // namespace

std::function<Result<std::optional<std::string>>()> ResumeThrough(net::AwsJsonClient ssm, std::string session_id) {
  return [ssm = std::move(ssm), session_id]() -> Result<std::optional<std::string>> {
    auto out = ssm.Call("AmazonSSM.ResumeSession", {{"SessionId", session_id}}, std::chrono::seconds(15));
    if (!out) return out.error();
    std::string token = out->value("TokenValue", "");
    if (token.empty()) return std::optional<std::string>();
    return std::optional<std::string>(token);
  };
}

int RunSession(const SessionGrantView& grant, std::shared_ptr<net::TlsContext> tls,
               const SessionClientOptions& options) {
  if (options.print_banner) std::fprintf(stderr, "\nStarting session with SessionId: %s\n\n", grant.session_id.c_str());
  int code;
  std::string reason;
  {
    RawTerminal raw(options.stdin_fd);
    // Deliberately never freed: the stdin thread may still be blocked in
    // read() and post to the loop until the process exits.
    auto* ioc = new asio::io_context(1);
    auto* client = new Client(*ioc, grant, std::move(tls), options);
    asio::co_spawn(*ioc, client->Run(), asio::detached);
    ioc->run();
    code = client->exit_code();
    reason = client->reason();
  }
  if (!reason.empty()) std::fprintf(stderr, "\nSessionId: %s : %s\n", grant.session_id.c_str(), reason.c_str());
  else if (options.print_banner)
    std::fprintf(stderr, "\nExiting session with sessionId: %s.\n\n", grant.session_id.c_str());
  return code;
}

}  // namespace porthole::cli
