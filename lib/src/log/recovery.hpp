// Opening a stream's directory: find the segments, trust or rebuild their indexes, check the last segment
// record by record and cut a torn tail. The rules are in docs/log-format.md ("Recovery"); in short:
//  - Only the tail of the last segment is ever truncated: trailing bytes that hold no valid record.
//  - Damage followed by valid records (anywhere) is reported, kept on disk, and never served as data; the
//    valid records after it stay readable.
//  - Index files are a cache: missing, damaged or disagreeing with the .log file means rebuilt.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log/file_system.hpp"
#include "log/log_options.hpp"
#include "log/segment.hpp"
#include "log/segment_reader.hpp"

namespace weft::detail::log {

struct RecoveryReport {
  bool read_only = false;  // LogOptions::read_only: what is reported as cut or rebuilt was left on disk as it was
  bool created = false;    // the stream had no segments; an empty one was created
  std::size_t segments = 0;
  std::uint64_t records_in_last_segment = 0;   // checked one by one
  std::vector<std::uint64_t> indexes_rebuilt;  // base offsets of sealed segments whose index files were rebuilt
  std::optional<Damage> truncated;             // the torn tail cut from the last segment (read-only: to be cut)
  std::vector<Damage> damage;                  // found and kept: reads of these offsets return kCorruption
  std::vector<std::string> removed_files;      // index files without a segment, compaction leftovers
  std::vector<std::string> ignored_files;      // names that are not the log's
  std::vector<std::string> warnings;           // things that did not stop the open (an index not rewritten)

  // Nothing truncated, damaged or rebuilt.
  [[nodiscard]] bool clean() const noexcept {
    return !truncated && damage.empty() && indexes_rebuilt.empty() && removed_files.empty() && warnings.empty();
  }
  // One line per finding, for the daemon's log.
  [[nodiscard]] std::vector<std::string> describe() const;
};

struct RecoveredLog {
  std::vector<std::shared_ptr<Segment>> segments;  // oldest first; the last is active
  RecoveryReport report;
};

[[nodiscard]] Result<RecoveredLog> recover_log(FileSystem& fs, const std::string& dir, const LogOptions& options);

}  // namespace weft::detail::log
