#include "agent/exec_agent.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "agent/memory_release.h"
#include "agent/pty_process.h"
#include "auth/sigv4.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/word_split.h"
#include "net/https_client.h"
#include "net/retransmit_pacer.h"
#include "protocol/messages.h"
#include "protocol/sequenced_stream.h"

namespace porthole::agent {
namespace asio = boost::asio;
using Json = nlohmann::json;
using protocol::PayloadType;

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  auto text = ReadFile(path, 1024 * 1024);
  if (!text) return MakeError("ConfigError", "cannot read " + path);
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return MakeError("ConfigError", path + " is not a JSON object");
  AgentConfig c;
  try {
    c.endpoint = j.at("endpoint");
    c.region = j.at("region");
    c.cluster = j.at("cluster");
    c.task_id = j.at("taskId");
    c.container_name = j.at("containerName");
    c.ca_pem = j.value("caPem", "");
    c.node_socket = j.value("nodeSocket", "");
    const Json& creds = j.at("credentials");
    c.access_key_id = creds.at("accessKeyId");
    c.secret_access_key = creds.at("secretAccessKey");
    c.session_token = creds.value("sessionToken", "");
  } catch (const std::exception& e) {
    return MakeError("ConfigError", path + ": " + e.what());
  }
  return c;
}

namespace {

// Output goes to the client in messages of at most this many bytes: with the
// frame's header and the agent's masked WebSocket header (8 bytes), 64 KiB on
// the wire, the most Asio's async_write (under Beast's WebSocket) hands the
// TLS stream at once; so a full message is one TLS write and one send on each
// hop (the gateway's unmasked header is 4 bytes).
constexpr size_t kOutputMessageSize = 64 * 1024 - protocol::kHeaderSize - 8;
// The longest output is held back to fill a message (see PumpOutput).
constexpr std::chrono::milliseconds kOutputHoldTime{2};
constexpr size_t kMaxUnackedBytes = 1024 * 1024;
// Client input held for a PTY whose program is not reading it. Beyond this,
// input messages are left unacknowledged (the client retransmits them), so
// the data channel is still read: channel_closed and acknowledgements arrive
// whatever the program does.
constexpr size_t kMaxPtyInput = 64 * 1024;
const char* kAgentVersion = "3.3.1142.0";  // 4-part and > 3.1.1511.0 (§5)

// Child exits, dispatched from one SIGCHLD handler.
class ChildReaper {
 public:
  explicit ChildReaper(asio::any_io_executor ex) : signals_(ex, SIGCHLD) { Arm(); }
  void Watch(pid_t pid, std::function<void(int)> on_exit) { watchers_[pid] = std::move(on_exit); }

 private:
  void Arm() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      int status;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        auto it = watchers_.find(pid);
        if (it != watchers_.end()) {
          auto fn = std::move(it->second);
          watchers_.erase(it);
          fn(code);
        }
      }
      Arm();
    });
  }
  asio::signal_set signals_;
  std::map<pid_t, std::function<void(int)>> watchers_;
};

// Gives memory back (ReleaseUnusedMemory) once the agent's state has been
// still for a moment: after start-up and reconnects, whose TLS and set-up code
// is idle afterwards; after a session has started, so that a long session
// keeps mapped only the code its data path runs; after the last session
// ended. Not at once: a script's commands often follow one another, and each
// would fault the same code back in.
class QuietMemoryRelease {
 public:
  explicit QuietMemoryRelease(asio::any_io_executor ex) : timer_(ex) {}
  void StateChanged() {
    timer_.expires_after(kQuietTime);
    timer_.async_wait([](boost::system::error_code ec) {
      if (!ec) ReleaseUnusedMemory();
    });
  }

 private:
  static constexpr std::chrono::seconds kQuietTime{2};
  asio::steady_timer timer_;
};

std::vector<std::pair<std::string, std::string>> SignedUpgradeHeaders(const AgentConfig& config, const net::Url& url) {
  auth::HttpRequest request;
  request.method = "GET";
  request.target = url.target;
  request.headers.emplace_back("Host", url.HostHeader());
  auth::SignRequest(request, {config.access_key_id, config.secret_access_key, config.session_token}, config.region,
                    "ssmmessages", std::time(nullptr));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : request.headers)
    if (k != "Host") out.emplace_back(k, v);
  return out;
}

// One session: the agent's end of a data channel plus the command on its PTY.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::any_io_executor ex, ChildReaper& reaper, QuietMemoryRelease& memory, std::string config_path, AgentConfig config,
          std::shared_ptr<net::TlsContext> tls, std::vector<std::string> env, Json start)
      : ex_(ex), reaper_(reaper), memory_(memory), config_path_(std::move(config_path)), config_(std::move(config)),
        tls_(std::move(tls)), env_(std::move(env)),
        start_(std::move(start)), stream_(protocol::SequencedStream::Role::kAgent), wake_(ex), retransmit_(ex),
        pty_(ex), hold_(ex) {
    wake_.expires_at(asio::steady_timer::time_point::max());
    memory_.StateChanged();
  }
  ~Session() { memory_.StateChanged(); }

  // The session's control group, with the caps its client asked for
  // (start_session's "limits", from ExecuteCommand).
  SessionGroup Group() const {
    SessionGroup group{config_.node_socket, session_id_};
    const auto limits = start_.find("limits");
    if (limits != start_.end() && limits->is_object()) {
      const auto cap = [&](const char* name) {
        const auto v = limits->find(name);
        return v != limits->end() && v->is_number_integer() ? v->get<int64_t>() : int64_t{0};
      };
      group.memory_mib = cap("memory");
      group.cpu_units = cap("cpu");
    }
    return group;
  }

  asio::awaitable<void> Run() {
    session_id_ = start_.value("sessionId", "");
    // The command's process first, so its move into the session's control
    // group happens while the data channel is being set up.
    if (auto args = SplitCommandLine(start_.value("command", ""))) {
      if (auto prepared = PrepareOnPty(*args, env_, Group())) prepared_ = std::move(*prepared);
    }
    ws_ = co_await Dial();
    if (!ws_) co_return;

    protocol::HandshakeRequest hello;
    hello.agent_version = kAgentVersion;
    hello.session_type = "InteractiveCommands";
    hello.properties = {{"linux", {{"commands", start_.value("command", "")}, {"runAsElevated", true},
                                   {"separateOutputStream", false}}}};
    SendStream(PayloadType::kHandshakeRequest, protocol::ToJson(hello));
    handshake_started_ = std::chrono::steady_clock::now();

    asio::co_spawn(ex_, RetransmitLoop(shared_from_this()), asio::detached);
    co_await ReadLoop();
    Finish("");
  }

 private:
  // Every message is recorded in the stream before it is written, so one sent
  // while the connection is down goes out again after the reconnect.
  void SendStream(PayloadType type, std::string payload) {
    std::string frame = stream_.Send(type, std::move(payload), std::chrono::steady_clock::now());
    if (ws_ && ws_->IsOpen()) ws_->Send(std::move(frame), true);
    retransmit_.Sent();
  }

  asio::awaitable<std::shared_ptr<net::WebSocket>> Dial() {
    auto fresh = LoadAgentConfig(config_path_);  // credentials may have been refreshed
    if (fresh) config_ = *fresh;
    auto url = net::ParseUrl(config_.endpoint);
    if (!url) co_return nullptr;
    url->target = start_.value("path", "/v1/data-channel/" + session_id_);
    auto ws = co_await net::ConnectWebSocket(ex_, *url, SignedUpgradeHeaders(config_, *url), tls_,
                                             std::chrono::seconds(20), config_.node_socket);
    if (!ws) {
      log::Warn("session " + session_id_ + ": " + ws.error().message);
      co_return nullptr;
    }
    protocol::OpenDataChannel open;
    open.request_id = ids::NewUuid();
    open.token_value = start_.value("token", "");
    open.client_id = "porthole-exec-agent";
    open.client_version = kAgentVersion;
    (*ws)->Send(protocol::ToJson(open), false);
    co_return *ws;
  }

  // The connection to the gateway dropped: re-dial for as long as the gateway
  // keeps the session, then re-send everything unacknowledged.
  asio::awaitable<bool> Reconnect() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::chrono::milliseconds backoff(250);
    while (!done_ && std::chrono::steady_clock::now() < deadline) {
      asio::steady_timer t(ex_, backoff);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(4000));
      auto ws = co_await Dial();
      if (!ws) continue;
      ws_ = ws;
      for (auto& frame : stream_.ResendAll(std::chrono::steady_clock::now())) ws_->Send(std::move(frame), true);
      log::Info("session " + session_id_ + ": data channel re-established");
      co_return true;
    }
    co_return false;
  }

  static asio::awaitable<void> RetransmitLoop(std::shared_ptr<Session> self) {
    // Named, not written as lambdas in the co_await expression: built that
    // way by GCC 12, the agent corrupted its heap within a few sessions (the
    // converted std::function temporaries seem to be destroyed twice).
    std::function<bool()> unacknowledged = [self] { return !self->stream_.AllAcknowledged(); };
    std::function<void()> tick = [self] {
      // Frames still waiting to leave make a retransmission pointless: the
      // link, not the peer, is slow (and queueing copies would grow without bound).
      if (self->done_ || !self->ws_ || self->ws_->QueuedBytes() > 0) return;
      for (auto& frame : self->stream_.DueRetransmissions(std::chrono::steady_clock::now()))
        self->ws_->Send(std::move(frame), true);
    };
    co_await self->retransmit_.Run(std::move(unacknowledged), std::move(tick));
  }

  asio::awaitable<void> ReadLoop() {
    while (!done_) {
      auto message = co_await ws_->Read();
      if (!message) {
        if (done_ || !co_await Reconnect()) break;
        continue;
      }
      auto incoming = stream_.Receive(message->data, std::chrono::steady_clock::now());
      if (!incoming) {
        log::Warn("session " + session_id_ + ": " + incoming.error().message);
        break;
      }
      for (auto& ack : incoming->frames_to_send) ws_->Send(std::move(ack), true);
      wake_.cancel();  // acknowledgements may have freed send window
      for (auto& m : incoming->delivered) co_await Deliver(m);
      if (incoming->channel_closed) break;
    }
  }

  asio::awaitable<void> Deliver(const protocol::ClientMessage& m) {
    switch (m.payload_type) {
      case PayloadType::kHandshakeResponse: {
        auto response = protocol::ParseHandshakeResponse(m.payload);
        if (!response) {
          Finish("Invalid handshake response: " + response.error().message);
          co_return;
        }
        wants_exit_code_ = protocol::Offers(*response, protocol::kFeatureExitCode);
        if (protocol::Offers(*response, protocol::kFeatureOutputWithoutDigest)) stream_.OmitOutgoingDigests();
        protocol::HandshakeComplete complete;
        complete.handshake_time_to_complete_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - handshake_started_)
                .count();
        SendStream(PayloadType::kHandshakeComplete, protocol::ToJson(complete));
        StartCommand();
        break;
      }
      case PayloadType::kSize: {
        auto size = protocol::ParseTerminalSize(m.payload);
        if (!size || size->cols == 0 || size->rows == 0 || size->cols > 10000 || size->rows > 10000) break;
        cols_ = static_cast<unsigned short>(size->cols);
        rows_ = static_cast<unsigned short>(size->rows);
        if (process_.master_fd >= 0) ResizePty(process_.master_fd, cols_, rows_);
        break;
      }
      case PayloadType::kOutput: {
        if (process_.master_fd < 0 || exited_) break;
        pty_input_.append(m.payload);
        if (pty_input_.size() >= kMaxPtyInput) stream_.SetAcceptingStreamData(false);
        if (!pumping_input_) {
          pumping_input_ = true;
          asio::co_spawn(ex_, PumpInput(shared_from_this()), asio::detached);
        }
        break;
      }
      case PayloadType::kFlag: {
        if (m.payload.size() == 4 && static_cast<unsigned char>(m.payload[3]) == 2) Finish("");  // TerminateSession
        break;
      }
      default:
        break;
    }
  }

  void StartCommand() {
    if (started_) return;
    started_ = true;
    Result<PtyProcess> process = MakeError("", "");
    if (prepared_.pid() > 0) {
      RunPrepared(prepared_, cols_, rows_);
      process = std::move(prepared_);
      prepared_ = PtyProcess{};
    } else {
      auto args = SplitCommandLine(start_.value("command", ""));
      process = args ? StartOnPty(*args, env_, cols_, rows_, Group())
                     : Result<PtyProcess>(args.error());
    }
    if (!process) {
      std::string text = process.error().message + "\r\n";
      SendStream(PayloadType::kOutput, text);
      exit_code_ = 127;
      exited_ = true;
      asio::co_spawn(ex_, Complete(shared_from_this()), asio::detached);
      return;
    }
    process_ = std::move(*process);
    pty_.assign(process_.master_fd);
    boost::system::error_code ec;
    pty_.non_blocking(true, ec);  // for the coalescing reads in PumpOutput
    auto self = shared_from_this();
    reaper_.Watch(process_.pid(), [self](int code) {
      self->exit_code_ = code;
      self->exited_ = true;
      // The command is over, so is its session: what it left running (and
      // holding the terminal open) goes now, not when the client leaves.
      ::kill(-self->process_.pid(), SIGHUP);
      EndSessionGroup(self->Group());
      self->wake_.cancel();
    });
    log::Info("session " + session_id_ + ": started pid " + std::to_string(process_.pid()));
    asio::co_spawn(ex_, PumpOutput(self), asio::detached);
  }

  // PTY → client, with a bounded amount of unacknowledged output in flight.
  static asio::awaitable<void> PumpOutput(std::shared_ptr<Session> self) {
    std::string buffer(kOutputMessageSize, '\0');
    bool ended = false;  // EIO: every holder of the terminal has closed it
    while (!self->done_ && !ended) {
      while (!self->done_ && self->stream_.UnacknowledgedBytes() > kMaxUnackedBytes) {
        boost::system::error_code ec;
        co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (self->done_) break;
      boost::system::error_code ec;
      size_t n = co_await self->pty_.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      n += self->ReadAvailable(buffer, n);
      // Nagle's rule (RFC 896) for messages: while earlier output is still
      // unacknowledged, more is gathered into this message, for at most
      // kOutputHoldTime. Bulk output then goes in few large messages (each
      // costs an ack, a digest, TLS records and syscalls on three hops),
      // while an idle session's echo goes at once.
      if (n < buffer.size() && !self->stream_.AllAcknowledged()) {
        auto deadline = std::chrono::steady_clock::now() + kOutputHoldTime;
        while (n < buffer.size() && !self->done_) {
          size_t more = 0;
          auto status = co_await self->ReadUntil(buffer, n, deadline, more);
          n += more;
          if (status == ReadStatus::kEnded) ended = true;
          if (status != ReadStatus::kRead) break;
          n += self->ReadAvailable(buffer, n);
        }
      }
      if (n > 0) self->SendStream(PayloadType::kOutput, buffer.substr(0, n));
    }
    co_await Complete(self);
  }

  // A PTY read returns at most the line discipline's 4 KiB buffer: what the
  // kernel has refilled since is taken at once, without waiting.
  size_t ReadAvailable(std::string& buffer, size_t used) {
    size_t got = 0;
    boost::system::error_code ec;
    while (used + got < buffer.size()) {
      size_t n = pty_.read_some(asio::buffer(buffer.data() + used + got, buffer.size() - used - got), ec);
      if (ec) break;  // would_block: nothing more yet; EIO: seen again by the next read
      got += n;
    }
    return got;
  }

  enum class ReadStatus { kRead, kDeadline, kEnded };
  // One read into buffer[used..], abandoned at `deadline`.
  asio::awaitable<ReadStatus> ReadUntil(std::string& buffer, size_t used, std::chrono::steady_clock::time_point deadline,
                                        size_t& got) {
    // The generation keeps a timer that fired as the read completed from
    // cancelling a later read.
    uint64_t generation = ++hold_generation_;
    hold_.expires_at(deadline);
    hold_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      boost::system::error_code ignored;
      if (!ec && self->hold_generation_ == generation) self->pty_.cancel(ignored);
    });
    boost::system::error_code ec;
    got = co_await pty_.async_read_some(asio::buffer(buffer.data() + used, buffer.size() - used),
                                        asio::redirect_error(asio::use_awaitable, ec));
    ++hold_generation_;
    hold_.cancel();
    if (ec == asio::error::operation_aborted) co_return ReadStatus::kDeadline;
    if (ec) co_return ReadStatus::kEnded;
    co_return ReadStatus::kRead;
  }

  // Client → PTY, as fast as the program reads; input is accepted again once
  // half of the held input has gone in.
  static asio::awaitable<void> PumpInput(std::shared_ptr<Session> self) {
    while (!self->done_ && !self->exited_ && !self->pty_input_.empty()) {
      boost::system::error_code ec;
      size_t n = co_await self->pty_.async_write_some(asio::buffer(self->pty_input_),
                                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      self->pty_input_.erase(0, n);
      if (self->pty_input_.size() < kMaxPtyInput / 2) self->stream_.SetAcceptingStreamData(true);
    }
    self->pty_input_.clear();
    self->stream_.SetAcceptingStreamData(true);
    self->pumping_input_ = false;
  }

  // After the output ends: wait for the exit status, then report and close.
  static asio::awaitable<void> Complete(std::shared_ptr<Session> self) {
    // The reaper's callback wakes us the moment the child is reaped.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!self->exited_ && !self->done_ && std::chrono::steady_clock::now() < deadline) {
      self->wake_.expires_at(deadline);
      boost::system::error_code ec;
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    self->wake_.expires_at(asio::steady_timer::time_point::max());
    if (self->done_) co_return;
    if (self->wants_exit_code_) self->SendStream(PayloadType::kExitCode, protocol::FormatExitCode(self->exit_code_));
    // Nothing is lost: channel_closed goes out once the client has everything.
    // (Longer than the gateway's reconnect grace: a client may be resuming.)
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!self->stream_.AllAcknowledged() && !self->done_ && std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      self->wake_.expires_after(std::chrono::milliseconds(50));
      co_await self->wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      self->wake_.expires_at(asio::steady_timer::time_point::max());
    }
    if (self->done_) co_return;
    self->ws_->Send(protocol::EncodeChannelClosed(self->session_id_, "", ""), true);
    log::Info("session " + self->session_id_ + ": command exited with " + std::to_string(self->exit_code_));
    self->Finish("");
  }

  void Finish(const std::string& reason) {
    if (done_) return;
    done_ = true;
    if (!reason.empty()) log::Warn("session " + session_id_ + ": " + reason);
    if (process_.pid() > 0 && !exited_) {
      // The client is gone or the session was ended: the whole session goes.
      ::kill(-process_.pid(), SIGHUP);
      ::kill(-process_.pid(), SIGKILL);
    } else if (process_.pid() > 0) {
      ::kill(-process_.pid(), SIGHUP);  // background jobs of the ended session
    }
    // A session that ended before its command started: the prepared
    // process exits unstarted (the reaper takes it).
    if (prepared_.pid() > 0) DiscardPrepared(prepared_);
    // And whatever left the process group (setsid, double forks): the node
    // kills the session's control group.
    EndSessionGroup(Group());
    boost::system::error_code ec;
    pty_.close(ec);
    retransmit_.Stop();
    wake_.cancel();
    if (ws_) ws_->Close();
  }

  asio::any_io_executor ex_;
  ChildReaper& reaper_;
  QuietMemoryRelease& memory_;
  std::string config_path_;
  AgentConfig config_;
  std::shared_ptr<net::TlsContext> tls_;
  std::vector<std::string> env_;
  Json start_;
  std::string session_id_;
  protocol::SequencedStream stream_;
  asio::steady_timer wake_;
  net::RetransmitPacer retransmit_;
  asio::posix::stream_descriptor pty_;
  std::shared_ptr<net::WebSocket> ws_;
  PtyProcess process_;
  PtyProcess prepared_;  // the command's process, waiting for the session to start
  std::chrono::steady_clock::time_point handshake_started_;
  unsigned short cols_ = 80;
  unsigned short rows_ = 24;
  bool wants_exit_code_ = false;
  bool started_ = false;
  bool exited_ = false;
  std::string pty_input_;  // client input not yet taken by the PTY (bounded: kMaxPtyInput + one message)
  bool pumping_input_ = false;
  bool done_ = false;
  int exit_code_ = 0;
  asio::steady_timer hold_;  // bounds how long output is gathered (ReadUntil)
  uint64_t hold_generation_ = 0;
};

asio::awaitable<void> ControlLoop(std::string config_path, std::vector<std::string> env, ChildReaper& reaper,
                                  QuietMemoryRelease& memory) {
  auto ex = co_await asio::this_coro::executor;
  std::mt19937 rng(std::random_device{}());
  std::chrono::milliseconds backoff(500);
  for (;;) {
    auto config = LoadAgentConfig(config_path);
    std::string failure;
    if (config) {
      auto tls = net::TlsContext::ForClient(config->ca_pem);
      auto url = net::ParseUrl(config->endpoint);
      if (tls && url) {
        url->target = "/v1/control-channel/" + config->task_id + "?container=" + config->container_name;
        auto ws = co_await net::ConnectWebSocket(ex, *url, SignedUpgradeHeaders(*config, *url), *tls,
                                                 std::chrono::seconds(20), config->node_socket);
        if (ws) {
          log::Info("control channel open");
          bool accepted = false;
          while (auto message = co_await (*ws)->Read()) {
            Json m = Json::parse(message->data, nullptr, false);
            if (!m.is_object()) continue;
            std::string type = m.value("type", "");
            if (type == "connected") {
              accepted = true;
              backoff = std::chrono::milliseconds(500);
              memory.StateChanged();
            } else if (type == "error") {
              failure = m.value("message", "refused");
            } else if (type == "start_session") {
              auto session = std::make_shared<Session>(ex, reaper, memory, config_path, *config, *tls, env, m);
              asio::co_spawn(ex, [session]() { return session->Run(); }, asio::detached);
            }
          }
          if (failure.empty()) failure = accepted ? "control channel closed" : "control channel refused";
        } else {
          failure = ws.error().message;
        }
      } else {
        failure = !tls ? tls.error().message : url.error().message;
      }
    } else {
      failure = config.error().message;
    }
    // Jittered exponential backoff, so a gateway restart is not met by a herd.
    auto jitter = std::uniform_int_distribution<int>(0, static_cast<int>(backoff.count() / 2))(rng);
    log::Warn(failure + "; reconnecting in " + std::to_string(backoff.count() + jitter) + " ms");
    asio::steady_timer t(ex, backoff + std::chrono::milliseconds(jitter));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
}

}  // namespace

int RunExecAgent(const std::string& config_path, std::vector<std::string> child_env) {
  // nothing in the container may ptrace us or open our memory.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::signal(SIGPIPE, SIG_IGN);
  log::SetProgram("porthole-exec-agent");
  asio::io_context ioc(1);
  ChildReaper reaper(ioc.get_executor());
  QuietMemoryRelease memory(ioc.get_executor());
  asio::co_spawn(ioc, ControlLoop(config_path, std::move(child_env), reaper, memory), asio::detached);
  ioc.run();
  return 0;
}

}  // namespace porthole::agent
