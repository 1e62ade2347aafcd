// Wakes a thread that sleeps in poll(2): an eventfd, written only when the sleeper said it was about to sleep,
// so that a busy thread costs its producers no system call.
#pragma once

#include <atomic>

namespace weft::detail {

class WakeSignal {
 public:
  WakeSignal();  // throws weft::Error when the eventfd cannot be made
  ~WakeSignal();
  WakeSignal(const WakeSignal&) = delete;
  WakeSignal& operator=(const WakeSignal&) = delete;

  // The file descriptor the sleeper polls for POLLIN.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  // Sleeper: call before the final check for work; if that check finds work, call cancel_sleep().
  void prepare_sleep() noexcept;
  void cancel_sleep() noexcept { sleeping_.store(false, std::memory_order_relaxed); }
  // Sleeper: after waking, consume the signal.
  void clear() noexcept;

  // Producer: after making work visible. Writes the eventfd only if the sleeper may be asleep.
  void notify() noexcept;
  // Producer: writes the eventfd unconditionally (stop requests and other rare events).
  void force_notify() noexcept;

 private:
  int fd_ = -1;
  std::atomic<bool> sleeping_{false};
};

}  // namespace weft::detail
