#include "log/log_options.hpp"

#include "log/log_format.hpp"

namespace weft::detail::log {

Status LogOptions::validate() const {
  if (segment_bytes < kSegmentHeaderSize + kRecordHeaderSize || segment_bytes > kMaxSegmentBytes) {
    return Status::invalid_argument("segment_bytes must lie in [" +
                                    std::to_string(kSegmentHeaderSize + kRecordHeaderSize) + ", " +
                                    std::to_string(kMaxSegmentBytes) + "]");
  }
  if (segment_max_age.count() < 0) return Status::invalid_argument("segment_max_age must not be negative");
  if (fsync_interval.count() < 0) return Status::invalid_argument("fsync_interval must not be negative");
  if (max_record_bytes < kRecordHeaderSize || max_record_bytes > kMaxRecordLength + kLengthFieldSize) {
    return Status::invalid_argument("max_record_bytes must lie in [" + std::to_string(kRecordHeaderSize) + ", " +
                                    std::to_string(kMaxRecordLength + kLengthFieldSize) + "]");
  }
  if (index_interval_bytes > kMaxSegmentBytes) return Status::invalid_argument("index_interval_bytes is too large");
  if (retention_age.count() < 0) return Status::invalid_argument("retention_age must not be negative");
  if (tombstone_retention.count() < 0) return Status::invalid_argument("tombstone_retention must not be negative");
  return Status::ok();
}

}  // namespace weft::detail::log
