// The write side of Log: open, append, segment rolls, group commit, retention, stop. The read side is in
// log_read.cpp.
#include "log/log.hpp"

#include <algorithm>
#include <limits>

#include "log/log_format.hpp"
#include "log/retention.hpp"

namespace weft::detail::log {

Result<std::unique_ptr<Log>> Log::open(FileSystem& fs, const Clock& clock, std::string dir, LogOptions options) {
  if (Status s = options.validate(); !s) return s;
  const std::string context = "while opening the log in '" + dir + "'";
  auto recovered = recover_log(fs, dir, options);
  if (!recovered) return recovered.status().with_context(context);
  if (options.read_only) return std::unique_ptr<Log>(new Log(fs, clock, std::move(dir), options, std::move(*recovered)));
  // What recovery found may live only in the page cache (the last process crashed before its fsync), and a
  // tail it cut must stay cut: make both durable before anyone reads the records as acknowledged.
  if (Status s = recovered->segments.back()->file()->sync(); !s) return s.with_context(context);
  if (Status s = fs.sync_dir(dir); !s) return s.with_context(context);
  return std::unique_ptr<Log>(new Log(fs, clock, std::move(dir), options, std::move(*recovered)));
}

Log::Log(FileSystem& fs, const Clock& clock, std::string dir, LogOptions options, RecoveredLog recovered)
    : fs_(fs),
      clock_(clock),
      dir_(std::move(dir)),
      options_(options),
      recovery_(std::move(recovered.report)),
      segments_(std::move(recovered.segments)) {
  opened_end_ = written_end_ = synced_end_ = acked_end_ = segments_.back()->summary().next_offset;
  last_timestamp_ = std::numeric_limits<std::int64_t>::min();
  for (const auto& segment : segments_) {
    if (!segment->empty()) last_timestamp_ = std::max(last_timestamp_, segment->summary().last_timestamp);
  }
}

Log::~Log() {
  (void)stop();
}

Result<AppendResult> Log::append(std::span<const RecordInput> records, std::int64_t timestamp_ns,
                                 DurableCallback on_durable) {
  if (options_.read_only) return read_only_error("append to");
  if (records.empty()) return Status::invalid_argument("an append needs at least one record");
  std::uint64_t batch_bytes = 0;
  for (const RecordInput& record : records) {
    const std::size_t size = encoded_size(record);
    if (size == 0 || size > options_.max_record_bytes) {
      return Status::invalid_argument("a record of " + std::to_string(record.value.size()) + " value bytes (key " +
                                      std::to_string(record.key ? record.key->size() : 0) +
                                      " bytes) exceeds the record limit of " +
                                      std::to_string(options_.max_record_bytes) + " bytes");
    }
    batch_bytes += size;
  }
  if (batch_bytes > kMaxBatchBytes) return Status::invalid_argument("an append may hold at most 1 GiB");

  std::lock_guard append_lock(append_mu_);
  std::shared_ptr<Segment> active;
  std::uint64_t first = 0;
  std::int64_t stamp = 0;
  bool roll_now = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return Status::closed("the log in '" + dir_ + "' is stopped");
    if (!failure_.is_ok()) return failure_;
    active = segments_.back();
    first = written_end_;
    stamp = std::max(timestamp_ns, last_timestamp_);
    const SegmentSummary& s = active->summary();
    const auto age = options_.segment_max_age.count();
    const bool too_old = age > 0 && s.first_timestamp <= std::numeric_limits<std::int64_t>::max() - age &&
                         stamp >= s.first_timestamp + age;
    roll_now = !active->empty() && (s.size_bytes + batch_bytes > options_.segment_bytes || too_old);
  }
  if (roll_now) {
    auto rolled = roll(active, first);
    if (!rolled) return rolled.status();
    active = std::move(*rolled);
  }

  encode_buffer_.clear();
  sizes_.clear();
  encode_batch(records, first, stamp, encode_buffer_, sizes_);
  const std::uint64_t size_before = active->summary().size_bytes;  // only this thread changes it
  if (Status s = active->file()->append(encode_buffer_); !s) {
    Status undo = active->file()->truncate(size_before);
    {
      std::lock_guard lock(mu_);
      ++stats_.write_failures;
      // If the partial write cannot be undone, the next record would land behind garbage: stop here.
      if (!undo) {
        (void)fail(
            s.with_context("while appending (and the partial write could not be undone: " + undo.to_string() + ")"));
      }
    }
    return s.with_context("while appending to segment " + file_name(active->base_offset(), FileKind::kSegment));
  }

  const AppendResult result{first, first + records.size() - 1};
  std::lock_guard lock(mu_);
  active->on_appended(stamp, sizes_);
  written_end_ = result.last_offset + 1;
  last_timestamp_ = stamp;
  ++stats_.appends;
  stats_.records_appended += records.size();
  stats_.bytes_appended += encode_buffer_.size();
  const Clock::TimePoint now = clock_.now();
  if (options_.fsync_policy != FsyncPolicy::kEveryWrite) acked_end_ = written_end_;
  if (options_.fsync_policy == FsyncPolicy::kInterval && !unsynced_since_) unsynced_since_ = now;
  commit_.add(result, now, std::move(on_durable));
  return result;
}

Result<std::shared_ptr<Segment>> Log::roll(const std::shared_ptr<Segment>& old, std::uint64_t base) {
  // Whatever the fsync policy, a sealed segment is durable, and so is its successor's directory entry, before
  // the successor takes a record. Then only the last segment can ever hold a torn tail (recovery checks only
  // that one record by record), and a power loss never takes a sealed segment. It costs two fsyncs per
  // segment_bytes.
  const std::string sealing = "while sealing segment " + file_name(old->base_offset(), FileKind::kSegment);
  Status s = old->file()->sync();
  {
    std::lock_guard lock(mu_);
    ++stats_.fsyncs;
    if (!s) {
      ++stats_.fsync_failures;
      return fail(s.with_context(sealing));
    }
  }
  // Index files are a cache (rebuilt on open when missing or damaged): failing to write them stops nothing.
  (void)old->seal(fs_);
  auto created = Segment::create(fs_, dir_, base, options_.index_interval_bytes);
  if (!created) {
    // A half-made file must not outlive the failure: on the next open it would pass for the active segment
    // while this log goes on appending to the old one.
    const std::string path = join_path(dir_, file_name(base, FileKind::kSegment));
    if (Status removed = fs_.remove(path); !removed && removed.code() != ErrorCode::kNotFound) {
      std::lock_guard lock(mu_);
      (void)fail(created.status().with_context("while creating segment " + path +
                                               " (and removing it: " + removed.to_string() + ")"));
    }
    return created.status().with_context("while rolling to a new segment");
  }
  s = fs_.sync_dir(dir_);
  std::lock_guard lock(mu_);
  ++stats_.fsyncs;
  if (!s) {
    ++stats_.fsync_failures;
    return fail(s.with_context("while adding segment " + file_name(base, FileKind::kSegment)));
  }
  segments_.push_back(*created);
  ++stats_.segments_rolled;
  return *created;
}

int Log::do_work(Clock::TimePoint now) {
  std::vector<GroupCommit::Waiter> failed;
  Status failure;
  bool commit_due = false;
  bool interval_sync_due = false;
  {
    std::lock_guard lock(mu_);
    if (failure_.is_ok()) {
      commit_due = commit_.due(now);
      interval_sync_due = unsynced_since_ && *unsynced_since_ + options_.fsync_interval <= now;
      if (!commit_due && !interval_sync_due) return 0;
    } else {
      failed.swap(failed_waiters_);
      failure = failure_;
    }
  }
  if (failure.is_ok()) {
    // kInterval: what was written is acknowledged now, and covered by the fsync once it is due.
    int n = commit_due ? sync_round(false) : 0;
    if (interval_sync_due) n += sync_round(true);
    return n;
  }
  const int n = static_cast<int>(failed.size());
  fire(failed, failure);
  return n;
}

std::optional<Clock::TimePoint> Log::next_deadline() const {
  std::lock_guard lock(mu_);
  if (!failure_.is_ok()) return failed_waiters_.empty() ? std::nullopt : std::optional(clock_.now());
  std::optional<Clock::TimePoint> next = commit_.deadline();
  if (unsynced_since_) {
    const Clock::TimePoint sync_due = *unsynced_since_ + options_.fsync_interval;
    next = next ? std::min(*next, sync_due) : sync_due;
  }
  return next;
}

Status Log::sync() {
  if (options_.read_only) return read_only_error("sync");
  sync_round(true);
  return health();
}

int Log::sync_round(bool force) {
  std::lock_guard sync_lock(sync_mu_);
  std::vector<GroupCommit::Waiter> done;
  Status failure;
  std::uint64_t target = 0;
  std::shared_ptr<File> file;
  Clock::TimePoint started{};  // when `target` was taken: whatever is written later, it is written after this
  {
    std::lock_guard lock(mu_);
    if (!failure_.is_ok()) {
      done.swap(failed_waiters_);
      failure = failure_;
    } else if (options_.fsync_policy != FsyncPolicy::kEveryWrite && !force) {
      commit_.take_covered(written_end_, done);  // acknowledged once written
    } else {
      target = written_end_;
      file = segments_.back()->file();
      started = clock_.now();
    }
  }
  if (!file) {
    const int n = static_cast<int>(done.size());
    fire(done, failure);
    return n;
  }
  Status s = file->sync();
  {
    std::lock_guard lock(mu_);
    ++stats_.fsyncs;
    if (s) {
      synced_end_ = std::max(synced_end_, target);
      acked_end_ = std::max(acked_end_, target);
      commit_.take_covered(target, done);
      // Records written while the fsync ran start the next window when it started (a little early, never late).
      if (synced_end_ >= written_end_) {
        unsynced_since_.reset();
      } else if (unsynced_since_) {
        unsynced_since_ = started;
      }
    } else {
      ++stats_.fsync_failures;
      s = fail(s.with_context("while syncing the log in '" + dir_ + "'"));
      done.insert(done.end(), std::make_move_iterator(failed_waiters_.begin()),
                  std::make_move_iterator(failed_waiters_.end()));
      failed_waiters_.clear();
    }
  }
  const int n = static_cast<int>(done.size());
  fire(done, s);
  return n;
}

Status Log::fail(Status why) {
  if (failure_.is_ok()) {
    failure_ = Status(why.code(), "log failed, no further acknowledgements (" + why.message() + ")");
  }
  commit_.take_all(failed_waiters_);
  return failure_;
}

void Log::fire(std::vector<GroupCommit::Waiter>& waiters, const Status& status) const {
  for (GroupCommit::Waiter& w : waiters) {
    if (w.callback) w.callback(status, w.offsets);
  }
  waiters.clear();
}

Result<RetentionReport> Log::apply_retention(std::int64_t now_ns) {
  if (options_.read_only) return read_only_error("apply retention to");
  std::lock_guard append_lock(append_mu_);
  std::vector<std::shared_ptr<Segment>> doomed;
  RetentionReport report;
  {
    std::lock_guard lock(mu_);
    std::vector<SegmentSummary> summaries;
    summaries.reserve(segments_.size());
    for (const auto& segment : segments_) summaries.push_back(segment->summary());
    const std::size_t n =
        plan_retention(summaries, {options_.retention_bytes, options_.retention_age}, now_ns, acked_end_);
    doomed.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
    for (const auto& segment : doomed) report.bytes_deleted += segment->summary().size_bytes;
    report.segments_deleted = n;
    report.first_offset = segments_.front()->base_offset();
    stats_.segments_deleted += n;
    stats_.bytes_deleted += report.bytes_deleted;
  }
  // Readers holding a segment keep reading it: the open file outlives its name.
  for (const auto& segment : doomed) {
    for (FileKind kind : {FileKind::kSegment, FileKind::kOffsetIndex, FileKind::kTimeIndex}) {
      Status s = fs_.remove(segment->path(kind));
      if (!s && s.code() != ErrorCode::kNotFound) return s.with_context("while applying retention");
    }
  }
  return report;
}

Status Log::stop() {
  {
    std::lock_guard append_lock(append_mu_);  // waits for an append in progress
    std::lock_guard lock(mu_);
    if (stopped_) return failure_;
    stopped_ = true;
  }
  if (!options_.read_only) sync_round(true);
  std::vector<GroupCommit::Waiter> left;
  Status status;
  {
    std::lock_guard lock(mu_);
    commit_.take_all(left);
    left.insert(left.end(), std::make_move_iterator(failed_waiters_.begin()),
                std::make_move_iterator(failed_waiters_.end()));
    failed_waiters_.clear();
    status = failure_;
  }
  fire(left, status.is_ok() ? Status::closed("the log stopped") : status);
  return status;
}

Status Log::read_only_error(std::string_view what) const {
  return Status::invalid_argument("cannot " + std::string(what) + " the log in '" + dir_ + "': it is open read-only");
}

Status Log::health() const {
  std::lock_guard lock(mu_);
  return failure_;
}

LogStats Log::stats() const {
  std::lock_guard lock(mu_);
  LogStats stats = stats_;
  stats.records_acknowledged = acked_end_ - opened_end_;
  return stats;
}

std::size_t Log::segment_count() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

std::uint64_t Log::size_bytes() const {
  std::lock_guard lock(mu_);
  std::uint64_t total = 0;
  for (const auto& segment : segments_) total += segment->summary().size_bytes;
  return total;
}

std::vector<Log::SegmentListing> Log::segments() const {
  std::lock_guard lock(mu_);
  std::vector<SegmentListing> out;
  out.reserve(segments_.size());
  for (const auto& segment : segments_) out.push_back({segment->summary(), segment->sealed()});
  return out;
}

std::uint64_t Log::first_offset() const {
  std::lock_guard lock(mu_);
  return segments_.front()->base_offset();
}

std::uint64_t Log::end_offset() const {
  std::lock_guard lock(mu_);
  return acked_end_;
}

std::uint64_t Log::next_offset() const {
  std::lock_guard lock(mu_);
  return written_end_;
}

std::optional<std::uint64_t> Log::last_offset() const {
  std::lock_guard lock(mu_);
  if (acked_end_ == segments_.front()->base_offset()) return std::nullopt;
  return acked_end_ - 1;
}

}  // namespace weft::detail::log
