#pragma once
// Errors are values. An Error carries the AWS error type the API answers with
// (e.g. "ClusterNotFoundException"), a human message naming the cause, and the
// HTTP status AWS uses for it.
#include <string>
#include <utility>
#include <variant>

namespace porthole {

struct Error {
  std::string code;     // AWS "__type", e.g. "InvalidParameterException"
  std::string message;  // names the cause; shown to the user verbatim
  int http_status = 400;
};

inline Error MakeError(std::string code, std::string message, int status = 400) {
  return Error{std::move(code), std::move(message), status};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace porthole

// Returns the error of a Status or Result expression from the enclosing
// function (which returns a Result or Status).
#define PORTHOLE_TRY(expr)                  \
  do {                                      \
    auto porthole_try_ = (expr);            \
    if (!porthole_try_) return porthole_try_.error(); \
  } while (0)

// Declares `var` as the value of a Result expression, or returns its error.
#define PORTHOLE_TRY_ASSIGN(var, expr)        \
  auto var##_result_ = (expr);                \
  if (!var##_result_) return var##_result_.error(); \
  auto var = std::move(*var##_result_)
