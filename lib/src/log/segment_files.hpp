// Names of a segment's files and the segment header (the first kSegmentHeaderSize bytes of a .log file).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "log/log_format.hpp"
#include "weft/status.hpp"

namespace weft::detail::log {

enum class FileKind { kSegment, kOffsetIndex, kTimeIndex };

// "00000000000000000042.log", ".index", ".timeindex".
[[nodiscard]] std::string file_name(std::uint64_t base_offset, FileKind kind);

struct ParsedFileName {
  std::uint64_t base_offset = 0;
  FileKind kind = FileKind::kSegment;
};
// The base offset and kind of a log file name; nullopt for anything else (exactly 20 digits and a known suffix).
[[nodiscard]] std::optional<ParsedFileName> parse_file_name(std::string_view name);

// A segment being rewritten by compaction is written as "<segment file name>.compacting", then renamed over
// the segment. Recovery removes one that a crash left behind (the segment itself is whole).
inline constexpr std::string_view kCompactingSuffix = ".compacting";
[[nodiscard]] bool is_compaction_leftover(std::string_view name);

using SegmentHeader = std::array<std::byte, kSegmentHeaderSize>;
[[nodiscard]] SegmentHeader encode_segment_header(std::uint64_t base_offset) noexcept;

// ok, kCorruption (bad magic, checksum or base offset) or kProtocol (a format version this code does not read).
[[nodiscard]] Status check_segment_header(std::span<const std::byte> header, std::uint64_t expected_base);

}  // namespace weft::detail::log
