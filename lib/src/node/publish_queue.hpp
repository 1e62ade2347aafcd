// The queue from publishing threads (many) to the I/O thread (one): a bounded lock-free ring (Vyukov's
// bounded MPMC design, used with a single consumer), bounded in messages and in bytes.
//
// Each slot keeps its buffer between uses, so a steady stream of publications allocates nothing. A producer
// encodes straight into the slot it claimed.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>

#include "codec/envelope.hpp"
#include "weft/options.hpp"
#include "weft/status.hpp"

namespace weft::detail {

// How a queued message is to travel, beyond the publish/subscribe fan-out every message gets: what
// NodeCore hands to enqueue(), on its stack. The queue keeps it in a compact form (PublishItem::kind, timeout and
// the callback arrays beside the ring), not as is.
struct ReliableRequest {
  bool request = false;  // a request: to one member of a matching queue group, to no durable subscriber
  // Delivery::kPersistent: to weftd through the sidecar agent only, not on the publish/subscribe sockets.
  bool persistent = false;
  std::chrono::milliseconds timeout{30000};
  std::function<void(const Status&)> on_complete;
  std::function<void(const Status&, const PersistedAt&)> on_persisted;  // persistent only
};

enum class PublishKind : std::uint8_t {
  kBestEffort,
  kAtLeastOnce,
  kRequest,     // ReliableRequest::request
  kPersistent,  // ReliableRequest::persistent
};

// A queued message, in its slot. Only what every message needs is here, so that a slot is one cache line: the
// ring is written by the publisher and read by the I/O thread once per message, and at 192 bytes a slot (when
// the completion callbacks lived here, used or not) its 8,192 slots were 1.5 MiB of cold memory touched at
// every publish. The callbacks are in arrays beside the ring (PublishQueue), at the slot's index.
struct PublishItem {
  using Completion = std::function<void(const Status&)>;

  ByteBuffer bytes;  // the subject, then one envelope
  std::uint32_t subject_bytes = 0;
  PublishKind kind = PublishKind::kBestEffort;  // back to kBestEffort when the slot is popped
  std::chrono::milliseconds timeout{0};         // at least once and requests: the publish timeout
  // This slot's on_complete, in the queue's array of them; empty unless kind is another than kBestEffort. A
  // pointer set once, so that the I/O thread reaches it from the item alone.
  Completion* on_complete = nullptr;

  [[nodiscard]] std::string_view subject() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), subject_bytes};
  }
  [[nodiscard]] std::byte* envelope() noexcept { return bytes.data() + subject_bytes; }
  [[nodiscard]] std::size_t envelope_bytes() const noexcept { return bytes.size() - subject_bytes; }
  [[nodiscard]] bool reliable() const noexcept { return kind != PublishKind::kBestEffort; }
  [[nodiscard]] bool request() const noexcept { return kind == PublishKind::kRequest; }
  [[nodiscard]] bool persistent() const noexcept { return kind == PublishKind::kPersistent; }
};

class PublishQueue {
 public:
  using PersistedCallback = std::function<void(const Status&, const PersistedAt&)>;

  // A slot whose buffer grew past this is given its memory back after use, so one large message does not pin
  // memory in a slot for ever.
  static constexpr std::size_t kRetainedSlotBytes = 16 * 1024;

  PublishQueue(std::size_t max_messages, std::size_t max_bytes)
      : capacity_(std::bit_ceil(max_messages < 2 ? std::size_t{2} : max_messages)),
        mask_(capacity_ - 1),
        max_bytes_(max_bytes),
        slots_(std::make_unique<Slot[]>(capacity_)),
        on_complete_(std::make_unique<PublishItem::Completion[]>(capacity_)),
        on_persisted_(std::make_unique<PersistedCallback[]>(capacity_)) {
    for (std::size_t i = 0; i < capacity_; ++i) {
      slots_[i].sequence.store(i, std::memory_order_relaxed);
      slots_[i].item.on_complete = &on_complete_[i];
    }
  }
  PublishQueue(const PublishQueue&) = delete;
  PublishQueue& operator=(const PublishQueue&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t max_bytes() const noexcept { return max_bytes_; }

  // Producer. Claims a slot for `bytes` bytes and calls fill(PublishItem&) to write it. False when the queue is
  // full in messages or in bytes; nothing is written then. A message larger than the byte bound is taken only
  // into an empty queue, so the bound is exceeded by at most that one message.
  template <typename Fill>
  bool try_push(std::size_t bytes, Fill&& fill) {
    std::size_t before = bytes_.fetch_add(bytes, std::memory_order_relaxed);
    if (before + bytes > max_bytes_ && before != 0) {
      bytes_.fetch_sub(bytes, std::memory_order_relaxed);
      return false;
    }
    std::uint64_t position = tail_.load(std::memory_order_relaxed);
    Slot* slot = nullptr;
    while (true) {
      slot = &slots_[position & mask_];
      std::uint64_t sequence = slot->sequence.load(std::memory_order_acquire);
      auto diff = static_cast<std::int64_t>(sequence - position);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        bytes_.fetch_sub(bytes, std::memory_order_relaxed);
        return false;  // full
      } else {
        position = tail_.load(std::memory_order_relaxed);
      }
    }
    slot->bytes_reserved = bytes;
    fill(slot->item);
    slot->sequence.store(position + 1, std::memory_order_release);
    return true;
  }

  // Producer, inside fill: makes the item an at-least-once, request or persistent one, taking the callbacks.
  void set_request(PublishItem& item, ReliableRequest&& request) noexcept {
    item.kind = request.persistent ? PublishKind::kPersistent
                : request.request  ? PublishKind::kRequest
                                   : PublishKind::kAtLeastOnce;
    item.timeout = request.timeout;
    *item.on_complete = std::move(request.on_complete);
    if (request.persistent) on_persisted(item) = std::move(request.on_persisted);
  }

  // The item's on_persisted (persistent items only; empty for the others).
  [[nodiscard]] PersistedCallback& on_persisted(const PublishItem& item) noexcept {
    return on_persisted_[static_cast<std::size_t>(item.on_complete - on_complete_.get())];
  }

  // Consumer. The item at the head, or null when there is none (or the next one is still being written).
  [[nodiscard]] PublishItem* front() noexcept { return peek(0); }

  // Consumer. The item `ahead` places behind the head, for a look ahead while building a batch.
  [[nodiscard]] PublishItem* peek(std::size_t ahead) noexcept {
    std::uint64_t position = head_ + ahead;
    Slot& slot = slots_[position & mask_];
    if (slot.sequence.load(std::memory_order_acquire) != position + 1) return nullptr;
    return &slot.item;
  }

  // Consumer. Frees the `count` slots at the head (as many as front()/peek() showed). Their bytes go back with
  // one atomic subtraction, not one per message: a locked instruction waits for every store before it, and a batch's
  // slots and buffers are cold memory.
  void pop(std::size_t count = 1) noexcept {
    std::size_t released = 0;
    for (std::size_t i = 0; i < count; ++i) {
      Slot& slot = slots_[head_ & mask_];
      if (slot.item.bytes.capacity() > kRetainedSlotBytes) {
        ByteBuffer().swap(slot.item.bytes);
      }
      if (slot.item.kind != PublishKind::kBestEffort) {
        // Whatever the consumer did not take (a message discarded at close) goes now, as it would with the slot.
        *slot.item.on_complete = nullptr;
        if (slot.item.kind == PublishKind::kPersistent) on_persisted(slot.item) = nullptr;
        slot.item.kind = PublishKind::kBestEffort;
      }
      released += slot.bytes_reserved;
      slot.sequence.store(head_ + capacity_, std::memory_order_release);
      ++head_;
    }
    // After the slots: until here a producer may find the queue full in bytes by what this batch held, a few
    // instructions longer than before. The bound stays a bound.
    bytes_.fetch_sub(released, std::memory_order_relaxed);
    popped_.store(head_, std::memory_order_release);
  }

  // Messages pushed and popped so far; a flush waits for popped to reach the pushed count it saw.
  [[nodiscard]] std::uint64_t pushed() const noexcept { return tail_.load(std::memory_order_acquire); }
  [[nodiscard]] std::uint64_t popped() const noexcept { return popped_.load(std::memory_order_acquire); }
  [[nodiscard]] bool empty() const noexcept { return popped() == pushed(); }

  // Producer, blocking policy: waits until something was popped since `popped_before` (read before the failed
  // try_push) or the deadline passes.
  // `give_up()` ends the wait early (the node closed); it is checked whenever the waiter wakes.
  template <typename Clock, typename Duration, typename GiveUp>
  void wait_for_room(std::uint64_t popped_before, std::chrono::time_point<Clock, Duration> deadline,
                     GiveUp give_up) {
    std::unique_lock lock(room_mutex_);
    room_waiters_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    room_cv_.wait_until(lock, deadline, [&] { return popped() != popped_before || give_up(); });
    room_waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Producer: waits while `count` messages or more are queued (pushed and not yet popped), for at most
  // `timeout` or until give_up(). For a producer that gains nothing by running further ahead of the consumer.
  // True once fewer are queued; reads no clock unless it waits.
  template <typename GiveUp>
  bool wait_while_queued(std::uint64_t count, std::chrono::milliseconds timeout, GiveUp give_up) {
    std::uint64_t popped_before = popped();
    if (pushed() - popped_before < count) return true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!give_up() && std::chrono::steady_clock::now() < deadline) {
      wait_for_room(popped_before, deadline, give_up);
      popped_before = popped();
      if (pushed() - popped_before < count) return true;
    }
    return false;
  }

  // Wakes every producer waiting for room, so that it can see that the node closed.
  void wake_all_waiters() {
    std::lock_guard lock(room_mutex_);
    room_cv_.notify_all();
  }

  // Consumer: after popping, wakes producers waiting for room (cheap when there are none).
  void notify_room() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (room_waiters_.load(std::memory_order_seq_cst) == 0) return;
    std::lock_guard lock(room_mutex_);
    room_cv_.notify_all();
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> sequence{0};
    std::size_t bytes_reserved = 0;
    PublishItem item;
  };
  // One cache line: see PublishItem.
  static_assert(sizeof(Slot) == 64);

  const std::size_t capacity_;
  const std::size_t mask_;
  const std::size_t max_bytes_;
  std::unique_ptr<Slot[]> slots_;
  // The slots' callbacks, by slot index. Apart, so that a message touches only the ones it uses: a best-effort
  // message neither, an at-least-once one 32 dense bytes of on_complete_, on_persisted_ only a persistent one.
  std::unique_ptr<PublishItem::Completion[]> on_complete_;
  std::unique_ptr<PersistedCallback[]> on_persisted_;
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  alignas(64) std::atomic<std::size_t> bytes_{0};
  alignas(64) std::uint64_t head_ = 0;  // consumer only
  std::atomic<std::uint64_t> popped_{0};
  std::atomic<int> room_waiters_{0};
  std::mutex room_mutex_;
  std::condition_variable room_cv_;
};

}  // namespace weft::detail
