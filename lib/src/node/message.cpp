#include "weft/message.hpp"

#include <algorithm>

namespace weft {

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> entries) {
  for (const auto& [key, value] : entries) set(key, value);
}

void Headers::set(std::string_view key, std::string_view value) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == key; });
  if (it != entries_.end()) {
    it->second = value;
    return;
  }
  entries_.emplace_back(key, value);
}

std::optional<std::string_view> Headers::get(std::string_view key) const noexcept {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

bool Headers::erase(std::string_view key) noexcept {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == key; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

std::optional<std::string_view> HeadersView::get(std::string_view key) const noexcept {
  for (const auto& h : entries_) {
    if (h.key == key) return h.value;
  }
  return std::nullopt;
}

Headers HeadersView::to_owned() const {
  Headers owned;
  for (const auto& h : entries_) owned.set(h.key, h.value);
  return owned;
}

OwnedMessage Message::to_owned() const {
  OwnedMessage owned;
  owned.subject = std::string(subject_);
  owned.payload.assign(payload_.begin(), payload_.end());
  owned.headers = headers_.to_owned();
  owned.id = id_;
  owned.timestamp_ns = timestamp_ns_;
  return owned;
}

}  // namespace weft
