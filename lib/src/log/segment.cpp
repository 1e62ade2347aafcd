#include "log/segment.hpp"

#include "log/log_format.hpp"

namespace weft::detail::log {

Segment::Segment(std::string dir, std::shared_ptr<File> file, SegmentSummary summary, SparseIndex index, bool sealed)
    : dir_(std::move(dir)), file_(std::move(file)), summary_(summary), index_(std::move(index)), sealed_(sealed) {}

Result<std::shared_ptr<Segment>> Segment::create(FileSystem& fs, const std::string& dir, std::uint64_t base_offset,
                                                 std::size_t index_interval_bytes) {
  const std::string path = join_path(dir, file_name(base_offset, FileKind::kSegment));
  auto file = fs.open(path, OpenMode::kCreateOrTrunc);
  if (!file) return file.status();
  const SegmentHeader header = encode_segment_header(base_offset);
  if (Status s = (*file)->append(header); !s) return s;
  SegmentSummary summary{base_offset, base_offset, kSegmentHeaderSize, 0, 0};
  return std::make_shared<Segment>(dir, std::shared_ptr<File>(std::move(*file)), summary,
                                   SparseIndex(index_interval_bytes), false);
}

std::string Segment::path(FileKind kind) const {
  return join_path(dir_, file_name(summary_.base_offset, kind));
}

void Segment::on_appended(std::int64_t timestamp, std::span<const std::uint32_t> sizes) {
  if (sizes.empty()) return;
  if (empty()) summary_.first_timestamp = timestamp;
  for (std::uint32_t size : sizes) {
    const auto relative = static_cast<std::uint32_t>(summary_.next_offset - summary_.base_offset);
    index_.on_record(relative, static_cast<std::uint32_t>(summary_.size_bytes), timestamp, size);
    summary_.size_bytes += size;
    ++summary_.next_offset;
  }
  summary_.last_timestamp = timestamp;
}

Status Segment::seal(FileSystem& fs) {
  const std::string what = "while sealing segment " + file_name(summary_.base_offset, FileKind::kSegment);
  Status s = write_whole_file(fs, path(FileKind::kOffsetIndex), encode_offset_index(summary_, index_.entries()));
  if (s) s = write_whole_file(fs, path(FileKind::kTimeIndex), encode_time_index(summary_, index_.entries()));
  if (!s) return s.with_context(what);
  sealed_ = true;
  return Status::ok();
}

Segment::StartPoint Segment::start_for_offset(std::uint64_t offset) const {
  if (auto e = index_.floor_offset(static_cast<std::uint32_t>(offset - summary_.base_offset))) {
    return {e->position, summary_.base_offset + e->relative_offset};
  }
  return {kSegmentHeaderSize, summary_.base_offset};
}

Segment::StartPoint Segment::start_for_time(std::int64_t timestamp) const {
  if (auto e = index_.last_before_time(timestamp)) return {e->position, summary_.base_offset + e->relative_offset};
  return {kSegmentHeaderSize, summary_.base_offset};
}

void encode_batch(std::span<const RecordInput> records, std::uint64_t first_offset, std::int64_t timestamp,
                  std::vector<std::byte>& out, std::vector<std::uint32_t>& sizes) {
  std::uint64_t offset = first_offset;
  for (const RecordInput& record : records) {
    const std::size_t size = encoded_size(record);
    const std::size_t at = out.size();
    out.resize(at + size);
    encode_record(record, offset++, timestamp, out.data() + at);
    sizes.push_back(static_cast<std::uint32_t>(size));
  }
}

}  // namespace weft::detail::log
