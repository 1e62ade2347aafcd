// The node's log: a sink from NodeOptions (stderr by default) and a rate limit for lines that input from the
// network can trigger, so that a flood of bad frames cannot flood the log.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "util/clock.hpp"
#include "weft/options.hpp"

namespace weft::detail {

class Logger {
 public:
  explicit Logger(LogSink sink, std::string prefix);
  void log(LogLevel level, std::string_view line) const;
  void warn(std::string_view line) const { log(LogLevel::kWarning, line); }
  void error(std::string_view line) const { log(LogLevel::kError, line); }

 private:
  LogSink sink_;
  std::string prefix_;
};

// Lets one line through per interval for each of a few fixed kinds; counts what it holds back and reports the
// count with the next line it lets through. Thread-safe.
class RateLimitedLog {
 public:
  static constexpr std::size_t kKinds = 16;

  RateLimitedLog(const Logger& logger, const Clock& clock, std::chrono::milliseconds interval)
      : logger_(logger), clock_(clock), interval_(interval) {}

  // Logs `line` as a warning unless a line of this kind was logged less than an interval ago.
  void warn(std::size_t kind, std::string_view line);
  [[nodiscard]] std::uint64_t suppressed() const noexcept { return suppressed_total_.load(); }

 private:
  struct Slot {
    bool logged_once = false;
    Clock::TimePoint last{};
    std::uint64_t held_back = 0;
  };
  const Logger& logger_;
  const Clock& clock_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::array<Slot, kKinds> slots_{};
  std::atomic<std::uint64_t> suppressed_total_{0};
};

}  // namespace weft::detail
