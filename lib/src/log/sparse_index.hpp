// A segment's sparse index, in memory: one entry per index_interval_bytes of records, each giving a record's
// offset (relative to the segment's base), its byte position in the .log file and its timestamp. A lookup
// gives the position to start scanning from; the scan reads at most about one interval of records it skips.
// Not thread-safe: the Log guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace weft::detail::log {

struct IndexEntry {
  std::uint32_t relative_offset = 0;
  std::uint32_t position = 0;
  std::int64_t timestamp = 0;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

class SparseIndex {
 public:
  explicit SparseIndex(std::size_t interval_bytes) : interval_bytes_(interval_bytes) {}
  SparseIndex(std::size_t interval_bytes, std::vector<IndexEntry> entries)
      : interval_bytes_(interval_bytes), entries_(std::move(entries)) {}

  // Called for every record of the segment in order (appended, or met while rebuilding). Adds an entry for
  // the record when at least interval_bytes of records lie between it and the previous entry (or the start
  // of the segment, which needs no entry).
  void on_record(std::uint32_t relative_offset, std::uint32_t position, std::int64_t timestamp,
                 std::size_t record_bytes);

  // The entry with the greatest relative offset <= `relative_offset`; nullopt means "scan from the start".
  [[nodiscard]] std::optional<IndexEntry> floor_offset(std::uint32_t relative_offset) const;

  // The last entry whose timestamp is before `timestamp`. Timestamps in a segment never decrease, so every
  // record before that entry is earlier too, and the first record at or after `timestamp` lies past it.
  // nullopt means "scan from the start".
  [[nodiscard]] std::optional<IndexEntry> last_before_time(std::int64_t timestamp) const;

  [[nodiscard]] const std::vector<IndexEntry>& entries() const noexcept { return entries_; }
  [[nodiscard]] std::size_t interval_bytes() const noexcept { return interval_bytes_; }

 private:
  std::size_t interval_bytes_;
  std::vector<IndexEntry> entries_;
  std::size_t bytes_since_entry_ = 0;
};

}  // namespace weft::detail::log
