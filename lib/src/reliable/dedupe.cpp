#include "reliable/dedupe.hpp"

#include <algorithm>

namespace weft::detail {

bool Deduper::seen(std::uint64_t stream, std::uint64_t sequence) const {
  auto it = streams_.find(stream);
  if (it == streams_.end() || sequence == 0) return false;
  const Window& w = it->second;
  if (sequence > w.highest) return false;
  if (w.highest - sequence >= kWindow) return false;  // too old to know: hand it over
  return w.bits.test(sequence % kWindow);
}

void Deduper::remember(std::uint64_t stream, std::uint64_t sequence) {
  if (sequence == 0) return;
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    if (streams_.size() >= kMaxStreams) {
      // Forget the stream unused the longest: its duplicates, if any, are handed over.
      auto oldest = std::min_element(streams_.begin(), streams_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
      streams_.erase(oldest);
    }
    it = streams_.emplace(stream, Window{}).first;
  }
  Window& w = it->second;
  w.last_use = ++uses_;
  if (sequence > w.highest) {
    // Slide the window forward, clearing the bits of the sequences it leaves behind.
    std::uint64_t advance = sequence - w.highest;
    if (advance >= kWindow || w.highest == 0) {
      w.bits.reset();
    } else {
      for (std::uint64_t s = w.highest + 1; s <= sequence; ++s) w.bits.reset(s % kWindow);
    }
    w.highest = sequence;
  } else if (w.highest - sequence >= kWindow) {
    return;
  }
  w.bits.set(sequence % kWindow);
}

bool Deduper::seen_key(std::string_view key, Clock::TimePoint now) const {
  auto it = keys_.find(std::string(key));
  return it != keys_.end() && now - it->second < key_window_;
}

void Deduper::remember_key(std::string_view key, Clock::TimePoint now) {
  while (!key_order_.empty() && (now - key_order_.front().first >= key_window_ || keys_.size() >= kMaxKeys)) {
    auto& [when, old] = key_order_.front();
    auto it = keys_.find(old);
    if (it != keys_.end() && it->second == when) keys_.erase(it);
    key_order_.pop_front();
  }
  keys_[std::string(key)] = now;
  key_order_.emplace_back(now, std::string(key));
}

}  // namespace weft::detail
