#include "net/retransmit_pacer.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace porthole::net {

boost::asio::awaitable<void> RetransmitPacer::Run(std::function<bool()> unacknowledged, std::function<void()> tick) {
  while (!stopped_) {
    sleeping_ = !unacknowledged();
    if (sleeping_) {
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
    } else {
      timer_.expires_after(kTick);
    }
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    sleeping_ = false;
    if (stopped_) break;
    if (!ec) tick();  // cancelled: woken by a send, look again
  }
}

}  // namespace porthole::net
