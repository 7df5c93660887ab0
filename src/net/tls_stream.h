#pragma once
// Internal to src/net: TLS over a Beast tcp_stream, in place of
// beast::ssl_stream. Include only from net/*.cc.
//
// Why our own: Asio's SSL stream moves ciphertext through a BIO pair and
// 17 KiB buffers, so a 64 KiB message left as four sends and arrived as many
// more reads, each a wake-up, and every connection kept ~68 KiB of buffers
// while idle. Here OpenSSL reads from and writes to our own buffers (a
// BIO_METHOD over them): all the records of one write go out in one send,
// a read takes up to 64 KiB of ciphertext at once and is decrypted straight
// into the caller's buffer, and a connection carrying small messages keeps
// a 4 KiB read buffer and none for writing (see Fill in tls_stream.cc).
//
// Meets Beast's AsyncStream requirements (async_read_some, async_write_some,
// get_executor, next_layer), so beast::http and beast::websocket run over
// it; timeouts are the tcp_stream's (expires_after on next_layer()). Like
// any Asio stream: one read and one write in flight at a time. Shutdown
// sends close_notify and does not wait for the peer's.
#include <array>
#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace porthole::net {

namespace tls_detail {

struct IoResult {
  boost::system::error_code ec;
  size_t bytes = 0;
};

// A write's buffers, at most kMaxBuffers of them (a write may take less
// than it is given; Beast writes what is left with another call).
struct ConstBuffers {
  static constexpr size_t kMaxBuffers = 16;
  std::array<boost::asio::const_buffer, kMaxBuffers> items;
  size_t count = 0;
};

struct Core;  // the SSL object, its buffers and the socket; shared with operations in flight
std::shared_ptr<Core> NewCore(boost::beast::tcp_stream next, SSL_CTX* context);
void CloseSocket(Core& core);
boost::beast::tcp_stream& NextLayer(Core& core);
SSL* NativeHandle(Core& core);
boost::asio::awaitable<IoResult> Handshake(std::shared_ptr<Core> core, bool server);
boost::asio::awaitable<IoResult> ReadSome(std::shared_ptr<Core> core, boost::asio::mutable_buffer buffer);
boost::asio::awaitable<IoResult> WriteSome(std::shared_ptr<Core> core, ConstBuffers buffers);
boost::asio::awaitable<IoResult> Shutdown(std::shared_ptr<Core> core);

// Runs `op` to completion and hands its result to the completion token, as
// an Asio initiating function does (never inline; on the handler's executor).
template <class Signature, class Token>
auto Start(boost::asio::any_io_executor executor, boost::asio::awaitable<IoResult> op, Token&& token) {
  return boost::asio::async_initiate<Token, Signature>(
      [executor](auto handler, boost::asio::awaitable<IoResult> op) mutable {
        auto handler_executor = boost::asio::get_associated_executor(handler, executor);
        boost::asio::co_spawn(
            executor, std::move(op),
            boost::asio::bind_executor(handler_executor,
                                       [h = std::move(handler)](std::exception_ptr e, IoResult r) mutable {
                                         if (e) r = {boost::asio::error::make_error_code(boost::asio::error::fault), 0};
                                         if constexpr (std::is_same_v<Signature, void(boost::system::error_code)>) {
                                           std::move(h)(r.ec);
                                         } else {
                                           std::move(h)(r.ec, r.bytes);
                                         }
                                       }));
      },
      token, std::move(op));
}

}  // namespace tls_detail

class TlsStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = boost::beast::tcp_stream;
  enum Role { kClient, kServer };

  TlsStream(boost::beast::tcp_stream next, SSL_CTX* context)
      : core_(tls_detail::NewCore(std::move(next), context)) {}
  TlsStream(TlsStream&&) = default;
  TlsStream& operator=(TlsStream&&) = delete;
  // Closes the socket, so operations still in flight end (operation_aborted)
  // and release what they share.
  ~TlsStream() {
    if (core_) tls_detail::CloseSocket(*core_);
  }

  executor_type get_executor() { return next_layer().get_executor(); }
  next_layer_type& next_layer() { return tls_detail::NextLayer(*core_); }
  SSL* native_handle() { return tls_detail::NativeHandle(*core_); }

  template <class Token>
  auto async_handshake(Role role, Token&& token) {
    return tls_detail::Start<void(boost::system::error_code)>(
        get_executor(), tls_detail::Handshake(core_, role == kServer), std::forward<Token>(token));
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    return tls_detail::Start<void(boost::system::error_code)>(get_executor(), tls_detail::Shutdown(core_),
                                                              std::forward<Token>(token));
  }

  // Decrypts into the first non-empty buffer: what is already received, or
  // else what the next read of the socket brings.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers);
         ++it) {
      boost::asio::mutable_buffer b(*it);
      if (b.size() > 0) {
        first = b;
        break;
      }
    }
    return tls_detail::Start<void(boost::system::error_code, size_t)>(
        get_executor(), tls_detail::ReadSome(core_, first), std::forward<Token>(token));
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    tls_detail::ConstBuffers items;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && items.count < items.items.size(); ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() > 0) items.items[items.count++] = b;
    }
    return tls_detail::Start<void(boost::system::error_code, size_t)>(
        get_executor(), tls_detail::WriteSome(core_, items), std::forward<Token>(token));
  }

 private:
  std::shared_ptr<tls_detail::Core> core_;
};

// Beast's WebSocket close finds this by ADL: send close_notify; Beast then
// closes the socket itself.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type, TlsStream& stream, TeardownHandler&& handler) {
  stream.async_shutdown(std::forward<TeardownHandler>(handler));
}

}  // namespace porthole::net
