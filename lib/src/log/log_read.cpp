// The read side of Log: reads by offset and by time, skipping damage, and verify(). Readers take the log's
// lock only to pick a segment and a start position; the file reads run without it.
#include <algorithm>
#include <limits>

#include "log/log.hpp"
#include "log/log_format.hpp"
#include "log/segment_reader.hpp"

namespace weft::detail::log {
namespace {

// Where a record's key and value were copied in a ReadBatch's storage.
struct Slice {
  std::uint64_t offset;
  std::int64_t timestamp;
  bool has_key;
  std::size_t key_at;
  std::size_t key_size;
  std::size_t value_at;
  std::size_t value_size;
};

// What a reader needs of a segment, copied under the lock.
struct SegmentView {
  std::shared_ptr<Segment> segment;
  Segment::StartPoint start{0, 0};
  std::uint64_t end_position = 0;
  std::uint64_t next_offset = 0;
};

}  // namespace

std::shared_ptr<Segment> Log::segment_for(std::uint64_t offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](std::uint64_t value, const auto& s) { return value < s->base_offset(); });
  if (it == segments_.begin()) return nullptr;
  return *std::prev(it);
}

Result<std::uint64_t> Log::read_each(std::uint64_t from_offset, std::size_t max_bytes, const RecordSink& sink) const {
  std::size_t taken = 0;
  std::uint64_t cursor = from_offset;
  std::size_t bytes = 0;
  Status error;
  bool done = false;
  for (bool first_pass = true; !done; first_pass = false) {
    SegmentView view;
    std::uint64_t limit = 0;
    {
      std::lock_guard lock(mu_);
      limit = acked_end_;
      if (first_pass) {
        const std::uint64_t first = segments_.front()->base_offset();
        if (from_offset < first) {
          return Status::not_found("offset " + std::to_string(from_offset) + " is no longer stored (retention); " +
                                   "the log starts at " + std::to_string(first));
        }
        if (from_offset > written_end_) {
          return Status::not_found("offset " + std::to_string(from_offset) + " is past the end of the log (next " +
                                   std::to_string(written_end_) + ")");
        }
      }
      if (cursor >= limit) break;
      view.segment = segment_for(cursor);
      const SegmentSummary& s = view.segment->summary();
      if (cursor >= s.next_offset) {
        error = Damage{s.base_offset, cursor, s.size_bytes, 0, "the offset is missing between segments"}.to_status();
        break;
      }
      view.start = view.segment->start_for_offset(cursor);
      view.end_position = s.size_bytes;
      view.next_offset = s.next_offset;
    }

    const File& file = *view.segment->file();
    RecordScanner scanner(file, view.start.position, view.end_position, kMaxRecordLength);
    std::uint64_t expected = view.start.offset;
    for (;;) {
      if (expected >= view.next_offset) break;  // the segment's records are done (whatever follows them)
      const RecordScanner::Step step = scanner.next();
      std::string reason(scanner.reason());
      if (step == RecordScanner::Step::kEnd) {
        if (expected < view.next_offset) {
          reason = "the segment ends before offset " + std::to_string(view.next_offset - 1);
        } else {
          break;  // on to the next segment
        }
      } else if (step == RecordScanner::Step::kError) {
        error = scanner.error();
        done = true;
        break;
      } else if (step == RecordScanner::Step::kUnsupported) {
        error = Status::protocol("offset " + std::to_string(expected) + ": " + reason);
        done = true;
        break;
      } else if (step == RecordScanner::Step::kRecord) {
        const RecordView& rec = scanner.record();
        // A valid record further on than expected (offsets missing before it): where a reader skipping
        // towards `cursor` can resume.
        if (rec.offset > expected && expected < cursor && rec.offset <= cursor) expected = rec.offset;
        if (rec.offset == expected) {
          if (rec.offset >= limit || (taken != 0 && bytes + rec.encoded_size > max_bytes)) {
            done = true;
            break;
          }
          if (rec.offset < cursor) {  // before from_offset: skipped
            ++expected;
            continue;
          }
          if (rec.removed()) {  // compaction left only its offset: passed over, never handed out
            cursor = ++expected;
            continue;
          }
          if (!sink(LogRecord{rec.offset, rec.timestamp, rec.key, rec.value})) {
            done = true;
            break;
          }
          ++expected;
          ++taken;
          bytes += rec.encoded_size;
          cursor = expected;
          continue;
        }
        reason = "offset out of sequence (expected " + std::to_string(expected) + ", found " +
                 std::to_string(rec.offset) + ")";
      }
      // Damage. While still skipping towards `cursor`, step over it if a valid record lies between it and
      // `cursor`; a read that starts at or inside the damage gets kCorruption.
      const std::uint64_t position = scanner.record_position();
      if (expected < cursor && step != RecordScanner::Step::kEnd) {
        auto found = find_next_record(file, position + 1, view.end_position, expected, view.next_offset - 1,
                                      std::numeric_limits<std::int64_t>::min(), kMaxRecordLength);
        if (!found) {
          error = found.status();
          done = true;
          break;
        }
        if (found->has_value() && (*found)->offset <= cursor) {
          expected = (*found)->offset;
          scanner.seek((*found)->position);
          continue;
        }
      }
      if (expected < cursor) reason += " (offset " + std::to_string(cursor) + " lies in the damaged stretch)";
      error = Damage{view.segment->base_offset(), expected, position, 0, reason}.to_status();
      done = true;
      break;
    }
    if (!done && cursor < view.next_offset) break;  // stopped inside this segment
  }
  if (!error.is_ok() && taken == 0) {  // else the records before the damage go first; the error comes next
    if (error.code() == ErrorCode::kCorruption) {
      std::lock_guard lock(mu_);
      ++stats_.corrupt_reads;
    }
    return error;
  }
  return cursor;
}

Result<Log::FileRange> Log::locate(std::uint64_t from_offset, std::uint64_t max_records) const {
  std::lock_guard lock(mu_);
  const std::uint64_t first = segments_.front()->base_offset();
  if (from_offset < first || from_offset > written_end_) {
    return Status::not_found("offset " + std::to_string(from_offset) + " is not stored (the log holds " +
                             std::to_string(first) + " .. " + std::to_string(written_end_) + ")");
  }
  FileRange range;
  range.first_offset = range.end_offset = from_offset;
  if (from_offset >= acked_end_) return range;
  const std::shared_ptr<Segment> segment = segment_for(from_offset);
  const SegmentSummary& s = segment->summary();
  if (from_offset >= s.next_offset) {
    return Damage{s.base_offset, from_offset, s.size_bytes, 0, "the offset is missing between segments"}.to_status();
  }
  const Segment::StartPoint start = segment->start_for_offset(from_offset);
  range.path = segment->path(FileKind::kSegment);
  range.start_position = start.position;
  range.end_position = s.size_bytes;
  range.end_offset = std::min({acked_end_, s.next_offset, from_offset + std::max<std::uint64_t>(max_records, 1)});
  return range;
}

Result<ReadBatch> Log::read(std::uint64_t from_offset, std::size_t max_bytes) const {
  ReadBatch batch;
  std::vector<Slice> slices;
  // Copied into one buffer first and pointed at afterwards: the buffer moves while it grows.
  auto next = read_each(from_offset, max_bytes, [&](const LogRecord& rec) {
    Slice slice{rec.offset, rec.timestamp, rec.key.has_value(), 0, 0, 0, rec.value.size()};
    if (rec.key) {
      slice.key_at = batch.storage_.size();
      slice.key_size = rec.key->size();
      batch.storage_.insert(batch.storage_.end(), rec.key->begin(), rec.key->end());
    }
    slice.value_at = batch.storage_.size();
    batch.storage_.insert(batch.storage_.end(), rec.value.begin(), rec.value.end());
    slices.push_back(slice);
    return true;
  });
  if (!next) return next.status();
  batch.records_.reserve(slices.size());
  for (const Slice& s : slices) {
    LogRecord record{s.offset, s.timestamp, std::nullopt, {batch.storage_.data() + s.value_at, s.value_size}};
    if (s.has_key) record.key = std::span<const std::byte>(batch.storage_.data() + s.key_at, s.key_size);
    batch.records_.push_back(record);
  }
  batch.next_offset_ = *next;
  return batch;
}

Result<std::uint64_t> Log::find_offset_for_time(std::int64_t timestamp_ns) const {
  SegmentView view;
  std::uint64_t limit = 0;
  {
    std::lock_guard lock(mu_);
    limit = acked_end_;
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [&](const auto& s) { return !s->empty() && s->summary().last_timestamp >= timestamp_ns; });
    if (it == segments_.end()) return limit;
    view.segment = *it;
    view.start = view.segment->start_for_time(timestamp_ns);
    view.end_position = view.segment->summary().size_bytes;
    view.next_offset = view.segment->summary().next_offset;
  }
  RecordScanner scanner(*view.segment->file(), view.start.position, view.end_position, kMaxRecordLength);
  for (std::uint64_t expected = view.start.offset;; ++expected) {
    if (expected >= view.next_offset) return std::min(view.next_offset, limit);
    const RecordScanner::Step step = scanner.next();
    if (step == RecordScanner::Step::kEnd) return std::min(view.next_offset, limit);
    if (step == RecordScanner::Step::kError) return scanner.error();
    if (step != RecordScanner::Step::kRecord || scanner.record().offset != expected) {
      return Damage{view.segment->base_offset(), expected, scanner.record_position(), 0,
                    step == RecordScanner::Step::kRecord ? "offset out of sequence" : std::string(scanner.reason())}
          .to_status()
          .with_context("while searching by time");
    }
    if (expected >= limit) return limit;
    if (scanner.record().timestamp >= timestamp_ns) return expected;
  }
}

Result<std::uint64_t> Log::skip_damage(std::uint64_t offset) const {
  SegmentView view;
  {
    std::lock_guard lock(mu_);
    if (offset < segments_.front()->base_offset()) return segments_.front()->base_offset();
    if (offset >= acked_end_) return offset;
    view.segment = segment_for(offset);
    const SegmentSummary& s = view.segment->summary();
    if (offset >= s.next_offset) {  // a gap between segments: resume at the next one
      auto next =
          std::find_if(segments_.begin(), segments_.end(), [&](const auto& g) { return g->base_offset() > offset; });
      return next == segments_.end() ? acked_end_ : (*next)->base_offset();
    }
    view.start = view.segment->start_for_offset(offset);
    view.end_position = s.size_bytes;
    view.next_offset = s.next_offset;
  }
  const File& file = *view.segment->file();
  RecordScanner scanner(file, view.start.position, view.end_position, kMaxRecordLength);
  std::uint64_t expected = view.start.offset;
  for (;;) {
    if (expected >= view.next_offset) return view.next_offset;
    const RecordScanner::Step step = scanner.next();
    if (step == RecordScanner::Step::kError) return scanner.error();
    if (step == RecordScanner::Step::kRecord && scanner.record().offset == expected) {
      if (expected == offset) return offset;  // readable
      ++expected;
      continue;
    }
    if (step == RecordScanner::Step::kEnd) return view.next_offset;
    auto found = find_next_record(file, scanner.record_position() + 1, view.end_position, expected,
                                  view.next_offset - 1, std::numeric_limits<std::int64_t>::min(), kMaxRecordLength);
    if (!found) return found.status();
    if (!found->has_value()) return view.next_offset;  // damaged to the end of the segment
    if ((*found)->offset > offset) return (*found)->offset;
    expected = (*found)->offset;
    scanner.seek((*found)->position);
  }
}

VerifyReport Log::verify() const {
  struct Snapshot {
    std::shared_ptr<Segment> segment;
    SegmentSummary summary;
    std::vector<IndexEntry> entries;
  };
  std::vector<Snapshot> snapshots;
  {
    std::lock_guard lock(mu_);
    for (const auto& s : segments_) snapshots.push_back({s, s->summary(), s->index().entries()});
  }
  VerifyReport report;
  std::optional<std::uint64_t> previous_next;
  for (const Snapshot& snap : snapshots) {
    const SegmentSummary& s = snap.summary;
    ++report.segments;
    report.bytes += s.size_bytes;
    if (previous_next && *previous_next != s.base_offset) {
      report.damage.push_back(Damage{s.base_offset, *previous_next, 0, 0,
                                     "the previous segment ends at offset " + std::to_string(*previous_next) +
                                         ", this one starts at " + std::to_string(s.base_offset)});
    }
    previous_next = s.next_offset;
    auto scan = scan_segment(*snap.segment->file(), s.base_offset, s.size_bytes, kMaxRecordLength,
                             options_.index_interval_bytes, &snap.entries);
    if (!scan) {
      report.status =
          scan.status().with_context("while verifying segment " + file_name(s.base_offset, FileKind::kSegment));
      return report;
    }
    report.records += scan->records;
    if (scan->header) report.damage.push_back(*scan->header);
    report.damage.insert(report.damage.end(), scan->damage.begin(), scan->damage.end());
    if (scan->tail) {
      report.damage.push_back(*scan->tail);
    } else if (scan->summary.next_offset != s.next_offset) {
      report.damage.push_back(Damage{s.base_offset, scan->summary.next_offset, scan->summary.size_bytes, 0,
                                     "the records end at offset " + std::to_string(scan->summary.next_offset) +
                                         ", the segment should end at " + std::to_string(s.next_offset)});
    }
    if (!scan->index_mismatch.empty() && report.status.is_ok() && report.damage.empty()) {
      report.status =
          Status::corruption("segment " + file_name(s.base_offset, FileKind::kSegment) + ": " + scan->index_mismatch);
    }
  }
  if (!report.damage.empty()) {
    report.status = report.damage.front().to_status();
    report.first_bad_offset = report.damage.front().offset;
    for (const Damage& d : report.damage) report.first_bad_offset = std::min(*report.first_bad_offset, d.offset);
  }
  return report;
}

}  // namespace weft::detail::log
