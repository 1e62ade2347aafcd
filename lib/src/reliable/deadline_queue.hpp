// Deadlines of the publisher engine (ack waits by delivery sequence, publish timeouts by message sequence),
// earliest first, checked from the front.
//
// A deadline is armed at now + a duration that rarely changes (a target's ack wait, a publish's timeout), and
// the I/O loop reads the clock once per batch, so a batch of consecutive keys arrives with one deadline: it is
// kept as one run (first key, count), not one element per message. That was a deque push per message twice over
// (outbox and delivery) and, as every deadline reaches the front, a pop per message.
//
// Nothing is removed when its key is settled: a key that comes up is checked against the caller's state and
// skipped when it no longer applies, and compact() bounds what is left behind.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>

#include "util/clock.hpp"

namespace weft::detail {

class DeadlineQueue {
 public:
  struct Run {
    Clock::TimePoint when;
    std::uint64_t first = 0;
    std::uint64_t count = 0;
  };

  // Arms `key` for `when`. The key that continues the last run with the same deadline joins it; a deadline
  // earlier than the last (a shorter timeout) goes in its place in time order.
  void arm(Clock::TimePoint when, std::uint64_t key) {
    if (!runs_.empty()) {
      Run& last = runs_.back();
      if (last.when == when && last.first + last.count == key) {
        ++last.count;
        return;
      }
      if (last.when > when) {
        auto at = std::upper_bound(runs_.begin(), runs_.end(), when,
                                   [](Clock::TimePoint t, const Run& run) { return t < run.when; });
        runs_.insert(at, Run{when, key, 1});
        return;
      }
    }
    runs_.push_back(Run{when, key, 1});
  }

  // The earliest key that is due and still applies (`applies(key, when)`), taken off the queue; nullopt when
  // there is none yet. Keys that no longer apply leave the queue as they reach its front, due or not, which
  // keeps it about as large as what is outstanding.
  template <typename Applies>
  std::optional<std::uint64_t> take_due(Clock::TimePoint now, Applies&& applies) {
    while (!runs_.empty()) {
      Run& front = runs_.front();
      const std::uint64_t key = front.first;
      const bool live = applies(key, front.when);
      if (live && front.when > now) return std::nullopt;
      if (--front.count == 0) {
        runs_.pop_front();
      } else {
        ++front.first;
      }
      if (live) return key;
    }
    return std::nullopt;
  }

  // Drops the keys that no longer apply once the runs outnumber the keys that could apply (`live`) twice over
  // (plus some slack), so that the queue stays proportional to what is outstanding however long its front
  // waits to come up. A run keeps its keys between its first and last live ones.
  template <typename Applies>
  void compact(std::size_t live, Applies&& applies) {
    if (runs_.size() <= 2 * live + 1024) return;
    std::erase_if(runs_, [&](Run& run) {
      while (run.count > 0 && !applies(run.first, run.when)) {
        ++run.first;
        --run.count;
      }
      while (run.count > 0 && !applies(run.first + run.count - 1, run.when)) --run.count;
      return run.count == 0;
    });
  }

  void clear() noexcept { runs_.clear(); }
  [[nodiscard]] bool empty() const noexcept { return runs_.empty(); }
  // Runs, not keys: what the queue holds in memory.
  [[nodiscard]] std::size_t runs() const noexcept { return runs_.size(); }

 private:
  std::deque<Run> runs_;
};

}  // namespace weft::detail
