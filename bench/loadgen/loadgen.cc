#include "loadgen.h"

#include <ctime>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/https_client.h"

namespace porthole::loadgen {

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kKeptErrorMessages = 8;
}  // namespace

void Histogram::Add(double ms) {
  int bucket = 0;
  for (double limit = 1; bucket < kBuckets - 1 && ms >= limit; limit *= 2) bucket++;
  counts_[bucket]++;
}

Json Histogram::ToJson() const {
  Json out = Json::object();
  double limit = 1;
  for (int i = 0; i < kBuckets; i++, limit *= 2) {
    int64_t n = counts_[i].load();
    if (n == 0) continue;
    out[i == kBuckets - 1 ? ">=" + std::to_string(static_cast<int64_t>(limit / 2))
                          : "<" + std::to_string(static_cast<int64_t>(limit))] = n;
  }
  return out;
}

void Stats::Error(const std::string& kind, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  kinds_[kind]++;
  total_++;
  if (first_.size() < kKeptErrorMessages) first_.push_back(kind + ": " + message.substr(0, 300));
}

int64_t Stats::ErrorCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

Json Stats::ErrorsJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  Json kinds = Json::object();
  for (const auto& [k, n] : kinds_) kinds[k] = n;
  return Json{{"kinds", kinds}, {"first", first_}};
}

void Stats::AgentConnected() {
  int64_t now = ++agents_connected;
  int64_t peak = agents_peak.load();
  while (now > peak && !agents_peak.compare_exchange_weak(peak, now)) {
  }
}

asio::awaitable<ConnectLimiter::Permit> ConnectLimiter::Acquire() {
  if (in_use_ < limit_ && waiters_.empty()) {
    in_use_++;
    co_return Permit(this);
  }
  auto waiter = std::make_shared<Waiter>(executor_);
  waiters_.push_back(waiter);
  while (!waiter->granted) {
    auto [ec] = co_await waiter->timer.async_wait(kUseTuple);
    (void)ec;  // cancelled: granted (or spurious); the loop checks
  }
  co_return Permit(this);  // in_use_ was handed over by Release()
}

void ConnectLimiter::Release() {
  if (!waiters_.empty()) {
    // The permit passes to the oldest waiter directly: in_use_ is unchanged.
    auto waiter = waiters_.front();
    waiters_.pop_front();
    waiter->granted = true;
    waiter->timer.cancel();
    return;
  }
  in_use_--;
}

void Ticker::Start() {
  stopped_ = false;
  Arm();
}

void Ticker::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void Ticker::Arm() {
  timer_.expires_after(std::chrono::milliseconds(100));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    // A member may remove itself (or close) while ticking: iterate a copy.
    std::vector<Tickable*> members(members_.begin(), members_.end());
    auto now = SteadyClock::now();
    for (Tickable* t : members)
      if (members_.count(t)) t->Tick(now);
    Arm();
  });
}

asio::awaitable<Result<Json>> CallApi(Party& party, const net::AwsJsonClient& client, std::string target, Json input,
                                      std::chrono::seconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto response = co_await net::HttpsRequest(ex, client.endpoint(), client.BuildRequest(target, input), party.tls,
                                             timeout);
  if (!response) co_return response.error();
  co_return net::AwsJsonClient::ParseResponse(*response);
}

std::vector<std::pair<std::string, std::string>> SignedUpgradeHeaders(const auth::Credentials& credentials,
                                                                      const std::string& region, const net::Url& url) {
  auth::HttpRequest request;
  request.method = "GET";
  request.target = url.target;
  request.headers.emplace_back("Host", url.HostHeader());
  auth::SignRequest(request, credentials, region, "ssmmessages", std::time(nullptr));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : request.headers)
    if (k != "Host") out.emplace_back(k, v);  // Host is the upgrade's own
  return out;
}

}  // namespace porthole::loadgen
