// Weft's one error model: expected failures are values (Status, Result<T>), never exceptions. Exceptions
// (weft::Error) are thrown only for construction and configuration errors, and by Result::value() when the
// caller chose to treat a failure as exceptional.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace weft {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed: a bad subject, an oversized payload
  kBackPressure,     // a bounded queue is full and the policy is not to wait (or the wait timed out)
  kTimeout,          // a deadline passed before the operation could complete
  kClosed,           // the node (or the object) was closed
  kNotFound,
  kIoError,          // the operating system or the transport failed
  kProtocol,         // a peer sent something that breaks the wire protocol
  kCorruption,       // stored data failed a check
  kNoResponders,     // nobody is there to take the request
  kUnavailable,      // a service this call needs is not reachable
  kInternal,         // a bug in Weft
};

// The name of a code, as printed in messages: "invalid argument", "back-pressure", ...
std::string_view to_string(ErrorCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // ok
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() noexcept { return {}; }
  static Status invalid_argument(std::string message) { return {ErrorCode::kInvalidArgument, std::move(message)}; }
  static Status back_pressure(std::string message) { return {ErrorCode::kBackPressure, std::move(message)}; }
  static Status timeout(std::string message) { return {ErrorCode::kTimeout, std::move(message)}; }
  static Status closed(std::string message) { return {ErrorCode::kClosed, std::move(message)}; }
  static Status not_found(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
  static Status io_error(std::string message) { return {ErrorCode::kIoError, std::move(message)}; }
  static Status protocol(std::string message) { return {ErrorCode::kProtocol, std::move(message)}; }
  static Status corruption(std::string message) { return {ErrorCode::kCorruption, std::move(message)}; }
  static Status no_responders(std::string message) { return {ErrorCode::kNoResponders, std::move(message)}; }
  static Status unavailable(std::string message) { return {ErrorCode::kUnavailable, std::move(message)}; }
  static Status internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }

  [[nodiscard]] bool is_ok() const noexcept { return code_ == ErrorCode::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  [[nodiscard]] ErrorCode code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  // "while opening segment 42: i/o error: disk full": errors gain context as they rise.
  [[nodiscard]] Status with_context(std::string_view context) const;

  // "invalid argument: subject 'a..b' has an empty token" (or "ok").
  [[nodiscard]] std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Thrown by constructors and configuration, and by Result<T>::value() on a failed result.
class Error : public std::runtime_error {
 public:
  explicit Error(Status status) : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  [[nodiscard]] const Status& status() const noexcept { return status_; }

 private:
  Status status_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : state_(std::in_place_index<1>, std::move(status)) {  // NOLINT: implicit by design
    if (std::get<1>(state_).is_ok()) {
      state_.template emplace<1>(Status::internal("Result built from an ok Status without a value"));
    }
  }

  [[nodiscard]] bool is_ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  // The failure; Status::ok() when there is a value.
  [[nodiscard]] Status status() const { return is_ok() ? Status::ok() : std::get<1>(state_); }

  // The value; throws weft::Error when there is none.
  T& value() & {
    throw_if_error();
    return std::get<0>(state_);
  }
  const T& value() const& {
    throw_if_error();
    return std::get<0>(state_);
  }
  T&& value() && {
    throw_if_error();
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void throw_if_error() const {
    if (!is_ok()) throw Error(std::get<1>(state_));
  }
  std::variant<T, Status> state_;
};

}  // namespace weft
