// Values keyed by a sequence number that grows by one at a time: the outbox's entries by message sequence and
// a consumer's deliveries by delivery sequence. Most are added in order and leave roughly in order, so they
// live in a ring of slots indexed by the key: a lookup is an index, not a tree walk or a hash, and a slot's
// value is recycled rather than freed, so that its buffers' memory serves the next key that lands there.
//
// Memory stays proportional to what is live, not to the distance between the oldest and newest keys: when a
// few old keys linger (a message a slow consumer holds while the rest flow past) and the ring would have to
// grow to more than four times what is live, the oldest live values move to a side table (a hash map) instead.
// Keys below the ring's start (rare: restored from disk after newer ones) go to the side table too.
//
// Not thread-safe. References returned stay valid until the next emplace() (which may move values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weft::detail {

template <typename T>
class SequenceSlots {
 public:
  static constexpr std::size_t kMinSlots = 1024;

  [[nodiscard]] std::size_t size() const noexcept { return live_ + aside_.size(); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  [[nodiscard]] T* find(std::uint64_t key) noexcept {
    if (key >= base_ && key - base_ < span_) {
      Slot& slot = slots_[index(key)];
      return slot.live ? &slot.value : nullptr;
    }
    if (aside_.empty()) return nullptr;
    auto it = aside_.find(key);
    return it == aside_.end() ? nullptr : &it->second;
  }

  // Adds `key`, which must not be present, with a value in its recycled state; returns it for the caller to fill.
  T& emplace(std::uint64_t key) {
    if (live_ == 0 && key >= base_) {
      // Nothing live in the ring: it may start anywhere at or after its old start (every slot there is dead).
      base_ = key;
      span_ = 0;
    }
    if (key < base_) return aside_[key];
    if (key - base_ >= slots_.size()) make_room(key);  // keeps base_ <= key
    Slot& slot = slots_[index(key)];
    slot.live = true;
    ++live_;
    span_ = std::max<std::size_t>(span_, static_cast<std::size_t>(key - base_) + 1);
    return slot.value;
  }

  // Removes `key` (if present); its value is recycled, keeping its memory for the next.
  void erase(std::uint64_t key) {
    if (key >= base_ && key - base_ < span_) {
      Slot& slot = slots_[index(key)];
      if (!slot.live) return;
      slot.live = false;
      slot.value.recycle();
      --live_;
      trim();
      return;
    }
    aside_.erase(key);
  }

  // Calls f(key, value) for every live value: the side table's first (in no order), then the ring's in key order.
  // f must not add or remove values.
  template <typename F>
  void for_each(F&& f) {
    for (auto& [key, value] : aside_) f(key, value);
    for (std::size_t i = 0; i < span_; ++i) {
      Slot& slot = slots_[index(base_ + i)];
      if (slot.live) f(base_ + i, slot.value);
    }
  }

  // The lowest live key, if any (a walk over the side table, which is small, then the ring's start).
  [[nodiscard]] std::pair<bool, std::uint64_t> lowest() const {
    bool found = false;
    std::uint64_t lowest = 0;
    for (const auto& [key, value] : aside_) {
      if (!found || key < lowest) lowest = key;
      found = true;
    }
    if (live_ > 0 && (!found || base_ < lowest)) return {true, base_};
    return {found, lowest};
  }

  void clear() {
    for (auto& slot : slots_) {
      if (slot.live) slot.value.recycle();
      slot.live = false;
    }
    live_ = 0;
    span_ = 0;
    aside_.clear();
  }

 private:
  struct Slot {
    T value;
    bool live = false;
  };

  [[nodiscard]] std::size_t index(std::uint64_t key) const noexcept {
    return static_cast<std::size_t>(key) & (slots_.size() - 1);
  }

  // The ring starts at its oldest live key.
  void trim() noexcept {
    while (span_ > 0 && !slots_[index(base_)].live) {
      ++base_;
      --span_;
    }
  }

  // Makes the ring hold `key`: grows it while that keeps it at least a quarter live; otherwise moves the
  // oldest live values aside until it fits.
  void make_room(std::uint64_t key) {
    const std::size_t limit = std::max(kMinSlots, 4 * (live_ + 1));
    while (live_ > 0 && key - base_ >= limit) {
      Slot& oldest = slots_[index(base_)];
      if (oldest.live) {
        aside_.emplace(base_, std::move(oldest.value));
        oldest.value.recycle();
        oldest.live = false;
        --live_;
      }
      ++base_;
      --span_;
    }
    trim();
    if (live_ == 0) {
      base_ = key;
      span_ = 0;
    }
    std::size_t wanted = slots_.empty() ? kMinSlots : slots_.size();
    while (key - base_ >= wanted) wanted *= 2;
    if (wanted == slots_.size()) return;
    std::vector<Slot> grown(wanted);
    for (std::size_t i = 0; i < span_; ++i) {
      Slot& from = slots_[index(base_ + i)];
      Slot& to = grown[static_cast<std::size_t>(base_ + i) & (wanted - 1)];
      to.value = std::move(from.value);
      to.live = from.live;
    }
    slots_ = std::move(grown);
  }

  std::vector<Slot> slots_;  // a power of two in size; keys base_ .. base_ + span_ - 1 live in it (or are dead)
  std::uint64_t base_ = 0;
  std::size_t span_ = 0;
  std::size_t live_ = 0;     // live values in the ring
  std::unordered_map<std::uint64_t, T> aside_;
};

}  // namespace weft::detail
