// The bookkeeping of group commit: which appends wait for an fsync, when the next fsync is due under the
// stream's FsyncPolicy, and which waiters an fsync covers. No I/O and no clock reads: the Log feeds it times.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "log/log_options.hpp"
#include "util/clock.hpp"
#include "weft/status.hpp"

namespace weft::detail::log {

// The offsets one append received: [first_offset, last_offset].
struct AppendResult {
  std::uint64_t first_offset = 0;
  std::uint64_t last_offset = 0;
};

// Called once per append: ok when the records are acknowledged under the stream's fsync policy (durable for
// kEveryWrite; written, for kInterval and kOs), or the failure that means they never will be.
using DurableCallback = std::function<void(const Status&, const AppendResult&)>;

class GroupCommit {
 public:
  struct Waiter {
    AppendResult offsets;
    Clock::TimePoint appended_at;
    DurableCallback callback;
  };

  void add(AppendResult offsets, Clock::TimePoint now, DurableCallback callback) {
    waiters_.push_back({offsets, now, std::move(callback)});
  }

  // When the next round of acknowledgements is due (with an fsync first for kEveryWrite): at once, whenever
  // something waits; nullopt if nothing does. kInterval's timed fsync is the Log's (it acknowledges first).
  [[nodiscard]] std::optional<Clock::TimePoint> deadline() const {
    if (waiters_.empty()) return std::nullopt;
    return waiters_.front().appended_at;
  }
  [[nodiscard]] bool due(Clock::TimePoint now) const {
    auto d = deadline();
    return d && *d <= now;
  }

  // Moves the waiters whose records all lie below `end` into `out`.
  void take_covered(std::uint64_t end, std::vector<Waiter>& out) {
    while (!waiters_.empty() && waiters_.front().offsets.last_offset < end) {
      out.push_back(std::move(waiters_.front()));
      waiters_.pop_front();
    }
  }
  void take_all(std::vector<Waiter>& out) {
    for (Waiter& w : waiters_) out.push_back(std::move(w));
    waiters_.clear();
  }

  [[nodiscard]] bool empty() const noexcept { return waiters_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return waiters_.size(); }

 private:
  std::deque<Waiter> waiters_;
};

}  // namespace weft::detail::log
