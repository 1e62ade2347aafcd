// A stream's durable log: a directory of segments (docs/log-format.md). The piece weftd's appender and its
// readers stand on.
//
//   auto log = Log::open(fs, clock, "/var/lib/weft/streams/orders", options);   // recovers the directory
//   log->append(records, timestamp_ns, [](const Status& s, const AppendResult& r) { ... ack or fail ... });
//   log->do_work(clock.now());             // group commit: fsyncs when due, then runs the callbacks
//   log->read(offset, 1 << 20);            // any thread, any pace; sees acknowledged records only
//
// Threading: every method is safe to call from any thread. Appends are serialised among themselves; fsyncs
// run without holding the lock that readers and appenders take, so neither waits for the disk (an append
// that rolls the segment does wait for the two fsyncs of a roll: the sealed segment and the directory).
// Durability callbacks run on the thread that calls do_work(), sync() or stop(), with no lock held, and never
// inside append().
//
// Failure: a failed fsync (EIO, ENOSPC) puts the log in a failed state for good: every waiting callback gets
// the failure, append() and sync() return it, do_work() stops, and no fsync is ever retried (after a failed
// fsync the kernel may have dropped the data and a retry could succeed over the hole). Reads keep serving
// the records acknowledged before. Only reopening the log (recovery) clears the state.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "log/file_system.hpp"
#include "log/group_commit.hpp"
#include "log/log_options.hpp"
#include "log/recovery.hpp"
#include "log/segment.hpp"
#include "util/clock.hpp"

namespace weft::detail::log {

// One record as read back. The spans point into the ReadBatch that holds it.
struct LogRecord {
  std::uint64_t offset = 0;
  std::int64_t timestamp = 0;
  std::optional<std::span<const std::byte>> key;
  std::span<const std::byte> value;
};

// The records one read() returned, and where the next read should start. Move-only: it owns their bytes.
class ReadBatch {
 public:
  ReadBatch() = default;
  ReadBatch(ReadBatch&&) noexcept = default;
  ReadBatch& operator=(ReadBatch&&) noexcept = default;
  ReadBatch(const ReadBatch&) = delete;
  ReadBatch& operator=(const ReadBatch&) = delete;

  [[nodiscard]] const std::vector<LogRecord>& records() const noexcept { return records_; }
  [[nodiscard]] bool empty() const noexcept { return records_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return records_.size(); }
  [[nodiscard]] std::uint64_t next_offset() const noexcept { return next_offset_; }

 private:
  friend class Log;
  std::vector<std::byte> storage_;
  std::vector<LogRecord> records_;
  std::uint64_t next_offset_ = 0;
};

struct LogStats {
  std::uint64_t appends = 0;
  std::uint64_t records_appended = 0;
  std::uint64_t bytes_appended = 0;
  std::uint64_t records_acknowledged = 0;  // since open
  std::uint64_t fsyncs = 0;
  std::uint64_t fsync_failures = 0;
  std::uint64_t write_failures = 0;
  std::uint64_t segments_rolled = 0;
  std::uint64_t segments_deleted = 0;
  std::uint64_t bytes_deleted = 0;
  std::uint64_t corrupt_reads = 0;  // reads that returned kCorruption (damaged data, never served)
  std::uint64_t records_compacted = 0;  // removed by compact() since open
};

struct VerifyReport {
  Status status;  // ok, or the first problem met (kCorruption naming the offset)
  std::optional<std::uint64_t> first_bad_offset;
  std::vector<Damage> damage;
  std::uint64_t segments = 0;
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;
};

struct RetentionReport {
  std::size_t segments_deleted = 0;
  std::uint64_t bytes_deleted = 0;
  std::uint64_t first_offset = 0;  // the oldest offset left
};

struct CompactionReport {
  std::size_t segments_rewritten = 0;
  std::uint64_t records_removed = 0;  // by this run: superseded by a newer record of their key, or old tombstones
  std::uint64_t bytes_reclaimed = 0;
  std::vector<std::string> skipped;   // segments left as they were, and why (damage found in them)
};

class Log {
 public:
  // Opens (and recovers) the log in `dir`, creating it if options.create_if_missing. What recovery found is
  // in recovery_report(). Everything recovered is fsynced before open returns, so it is acknowledged.
  // With options.read_only nothing is written, cut or synced (LogOptions::read_only).
  static Result<std::unique_ptr<Log>> open(FileSystem& fs, const Clock& clock, std::string dir, LogOptions options);

  ~Log();  // stop(), ignoring its result
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends a batch: consecutive offsets, one timestamp (nanoseconds since the epoch, raised to the log's
  // latest timestamp if earlier, so timestamps never decrease). Written to the file before this returns;
  // acknowledged (readable, and `on_durable` called with ok) per the fsync policy by a later do_work().
  // kInvalidArgument for an empty or oversized batch; the sticky failure once the log has failed; kClosed
  // after stop(). A failed write is undone (the file truncated back) and returned; the log stays usable.
  Result<AppendResult> append(std::span<const RecordInput> records, std::int64_t timestamp_ns,
                              DurableCallback on_durable = {});

  // The group-commit step: if an fsync is due at `now`, runs it and the callbacks it covers. Returns the
  // number of appends acknowledged (or failed). Cheap when nothing is due.
  int do_work(Clock::TimePoint now);
  // When do_work() next has something to do; nullopt when nothing waits.
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline() const;
  // An fsync now, whatever the policy, covering everything appended so far; then the callbacks.
  Status sync();

  // Up to max_bytes of records (at least one, if any is readable) from `from_offset`, which must lie in
  // [first_offset(), next_offset()]. An empty batch when nothing is acknowledged past it yet. kNotFound
  // outside that range; kCorruption naming the offset when the records there are damaged (records before
  // the damage come back first, the error on the next read). Never blocks appends. Records compaction
  // removed are passed over, never returned: a batch may be empty while next_offset() moved on.
  Result<ReadBatch> read(std::uint64_t from_offset, std::size_t max_bytes) const;
  // The same records handed to `sink` one by one, without copying them: the spans are valid during the call
  // only. The sink returns false to stop before a record (it is not taken). Returns the offset the next read
  // starts at (`from_offset` if nothing was taken); errors as read()'s, only when no record was taken.
  using RecordSink = std::function<bool(const LogRecord&)>;
  Result<std::uint64_t> read_each(std::uint64_t from_offset, std::size_t max_bytes, const RecordSink& sink) const;
  // Where another process can read the acknowledged records from `from_offset` on, straight from a segment
  // file (a local consumer reading without a copy through weftd): the records [first_offset, end_offset) lie
  // in `path` between start_position and end_position, end_offset at most from_offset + max_records and never
  // past the segment or end_offset(). start_position is an index point at or before from_offset's record, so
  // the reader steps over records before first_offset. An empty range (end_offset == first_offset) when
  // nothing is acknowledged past it yet; kNotFound outside [first_offset(), next_offset()].
  struct FileRange {
    std::string path;
    std::uint64_t start_position = 0;
    std::uint64_t end_position = 0;
    std::uint64_t first_offset = 0;
    std::uint64_t end_offset = 0;
  };
  Result<FileRange> locate(std::uint64_t from_offset, std::uint64_t max_records) const;
  // The offset of the first acknowledged record with a timestamp >= timestamp_ns, or end_offset() if none.
  Result<std::uint64_t> find_offset_for_time(std::int64_t timestamp_ns) const;
  // The first offset after damage at or covering `offset`: where a reader can resume. `offset` itself if it
  // is readable.
  Result<std::uint64_t> skip_damage(std::uint64_t offset) const;

  [[nodiscard]] std::uint64_t first_offset() const;                // the oldest offset still stored
  [[nodiscard]] std::uint64_t end_offset() const;                  // one past the last acknowledged (readable) record
  [[nodiscard]] std::uint64_t next_offset() const;                 // the offset the next append gets
  [[nodiscard]] std::optional<std::uint64_t> last_offset() const;  // the last readable record, if any

  // Deletes whole sealed segments, oldest first, beyond options.retention_bytes / retention_age.
  Result<RetentionReport> apply_retention(std::int64_t now_ns);

  // Per-key compaction (compaction.cpp): in every sealed segment, a record with a key is removed when a newer
  // acknowledged record has the same key, and a tombstone once it is older than options.tombstone_retention
  // (timestamps against now_ns). A removed record keeps its offset and timestamp and loses its key and value
  // (kFlagRemoved), so offsets stay consecutive and reads pass over it. Records without a key are kept. Each
  // segment is rewritten beside the old one, synced, and renamed over it; readers of the old file finish
  // reading it. The active segment is never rewritten.
  Result<CompactionReport> compact(std::int64_t now_ns);

  // Reads every record of every segment, checks every checksum, the offsets' sequence and the indexes.
  [[nodiscard]] VerifyReport verify() const;

  [[nodiscard]] Status health() const;  // ok, or the failure that stopped the log
  [[nodiscard]] const RecoveryReport& recovery_report() const noexcept { return recovery_; }
  [[nodiscard]] LogStats stats() const;
  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
  [[nodiscard]] const LogOptions& options() const noexcept { return options_; }
  [[nodiscard]] std::size_t segment_count() const;
  [[nodiscard]] std::uint64_t size_bytes() const;  // of every segment file, headers included
  // What is known of each segment, oldest first (the last is the active one), and whether it is sealed.
  struct SegmentListing {
    SegmentSummary summary;
    bool sealed = false;
  };
  [[nodiscard]] std::vector<SegmentListing> segments() const;

  // Refuses new appends, fsyncs what is pending (unless failed) and runs the remaining callbacks. Waits for
  // the fsync. Idempotent.
  Status stop();

 private:
  Log(FileSystem& fs, const Clock& clock, std::string dir, LogOptions options, RecoveredLog recovered);

  Result<std::shared_ptr<Segment>> roll(const std::shared_ptr<Segment>& old, std::uint64_t base);
  // compaction.cpp: a sealed segment rewritten with the records `removed` picks turned into removed ones.
  Result<std::shared_ptr<Segment>> rewrite_segment(const Segment& old,
                                                   const std::function<bool(const RecordView&)>& removed,
                                                   CompactionReport& report);
  int sync_round(bool force);
  void fire(std::vector<GroupCommit::Waiter>& waiters, const Status& status) const;
  // Enters the failed state (the first failure is kept); the waiting callbacks move to failed_waiters_, to
  // run from the next do_work(), sync() or stop(). Requires mu_.
  Status fail(Status why);
  [[nodiscard]] Status read_only_error(std::string_view what) const;
  std::shared_ptr<Segment> segment_for(std::uint64_t offset) const;  // requires mu_; null if none

  FileSystem& fs_;
  const Clock& clock_;
  const std::string dir_;
  const LogOptions options_;
  const RecoveryReport recovery_;

  std::mutex append_mu_;                  // serialises append, roll, retention and stop
  std::mutex sync_mu_;                    // one fsync round at a time
  std::vector<std::byte> encode_buffer_;  // guarded by append_mu_
  std::vector<std::uint32_t> sizes_;      // guarded by append_mu_

  mutable std::mutex mu_;  // guards everything below; never held across an fsync
  std::vector<std::shared_ptr<Segment>> segments_;
  std::uint64_t written_end_ = 0;  // one past the last record written
  std::uint64_t synced_end_ = 0;   // one past the last record an fsync covered
  // kInterval: since when records are written (and acknowledged) that no fsync covers yet; the next fsync is
  // due fsync_interval after it.
  std::optional<Clock::TimePoint> unsynced_since_;
  std::uint64_t acked_end_ = 0;    // one past the last acknowledged record; readers stop here
  std::int64_t last_timestamp_ = 0;
  bool stopped_ = false;
  Status failure_;
  GroupCommit commit_;
  std::vector<GroupCommit::Waiter> failed_waiters_;
  std::uint64_t opened_end_ = 0;
  mutable LogStats stats_;
};

}  // namespace weft::detail::log
