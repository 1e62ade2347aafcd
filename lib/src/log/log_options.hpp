// How one stream's log behaves: segment rolling, fsync policy, indexing and retention. One struct, documented
// defaults; weftd's config file and flags fill it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "weft/status.hpp"

namespace weft::detail::log {

enum class FsyncPolicy {
  // Group commit with no delay: every append is acknowledged only after an fsync that covers it; one fsync
  // (run by the next do_work) covers every append waiting for it.
  kEveryWrite,
  // Group commit on a timer: appends are acknowledged once written; an fsync runs once the oldest record no
  // fsync covers has waited fsync_interval, and covers every record written by then. A process crash loses
  // nothing; a power loss can lose what was acknowledged within that window.
  kInterval,
  // No fsync for appends (the kernel writes back when it likes). Appends are acknowledged once written to
  // the page cache: safe against a process crash, not against a power loss.
  kOs,
};

struct LogOptions {
  // A new segment starts when an append would take the active one past this size (an append larger than
  // this gets a segment of its own). At most kMaxSegmentBytes.
  std::uint64_t segment_bytes = 64ULL << 20;
  // ... or when an append's timestamp is this much later than the first record of the active segment.
  std::chrono::nanoseconds segment_max_age = std::chrono::hours(24);

  FsyncPolicy fsync_policy = FsyncPolicy::kInterval;
  // The group-commit window of FsyncPolicy::kInterval.
  std::chrono::nanoseconds fsync_interval = std::chrono::milliseconds(5);

  // Bytes of records between two entries of the sparse indexes. A read skips at most about this much.
  std::size_t index_interval_bytes = 4096;
  // The largest record an append takes, in bytes on disk (32-byte header + key + value); at most 64 MiB, the
  // format's limit. Readers accept any record up to the format's limit, so lowering this is always safe.
  std::uint32_t max_record_bytes = 16U << 20;

  // Retention, applied by Log::apply_retention(), by whole sealed segments. 0 means no limit.
  std::uint64_t retention_bytes = 0;
  std::chrono::nanoseconds retention_age = std::chrono::hours(24 * 7);

  // Compaction (Log::compact(), when the stream asks for it): a tombstone is removed too once it is older
  // than this, so that every reader had that long to see the deletion.
  std::chrono::nanoseconds tombstone_retention = std::chrono::hours(24);

  // Recovery always checks the last segment record by record. With this set it also reads every sealed
  // segment whole on open and reports any damage (slower: the whole stream is read).
  bool check_all_segments_on_open = false;

  // Create the directory and an empty first segment when the stream has none; otherwise kNotFound.
  bool create_if_missing = true;

  // Open for reading only (`weft log ls|dump|verify` on a stream's directory, even while weftd runs): the
  // open writes nothing, ever. No directory or segment is created (create_if_missing is ignored), a torn tail
  // is reported (RecoveryReport::truncated, `read_only` set) but not cut, index files are neither rewritten
  // nor removed, nothing is fsynced, and append(), sync() and apply_retention() return kInvalidArgument. Reads
  // stop at the last whole record, as they would after recovery.
  bool read_only = false;

  // kInvalidArgument naming the first bad field.
  [[nodiscard]] Status validate() const;
};

}  // namespace weft::detail::log
