#include "net/tls_stream.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace porthole::net {
namespace tls_detail {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Ciphertext read from the socket waits in a buffer that grows (doubling, to
// 64 KiB) while reads fill it and shrinks again while they do not: a bulk
// transfer takes many records per syscall, an idle connection holds 4 KiB.
constexpr size_t kMinReadBuffer = 4 * 1024;
constexpr size_t kMaxReadBuffer = 64 * 1024;
// Plaintext taken by one write; Beast hands over the rest with another.
constexpr size_t kMaxWritePerCall = 256 * 1024;
constexpr size_t kMaxRecord = 16 * 1024;  // TLS plaintext record limit (RFC 8446 §5.1)
// What a record adds: 5 bytes of header and, for AES-GCM, a 16-byte tag and
// TLS 1.3's content type byte or TLS 1.2's 8-byte explicit nonce.
constexpr size_t kRecordOverhead = 32;
// A buffer smaller than this is gathered with what follows into one record
// (a WebSocket frame header, HTTP header fields) instead of a record of its own.
constexpr size_t kGatherBelow = 1024;
// Write buffers larger than this are freed after each send.
constexpr size_t kKeepWriteBuffer = 16 * 1024;

}  // namespace

struct Core {
  Core(boost::beast::tcp_stream s, SSL_CTX* context) : next(std::move(s)), flushed(next.get_executor()) {
    flushed.expires_at(asio::steady_timer::time_point::max());
    ssl = SSL_new(context);
  }
  ~Core() {
    if (ssl) SSL_free(ssl);  // frees the BIO too
  }
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  boost::beast::tcp_stream next;
  SSL* ssl = nullptr;
  // Received ciphertext not yet taken by OpenSSL: in[in_begin, in_end).
  std::unique_ptr<char[]> in;
  size_t in_capacity = 0;
  size_t in_begin = 0;
  size_t in_end = 0;
  bool eof = false;
  // Ciphertext OpenSSL produced, not yet handed to the socket; `sending` is
  // what the socket write in flight holds.
  std::string out;
  std::string sending;
  bool flushing = false;
  asio::steady_timer flushed;  // cancelled (waking waiters) when a flush ends
  error_code write_error;      // once a send failed, every later write fails so
};

namespace {

// ---- the BIO over Core's buffers -------------------------------------------------------------

int BioRead(BIO* bio, char* data, int size) {
  auto* core = static_cast<Core*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (core->in_begin == core->in_end) {
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = std::min(static_cast<size_t>(size), core->in_end - core->in_begin);
  std::memcpy(data, core->in.get() + core->in_begin, n);
  core->in_begin += n;
  return static_cast<int>(n);
}

int BioWrite(BIO* bio, const char* data, int size) {
  auto* core = static_cast<Core*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  core->out.append(data, static_cast<size_t>(size));
  return size;
}

long BioCtrl(BIO*, int command, long, void*) {
  // Writes are buffered until the next flush of Core, so BIO_flush has nothing to do.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int BioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* CoreBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "porthole-tls-core");
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

// ---- errors ----------------------------------------------------------------------------------

// The error of a failed SSL call, taken from the thread's OpenSSL error queue
// at once (before any co_await lets another connection use it).
error_code SslError(Core& core, int result) {
  int reason = SSL_get_error(core.ssl, result);
  if (reason == SSL_ERROR_ZERO_RETURN) return asio::error::eof;  // the peer's close_notify
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0) return error_code(static_cast<int>(e), asio::error::get_ssl_category());
  return asio::ssl::error::stream_truncated;
}

// ---- socket I/O ------------------------------------------------------------------------------

// Reads the next ciphertext from the socket. Called only when OpenSSL has
// taken everything received (it asked for more).
asio::awaitable<error_code> Fill(Core& core) {
  if (core.in_begin < core.in_end) co_return error_code{};
  if (core.eof) co_return asio::ssl::error::stream_truncated;
  if (core.in_capacity == 0) {
    core.in_capacity = kMinReadBuffer;
    core.in.reset(new char[core.in_capacity]);
  }
  core.in_begin = core.in_end = 0;
  auto [ec, n] = co_await core.next.async_read_some(asio::buffer(core.in.get(), core.in_capacity), kUseTuple);
  if (ec == asio::error::eof) {
    core.eof = true;  // without close_notify: the stream may have been cut short
    co_return asio::ssl::error::stream_truncated;
  }
  if (ec) co_return ec;
  core.in_end = n;
  size_t resized = core.in_capacity;
  if (n == core.in_capacity) resized = std::min(core.in_capacity * 2, kMaxReadBuffer);
  if (n <= core.in_capacity / 4) resized = std::max(core.in_capacity / 2, kMinReadBuffer);
  if (resized != core.in_capacity) {
    std::unique_ptr<char[]> replacement(new char[resized]);
    std::memcpy(replacement.get(), core.in.get(), n);
    core.in = std::move(replacement);
    core.in_capacity = resized;
  }
  co_return error_code{};
}

void ReleaseIfLarge(std::string& buffer) {
  if (buffer.capacity() > kKeepWriteBuffer) std::string().swap(buffer);
}

// Sends everything in `out`, in one socket write per batch (not
// asio::async_write, which would cut it into writes of at most 64 KiB). One
// flush at a time: a second caller waits for the first, then sends what is left.
asio::awaitable<error_code> Flush(std::shared_ptr<Core> core) {
  while (core->flushing) co_await core->flushed.async_wait(kUseTuple);
  if (core->write_error) co_return core->write_error;
  core->flushing = true;
  error_code ec;
  while (!ec && !core->out.empty()) {
    core->sending.swap(core->out);
    for (size_t sent = 0; !ec && sent < core->sending.size();) {
      auto [wec, n] = co_await core->next.async_write_some(
          asio::buffer(core->sending.data() + sent, core->sending.size() - sent), kUseTuple);
      ec = wec;
      sent += n;
    }
    core->sending.clear();
  }
  if (ec) core->write_error = ec;
  ReleaseIfLarge(core->sending);
  ReleaseIfLarge(core->out);
  core->flushing = false;
  core->flushed.cancel();
  co_return ec;
}

}  // namespace

std::shared_ptr<Core> NewCore(boost::beast::tcp_stream next, SSL_CTX* context) {
  auto core = std::make_shared<Core>(std::move(next), context);
  if (core->ssl) {
    BIO* bio = BIO_new(CoreBioMethod());
    BIO_set_data(bio, core.get());
    SSL_set_bio(core->ssl, bio, bio);  // one BIO both ways: one reference, owned by the SSL
    SSL_set_mode(core->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_set_options(core->ssl, SSL_OP_NO_RENEGOTIATION);
  }
  return core;
}

void CloseSocket(Core& core) {
  error_code ignored;
  core.next.socket().close(ignored);
}

boost::beast::tcp_stream& NextLayer(Core& core) { return core.next; }
SSL* NativeHandle(Core& core) { return core.ssl; }

asio::awaitable<IoResult> Handshake(std::shared_ptr<Core> core, bool server) {
  if (!core->ssl) co_return IoResult{asio::error::no_memory, 0};
  if (server) {
    SSL_set_accept_state(core->ssl);
  } else {
    SSL_set_connect_state(core->ssl);
  }
  for (;;) {
    ERR_clear_error();
    int result = SSL_do_handshake(core->ssl);
    error_code failure;
    bool wants_input = false;
    if (result != 1) {
      wants_input = SSL_get_error(core->ssl, result) == SSL_ERROR_WANT_READ;
      if (!wants_input) failure = SslError(*core, result);
    }
    // Send our flight (or the alert that says why we give up) first.
    if (!core->out.empty()) {
      error_code ec = co_await Flush(core);
      if (ec && !failure) failure = ec;
    }
    if (failure) co_return IoResult{failure, 0};
    if (result == 1) co_return IoResult{};
    error_code ec = co_await Fill(*core);
    if (ec) co_return IoResult{ec, 0};
  }
}

asio::awaitable<IoResult> ReadSome(std::shared_ptr<Core> core, asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return IoResult{};
  char* data = static_cast<char*>(buffer.data());
  for (;;) {
    size_t total = 0;
    error_code failure;
    while (total < buffer.size()) {
      size_t n = 0;
      ERR_clear_error();
      int result = SSL_read_ex(core->ssl, data + total, buffer.size() - total, &n);
      if (result == 1) {
        total += n;
        continue;
      }
      if (SSL_get_error(core->ssl, result) != SSL_ERROR_WANT_READ) failure = SslError(*core, result);
      break;
    }
    // Reading can make OpenSSL answer (a TLS 1.3 KeyUpdate): send that now
    // unless a write is under way, which sends it after its own bytes.
    if (!core->out.empty() && !core->flushing) {
      asio::co_spawn(core->next.get_executor(), Flush(core), asio::detached);
    }
    if (total > 0) co_return IoResult{{}, total};  // a failure shows again on the next read
    if (failure) co_return IoResult{failure, 0};
    error_code ec = co_await Fill(*core);
    if (ec) co_return IoResult{ec, 0};
  }
}

asio::awaitable<IoResult> WriteSome(std::shared_ptr<Core> core, ConstBuffers buffers) {
  if (core->write_error) co_return IoResult{core->write_error, 0};
  size_t taken = 0;
  std::string gathered;  // small buffers and the start of what follows them, as one record
  auto encrypt = [&](const char* data, size_t size) -> error_code {
    size_t written = 0;
    ERR_clear_error();
    int result = SSL_write_ex(core->ssl, data, size, &written);  // the BIO never refuses: all or error
    if (result != 1) return SslError(*core, result);
    return {};
  };
  size_t plaintext = 0;
  for (size_t i = 0; i < buffers.count; ++i) plaintext += buffers.items[i].size();
  plaintext = std::min(plaintext, kMaxWritePerCall);
  // Room for all the records at once: appended record by record, a 64 KiB
  // message would otherwise regrow (and copy) the buffer four times.
  core->out.reserve(core->out.size() + plaintext + (plaintext / kMaxRecord + 2) * kRecordOverhead);
  error_code failure;
  for (size_t i = 0; i < buffers.count && !failure && taken < kMaxWritePerCall; ++i) {
    const char* data = static_cast<const char*>(buffers.items[i].data());
    size_t size = std::min(buffers.items[i].size(), kMaxWritePerCall - taken);
    taken += size;
    const bool more_follow = i + 1 < buffers.count && taken < kMaxWritePerCall;
    if (size < kGatherBelow && more_follow && gathered.size() + size <= kMaxRecord) {
      gathered.append(data, size);
      continue;
    }
    if (!gathered.empty()) {
      // Top the gathered bytes up so that what remains is whole records.
      size_t top_up = size % kMaxRecord;
      if (gathered.size() + top_up > kMaxRecord) top_up = kMaxRecord - gathered.size();
      gathered.append(data, top_up);
      data += top_up;
      size -= top_up;
      failure = encrypt(gathered.data(), gathered.size());
      gathered.clear();
    }
    if (!failure && size > 0) failure = encrypt(data, size);
  }
  if (!failure && !gathered.empty()) failure = encrypt(gathered.data(), gathered.size());
  if (failure) {
    core->write_error = failure;
    co_return IoResult{failure, 0};
  }
  error_code ec = co_await Flush(core);
  if (ec) co_return IoResult{ec, 0};
  co_return IoResult{{}, taken};
}

asio::awaitable<IoResult> Shutdown(std::shared_ptr<Core> core) {
  if (core->ssl && !core->write_error && SSL_is_init_finished(core->ssl)) {
    ERR_clear_error();
    SSL_shutdown(core->ssl);  // queues close_notify; the peer's is not awaited
    ERR_clear_error();
  }
  error_code ec = co_await Flush(core);
  co_return IoResult{ec, 0};
}

}  // namespace tls_detail

}  // namespace porthole::net
