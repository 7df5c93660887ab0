#pragma once
// Internal to src/net: the Beast-backed WebSocket. Include only from net/*.cc.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "net/tls_stream.h"
#include "net/websocket.h"

namespace porthole::net {

namespace beast = boost::beast;
namespace asio = boost::asio;

using BeastWsStream = beast::websocket::stream<TlsStream>;

// Completion token: errors come back as values, never as exceptions.
inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

inline constexpr size_t kMaxWebSocketMessage = 1024 * 1024;
// Room for a whole 64 KiB protocol message with its headers (see ConnectWebSocket).
inline constexpr size_t kClientWriteBufferBytes = 80 * 1024;

class BeastWebSocket final : public WebSocket, public std::enable_shared_from_this<BeastWebSocket> {
 public:
  explicit BeastWebSocket(BeastWsStream stream) : ws_(std::move(stream)), drained_(ws_.get_executor()) {
    ws_.read_message_max(kMaxWebSocketMessage);
    // A message goes as one frame: fragmenting buys nothing on a stream of
    // bounded messages and costs a header, a TLS record and a syscall each.
    ws_.auto_fragment(false);
    drained_.expires_at(asio::steady_timer::time_point::max());
  }
  BeastWsStream& stream() { return ws_; }

  asio::awaitable<std::optional<WebSocketMessage>> Read() override {
    if (broken_) co_return std::nullopt;
    // Read straight into the message's string: Beast sizes it from the frame
    // header, so a message is one allocation and no copy.
    WebSocketMessage m;
    auto buffer = asio::dynamic_buffer(m.data);
    auto [ec, n] = co_await ws_.async_read(buffer, kUseTuple);
    if (ec) {
      MarkBroken();
      co_return std::nullopt;
    }
    m.data.resize(buffer.size());
    m.binary = ws_.got_binary();
    co_return m;
  }

  void Send(std::string data, bool binary) override {
    if (broken_ || closing_) return;
    queued_bytes_ += data.size();
    queue_.emplace_back(std::move(data), binary);
    StartWriter();
  }

  void Close() override {
    if (closing_ || broken_) return;
    closing_ = true;
    StartWriter();
  }

  void Abort() override {
    MarkBroken();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  bool IsOpen() const override { return !broken_ && !closing_; }
  size_t QueuedBytes() const override { return queued_bytes_; }
  void SetMaxMessageBytes(size_t bytes) override { ws_.read_message_max(std::min(bytes, kMaxWebSocketMessage)); }

  asio::awaitable<void> Flush() override {
    while (!broken_ && (writing_ || !queue_.empty())) {
      co_await drained_.async_wait(kUseTuple);
    }
  }

  asio::awaitable<bool> WaitForRoom(size_t limit, std::chrono::milliseconds timeout) override {
    auto deadline = asio::steady_timer::clock_type::now() + timeout;
    while (!broken_ && queued_bytes_ > limit) {
      // Woken (cancelled) by every frame written, or expiring at the deadline.
      asio::steady_timer progress(ws_.get_executor(), deadline);
      room_waiters_.push_back(&progress);
      auto [ec] = co_await progress.async_wait(kUseTuple);
      std::erase(room_waiters_, &progress);
      if (!ec) co_return false;  // the deadline passed with the queue still full
    }
    co_return !broken_;
  }

 private:
  void MarkBroken() {
    broken_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    drained_.cancel();
    WakeRoomWaiters();
  }

  void WakeRoomWaiters() {
    for (auto* waiter : room_waiters_) waiter->cancel();
  }

  void StartWriter() {
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), WriteLoop(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> WriteLoop(std::shared_ptr<BeastWebSocket> self) {
    while (!self->broken_ && !self->queue_.empty()) {
      auto& [data, binary] = self->queue_.front();
      self->ws_.binary(binary);
      auto [ec, n] = co_await self->ws_.async_write(asio::buffer(data), kUseTuple);
      if (ec) {
        self->MarkBroken();
        break;
      }
      if (self->queue_.empty()) break;  // cleared by Abort() while writing
      self->queued_bytes_ -= self->queue_.front().first.size();
      self->queue_.pop_front();
      self->WakeRoomWaiters();
    }
    if (self->closing_ && !self->broken_) {
      // Bound the close handshake: a peer that never answers must not pin us.
      beast::websocket::stream_base::timeout t{};
      t.handshake_timeout = std::chrono::seconds(5);
      t.idle_timeout = std::chrono::seconds(5);
      t.keep_alive_pings = false;
      self->ws_.set_option(t);
      auto [ec] = co_await self->ws_.async_close(beast::websocket::close_code::normal,
                                                 kUseTuple);
      (void)ec;
      self->MarkBroken();
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    }
    self->writing_ = false;
    self->drained_.cancel();
  }

  BeastWsStream ws_;
  asio::steady_timer drained_;
  std::deque<std::pair<std::string, bool>> queue_;
  std::vector<asio::steady_timer*> room_waiters_;  // WaitForRoom() callers, woken on progress
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool broken_ = false;
};

}  // namespace porthole::net
