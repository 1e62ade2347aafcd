// One segment of a stream's log: its .log file, what is known about its records (SegmentSummary) and its
// sparse index. The active segment takes appends; a sealed one is read-only and has index files.
//
// Thread-safety: the summary and index are guarded by the owning Log's mutex (the Log takes it around every
// call below except the file I/O). The File is shared with readers, who hold a shared_ptr to the Segment, so
// a segment deleted by retention stays readable until its last reader lets go.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "log/file_system.hpp"
#include "log/index_file.hpp"
#include "log/record_codec.hpp"
#include "log/segment_files.hpp"
#include "log/sparse_index.hpp"

namespace weft::detail::log {

class Segment {
 public:
  Segment(std::string dir, std::shared_ptr<File> file, SegmentSummary summary, SparseIndex index, bool sealed);

  // Creates a new, empty segment file (header written, not synced) in `dir`.
  static Result<std::shared_ptr<Segment>> create(FileSystem& fs, const std::string& dir, std::uint64_t base_offset,
                                                 std::size_t index_interval_bytes);

  [[nodiscard]] std::uint64_t base_offset() const noexcept { return summary_.base_offset; }
  [[nodiscard]] const SegmentSummary& summary() const noexcept { return summary_; }
  [[nodiscard]] const SparseIndex& index() const noexcept { return index_; }
  [[nodiscard]] bool empty() const noexcept { return summary_.next_offset == summary_.base_offset; }
  [[nodiscard]] bool sealed() const noexcept { return sealed_; }
  [[nodiscard]] const std::shared_ptr<File>& file() const noexcept { return file_; }
  [[nodiscard]] std::string path(FileKind kind) const;

  // After `sizes.size()` records with offsets from summary().next_offset, all with `timestamp`, were written
  // at the end of the file: account for them and index them.
  void on_appended(std::int64_t timestamp, std::span<const std::uint32_t> sizes);

  // Writes both index files (not synced) and marks the segment sealed.
  Status seal(FileSystem& fs);

  // The position to start scanning from to find `offset` (which lies in this segment), and the offset of the
  // record there.
  struct StartPoint {
    std::uint64_t position;
    std::uint64_t offset;
  };
  [[nodiscard]] StartPoint start_for_offset(std::uint64_t offset) const;
  // The same, for the first record with a timestamp at or after `timestamp`.
  [[nodiscard]] StartPoint start_for_time(std::int64_t timestamp) const;

 private:
  std::string dir_;
  std::shared_ptr<File> file_;
  SegmentSummary summary_;
  SparseIndex index_;
  bool sealed_;
};

// Appends the encoding of `records` (offsets from first_offset, all with `timestamp`) to `out`, and the size of
// each record to `sizes`.
void encode_batch(std::span<const RecordInput> records, std::uint64_t first_offset, std::int64_t timestamp,
                  std::vector<std::byte>& out, std::vector<std::uint32_t>& sizes);

}  // namespace weft::detail::log
