#include "log/segment_files.hpp"

#include <algorithm>
#include <cstdio>

#include "log/byte_order.hpp"

namespace weft::detail::log {
namespace {

std::string_view suffix(FileKind kind) {
  switch (kind) {
    case FileKind::kSegment:
      return kSegmentSuffix;
    case FileKind::kOffsetIndex:
      return kOffsetIndexSuffix;
    case FileKind::kTimeIndex:
      return kTimeIndexSuffix;
  }
  return kSegmentSuffix;
}

}  // namespace

std::string file_name(std::uint64_t base_offset, FileKind kind) {
  std::array<char, kFileNameDigits + 1> digits{};
  std::snprintf(digits.data(), digits.size(), "%020llu", static_cast<unsigned long long>(base_offset));
  std::string name(digits.data(), kFileNameDigits);
  name += suffix(kind);
  return name;
}

std::optional<ParsedFileName> parse_file_name(std::string_view name) {
  if (name.size() <= kFileNameDigits) return std::nullopt;
  const std::string_view digits = name.substr(0, kFileNameDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  ParsedFileName parsed;
  const std::string_view rest = name.substr(kFileNameDigits);
  if (rest == kSegmentSuffix) {
    parsed.kind = FileKind::kSegment;
  } else if (rest == kOffsetIndexSuffix) {
    parsed.kind = FileKind::kOffsetIndex;
  } else if (rest == kTimeIndexSuffix) {
    parsed.kind = FileKind::kTimeIndex;
  } else {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char c : digits) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;  // more than 2^64-1
    value = value * 10 + digit;
  }
  parsed.base_offset = value;
  return parsed;
}

SegmentHeader encode_segment_header(std::uint64_t base_offset) noexcept {
  SegmentHeader h{};
  for (std::size_t i = 0; i < kSegmentMagic.size(); ++i) h[i] = static_cast<std::byte>(kSegmentMagic[i]);
  store_u16(h.data() + kSegmentHeaderVersionAt, kFormatVersion);
  store_u64(h.data() + kSegmentHeaderBaseAt, base_offset);
  store_u64(h.data() + kSegmentHeaderChecksumAt, checksum({h.data(), kSegmentHeaderChecksumAt}));
  return h;
}

Status check_segment_header(std::span<const std::byte> header, std::uint64_t expected_base) {
  if (header.size() < kSegmentHeaderSize) return Status::corruption("segment header is incomplete");
  for (std::size_t i = 0; i < kSegmentMagic.size(); ++i) {
    if (header[i] != static_cast<std::byte>(kSegmentMagic[i])) return Status::corruption("bad segment magic");
  }
  if (load_u64(header.data() + kSegmentHeaderChecksumAt) != checksum(header.first(kSegmentHeaderChecksumAt))) {
    return Status::corruption("segment header checksum mismatch");
  }
  const std::uint16_t version = load_u16(header.data() + kSegmentHeaderVersionAt);
  if (version != kFormatVersion) {
    return Status::protocol("segment format version " + std::to_string(version) +
                            " is not supported (this build reads " + std::to_string(kFormatVersion) + ")");
  }
  const std::uint64_t base = load_u64(header.data() + kSegmentHeaderBaseAt);
  if (base != expected_base) {
    return Status::corruption("segment header names base offset " + std::to_string(base) + ", the file name " +
                              std::to_string(expected_base));
  }
  return Status::ok();
}

bool is_compaction_leftover(std::string_view name) {
  if (name.size() <= kCompactingSuffix.size() || !name.ends_with(kCompactingSuffix)) return false;
  auto parsed = parse_file_name(name.substr(0, name.size() - kCompactingSuffix.size()));
  return parsed && parsed->kind == FileKind::kSegment;
}

}  // namespace weft::detail::log
