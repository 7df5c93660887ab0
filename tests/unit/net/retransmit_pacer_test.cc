// RetransmitPacer: ticks only while something is unacknowledged, sleeps
// otherwise (an idle session must not wake), wakes on Sent(), ends on Stop().
#include "net/retransmit_pacer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace porthole::net {
namespace {

namespace asio = boost::asio;

struct Fixture {
  asio::io_context ioc;
  RetransmitPacer pacer{ioc.get_executor()};
  bool unacknowledged = false;
  int ticks = 0;
  bool ended = false;

  void Start() {
    asio::co_spawn(
        ioc,
        [this]() -> asio::awaitable<void> {
          co_await pacer.Run([this] { return unacknowledged; }, [this] { ++ticks; });
          ended = true;
        },
        asio::detached);
  }
  // Runs the loop for `time` of wall clock, then returns.
  void RunFor(std::chrono::milliseconds time) {
    asio::steady_timer stop(ioc, time);
    bool done = false;
    stop.async_wait([&](boost::system::error_code) { done = true; });
    while (!done) ioc.run_one();
  }
  // Runs the loop until `ticks` reaches `n` (or 10 s pass).
  void RunUntilTicks(int n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ticks < n && std::chrono::steady_clock::now() < deadline) ioc.run_one_for(std::chrono::milliseconds(50));
  }
};

TEST(RetransmitPacerTest, SleepsWhileNothingIsUnacknowledgedAndTicksOnceSomethingIs) {
  Fixture f;
  f.Start();
  f.RunFor(RetransmitPacer::kTick * 4);
  EXPECT_EQ(f.ticks, 0);  // nothing sent: not one wake-up

  f.unacknowledged = true;
  f.pacer.Sent();
  f.RunUntilTicks(3);
  EXPECT_GE(f.ticks, 3);

  // Everything acknowledged: after the tick that notices, it sleeps again.
  f.unacknowledged = false;
  f.RunUntilTicks(f.ticks + 1);
  const int settled = f.ticks;
  f.RunFor(RetransmitPacer::kTick * 4);
  EXPECT_EQ(f.ticks, settled);

  f.pacer.Stop();
  f.RunFor(std::chrono::milliseconds(10));
  EXPECT_TRUE(f.ended);
}

TEST(RetransmitPacerTest, StopEndsASleepingRun) {
  Fixture f;
  f.Start();
  f.RunFor(std::chrono::milliseconds(10));
  EXPECT_FALSE(f.ended);
  f.pacer.Stop();
  f.RunFor(std::chrono::milliseconds(10));
  EXPECT_TRUE(f.ended);
  EXPECT_EQ(f.ticks, 0);
}

}  // namespace
}  // namespace porthole::net
