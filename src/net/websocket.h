#pragma once
// A TLS WebSocket connection, server or client side. One reader at a time
// (co_await Read()); Send() never blocks: frames are queued and written in
// order by the connection's own writer.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

namespace porthole::net {

struct WebSocketMessage {
  std::string data;
  bool binary = true;
};

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Next message, or nullopt once the connection is closed or broken.
  virtual boost::asio::awaitable<std::optional<WebSocketMessage>> Read() = 0;
  // Queues a message. Ignored after Close() or a broken connection.
  virtual void Send(std::string data, bool binary) = 0;
  // Flushes what is queued (bounded wait), then closes. Idempotent.
  virtual void Close() = 0;
  // Drops the TCP connection at once, without a close handshake.
  virtual void Abort() = 0;
  virtual bool IsOpen() const = 0;
  virtual size_t QueuedBytes() const = 0;
  // The largest message Read() accepts (a larger one breaks the connection).
  virtual void SetMaxMessageBytes(size_t bytes) = 0;
  // Waits until the send queue has drained (or the connection is closed).
  virtual boost::asio::awaitable<void> Flush() = 0;
  // Backpressure: waits until at most `limit` bytes are queued. False when
  // `timeout` passes first (the peer accepts nothing) or the connection breaks.
  virtual boost::asio::awaitable<bool> WaitForRoom(size_t limit, std::chrono::milliseconds timeout) = 0;
};

}  // namespace porthole::net
