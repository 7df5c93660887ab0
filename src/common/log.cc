#include "common/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace porthole::log {
namespace {
std::atomic<int> g_level{[] {
  const char* env = std::getenv("PORTHOLE_LOG");
  if (env && std::string_view(env) == "debug") return 0;
  return 1;
}()};
std::string g_program = "porthole";
}  // namespace

void SetLevel(Level level) { g_level = static_cast<int>(level); }
void SetProgram(std::string_view name) { g_program = std::string(name); }

void Write(Level level, std::string_view message) {
  if (static_cast<int>(level) < g_level) return;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%H:%M:%S", &utc);
  std::string line = std::string(stamp) + "." + std::to_string(ts.tv_nsec / 1000000 + 1000).substr(1) + " " +
                     g_program + " " + kNames[static_cast<int>(level)] + ": " + std::string(message) + "\n";
  // One write per line so concurrent processes do not interleave mid-line.
  ssize_t ignored = ::write(2, line.data(), line.size());
  (void)ignored;
}

}  // namespace porthole::log
