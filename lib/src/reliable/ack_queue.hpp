// What ties an at-least-once delivery to its handler and back: the metadata that travels with a delivery to
// the dispatcher, and the queue of decisions (acknowledge, nak, in progress) that travels back to the I/O
// thread, from the dispatcher or from any thread that acknowledges by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

// The deliveries of one control message, in the order of the envelopes in its body.
struct ReliableMeta {
  struct Item {
    std::uint64_t dseq = 0;
    std::uint32_t attempt = 0;
  };
  std::uint64_t subscription_id = 0;
  std::string key;
  std::uint64_t session = 0;
  std::uint64_t link = 0;  // the subscriber engine's link to the publisher it came from (Link::id)
  std::uint32_t max_deliver = 0;
  std::vector<Item> items;
};

struct AckDecision {
  enum class Kind : std::uint8_t { kAck, kNak, kProgress };
  Kind kind = Kind::kAck;
  std::uint64_t subscription_id = 0;
  std::uint64_t session = 0;
  std::uint64_t link = 0;  // ReliableMeta::link: a number, so that a decision per message copies no string
  std::uint64_t dseq = 0;
  std::uint32_t attempt = 0;
  std::uint32_t delay_ms = 0;  // kNak
  std::string reason;          // kNak
};

// Many producers (the dispatcher, any thread settling by hand), one consumer (the I/O thread). Producers call
// io_wake.notify() after push(); the I/O thread looks at pending() before it sleeps (after
// WakeSignal::prepare_sleep()) and while it spins, so a decision queued while it is awake is never left
// waiting for a timer, and a busy I/O thread costs the producers no system call.
class AckQueue {
 public:
  void push(AckDecision decision) {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(decision));
    has_pending_.store(true, std::memory_order_release);
  }
  void push(std::vector<AckDecision>& decisions) {
    std::lock_guard lock(mutex_);
    for (auto& d : decisions) pending_.push_back(std::move(d));
    decisions.clear();
    has_pending_.store(!pending_.empty(), std::memory_order_release);
  }
  // Moves everything queued into `out` (which it clears first).
  void take(std::vector<AckDecision>& out) {
    out.clear();
    std::lock_guard lock(mutex_);
    out.swap(pending_);
    has_pending_.store(false, std::memory_order_relaxed);
  }
  // Lock-free: cheap enough to poll while spinning.
  [[nodiscard]] bool empty() const noexcept { return !has_pending_.load(std::memory_order_acquire); }

 private:
  std::mutex mutex_;
  std::vector<AckDecision> pending_;
  std::atomic<bool> has_pending_{false};
};

}  // namespace weft::detail
