// The clock seam: the node reads time only through a Clock, so tests can drive time by hand (FakeClock in
// tests/support).
#pragma once

#include <chrono>
#include <cstdint>

namespace weft::detail {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  [[nodiscard]] virtual TimePoint now() const noexcept = 0;
  // Wall-clock time in nanoseconds since the Unix epoch, for message timestamps.
  [[nodiscard]] virtual std::int64_t wall_ns() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const noexcept override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  [[nodiscard]] std::int64_t wall_ns() const noexcept override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // The process-wide instance; stateless, so sharing it is safe.
  static const SystemClock& instance() noexcept {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace weft::detail
