// Per-key compaction of a Log (Log::compact in log.hpp): which records go, and rewriting a sealed segment
// without them. A removed record stays as a bare header (offset, timestamp, kFlagRemoved), so that offsets
// stay consecutive and everything that checks their sequence (reads, recovery, verify) keeps working.
#include <string>
#include <unordered_map>

#include "log/log.hpp"
#include "log/log_format.hpp"
#include "log/segment_files.hpp"
#include "log/segment_reader.hpp"

namespace weft::detail::log {
namespace {

// Appended to the file in pieces of about this size while a segment is rewritten.
constexpr std::size_t kRewriteChunkBytes = 1 << 20;

std::string key_of(const RecordView& r) {
  return {reinterpret_cast<const char*>(r.key->data()), r.key->size()};
}

// Every record of a segment below `limit`, in order; kCorruption at the first damage.
Status walk(const Segment& segment, std::uint64_t limit, const std::function<void(const RecordView&)>& visit) {
  RecordScanner scanner(*segment.file(), kSegmentHeaderSize, segment.summary().size_bytes, kMaxRecordLength);
  for (;;) {
    const RecordScanner::Step step = scanner.next();
    if (step == RecordScanner::Step::kEnd) return Status::ok();
    if (step == RecordScanner::Step::kError) return scanner.error();
    if (step != RecordScanner::Step::kRecord) {
      return Damage{segment.base_offset(), 0, scanner.record_position(), 0, std::string(scanner.reason())}.to_status();
    }
    if (scanner.record().offset >= limit) return Status::ok();
    visit(scanner.record());
  }
}

}  // namespace

Result<CompactionReport> Log::compact(std::int64_t now_ns) {
  if (options_.read_only) return read_only_error("compact");
  // No append, roll or retention while segments are swapped; readers go on.
  std::lock_guard append_lock(append_mu_);
  std::vector<std::shared_ptr<Segment>> segments;
  std::uint64_t limit = 0;
  {
    std::lock_guard lock(mu_);
    if (!failure_.is_ok()) return failure_;
    if (stopped_) return Status::closed("the log stopped");
    segments = segments_;
    limit = acked_end_;
  }
  CompactionReport report;
  // The newest acknowledged record of every key, over every segment (the active one included), and which
  // segments hold a record to remove: one read of the stream decides both.
  struct Newest {
    std::uint64_t offset = 0;
    std::size_t segment = 0;
    bool tombstone = false;
    std::int64_t timestamp = 0;
  };
  std::unordered_map<std::string, Newest> newest;
  std::vector<bool> readable(segments.size(), true);
  std::vector<bool> holds_removable(segments.size(), false);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    Status walked = walk(*segments[i], limit, [&](const RecordView& r) {
      if (!r.key || r.removed()) return;
      auto [it, added] = newest.try_emplace(key_of(r));
      if (!added) holds_removable[it->second.segment] = true;  // the record it held is superseded
      it->second = {r.offset, i, r.tombstone(), r.timestamp};
    });
    if (!walked) {
      // A damaged segment is left as it is (reads report its damage); its keys still count where readable.
      readable[i] = false;
      report.skipped.push_back(file_name(segments[i]->base_offset(), FileKind::kSegment) + ": " + walked.message());
    }
  }
  const std::int64_t tombstone_cutoff = now_ns - options_.tombstone_retention.count();
  for (const auto& [key, n] : newest) {
    if (n.tombstone && n.timestamp < tombstone_cutoff) holds_removable[n.segment] = true;
  }
  auto removable = [&](const RecordView& r) {
    if (r.removed() || !r.key) return false;
    auto it = newest.find(key_of(r));
    if (it == newest.end() || it->second.offset != r.offset) return true;  // a newer record has its key
    return r.tombstone() && r.timestamp < tombstone_cutoff;               // the deletion was there long enough
  };
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    const Segment& segment = *segments[i];
    if (!holds_removable[i] || !readable[i] || !segment.sealed() || segment.summary().next_offset > limit) continue;
    auto rewritten = rewrite_segment(segment, removable, report);
    if (!rewritten) return rewritten.status().with_context("while compacting");
    std::lock_guard lock(mu_);
    for (auto& s : segments_) {
      if (s == segments[i]) s = *rewritten;  // readers holding the old one finish with its (unlinked) file
    }
    ++report.segments_rewritten;
  }
  {
    std::lock_guard lock(mu_);
    stats_.records_compacted += report.records_removed;
  }
  return report;
}

Result<std::shared_ptr<Segment>> Log::rewrite_segment(const Segment& old,
                                                      const std::function<bool(const RecordView&)>& removed,
                                                      CompactionReport& report) {
  const std::string path = old.path(FileKind::kSegment);
  const std::string temporary = path + std::string(kCompactingSuffix);
  auto out = fs_.open(temporary, OpenMode::kCreateOrTrunc);
  if (!out) return out.status();
  std::vector<std::byte> chunk(kSegmentHeaderSize);
  auto header = old.file()->read_at(0, chunk);
  if (!header) return header.status();
  if (*header != kSegmentHeaderSize) return Status::corruption(path + ": the segment header is cut short");
  chunk.reserve(kRewriteChunkBytes + kRecordHeaderSize);
  std::uint64_t written = 0;
  RecordScanner scanner(*old.file(), kSegmentHeaderSize, old.summary().size_bytes, kMaxRecordLength);
  for (;;) {
    const RecordScanner::Step step = scanner.next();
    if (step == RecordScanner::Step::kEnd) break;
    if (step == RecordScanner::Step::kError) return scanner.error();
    if (step != RecordScanner::Step::kRecord) return Status::corruption(path + ": " + std::string(scanner.reason()));
    const RecordView& r = scanner.record();
    if (removed(r)) {
      const std::size_t at = chunk.size();
      chunk.resize(at + kRecordHeaderSize);
      encode_record(RecordInput{{}, std::nullopt, false, true}, r.offset, r.timestamp, chunk.data() + at);
      ++report.records_removed;
      report.bytes_reclaimed += r.encoded_size - kRecordHeaderSize;
    } else {
      const auto bytes = scanner.record_bytes();
      chunk.insert(chunk.end(), bytes.begin(), bytes.end());
    }
    if (chunk.size() >= kRewriteChunkBytes) {
      if (Status s = (*out)->append(chunk); !s) return s;
      written += chunk.size();
      chunk.clear();
    }
  }
  if (Status s = (*out)->append(chunk); !s) return s;
  written += chunk.size();
  if (Status s = (*out)->sync(); !s) return s;
  // The new file's summary and index, as recovery would build them; it must hold every record the old did.
  auto scanned = scan_segment(**out, old.base_offset(), written, kMaxRecordLength, options_.index_interval_bytes);
  if (!scanned) return scanned.status();
  if (scanned->summary.next_offset != old.summary().next_offset || !scanned->damage.empty() || scanned->tail) {
    (void)fs_.remove(temporary);
    return Status::internal(path + ": the rewritten segment does not read back whole");
  }
  // The old index files go first: a crash before the new ones are written leaves none (recovery rebuilds
  // them from the records), never ones that describe the old file.
  for (FileKind kind : {FileKind::kOffsetIndex, FileKind::kTimeIndex}) {
    Status s = fs_.remove(old.path(kind));
    if (!s && s.code() != ErrorCode::kNotFound) return s;
  }
  if (Status s = fs_.rename(temporary, path); !s) return s;
  if (Status s = fs_.sync_dir(dir_); !s) return s;
  auto reopened = fs_.open(path, OpenMode::kRead);
  if (!reopened) return reopened.status();
  auto segment = std::make_shared<Segment>(dir_, std::shared_ptr<File>(std::move(*reopened)), scanned->summary,
                                           std::move(scanned->index), false);
  if (Status s = segment->seal(fs_); !s) return s;
  if (Status s = fs_.sync_dir(dir_); !s) return s;
  return segment;
}

}  // namespace weft::detail::log
