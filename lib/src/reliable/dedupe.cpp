#include "reliable/dedupe.hpp"

#include <algorithm>

namespace weft::detail {

bool Deduper::seen(std::uint64_t stream, std::uint64_t sequence) const {
  auto it = streams_.find(stream);
  return it != streams_.end() && it->second.seen.contains(sequence);  // too old to know: handed over
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
  w.seen.mark(sequence);
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
