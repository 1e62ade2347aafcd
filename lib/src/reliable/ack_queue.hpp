// What ties an at-least-once delivery to its handler and back: the metadata that travels with a delivery to
// the dispatcher, and the queue of decisions (acknowledge, nak, in progress) that travels back to the I/O
// thread, from the dispatcher or from any thread that acknowledges by hand.
#pragma once

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
  std::string publisher;  // the publisher's control endpoint
  std::uint32_t max_deliver = 0;
  std::vector<Item> items;
};

struct AckDecision {
  enum class Kind : std::uint8_t { kAck, kNak, kProgress };
  Kind kind = Kind::kAck;
  std::uint64_t subscription_id = 0;
  std::uint64_t session = 0;
  std::string publisher;
  std::uint64_t dseq = 0;
  std::uint32_t attempt = 0;
  std::uint32_t delay_ms = 0;  // kNak
  std::string reason;          // kNak
};

class AckQueue {
 public:
  void push(AckDecision decision) {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(decision));
  }
  void push(std::vector<AckDecision>& decisions) {
    std::lock_guard lock(mutex_);
    for (auto& d : decisions) pending_.push_back(std::move(d));
    decisions.clear();
  }
  // Moves everything queued into `out` (which it clears first).
  void take(std::vector<AckDecision>& out) {
    out.clear();
    std::lock_guard lock(mutex_);
    out.swap(pending_);
  }
  [[nodiscard]] bool empty() const {
    std::lock_guard lock(mutex_);
    return pending_.empty();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<AckDecision> pending_;
};

}  // namespace weft::detail
