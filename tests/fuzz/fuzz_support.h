#pragma once
// What the fuzz harnesses share: a property check that crashes the run (so
// libFuzzer keeps the input as a crash artifact, and the CI replay test
// fails), and a reader that splits one fuzz input into fields.
//
// A harness never catches exceptions: an input that makes our code throw is a
// finding (the parsers' contract is errors as values), and an uncaught
// exception aborts like a failed check.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace porthole::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, condition);
  if (!detail.empty()) {
    const int shown = static_cast<int>(std::min<size_t>(detail.size(), 4096));
    std::fprintf(stderr, "  detail: %.*s\n", shown, detail.data());
  }
  std::fflush(stderr);
  std::abort();
}

// Reads a fuzz input front to back. Past the end every read yields zero or
// empty, so a harness can take the fields it needs from any input.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit InputReader(std::string_view data) : rest_(data) {}

  bool empty() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Big-endian.
  uint16_t U16() { return static_cast<uint16_t>(Byte() << 8 | Byte()); }
  // Up to `n` bytes.
  std::string_view Bytes(size_t n) {
    std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(out.size());
    return out;
  }
  // Up to (not including) the next `delimiter`, which is consumed.
  std::string_view Until(char delimiter) {
    const size_t at = rest_.find(delimiter);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view Rest() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

}  // namespace porthole::fuzz

#define FUZZ_CHECK(condition)                                                            \
  do {                                                                                   \
    if (!(condition)) ::porthole::fuzz::CheckFailed(__FILE__, __LINE__, #condition, {}); \
  } while (0)

// `detail` (anything convertible to std::string_view) is printed on failure.
#define FUZZ_CHECK_MSG(condition, detail)                                                    \
  do {                                                                                       \
    if (!(condition)) ::porthole::fuzz::CheckFailed(__FILE__, __LINE__, #condition, detail); \
  } while (0)
