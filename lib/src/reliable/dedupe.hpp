// Suppresses duplicates of at-least-once messages a subscription already handled: by the publisher's stream and
// sequence within a sliding window, and by an application idempotency key within a time window. Bounded in
// memory; a message too old for the windows is handed over (at least once allows a duplicate, never a loss).
// Used under the subscription's call lock, so not thread-safe on its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "reliable/sequence_window.hpp"
#include "util/clock.hpp"

namespace weft::detail {

class Deduper {
 public:
  static constexpr std::uint64_t kWindow = SequenceWindow::kSize;  // sequences remembered per stream
  static constexpr std::size_t kMaxStreams = 1024;
  static constexpr std::size_t kMaxKeys = 100000;

  explicit Deduper(std::chrono::milliseconds key_window) : key_window_(key_window) {}

  // True if (stream, sequence) was handled already.
  [[nodiscard]] bool seen(std::uint64_t stream, std::uint64_t sequence) const;
  void remember(std::uint64_t stream, std::uint64_t sequence);

  // True if the key was handled within the window (as of `now`).
  [[nodiscard]] bool seen_key(std::string_view key, Clock::TimePoint now) const;
  void remember_key(std::string_view key, Clock::TimePoint now);

 private:
  struct Window {
    SequenceWindow seen;
    std::uint64_t last_use = 0;
  };
  std::unordered_map<std::uint64_t, Window> streams_;
  std::uint64_t uses_ = 0;
  std::chrono::milliseconds key_window_;
  std::unordered_map<std::string, Clock::TimePoint> keys_;
  std::deque<std::pair<Clock::TimePoint, std::string>> key_order_;
};

}  // namespace weft::detail
