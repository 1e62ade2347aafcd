// Which segments retention deletes: a pure decision over the segments' summaries, so the rules are tested
// without files. Deletion is by whole segments, oldest first, and never touches the active (last) segment.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "log/index_file.hpp"

namespace weft::detail::log {

struct RetentionLimits {
  std::uint64_t max_bytes = 0;          // 0: no limit
  std::chrono::nanoseconds max_age{0};  // 0: no limit
};

// How many segments, from the front of `segments` (oldest first, the last one active), to delete so that:
//  - no remaining sealed segment's newest record is older than now_ns - max_age, and
//  - the remaining segments' .log files total at most max_bytes, or only the active segment remains.
// A segment is only deletable if every record in it is below `acknowledged_end` (a reader may still be owed
// it otherwise), and deletions stay contiguous from the oldest.
[[nodiscard]] std::size_t plan_retention(std::span<const SegmentSummary> segments, const RetentionLimits& limits,
                                         std::int64_t now_ns, std::uint64_t acknowledged_end);

}  // namespace weft::detail::log
