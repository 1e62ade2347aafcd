// Reading a segment file: a buffered record scanner, a resynchroniser that finds the next valid record after
// damage, and a full scan that recovery, index rebuilds and verify() share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "log/file_system.hpp"
#include "log/index_file.hpp"
#include "log/record_codec.hpp"
#include "log/sparse_index.hpp"

namespace weft::detail::log {

// Reads records one after another from [position, end) of a file, through a buffer.
class RecordScanner {
 public:
  enum class Step {
    kRecord,       // record() is the next record
    kEnd,          // exactly at `end`
    kIncomplete,   // a record starts but does not fit before `end` (a torn tail, or a damaged length)
    kCorrupt,      // reason() says why
    kUnsupported,  // a valid record with an incompatible feature
    kError,        // error() is the I/O failure
  };

  RecordScanner(const File& file, std::uint64_t position, std::uint64_t end, std::uint32_t max_length);

  Step next();
  // Valid after kRecord, until the next call.
  [[nodiscard]] const RecordView& record() const noexcept { return record_; }
  [[nodiscard]] std::span<const std::byte> record_bytes() const noexcept;
  // Where the last record (or damage) met by next() starts.
  [[nodiscard]] std::uint64_t record_position() const noexcept { return record_position_; }
  // Where the next call to next() reads.
  [[nodiscard]] std::uint64_t position() const noexcept { return cursor_; }
  [[nodiscard]] std::string_view reason() const noexcept { return reason_; }
  [[nodiscard]] const Status& error() const noexcept { return error_; }
  void seek(std::uint64_t position) noexcept { cursor_ = position; }

 private:
  // Makes [cursor_, cursor_ + n) (clipped to end_) available in the buffer; returns how many bytes are.
  Result<std::size_t> fill(std::size_t n);

  const File& file_;
  std::uint64_t cursor_;
  std::uint64_t end_;
  std::uint32_t max_length_;
  std::vector<std::byte> buffer_;
  std::uint64_t buffer_start_ = 0;  // file position of buffer_[0]
  std::size_t buffer_len_ = 0;
  RecordView record_;
  std::uint64_t record_position_ = 0;
  std::string_view reason_;
  Status error_;
};

struct ResyncPoint {
  std::uint64_t position = 0;
  std::uint64_t offset = 0;
};

// Searches [from, end) byte by byte for the next place where a valid record starts: its checksum holds, its
// offset lies in [min_offset, max_offset], its timestamp is at least min_timestamp, and it is followed by
// `end` or by a valid record with the next offset. nullopt if there is none.
[[nodiscard]] Result<std::optional<ResyncPoint>> find_next_record(const File& file, std::uint64_t from,
                                                                  std::uint64_t end, std::uint64_t min_offset,
                                                                  std::uint64_t max_offset, std::int64_t min_timestamp,
                                                                  std::uint32_t max_length);

// A stretch of a segment that holds no valid record.
struct Damage {
  std::uint64_t segment_base = 0;
  std::uint64_t offset = 0;    // the offset the first lost record would have had
  std::uint64_t position = 0;  // byte position in the .log file
  std::uint64_t bytes = 0;     // length of the stretch (to the next valid record, or to the end)
  std::string reason;
  // "corruption at offset 42 (segment 00000000000000000000.log, byte 1234, 56 bytes): checksum mismatch"
  [[nodiscard]] Status to_status() const;
};

struct ScanResult {
  SegmentSummary summary;  // as far as the last valid record (size_bytes: its end)
  SparseIndex index{0};    // rebuilt from the records met
  std::uint64_t records = 0;
  std::vector<Damage> damage;    // stretches followed by valid records
  std::optional<Damage> tail;    // trailing bytes that hold no valid record (a torn write or damage)
  std::optional<Damage> header;  // the segment header is damaged
  std::string index_mismatch;    // set when `expected_index` disagrees with the records
};

// Walks a whole segment file, [0, end): header, then every record, resynchronising past damage. kProtocol if
// the header or a record uses a format this code does not read; I/O failures as they come.
// If `expected_index` is given, each of its entries is checked against the record it names.
[[nodiscard]] Result<ScanResult> scan_segment(const File& file, std::uint64_t base_offset, std::uint64_t end,
                                              std::uint32_t max_length, std::size_t index_interval,
                                              const std::vector<IndexEntry>* expected_index = nullptr);

}  // namespace weft::detail::log
