#include "log/retention.hpp"

#include <limits>

namespace weft::detail::log {

std::size_t plan_retention(std::span<const SegmentSummary> segments, const RetentionLimits& limits, std::int64_t now_ns,
                           std::uint64_t acknowledged_end) {
  if (segments.size() <= 1) return 0;
  std::uint64_t total = 0;
  for (const SegmentSummary& s : segments) total += s.size_bytes;

  const auto age = limits.max_age.count();
  const bool age_limited = age > 0;
  const std::int64_t cutoff = age_limited && now_ns > std::numeric_limits<std::int64_t>::min() + age
                                  ? now_ns - age
                                  : std::numeric_limits<std::int64_t>::min();
  std::size_t count = 0;
  while (count + 1 < segments.size()) {
    const SegmentSummary& s = segments[count];
    if (s.next_offset > acknowledged_end) break;
    const bool empty = s.next_offset == s.base_offset;
    const bool too_old = age_limited && (empty || s.last_timestamp < cutoff);
    const bool too_big = limits.max_bytes > 0 && total > limits.max_bytes;
    if (!too_old && !too_big) break;
    total -= s.size_bytes;
    ++count;
  }
  return count;
}

}  // namespace weft::detail::log
