#include "log/record_codec.hpp"

#include <cstring>

#include "log/byte_order.hpp"
#include "log/log_format.hpp"

namespace weft::detail::log {

std::size_t encoded_size(const RecordInput& input) noexcept {
  std::size_t key = 0;
  if (input.key) {
    if (input.key->size() > kMaxKeyBytes) return 0;
    key = input.key->size();
  }
  return kRecordHeaderSize + key + input.value.size();
}

void encode_record(const RecordInput& input, std::uint64_t offset, std::int64_t timestamp, std::byte* out) noexcept {
  const std::size_t key_size = input.key ? input.key->size() : 0;
  const std::size_t total = kRecordHeaderSize + key_size + input.value.size();
  store_u32(out + kLengthAt, static_cast<std::uint32_t>(total - kLengthFieldSize));
  store_u64(out + kOffsetAt, offset);
  store_u64(out + kTimestampAt, static_cast<std::uint64_t>(timestamp));
  out[kFlagsAt] = static_cast<std::byte>((input.key ? kFlagHasKey : 0) | (input.tombstone ? kFlagTombstone : 0) |
                                         (input.removed ? kFlagRemoved : 0));
  out[kExtLengthAt] = std::byte{0};
  store_u16(out + kKeyLengthAt, static_cast<std::uint16_t>(key_size));
  std::byte* p = out + kRecordHeaderSize;
  if (key_size != 0) std::memcpy(p, input.key->data(), key_size);
  if (!input.value.empty()) std::memcpy(p + key_size, input.value.data(), input.value.size());
  const auto length = static_cast<std::uint32_t>(total - kLengthFieldSize);
  store_u64(out + kChecksumAt, checksum({out + kChecksummedFrom, total - kChecksummedFrom}, length));
}

bool RecordView::removed() const noexcept { return (flags & kFlagRemoved) != 0; }
bool RecordView::tombstone() const noexcept { return (flags & kFlagTombstone) != 0; }

bool plausible_length(std::uint32_t length, std::uint32_t max_length) noexcept {
  return length >= kMinRecordLength && length <= max_length;
}

Decoded decode_record(std::span<const std::byte> bytes, std::uint32_t max_length) noexcept {
  Decoded d;
  if (bytes.size() < kLengthFieldSize) {
    d.outcome = DecodeOutcome::kIncomplete;
    d.needed = kLengthFieldSize;
    return d;
  }
  const std::uint32_t length = load_u32(bytes.data() + kLengthAt);
  if (!plausible_length(length, max_length)) {
    d.reason = length < kMinRecordLength ? "length field too small" : "length field exceeds the record limit";
    return d;
  }
  const std::size_t total = kLengthFieldSize + std::size_t{length};
  if (bytes.size() < total) {
    d.outcome = DecodeOutcome::kIncomplete;
    d.needed = total;
    return d;
  }
  const std::byte* p = bytes.data();
  if (load_u64(p + kChecksumAt) != checksum({p + kChecksummedFrom, total - kChecksummedFrom}, length)) {
    d.reason = "checksum mismatch";
    return d;
  }
  const auto flags = std::to_integer<std::uint8_t>(p[kFlagsAt]);
  const std::size_t ext = std::to_integer<std::size_t>(p[kExtLengthAt]);
  const std::size_t key_size = load_u16(p + kKeyLengthAt);
  if (kRecordHeaderSize + ext + key_size > total) {
    d.reason = "extension and key overrun the record";
    return d;
  }
  if ((flags & kFlagHasKey) == 0 && key_size != 0) {
    d.reason = "key length set without the has-key flag";
    return d;
  }
  if ((flags & kFlagRemoved) != 0 && (key_size != 0 || (flags & (kFlagHasKey | kFlagTombstone)) != 0 ||
                                      total != kRecordHeaderSize + ext)) {
    d.reason = "a removed record carries a key or a value";
    return d;
  }
  if ((flags & kIncompatibleFlagsMask & ~kKnownFlags) != 0) {
    d.outcome = DecodeOutcome::kUnsupported;
    d.reason = "record uses an incompatible feature flag this reader does not know";
    return d;
  }
  d.outcome = DecodeOutcome::kRecord;
  RecordView& r = d.record;
  r.offset = load_u64(p + kOffsetAt);
  r.timestamp = static_cast<std::int64_t>(load_u64(p + kTimestampAt));
  r.flags = flags;
  const std::byte* key = p + kRecordHeaderSize + ext;
  if ((flags & kFlagHasKey) != 0) r.key = std::span<const std::byte>(key, key_size);
  r.value = std::span<const std::byte>(key + key_size, total - kRecordHeaderSize - ext - key_size);
  r.encoded_size = total;
  return d;
}

}  // namespace weft::detail::log
