#pragma once
// What the load generator's simulated parties (nodes, exec agents, clients)
// share: the endpoint, a bound on connections being opened, a retransmission
// tick, counters, and the signed requests they send. Everything here is used
// from one thread per `Party`; only `Stats` is shared between threads.
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "common/result.h"
#include "net/aws_json_client.h"
#include "net/http.h"
#include "net/tls.h"

namespace porthole::loadgen {

namespace asio = boost::asio;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// A latency histogram (milliseconds, buckets doubling from 1 ms), safe to
// add to from any thread.
class Histogram {
 public:
  static constexpr int kBuckets = 14;  // <1, <2, <4, ... <4096, >=4096 ms
  void Add(double ms);
  Json ToJson() const;  // {"<1": n, "<2": n, ...}, empty buckets left out

 private:
  std::atomic<int64_t> counts_[kBuckets] = {};
};

// Counters of the whole run, written from every thread.
class Stats {
 public:
  // Counts a failure of kind `kind`; the first few messages are kept.
  void Error(const std::string& kind, const std::string& message);
  int64_t ErrorCount() const;
  Json ErrorsJson() const;  // {"kinds": {kind: n}, "first": [...]}

  void AgentConnected();
  void AgentDisconnected() { agents_connected--; }

  std::atomic<int64_t> agents_connected{0};
  std::atomic<int64_t> agents_peak{0};
  std::atomic<int64_t> agent_sessions_open{0};
  // Retransmissions during the measured period.
  std::atomic<int64_t> client_retransmissions{0};  // input_stream_data sent again
  std::atomic<int64_t> agent_retransmissions{0};   // output_stream_data sent again
  // One-way delays of typed keys and their echoes, from each frame's
  // CreatedDate (ms, the same clock at both ends) to its delivery.
  Histogram to_agent_ms;
  Histogram to_client_ms;
  // Only while the measured period runs.
  std::atomic<bool> measuring{false};

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> kinds_;
  std::vector<std::string> first_;
  int64_t total_ = 0;
};

// Bounds how many connections a thread is opening at once. portholed keeps
// at most 64 connections per address that have not yet sent their first
// request and drops the oldest beyond that (HttpsServerOptions::
// max_pending_per_source), and every simulated party dials from 127.0.0.1.
class ConnectLimiter {
 public:
  ConnectLimiter(asio::any_io_executor executor, size_t limit) : executor_(executor), limit_(limit) {}

  // Held for one connect (or one short API call); released on destruction.
  class Permit {
   public:
    explicit Permit(ConnectLimiter* limiter) : limiter_(limiter) {}
    Permit(Permit&& other) noexcept : limiter_(std::exchange(other.limiter_, nullptr)) {}
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() {
      if (limiter_) limiter_->Release();
    }

   private:
    ConnectLimiter* limiter_;
  };
  asio::awaitable<Permit> Acquire();

 private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool granted = false;
  };
  void Release();

  asio::any_io_executor executor_;
  size_t limit_;
  size_t in_use_ = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_;  // FIFO: granted from the front
};

// Something with a reliable stream to keep going: called every 100 ms.
class Tickable {
 public:
  virtual ~Tickable() = default;
  virtual void Tick(SteadyClock::time_point now) = 0;
};

// One 100 ms timer per thread for every stream on it (retransmissions,
// lost-keystroke deadlines), instead of one timer per session.
class Ticker {
 public:
  explicit Ticker(asio::any_io_executor executor) : timer_(executor) {}
  void Add(Tickable* t) { members_.insert(t); }
  void Remove(Tickable* t) { members_.erase(t); }
  void Start();
  void Stop();

 private:
  void Arm();
  asio::steady_timer timer_;
  std::unordered_set<Tickable*> members_;
  bool stopped_ = false;
};

// What the simulated parties on one thread share.
struct Party {
  Party(asio::any_io_executor ex, net::Url endpoint_url, std::string region_name,
        std::shared_ptr<net::TlsContext> tls_context, size_t connect_limit, Stats& run_stats)
      : executor(ex), endpoint(std::move(endpoint_url)), region(std::move(region_name)),
        tls(std::move(tls_context)), limiter(ex, connect_limit), ticker(ex), stats(run_stats) {}
  asio::any_io_executor executor;
  net::Url endpoint;
  std::string region;
  std::shared_ptr<net::TlsContext> tls;
  ConnectLimiter limiter;
  Ticker ticker;
  Stats& stats;
};

// One AWS JSON 1.1 call, signed by `client` as AwsJsonClient::Call signs it,
// sent on the caller's executor.
asio::awaitable<Result<Json>> CallApi(Party& party, const net::AwsJsonClient& client, std::string target, Json input,
                                      std::chrono::seconds timeout = std::chrono::seconds(60));

// The SigV4 headers (service ssmmessages) of a WebSocket upgrade to `url`,
// as porthole-exec-agent signs its control and data channels.
std::vector<std::pair<std::string, std::string>> SignedUpgradeHeaders(const auth::Credentials& credentials,
                                                                      const std::string& region, const net::Url& url);

inline constexpr const char* kEcsTarget = "AmazonEC2ContainerServiceV20141113.";
inline constexpr const char* kNodeTarget = "PortholeNodeService.";
// What the simulated agent reports (4-part and > 3.1.1511.0, §5), as the real one does.
inline constexpr const char* kAgentVersion = "3.3.1142.0";

}  // namespace porthole::loadgen
