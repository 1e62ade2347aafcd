// The .index and .timeindex files of a sealed segment (layout in log_format.hpp and docs/log-format.md).
// They are a cache: written once when a segment is sealed, checked whole on open (footer checksum, and every
// entry against the footer), and rebuilt from the .log file when missing or damaged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "log/sparse_index.hpp"
#include "weft/status.hpp"

namespace weft::detail::log {

// What a segment's files say about it; the footer of both index files repeats it.
struct SegmentSummary {
  std::uint64_t base_offset = 0;
  std::uint64_t next_offset = 0;  // one past the last record; == base_offset when the segment is empty
  std::uint64_t size_bytes = 0;   // of the .log file, header included
  std::int64_t first_timestamp = 0;
  std::int64_t last_timestamp = 0;
  friend bool operator==(const SegmentSummary&, const SegmentSummary&) = default;
};

[[nodiscard]] std::vector<std::byte> encode_offset_index(const SegmentSummary& summary,
                                                         const std::vector<IndexEntry>& entries);
[[nodiscard]] std::vector<std::byte> encode_time_index(const SegmentSummary& summary,
                                                       const std::vector<IndexEntry>& entries);

struct LoadedIndex {
  SegmentSummary summary;
  std::vector<IndexEntry> entries;
};

// Decodes and cross-checks both files of the segment with base offset `base_offset`. kCorruption, with the
// reason, if either is damaged, they disagree, or an entry is impossible (out of order, out of range).
[[nodiscard]] Result<LoadedIndex> decode_index_files(std::span<const std::byte> offset_index,
                                                     std::span<const std::byte> time_index, std::uint64_t base_offset);

}  // namespace weft::detail::log
