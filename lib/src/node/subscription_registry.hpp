// The node's local subscriptions. Application threads add and remove them; the dispatcher reads an immutable
// snapshot that it refreshes only when the registry's version changes, so matching takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reliable/dedupe.hpp"
#include "weft/options.hpp"
#include "weft/stats.hpp"
#include "weft/subscription.hpp"

namespace weft::detail {

// What an at-least-once subscription (durable or queue member) adds: its options, its duplicate suppression
// (used under the call lock), and its identity towards publishers.
struct ReliableSubscription {
  ReliableSubscription(SubscribeOptions o, std::uint64_t s)
      : options(std::move(o)), session(s), deduper(options.idempotency_window) {}
  SubscribeOptions options;
  std::uint64_t session;
  Deduper deduper;
};

// One subscription. The handler runs under call_mutex, so unsubscribe() can wait for a call in progress.
class SubscriptionState {
 public:
  SubscriptionState(std::uint64_t id, std::string pattern, Handler handler,
                    std::shared_ptr<ReliableSubscription> reliable = nullptr, bool internal = false)
      : id_(id),
        pattern_(std::move(pattern)),
        handler_(std::move(handler)),
        reliable_(std::move(reliable)),
        internal_(internal) {}

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }
  [[nodiscard]] bool active() const noexcept { return active_.load(std::memory_order_acquire); }
  // Null for a best-effort subscription.
  [[nodiscard]] ReliableSubscription* reliable() const noexcept { return reliable_.get(); }
  // The node's own (hello announcements): hidden from stats, and the only kind that sees "_weft." subjects
  // unless the application names them.
  [[nodiscard]] bool internal() const noexcept { return internal_; }

  // Runs `deliver(handler)` unless the subscription was stopped; returns false if it was. The caller delivers
  // a whole batch in one call, so the lock is taken once per batch.
  template <typename Deliver>
  bool with_handler(Deliver&& deliver) {
    std::lock_guard lock(call_mutex_);
    if (!active()) return false;
    calling_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    deliver(handler_);
    calling_thread_.store(std::thread::id(), std::memory_order_relaxed);
    return true;
  }

  // Stops deliveries; waits for a handler call in progress unless called from inside it.
  void stop();

  void count_delivered(std::uint64_t n) noexcept { delivered_.fetch_add(n, std::memory_order_relaxed); }
  void count_exception() noexcept { exceptions_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] SubscriptionStats stats() const;

 private:
  const std::uint64_t id_;
  const std::string pattern_;
  Handler handler_;
  std::shared_ptr<ReliableSubscription> reliable_;
  const bool internal_;
  std::atomic<bool> active_{true};
  std::mutex call_mutex_;
  std::atomic<std::thread::id> calling_thread_{};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> exceptions_{0};
};

using SubscriptionList = std::vector<std::shared_ptr<SubscriptionState>>;

class SubscriptionRegistry {
 public:
  std::shared_ptr<SubscriptionState> add(std::string pattern, Handler handler,
                                         std::shared_ptr<ReliableSubscription> reliable = nullptr,
                                         bool internal = false);
  // Removes it from the registry; false when it was not there.
  bool remove(std::uint64_t id);

  [[nodiscard]] std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }
  [[nodiscard]] std::shared_ptr<const SubscriptionList> snapshot() const;
  [[nodiscard]] std::vector<SubscriptionStats> stats() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::shared_ptr<const SubscriptionList> current_ = std::make_shared<const SubscriptionList>();
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace weft::detail
