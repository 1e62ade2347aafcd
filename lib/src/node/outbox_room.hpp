// The at-least-once outbox's occupancy, in messages and bytes: publish() reserves room for a message on the
// publishing thread, the I/O thread releases it once the message has left the outbox.
//
// Reserving where there is room is two atomic additions and no lock. They cost about what the mutex taken and
// released on every publish did (3% of the publishing CPU), but a publisher never sleeps behind an I/O thread
// that holds the lock to release (on a shared CPU, preempted while holding it). The lock is only for those who
// wait: a publisher that finds the outbox full (OutboxPolicy::kBlock) and wait_for_acknowledgements(). They
// count themselves as waiters first, and a release wakes them only when there are some.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace weft::detail {

class OutboxRoom {
 public:
  // Takes room for one message of `bytes` if the outbox holds fewer than `max_messages` messages and
  // `max_bytes` leaves room for it; a message alone in an empty outbox may exceed `max_bytes`. False, taking
  // nothing, otherwise. Publishers racing at the limit may each be refused although one of them would have fit:
  // only when the outbox is full to within a message.
  bool try_reserve(std::size_t bytes, std::size_t max_messages, std::size_t max_bytes) {
    return take(bytes, max_messages, max_bytes, /*locked=*/false);
  }
  // try_reserve(), waiting for room until the deadline or until give_up() (called with the lock held, after
  // every release and notify_all()) says so. False when no room was taken.
  template <typename GiveUp>
  bool reserve_until(std::size_t bytes, std::size_t max_messages, std::size_t max_bytes,
                     std::chrono::steady_clock::time_point deadline, GiveUp&& give_up) {
    std::unique_lock lock(mutex_);
    waiters_.fetch_add(1);
    bool taken = false;
    changed_.wait_until(lock, deadline, [&] {
      taken = take(bytes, max_messages, max_bytes, /*locked=*/true);
      return taken || give_up();
    });
    waiters_.fetch_sub(1);
    return taken;
  }
  // Takes room whatever the limits (a message taken back from the disk outbox; OutboxPolicy::kDropOldest, where
  // the I/O thread then fails the oldest to make room).
  void reserve(std::size_t bytes) noexcept {
    messages_.fetch_add(1);
    bytes_.fetch_add(bytes);
  }
  // Never below zero: a request reserves its payload's size and its envelope, a little larger, is released.
  void release(std::size_t messages, std::size_t bytes) {
    if (messages == 0 && bytes == 0) return;
    take_away(messages_, messages);
    take_away(bytes_, bytes);
    // Sequentially consistent with the waiter's increment and its look at the counters: either it saw this
    // release, or this sees it waiting.
    wake_waiters();
  }
  // After another change a waiter's done() looks at, made through a sequentially consistent atomic: wakes the
  // waiters, if there are any.
  void wake_waiters() {
    if (waiters_.load() > 0) notify_all();
  }
  // Wakes every waiter, whether or not it counted itself yet: after a change not made through such an atomic
  // (the node closing). Taking the lock orders the notification after the wait of whoever looked before.
  void notify_all() {
    { std::lock_guard lock(mutex_); }
    changed_.notify_all();
  }

  [[nodiscard]] std::size_t messages() const noexcept { return messages_.load(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_.load(); }

  // Waits until `done()` (called with the lock held, after every release and notify_all()) or the deadline.
  // Returns done()'s last answer.
  template <typename Done>
  bool wait_until(std::chrono::steady_clock::time_point deadline, Done&& done) {
    std::unique_lock lock(mutex_);
    waiters_.fetch_add(1);
    const bool result = changed_.wait_until(lock, deadline, done);
    waiters_.fetch_sub(1);
    return result;
  }

 private:
  // `locked`: the caller holds mutex_ (a waiter looking again).
  bool take(std::size_t bytes, std::size_t max_messages, std::size_t max_bytes, bool locked) {
    const std::size_t messages_before = messages_.fetch_add(1);
    const std::size_t bytes_before = bytes_.fetch_add(bytes);
    if (messages_before < max_messages && (bytes_before + bytes <= max_bytes || messages_before == 0)) return true;
    take_away(messages_, 1);
    take_away(bytes_, bytes);
    // Another publisher may have been refused meanwhile for the room this held for a moment. Refused outside the
    // lock, it then looks again under it, as a waiter; refused under it, it is the waiter holding the lock. So
    // only the waiters already waiting need waking, and only when this did not hold the lock itself: a waiter
    // that woke the others each time it looked in vain would keep them all looking in turn.
    if (!locked) wake_waiters();
    return false;
  }
  // Once per I/O pass and per refused reservation, not per message: a compare-and-swap loop costs nothing here.
  static void take_away(std::atomic<std::size_t>& counter, std::size_t amount) noexcept {
    std::size_t value = counter.load();
    while (!counter.compare_exchange_weak(value, value - std::min(value, amount))) {
    }
  }

  std::atomic<std::size_t> messages_{0};
  std::atomic<std::size_t> bytes_{0};
  std::atomic<int> waiters_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace weft::detail
