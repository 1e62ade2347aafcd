// Encoding and decoding one record (layout in log_format.hpp and docs/log-format.md). Pure functions over
// bytes: no I/O, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace weft::detail::log {

// What a caller hands to the log for one record. The value is opaque here (a Weft envelope, in practice).
// A key, when present, is what compaction will key on; an empty key is still a key.
struct RecordInput {
  std::span<const std::byte> value;
  std::optional<std::span<const std::byte>> key;
  bool tombstone = false;  // deletes its key (kFlagTombstone); needs a key
  bool removed = false;    // a record compaction removed (kFlagRemoved): no key, no value
};

// A decoded record. The spans point into the bytes that were decoded.
struct RecordView {
  std::uint64_t offset = 0;
  std::int64_t timestamp = 0;
  std::uint8_t flags = 0;
  std::optional<std::span<const std::byte>> key;
  std::span<const std::byte> value;
  std::size_t encoded_size = 0;  // bytes the record occupies on disk
  [[nodiscard]] bool removed() const noexcept;    // kFlagRemoved: compaction left only its offset
  [[nodiscard]] bool tombstone() const noexcept;  // kFlagTombstone
};

// Bytes `input` takes on disk; 0 if it cannot be encoded (a key longer than kMaxKeyBytes).
[[nodiscard]] std::size_t encoded_size(const RecordInput& input) noexcept;

// Writes the record at `out`, which must hold encoded_size(input) bytes.
void encode_record(const RecordInput& input, std::uint64_t offset, std::int64_t timestamp, std::byte* out) noexcept;

enum class DecodeOutcome {
  kRecord,       // a whole, valid record
  kIncomplete,   // the bytes end inside the record; `needed` says how many bytes the record needs in all
  kCorrupt,      // the bytes cannot be a valid record; `reason` says why
  kUnsupported,  // a valid record (checksum good) that uses an incompatible feature this reader lacks
};

struct Decoded {
  DecodeOutcome outcome = DecodeOutcome::kCorrupt;
  RecordView record;             // kRecord only
  std::size_t needed = 0;        // kIncomplete: total bytes of the record, or of its length field if unread
  std::string_view reason = "";  // kCorrupt / kUnsupported: a static description
};

// Decodes the record that starts at bytes[0]. `max_length` bounds the length field (records claiming more are
// corrupt, not incomplete, so that a damaged length never makes a reader allocate or wait for gigabytes).
[[nodiscard]] Decoded decode_record(std::span<const std::byte> bytes, std::uint32_t max_length) noexcept;

// A length field value is plausible if it lies in [kMinRecordLength, max_length].
[[nodiscard]] bool plausible_length(std::uint32_t length, std::uint32_t max_length) noexcept;

}  // namespace weft::detail::log
