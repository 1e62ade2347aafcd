// A clock tests move by hand.
#pragma once

#include <atomic>

#include "util/clock.hpp"

namespace weft::testing {

class FakeClock final : public detail::Clock {
 public:
  [[nodiscard]] TimePoint now() const noexcept override { return TimePoint(Duration(now_ns_.load())); }
  [[nodiscard]] std::int64_t wall_ns() const noexcept override { return wall_base_ns_ + now_ns_.load(); }
  void advance(Duration by) noexcept { now_ns_.fetch_add(by.count()); }

 private:
  std::atomic<std::int64_t> now_ns_{1'000'000'000};
  std::int64_t wall_base_ns_ = 1'700'000'000'000'000'000;
};

}  // namespace weft::testing
