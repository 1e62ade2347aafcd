// Every constant of the on-disk log format, in one place. docs/log-format.md is the specification; keep the
// two in step (LogRecord.HexExampleMatchesTheSpec fails when they drift).
//
// All integers are little-endian. A stream's directory holds, per segment:
//   <base offset, 20 digits>.log        the records (a 24-byte header, then records back to back)
//   <base offset, 20 digits>.index      sparse offset index (sealed segments only)
//   <base offset, 20 digits>.timeindex  sparse time index (sealed segments only)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::detail::log {

// ---- File names ------------------------------------------------------------------------------------------
inline constexpr std::size_t kFileNameDigits = 20;  // enough for any uint64 base offset
inline constexpr std::string_view kSegmentSuffix = ".log";
inline constexpr std::string_view kOffsetIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";

// ---- Segment header: the first 24 bytes of every .log file -----------------------------------------------
//   0  4  magic "WFTL"
//   4  2  format version (kFormatVersion)
//   6  2  reserved, zero
//   8  8  base offset (the offset of the segment's first record; equals the number in the file name)
//  16  8  XXH3-64 of bytes 0..15
inline constexpr std::array<std::uint8_t, 4> kSegmentMagic = {'W', 'F', 'T', 'L'};
inline constexpr std::uint16_t kFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderSize = 24;
inline constexpr std::size_t kSegmentHeaderVersionAt = 4;
inline constexpr std::size_t kSegmentHeaderBaseAt = 8;
inline constexpr std::size_t kSegmentHeaderChecksumAt = 16;

// ---- Record -----------------------------------------------------------------------------------------------
//   0  4  length      bytes that follow this field (28 + ext_length + key_length + value length)
//   4  8  checksum    XXH3_64bits_withSeed(bytes 12 .. 4+length, seed = length)
//  12  8  offset      the record's offset in the stream
//  20  8  timestamp   signed nanoseconds since the Unix epoch; non-decreasing within a stream
//  28  1  flags       bit 0 kFlagHasKey; bit 1 kFlagTombstone; bits 2-3 reserved compatible;
//                     bit 4 kFlagRemoved; bits 5-7 reserved incompatible
//  29  1  ext_length  bytes of header extension after the fixed header; 0 in version 1; readers skip them
//  30  2  key_length  0 unless kFlagHasKey
//  32  .  extension (ext_length bytes), then key (key_length bytes), then value (the rest)
inline constexpr std::size_t kLengthAt = 0;
inline constexpr std::size_t kChecksumAt = 4;
inline constexpr std::size_t kOffsetAt = 12;
inline constexpr std::size_t kTimestampAt = 20;
inline constexpr std::size_t kFlagsAt = 28;
inline constexpr std::size_t kExtLengthAt = 29;
inline constexpr std::size_t kKeyLengthAt = 30;
inline constexpr std::size_t kRecordHeaderSize = 32;
inline constexpr std::size_t kLengthFieldSize = 4;
inline constexpr std::size_t kChecksummedFrom = 12;  // the checksum covers bytes [12, end of record)
// The smallest legal value of the length field: a record with no extension, no key and an empty value.
inline constexpr std::uint32_t kMinRecordLength = kRecordHeaderSize - kLengthFieldSize;

inline constexpr std::uint8_t kFlagHasKey = 0x01;
// The record deletes its key: compaction removes every earlier record with the key, and the tombstone itself
// once it is older than the stream's tombstone retention. Compatible: a reader that does not know the bit
// still delivers the record, as consumers should see a deletion.
inline constexpr std::uint8_t kFlagTombstone = 0x02;
// Compaction removed this record: it keeps its offset and timestamp, has no key and an empty value, and is
// never delivered. Incompatible: a reader that does not know the bit must not take it for an empty message.
inline constexpr std::uint8_t kFlagRemoved = 0x10;
inline constexpr std::uint8_t kKnownFlags = kFlagHasKey | kFlagTombstone | kFlagRemoved;
// Unknown bits in this mask mean "a reader that does not know this feature must not interpret the record".
// Unknown bits outside it are ignored.
inline constexpr std::uint8_t kIncompatibleFlagsMask = 0xF0;
inline constexpr std::size_t kMaxKeyBytes = 0xFFFF;

// ---- Index files (.index and .timeindex) -------------------------------------------------------------------
// Entries back to back, then a 64-byte footer:
//   0  4  magic "WFTX"
//   4  2  format version (kFormatVersion)
//   6  1  kind: 1 offset index, 2 time index
//   7  1  entry size in bytes (8 or 12)
//   8  8  base offset of the segment
//  16  8  next offset: one past the segment's last record
//  24  8  size of the .log file the entries describe, in bytes
//  32  8  timestamp of the segment's first record (0 if it has none)
//  40  8  timestamp of the segment's last record (0 if it has none)
//  48  4  entry count
//  52  4  reserved, zero
//  56  8  XXH3-64 of every byte of the file before this field
// Offset index entry (8 bytes): u32 offset relative to the base, u32 byte position of that record in the .log.
// Time index entry (12 bytes): i64 timestamp of the record, u32 offset relative to the base.
inline constexpr std::array<std::uint8_t, 4> kIndexMagic = {'W', 'F', 'T', 'X'};
inline constexpr std::uint8_t kOffsetIndexKind = 1;
inline constexpr std::uint8_t kTimeIndexKind = 2;
inline constexpr std::size_t kOffsetIndexEntrySize = 8;
inline constexpr std::size_t kTimeIndexEntrySize = 12;
inline constexpr std::size_t kIndexFooterSize = 64;

// ---- Limits -----------------------------------------------------------------------------------------------
// The largest length field a reader accepts: a record takes at most 64 MiB on disk. A longer length is damage,
// so a damaged length never makes a reader allocate or wait for more. (LogOptions::max_record_bytes, which
// bounds appends, may only be lower, so changing it never makes records already written unreadable.)
inline constexpr std::uint32_t kMaxRecordLength = (64U << 20) - kLengthFieldSize;
// Positions in the index are 32-bit, so a segment must stay below 4 GiB: a segment rolls at segment_bytes
// (at most kMaxSegmentBytes), and one append (which always lands in one segment) is at most kMaxBatchBytes.
inline constexpr std::uint64_t kMaxSegmentBytes = 1ULL << 30;
inline constexpr std::uint64_t kMaxBatchBytes = 1ULL << 30;

}  // namespace weft::detail::log
