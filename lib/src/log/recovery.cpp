#include "log/recovery.hpp"

#include <map>

#include "log/log_format.hpp"

namespace weft::detail::log {
namespace {

struct Names {
  bool log = false;
  bool offset_index = false;
  bool time_index = false;
};

// The summary and index of a sealed segment: from its index files if they are whole and match the .log file,
// else rebuilt by scanning it (and the index files rewritten).
Result<std::shared_ptr<Segment>> open_sealed(FileSystem& fs, const std::string& dir, std::uint64_t base,
                                             const Names& names, const LogOptions& options, RecoveryReport& report) {
  const std::string log_path = join_path(dir, file_name(base, FileKind::kSegment));
  auto file = fs.open(log_path, OpenMode::kRead);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  std::shared_ptr<File> shared(std::move(*file));

  if (names.offset_index && names.time_index) {
    auto offsets = read_whole_file(fs, join_path(dir, file_name(base, FileKind::kOffsetIndex)));
    auto times = read_whole_file(fs, join_path(dir, file_name(base, FileKind::kTimeIndex)));
    if (offsets && times) {
      auto loaded = decode_index_files(*offsets, *times, base);
      if (loaded && loaded->summary.size_bytes == *size) {
        if (options.check_all_segments_on_open) {
          auto scan = scan_segment(*shared, base, *size, kMaxRecordLength, options.index_interval_bytes);
          if (!scan) return scan.status();
          if (scan->header) report.damage.push_back(*scan->header);
          report.damage.insert(report.damage.end(), scan->damage.begin(), scan->damage.end());
          if (scan->tail) report.damage.push_back(*scan->tail);
        } else {
          SegmentHeader header{};
          Status s = read_exact(*shared, 0, header);
          if (s) s = check_segment_header(header, base);
          if (!s && s.code() != ErrorCode::kCorruption) return s;
          if (!s) report.damage.push_back(Damage{base, base, 0, kSegmentHeaderSize, s.message()});
        }
        return std::make_shared<Segment>(dir, shared, loaded->summary,
                                         SparseIndex(options.index_interval_bytes, std::move(loaded->entries)), true);
      }
    }
  }
  auto scan = scan_segment(*shared, base, *size, kMaxRecordLength, options.index_interval_bytes);
  if (!scan) return scan.status();
  if (scan->header) report.damage.push_back(*scan->header);
  report.damage.insert(report.damage.end(), scan->damage.begin(), scan->damage.end());
  if (scan->tail) report.damage.push_back(*scan->tail);  // a sealed segment is never truncated
  SegmentSummary summary = scan->summary;
  summary.size_bytes = *size;
  auto segment = std::make_shared<Segment>(dir, shared, summary, std::move(scan->index), false);
  report.indexes_rebuilt.push_back(base);
  if (options.read_only) return segment;  // rebuilt in memory only
  if (Status s = segment->seal(fs); !s) report.warnings.push_back(s.to_string());
  return segment;
}

// The active segment: every record checked; a torn tail cut off.
Result<std::shared_ptr<Segment>> open_active(FileSystem& fs, const std::string& dir, std::uint64_t base,
                                             const LogOptions& options, RecoveryReport& report) {
  const std::string log_path = join_path(dir, file_name(base, FileKind::kSegment));
  auto file = fs.open(log_path, options.read_only ? OpenMode::kRead : OpenMode::kReadWrite);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  std::shared_ptr<File> shared(std::move(*file));
  auto scan = scan_segment(*shared, base, *size, kMaxRecordLength, options.index_interval_bytes);
  if (!scan) return scan.status();
  report.damage.insert(report.damage.end(), scan->damage.begin(), scan->damage.end());
  report.records_in_last_segment = scan->records;
  SegmentSummary summary = scan->summary;
  // A header that is torn, or damaged with nothing valid behind it, is written again.
  const bool rewrite_header = (scan->tail && scan->tail->position < kSegmentHeaderSize) ||
                              (scan->header && scan->records == 0 && scan->damage.empty());
  if (scan->header && !rewrite_header) report.damage.push_back(*scan->header);
  if (options.read_only) {
    // Report what recovery would cut and leave the file alone; reads stop at the last whole record.
    if (scan->tail || rewrite_header) {
      const std::uint64_t cut = rewrite_header ? 0 : scan->tail->position;
      report.truncated = scan->tail ? *scan->tail : *scan->header;
      report.truncated->bytes = *size - cut;
    }
    return std::make_shared<Segment>(dir, shared, summary, std::move(scan->index), false);
  }
  if (scan->tail || rewrite_header) {
    const std::uint64_t cut = rewrite_header ? 0 : scan->tail->position;
    if (Status s = shared->truncate(cut); !s) return s;
    if (rewrite_header) {
      if (Status s = shared->append(encode_segment_header(base)); !s) return s;
      summary.size_bytes = kSegmentHeaderSize;
    }
    // Log::open fsyncs the segment next, so the cut is durable before any record goes after it.
    report.truncated = scan->tail ? *scan->tail : *scan->header;
    report.truncated->bytes = *size - cut;
  }
  // The active segment has no index files; stale ones (from when it was sealed, before a power loss took its
  // successor) would only mislead.
  for (FileKind kind : {FileKind::kOffsetIndex, FileKind::kTimeIndex}) {
    (void)fs.remove(join_path(dir, file_name(base, kind)));
  }
  return std::make_shared<Segment>(dir, shared, summary, std::move(scan->index), false);
}

}  // namespace

std::vector<std::string> RecoveryReport::describe() const {
  std::vector<std::string> lines;
  if (created) lines.emplace_back("created an empty log");
  if (truncated) {
    lines.push_back(std::string(read_only ? "found a torn tail (left in place, read-only)" : "truncated a torn tail") +
                    " at offset " + std::to_string(truncated->offset) + ": " + truncated->to_status().message());
  }
  for (const Damage& d : damage) lines.push_back("kept damaged data: " + d.to_status().message());
  for (std::uint64_t base : indexes_rebuilt) {
    lines.push_back("rebuilt the index files of segment " + file_name(base, FileKind::kSegment));
  }
  for (const std::string& f : removed_files) {
    lines.push_back("removed " + f +
                    (is_compaction_leftover(f) ? " (a compaction cut short)" : " (an index without its segment)"));
  }
  for (const std::string& f : ignored_files) lines.push_back("ignored unknown file " + f);
  for (const std::string& w : warnings) lines.push_back("warning: " + w);
  return lines;
}

Result<RecoveredLog> recover_log(FileSystem& fs, const std::string& dir, const LogOptions& options) {
  RecoveredLog out;
  RecoveryReport& report = out.report;
  report.read_only = options.read_only;
  if (options.create_if_missing && !options.read_only) {
    if (Status s = fs.make_dir(dir); !s) return s;
  }
  auto listing = fs.list_dir(dir);
  if (!listing) return listing.status();

  std::map<std::uint64_t, Names> bases;
  for (const std::string& name : *listing) {
    auto parsed = parse_file_name(name);
    if (!parsed && is_compaction_leftover(name) && !options.read_only) {
      // A compaction stopped before its rename: the segment it was rewriting is still whole.
      if (Status s = fs.remove(join_path(dir, name)); !s) return s;
      report.removed_files.push_back(name);
      continue;
    }
    if (!parsed) {
      report.ignored_files.push_back(name);
      continue;
    }
    Names& n = bases[parsed->base_offset];
    if (parsed->kind == FileKind::kSegment) n.log = true;
    if (parsed->kind == FileKind::kOffsetIndex) n.offset_index = true;
    if (parsed->kind == FileKind::kTimeIndex) n.time_index = true;
  }
  for (auto it = bases.begin(); it != bases.end();) {
    if (it->second.log) {
      ++it;
      continue;
    }
    if (options.read_only) {  // an orphan index is left for the next writable open to remove
      it = bases.erase(it);
      continue;
    }
    for (FileKind kind : {FileKind::kOffsetIndex, FileKind::kTimeIndex}) {
      const bool present = kind == FileKind::kOffsetIndex ? it->second.offset_index : it->second.time_index;
      if (!present) continue;
      const std::string name = file_name(it->first, kind);
      if (Status s = fs.remove(join_path(dir, name)); !s) return s;
      report.removed_files.push_back(name);
    }
    it = bases.erase(it);
  }

  if (bases.empty()) {
    if (!options.create_if_missing || options.read_only) return Status::not_found("no log segments in '" + dir + "'");
    auto segment = Segment::create(fs, dir, 0, options.index_interval_bytes);
    if (!segment) return segment.status().with_context("while creating the first segment");
    out.segments.push_back(std::move(*segment));
    report.created = true;
    report.segments = 1;
    return out;
  }

  std::size_t i = 0;
  for (const auto& [base, names] : bases) {
    const bool last = ++i == bases.size();
    auto segment =
        last ? open_active(fs, dir, base, options, report) : open_sealed(fs, dir, base, names, options, report);
    if (!segment) return segment.status().with_context("while opening segment " + file_name(base, FileKind::kSegment));
    if (!out.segments.empty()) {
      const SegmentSummary& prev = out.segments.back()->summary();
      if (prev.next_offset > base) {
        return Status::corruption("segment " + file_name(prev.base_offset, FileKind::kSegment) +
                                  " holds offsets up to " + std::to_string(prev.next_offset - 1) +
                                  ", past the base of the next segment " + std::to_string(base));
      }
      if (prev.next_offset < base) {
        report.damage.push_back(Damage{prev.base_offset, prev.next_offset, prev.size_bytes, 0,
                                       "offsets " + std::to_string(prev.next_offset) + " to " +
                                           std::to_string(base - 1) + " are missing between segments"});
      }
    }
    out.segments.push_back(std::move(*segment));
  }
  report.segments = out.segments.size();
  return out;
}

}  // namespace weft::detail::log
