#include "log/sparse_index.hpp"

#include <algorithm>

namespace weft::detail::log {

void SparseIndex::on_record(std::uint32_t relative_offset, std::uint32_t position, std::int64_t timestamp,
                            std::size_t record_bytes) {
  if (bytes_since_entry_ >= interval_bytes_) {
    entries_.push_back({relative_offset, position, timestamp});
    bytes_since_entry_ = 0;
  }
  bytes_since_entry_ += record_bytes;
}

std::optional<IndexEntry> SparseIndex::floor_offset(std::uint32_t relative_offset) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), relative_offset,
                             [](std::uint32_t value, const IndexEntry& e) { return value < e.relative_offset; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

std::optional<IndexEntry> SparseIndex::last_before_time(std::int64_t timestamp) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), timestamp,
                             [](const IndexEntry& e, std::int64_t value) { return e.timestamp < value; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

}  // namespace weft::detail::log
