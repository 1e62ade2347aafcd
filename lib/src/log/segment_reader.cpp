#include "log/segment_reader.hpp"

#include <algorithm>
#include <limits>

#include "log/byte_order.hpp"
#include "log/log_format.hpp"
#include "log/segment_files.hpp"

namespace weft::detail::log {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

}  // namespace

RecordScanner::RecordScanner(const File& file, std::uint64_t position, std::uint64_t end, std::uint32_t max_length)
    : file_(file), cursor_(position), end_(end), max_length_(max_length) {}

Result<std::size_t> RecordScanner::fill(std::size_t n) {
  const std::uint64_t want_end = std::min<std::uint64_t>(end_, cursor_ + n);
  if (cursor_ >= buffer_start_ && want_end <= buffer_start_ + buffer_len_) {
    return static_cast<std::size_t>(want_end - cursor_);
  }
  const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(n, kChunkBytes), end_ - cursor_));
  if (buffer_.size() < chunk) buffer_.resize(chunk);
  auto got = file_.read_at(cursor_, std::span<std::byte>(buffer_.data(), chunk));
  if (!got) return got.status();
  buffer_start_ = cursor_;
  buffer_len_ = *got;
  return std::min(buffer_len_, static_cast<std::size_t>(want_end - cursor_));
}

std::span<const std::byte> RecordScanner::record_bytes() const noexcept {
  return {buffer_.data() + (record_position_ - buffer_start_), record_.encoded_size};
}

RecordScanner::Step RecordScanner::next() {
  record_position_ = cursor_;
  reason_ = {};
  if (cursor_ >= end_) return Step::kEnd;
  auto avail = fill(kRecordHeaderSize);
  if (!avail) {
    error_ = avail.status();
    return Step::kError;
  }
  auto window = [&] { return std::span<const std::byte>(buffer_.data() + (cursor_ - buffer_start_), *avail); };
  Decoded d = decode_record(window(), max_length_);
  if (d.outcome == DecodeOutcome::kIncomplete && d.needed <= end_ - cursor_ && d.needed > *avail) {
    avail = fill(d.needed);
    if (!avail) {
      error_ = avail.status();
      return Step::kError;
    }
    d = decode_record(window(), max_length_);
  }
  switch (d.outcome) {
    case DecodeOutcome::kRecord:
      record_ = d.record;
      cursor_ += d.record.encoded_size;
      return Step::kRecord;
    case DecodeOutcome::kIncomplete:
      reason_ = "record runs past the end of the data";
      return Step::kIncomplete;
    case DecodeOutcome::kCorrupt:
      reason_ = d.reason;
      return Step::kCorrupt;
    case DecodeOutcome::kUnsupported:
      reason_ = d.reason;
      return Step::kUnsupported;
  }
  return Step::kCorrupt;
}

Result<std::optional<ResyncPoint>> find_next_record(const File& file, std::uint64_t from, std::uint64_t end,
                                                    std::uint64_t min_offset, std::uint64_t max_offset,
                                                    std::int64_t min_timestamp, std::uint32_t max_length) {
  std::vector<std::byte> chunk(kChunkBytes + kRecordHeaderSize);
  std::uint64_t p = from;
  while (p + kRecordHeaderSize <= end) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), end - p));
    Status s = read_exact(file, p, std::span<std::byte>(chunk.data(), len));
    if (!s) return s;
    for (std::size_t i = 0; i + kRecordHeaderSize <= len; ++i) {
      const std::byte* h = chunk.data() + i;
      const std::uint32_t length = load_u32(h + kLengthAt);
      const std::uint64_t offset = load_u64(h + kOffsetAt);
      const auto timestamp = static_cast<std::int64_t>(load_u64(h + kTimestampAt));
      if (!plausible_length(length, max_length) || p + i + kLengthFieldSize + length > end || offset < min_offset ||
          offset > max_offset || timestamp < min_timestamp) {
        continue;
      }
      // A candidate: it must decode, and be followed by the end or by the next record.
      RecordScanner scanner(file, p + i, end, max_length);
      RecordScanner::Step step = scanner.next();
      if (step == RecordScanner::Step::kError) return scanner.error();
      if (step != RecordScanner::Step::kRecord || scanner.record().offset != offset) continue;
      step = scanner.next();
      if (step == RecordScanner::Step::kError) return scanner.error();
      if (step == RecordScanner::Step::kEnd ||
          (step == RecordScanner::Step::kRecord && scanner.record().offset == offset + 1)) {
        return std::optional<ResyncPoint>(ResyncPoint{p + i, offset});
      }
    }
    p += len - kRecordHeaderSize + 1;
  }
  return std::optional<ResyncPoint>();
}

Status Damage::to_status() const {
  std::string where = "corruption at offset " + std::to_string(offset) + " (segment " +
                      file_name(segment_base, FileKind::kSegment) + ", byte " + std::to_string(position);
  if (bytes != 0) where += ", " + std::to_string(bytes) + " bytes";
  return Status::corruption(where + "): " + reason);
}

Result<ScanResult> scan_segment(const File& file, std::uint64_t base_offset, std::uint64_t end,
                                std::uint32_t max_length, std::size_t index_interval,
                                const std::vector<IndexEntry>* expected_index) {
  ScanResult r;
  r.index = SparseIndex(index_interval);
  r.summary.base_offset = base_offset;
  r.summary.next_offset = base_offset;
  if (end < kSegmentHeaderSize) {
    r.tail = Damage{base_offset, base_offset, 0, end, "segment header is incomplete"};
    return r;
  }
  SegmentHeader header{};
  if (Status s = read_exact(file, 0, header); !s) return s;
  if (Status s = check_segment_header(header, base_offset); !s) {
    if (s.code() != ErrorCode::kCorruption) return s;
    r.header = Damage{base_offset, base_offset, 0, kSegmentHeaderSize, s.message()};
  }
  r.summary.size_bytes = kSegmentHeaderSize;

  RecordScanner scanner(file, kSegmentHeaderSize, end, max_length);
  std::uint64_t expected = base_offset;
  std::int64_t last_timestamp = std::numeric_limits<std::int64_t>::min();
  std::size_t next_entry = 0;
  const std::size_t entry_count = expected_index != nullptr ? expected_index->size() : 0;
  for (;;) {
    const RecordScanner::Step step = scanner.next();
    const std::uint64_t position = scanner.record_position();
    std::string reason(scanner.reason());
    if (step == RecordScanner::Step::kEnd) break;
    if (step == RecordScanner::Step::kError) return scanner.error();
    if (step == RecordScanner::Step::kUnsupported) {
      return Status::protocol("record at byte " + std::to_string(position) + ": " + reason);
    }
    if (step == RecordScanner::Step::kRecord) {
      const RecordView& rec = scanner.record();
      if (rec.offset > expected && rec.timestamp >= last_timestamp) {
        r.damage.push_back(
            Damage{base_offset, expected, position, 0,
                   "offsets " + std::to_string(expected) + " to " + std::to_string(rec.offset - 1) + " are missing"});
        expected = rec.offset;
      }
      if (rec.offset == expected) {
        const auto relative = static_cast<std::uint32_t>(rec.offset - base_offset);
        r.index.on_record(relative, static_cast<std::uint32_t>(position), rec.timestamp, rec.encoded_size);
        for (; next_entry < entry_count && (*expected_index)[next_entry].relative_offset <= relative; ++next_entry) {
          const IndexEntry& e = (*expected_index)[next_entry];
          if (e.relative_offset == relative && (e.position != position || e.timestamp != rec.timestamp) &&
              r.index_mismatch.empty()) {
            r.index_mismatch = "index entry for offset " + std::to_string(rec.offset) + " names byte " +
                               std::to_string(e.position) + ", the record starts at byte " + std::to_string(position);
          }
        }
        if (r.records == 0) r.summary.first_timestamp = rec.timestamp;
        r.summary.last_timestamp = rec.timestamp;
        last_timestamp = rec.timestamp;
        r.summary.next_offset = rec.offset + 1;
        r.summary.size_bytes = scanner.position();
        ++r.records;
        ++expected;
        continue;
      }
      reason = "offset out of sequence (expected " + std::to_string(expected) + ", found " +
               std::to_string(rec.offset) + ")";
    }
    // Damage: look for the next valid record. Every record takes at least kRecordHeaderSize bytes, which bounds
    // the offset a genuine record further on can have.
    const std::uint64_t max_offset = expected + (end - position) / kRecordHeaderSize;
    auto found = find_next_record(file, position + 1, end, expected, max_offset, last_timestamp, max_length);
    if (!found) return found.status();
    if (!found->has_value()) {
      r.tail = Damage{base_offset, expected, position, end - position, reason};
      break;
    }
    r.damage.push_back(Damage{base_offset, expected, position, (*found)->position - position, reason});
    expected = (*found)->offset;
    scanner.seek((*found)->position);
  }
  if (next_entry < entry_count && r.index_mismatch.empty()) {
    r.index_mismatch = "index names offset " +
                       std::to_string(base_offset + (*expected_index)[next_entry].relative_offset) +
                       ", past the segment's last record";
  }
  return r;
}

}  // namespace weft::detail::log
