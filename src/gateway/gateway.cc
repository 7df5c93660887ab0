#include "gateway/gateway.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <deque>
#include <set>

#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "protocol/client_message.h"
#include "protocol/messages.h"

namespace porthole::gateway {
namespace asio = boost::asio;
using Json = nlohmann::json;

namespace {
constexpr std::string_view kControlPrefix = "/v1/control-channel/";
constexpr std::string_view kDataPrefix = "/v1/data-channel/";
constexpr size_t kMaxControlMessage = 64 * 1024;
constexpr size_t kMaxOpenMessage = 16 * 1024;
constexpr size_t kMaxStreamMessage = 1024 * 1024;

std::string PathSegment(const std::string& target, std::string_view prefix) {
  std::string rest = target.substr(prefix.size());
  return rest.substr(0, rest.find('?'));
}

std::string QueryParam(const std::string& target, const std::string& name) {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string query = target.substr(q + 1);
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

asio::awaitable<std::optional<net::WebSocketMessage>> ReadWithTimeout(std::shared_ptr<net::WebSocket> ws,
                                                                      std::chrono::seconds timeout) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, timeout);
  timer->async_wait([ws, timer](boost::system::error_code ec) {
    if (!ec) ws->Abort();
  });
  auto message = co_await ws->Read();
  timer->cancel();
  co_return message;
}

// Refuses a data channel: the plugin prints Output and exits (§7).
void Refuse(const std::shared_ptr<net::WebSocket>& ws, const std::string& session_id, const std::string& reason) {
  ws->Send(protocol::EncodeChannelClosed(session_id, "", reason), true);
  ws->Close();
}
}  // namespace

struct Gateway::ControlChannel {
  std::shared_ptr<net::WebSocket> ws;
  std::string task_id;
  std::string container;
};

struct Gateway::Session {
  std::string id;
  std::string task_id;
  std::string task_arn;
  std::string container;
  std::string destination_id;
  std::string command;
  std::string principal;
  std::string owner;
  std::string client_token;
  std::string agent_token;
  std::chrono::steady_clock::time_point tokens_expire;
  bool client_token_used = false;
  bool agent_token_used = false;
  bool ended = false;
  std::shared_ptr<net::WebSocket> client;
  std::shared_ptr<net::WebSocket> agent;
  std::deque<std::string> to_client;
  std::deque<std::string> to_agent;
  // Sequence numbers of the stream messages in to_client / to_agent.
  std::set<int64_t> queued_to_client;
  std::set<int64_t> queued_to_agent;
  size_t pending_bytes = 0;
  double started_at = 0;
  uint64_t disconnects = 0;  // generation for grace timers
};

Gateway::Gateway(asio::any_io_executor executor, api::ControlPlane& control_plane, store::Store& store,
                 GatewayOptions options)
    : executor_(executor), control_plane_(control_plane), store_(store), options_(options) {}

Gateway::~Gateway() = default;

bool Gateway::Serves(const std::string& target) {
  return target.rfind(kControlPrefix, 0) == 0 || target.rfind(kDataPrefix, 0) == 0;
}

asio::awaitable<void> Gateway::HandleWebSocket(net::HttpRequest request, net::RequestContext context,
                                               std::shared_ptr<net::WebSocket> ws) {
  if (request.target.rfind(kControlPrefix, 0) == 0) {
    std::string task_id = PathSegment(request.target, kControlPrefix);
    co_await ServeControlChannel(std::move(request), ws, std::move(task_id));
  } else if (request.target.rfind(kDataPrefix, 0) == 0) {
    std::string session_id = PathSegment(request.target, kDataPrefix);
    co_await ServeDataChannel(std::move(request), ws, std::move(session_id));
  } else {
    Refuse(ws, "", "Unknown channel " + request.target.substr(0, 100));
  }
}

// ---------------------------------------------------------------- control channels

asio::awaitable<void> Gateway::ServeControlChannel(net::HttpRequest request, std::shared_ptr<net::WebSocket> ws,
                                                   std::string task_id) {
  ws->SetMaxMessageBytes(kMaxControlMessage);  // agents only report on it
  auto caller = control_plane_.Authenticate(request, "ssmmessages");
  std::string container = QueryParam(request.target, "container");
  std::string refusal;
  if (!caller) refusal = caller.error().code + ": " + caller.error().message;
  else if (caller->kind != api::PrincipalKind::kTaskAgent || caller->task_id != task_id)
    refusal = "AccessDeniedException: these credentials do not belong to task " + task_id.substr(0, 64);
  else if (container.empty()) refusal = "InvalidParameterException: the container query parameter is required";
  // Credentials are issued per (task, container), for the containers the
  // task has: a container's agent speaks for that container only.
  else if (container != caller->container_name)
    refusal = "AccessDeniedException: these credentials belong to container " + caller->container_name +
              ", not " + container.substr(0, 255);
  // A live channel is not displaced: a second agent for the container waits
  // until the first is gone (the agent re-dials with backoff).
  else if (auto live = agents_.find(task_id + "/" + container); live != agents_.end() && live->second->ws->IsOpen())
    refusal = "ConflictException: the exec agent of container " + container + " already holds a control channel";
  if (refusal.empty()) {
    // The task role must allow the agent's control channel (E6).
    for (const char* action : {"ssmmessages:CreateControlChannel", "ssmmessages:OpenControlChannel"}) {
      Status allowed = control_plane_.AuthorizeAgentChannel(*caller, action);
      if (!allowed) {
        refusal = allowed.error().code + ": " + allowed.error().message;
        control_plane_.OnAgentRefused(task_id, container, allowed.error().message);
        break;
      }
    }
  }
  if (!refusal.empty()) {
    log::Warn("control channel refused: " + refusal);
    ws->Send(Json{{"type", "error"}, {"message", refusal}}.dump(), false);
    ws->Close();
    co_return;
  }
  std::string key = task_id + "/" + container;
  auto channel = std::make_shared<ControlChannel>(ControlChannel{ws, task_id, container});
  agents_[key] = channel;
  control_plane_.OnAgentConnected(task_id, container);
  log::Info("exec agent connected for task " + task_id + " container " + container);
  ws->Send(Json{{"type", "connected"}}.dump(), false);

  while (auto message = co_await ws->Read()) {
    // Agents only report; nothing they send changes gateway state yet.
    if (message->data.size() > 64 * 1024) break;
  }
  auto it = agents_.find(key);
  if (it != agents_.end() && it->second == channel) {
    agents_.erase(it);
    control_plane_.OnAgentDisconnected(task_id, container);
    log::Info("exec agent disconnected for task " + task_id + " container " + container);
  }
}

api::GatewayStats Gateway::Stats() const {
  api::GatewayStats stats;
  stats.sessions = sessions_.size();
  stats.agents = agents_.size();
  stats.stalled_ends = stalled_ends_;
  for (const auto& [id, s] : sessions_) {
    stats.pending_bytes += s->pending_bytes;
    for (const auto* end : {&s->client, &s->agent}) {
      if (!*end) continue;
      size_t queued = (*end)->QueuedBytes();
      stats.queued_bytes += queued;
      stats.max_queued_bytes = std::max(stats.max_queued_bytes, queued);
    }
  }
  return stats;
}

bool Gateway::AgentConnected(const std::string& task_id, const std::string& container_name) const {
  auto it = agents_.find(task_id + "/" + container_name);
  return it != agents_.end() && it->second->ws->IsOpen();
}

// ---------------------------------------------------------------- sessions

Result<api::SessionGrant> Gateway::StartSession(const api::SessionRequest& request) {
  auto it = agents_.find(request.task_id + "/" + request.container_name);
  if (it == agents_.end() || !it->second->ws->IsOpen())
    return MakeError("TargetNotConnectedException", "The execute command failed due to an internal error. Try again later.");
  size_t open = 0;
  for (const auto& [id, s] : sessions_)
    if (!s->ended && s->task_id == request.task_id && s->container == request.container_name) open++;
  if (open >= options_.max_sessions_per_container)
    return MakeError("ClientException", "The container " + request.container_name + " already has " +
                                            std::to_string(open) + " sessions, the most allowed. End one and try again.");
  auto session = std::make_shared<Session>();
  session->id = request.id_prefix + ids::RandomHex(9).substr(0, 17);
  session->task_id = request.task_id;
  session->task_arn = request.task_arn;
  session->container = request.container_name;
  session->destination_id = "ecs:" + request.cluster_name + "_" + request.task_id + "_" + request.runtime_id;
  session->command = request.command;
  session->principal = request.principal_arn;
  session->owner = request.owner;
  session->client_token = ids::RandomToken(32);
  session->agent_token = ids::RandomToken(32);
  session->tokens_expire = std::chrono::steady_clock::now() + options_.token_lifetime;
  session->started_at = api::EpochSeconds();
  sessions_[session->id] = session;
  RecordSession(*session, model::SessionStatus::kConnecting, "");

  Json start = {{"type", "start_session"},
                {"sessionId", session->id},
                {"token", session->agent_token},
                {"command", request.command},
                {"path", std::string(kDataPrefix) + session->id}};
  Json limits = Json::object();
  if (request.memory_mib > 0) limits["memory"] = request.memory_mib;
  if (request.cpu_units > 0) limits["cpu"] = request.cpu_units;
  if (!limits.empty()) start["limits"] = limits;
  it->second->ws->Send(start.dump(), false);

  // A session whose ends never both show up is dropped when its tokens expire.
  auto timer = std::make_shared<asio::steady_timer>(executor_, options_.token_lifetime + std::chrono::seconds(1));
  std::weak_ptr<Session> weak = session;
  timer->async_wait([this, weak, timer](boost::system::error_code ec) {
    auto s = weak.lock();
    if (!ec && s && !s->ended && (!s->client || !s->agent)) EndSession(s, "The session was not opened in time.");
  });

  api::SessionGrant grant;
  grant.session_id = session->id;
  grant.token_value = session->client_token;
  grant.stream_url = StreamUrl(request.stream_host, session->id);
  return grant;
}

std::string Gateway::StreamUrl(const std::string& stream_host, const std::string& session_id) const {
  return "wss://" + stream_host + std::string(kDataPrefix) + session_id + "?role=publish_subscribe&cell-number=AAEAAQ";
}

std::optional<api::SessionGrant> Gateway::ResumeSession(const std::string& session_id, const std::string& stream_host) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->ended) return std::nullopt;
  auto& session = it->second;
  // A fresh single-use token; the old connection, if still half-open, is dropped.
  session->client_token = ids::RandomToken(32);
  session->client_token_used = false;
  session->tokens_expire = std::chrono::steady_clock::now() + options_.token_lifetime;
  if (session->client) {
    session->client->Abort();
    session->client.reset();
  }
  return api::SessionGrant{session->id, StreamUrl(stream_host, session->id), session->client_token};
}

bool Gateway::TerminateSession(const std::string& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return false;
  EndSession(it->second, "The session was terminated.");
  return true;
}

void Gateway::AwaitReconnect(const std::shared_ptr<Session>& session, bool agent_side) {
  auto timer = std::make_shared<asio::steady_timer>(executor_, options_.reconnect_grace);
  std::weak_ptr<Session> weak = session;
  auto generation = ++session->disconnects;
  timer->async_wait([this, weak, timer, agent_side, generation](boost::system::error_code ec) {
    auto s = weak.lock();
    if (ec || !s || s->ended || s->disconnects != generation) return;
    if (agent_side ? !s->agent : !s->client)
      EndSession(s, agent_side ? "The exec agent did not reconnect in time." : "The client did not reconnect in time.");
  });
}

void Gateway::EndTaskSessions(const std::string& task_id, const std::string& reason) {
  std::vector<std::shared_ptr<Session>> doomed;
  for (auto& [id, s] : sessions_)
    if (s->task_id == task_id) doomed.push_back(s);
  for (auto& s : doomed) EndSession(s, reason);
}

// By value: a caller may pass the map's own pointer, which the erase below frees.
void Gateway::EndSession(std::shared_ptr<Session> session, const std::string& reason) {
  if (session->ended) return;
  session->ended = true;
  for (auto* end : {&session->client, &session->agent}) {
    if (!*end) continue;
    (*end)->Send(protocol::EncodeChannelClosed(session->id, session->destination_id, reason), true);
    (*end)->Close();
  }
  RecordSession(*session, model::SessionStatus::kTerminated, reason);
  sessions_.erase(session->id);
  log::Info("session " + session->id + " ended" + (reason.empty() ? "" : ": " + reason));
}

void Gateway::RecordSession(const Session& s, model::SessionStatus status, const std::string& reason) {
  model::Session record;
  record.id = s.id;
  record.target = s.destination_id;
  record.status = status;
  record.start_date = s.started_at;
  if (status == model::SessionStatus::kTerminated) record.end_date = api::EpochSeconds();
  record.owner_arn = s.principal;
  record.owner_identity = s.owner;
  record.reason = reason;
  record.task_id = s.task_id;
  record.task_arn = s.task_arn;
  record.container_name = s.container;
  record.command = s.command;
  if (Status put = session_records_.Put(record); !put)
    log::Error("cannot record session " + s.id + ": " + put.error().message);
}

asio::awaitable<void> Gateway::ServeDataChannel(net::HttpRequest request, std::shared_ptr<net::WebSocket> ws,
                                                std::string session_id) {
  // Before it is known to be one of the session's ends, a peer may send only
  // a small OpenDataChannel.
  ws->SetMaxMessageBytes(kMaxOpenMessage);
  auto first = co_await ReadWithTimeout(ws, options_.open_timeout);
  if (!first) co_return;
  auto open = protocol::ParseOpenDataChannel(first->data);
  if (!open) {
    Refuse(ws, session_id, "The first message on a data channel must be OpenDataChannel: " + open.error().message);
    co_return;
  }
  auto found = sessions_.find(session_id);
  if (found == sessions_.end()) {
    Refuse(ws, session_id, "The session " + session_id.substr(0, 64) + " does not exist or has ended.");
    co_return;
  }
  std::shared_ptr<Session> session = found->second;
  bool expired = std::chrono::steady_clock::now() > session->tokens_expire;
  bool is_client = !session->client_token_used && crypto::ConstantTimeEquals(open->token_value, session->client_token);
  // The agent may re-attach with its token after a drop: its signature, checked
  // below, is what binds it to the task.
  bool is_agent = !session->agent && crypto::ConstantTimeEquals(open->token_value, session->agent_token);
  if (is_agent && session->agent_token_used) expired = false;
  if ((!is_client && !is_agent) || expired) {
    Refuse(ws, session_id, "The token for session " + session_id.substr(0, 64) + " is invalid, used or expired.");
    co_return;
  }
  if (is_agent) {
    // The agent's end must also be signed with that task's credentials.
    auto caller = control_plane_.Authenticate(request, "ssmmessages");
    if (!caller || caller->kind != api::PrincipalKind::kTaskAgent || caller->task_id != session->task_id ||
        caller->container_name != session->container) {
      Refuse(ws, session_id, "The agent's credentials do not belong to the session's container.");
      co_return;
    }
    for (const char* action : {"ssmmessages:CreateDataChannel", "ssmmessages:OpenDataChannel"}) {
      Status allowed = control_plane_.AuthorizeAgentChannel(*caller, action);
      if (!allowed) {
        Refuse(ws, session_id, allowed.error().message);
        EndSession(session, "The task role does not allow the agent's data channel.");
        co_return;
      }
    }
    session->agent_token_used = true;
    session->agent = ws;
  } else {
    session->client_token_used = true;
    session->client = ws;
  }
  ws->SetMaxMessageBytes(kMaxStreamMessage);
  // Deliver what the other end sent before this one arrived.
  auto& backlog = is_agent ? session->to_agent : session->to_client;
  for (auto& frame : backlog) {
    session->pending_bytes -= frame.size();
    ws->Send(std::move(frame), true);
  }
  backlog.clear();
  (is_agent ? session->queued_to_agent : session->queued_to_client).clear();
  if (is_client) RecordSession(*session, model::SessionStatus::kConnected, "");

  const std::string_view expected_type = is_agent ? protocol::kOutputStreamData : protocol::kInputStreamData;
  std::string problem;
  while (!session->ended) {
    auto message = co_await ws->Read();
    if (!message) break;
    if (session->ended) break;
    // The header only: both ends check the digest of what is relayed to them.
    auto decoded = protocol::DecodeHeader(message->data);
    if (!decoded) {
      problem = "Malformed frame: " + decoded.error().message;
      break;
    }
    const std::string& type = decoded->message_type;
    bool allowed = type == expected_type || type == protocol::kAcknowledge ||
                   (is_agent && type == protocol::kChannelClosed);
    if (!allowed) {
      problem = "Unexpected message type '" + type.substr(0, 32) + "' on this channel.";
      break;
    }
    auto& peer = is_agent ? session->client : session->agent;
    if (peer && peer->IsOpen() && peer->QueuedBytes() > options_.max_queued_bytes_per_end) {
      // Backpressure: this end is not read again until the other has room,
      // so what one session holds here is bounded whatever either end does.
      std::shared_ptr<net::WebSocket> slow = peer;
      bool room = co_await slow->WaitForRoom(options_.max_queued_bytes_per_end, options_.stall_timeout);
      if (session->ended) break;
      if (!room && slow->IsOpen() && slow == peer) {
        stalled_ends_++;
        problem = std::string(is_agent ? "The client" : "The exec agent") + " accepted no data for " +
                  std::to_string(options_.stall_timeout.count() / 1000) + " s; the session was ended.";
        slow->Abort();
        break;
      }
    }
    if (peer && peer->IsOpen()) {
      peer->Send(std::move(message->data), true);
    } else {
      auto& queue = is_agent ? session->to_client : session->to_agent;
      // The sender re-sends every unacknowledged message (each RTO, and all
      // of them after a reconnect) while the other end is away: queue one
      // copy of each, or the retransmissions fill the queue within a second.
      auto& queued = is_agent ? session->queued_to_client : session->queued_to_agent;
      if (type == expected_type && !queued.insert(decoded->sequence_number).second) continue;
      session->pending_bytes += message->data.size();
      if (session->pending_bytes > options_.max_pending_bytes) {
        problem = "Too much data queued for the other end of the session.";
        break;
      }
      queue.push_back(std::move(message->data));
    }
    if (is_agent && type == protocol::kChannelClosed) {
      // The agent finished the session; its channel_closed is already forwarded.
      session->ended = true;
      if (session->client) session->client->Close();
      ws->Close();
      RecordSession(*session, model::SessionStatus::kTerminated, "");
      sessions_.erase(session->id);
      log::Info("session " + session->id + " completed");
      co_return;
    }
  }
  if (!session->ended) {
    if (!problem.empty()) {
      log::Warn("session " + session->id + ": " + problem);
      EndSession(session, problem);
    } else {
      // A dropped connection: keep the session for the grace period, queuing
      // what the other end sends (its unacknowledged data is re-sent anyway).
      auto& end = is_agent ? session->agent : session->client;
      if (end == ws) {
        end.reset();
        log::Info("session " + session->id + ": " + (is_agent ? "agent" : "client") +
                  " connection dropped; waiting for it to reconnect");
        AwaitReconnect(session, is_agent);
      }
    }
  }
}

}  // namespace porthole::gateway
