#pragma once
// When one end of a data channel looks for due retransmissions: every tick
// while something it sent is unacknowledged, and not at all while nothing is.
// An idle session must not wake its process ten times a second: with a
// thousand of them that is ten thousand wake-ups, and each tick runs code the
// exec agent has given back to the kernel (agent/memory_release.h).
#include <chrono>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace porthole::net {

class RetransmitPacer {
 public:
  static constexpr std::chrono::milliseconds kTick{100};

  explicit RetransmitPacer(boost::asio::any_io_executor executor) : timer_(executor) {}

  // After each sequenced message sent: wakes Run() if it sleeps.
  void Sent() {
    if (sleeping_) timer_.cancel();
  }
  void Stop() {
    stopped_ = true;
    timer_.cancel();
  }

  // Until Stop(): `unacknowledged()` says whether anything sent awaits its
  // acknowledgement; `tick()` runs every kTick while something does.
  boost::asio::awaitable<void> Run(std::function<bool()> unacknowledged, std::function<void()> tick);

 private:
  boost::asio::steady_timer timer_;
  bool sleeping_ = false;
  bool stopped_ = false;
};

}  // namespace porthole::net
