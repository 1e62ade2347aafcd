#include "log/index_file.hpp"

#include "log/byte_order.hpp"
#include "log/log_format.hpp"

namespace weft::detail::log {
namespace {

// Footer field positions (see log_format.hpp).
constexpr std::size_t kVersionAt = 4;
constexpr std::size_t kKindAt = 6;
constexpr std::size_t kEntrySizeAt = 7;
constexpr std::size_t kBaseAt = 8;
constexpr std::size_t kNextAt = 16;
constexpr std::size_t kSizeAt = 24;
constexpr std::size_t kFirstTimestampAt = 32;
constexpr std::size_t kLastTimestampAt = 40;
constexpr std::size_t kCountAt = 48;
constexpr std::size_t kFooterChecksumAt = 56;

std::vector<std::byte> encode(const SegmentSummary& s, const std::vector<IndexEntry>& entries, std::uint8_t kind,
                              std::size_t entry_size) {
  std::vector<std::byte> out(entries.size() * entry_size + kIndexFooterSize);
  std::byte* p = out.data();
  for (const IndexEntry& e : entries) {
    if (kind == kOffsetIndexKind) {
      store_u32(p, e.relative_offset);
      store_u32(p + 4, e.position);
    } else {
      store_u64(p, static_cast<std::uint64_t>(e.timestamp));
      store_u32(p + 8, e.relative_offset);
    }
    p += entry_size;
  }
  for (std::size_t i = 0; i < kIndexMagic.size(); ++i) p[i] = static_cast<std::byte>(kIndexMagic[i]);
  store_u16(p + kVersionAt, kFormatVersion);
  p[kKindAt] = static_cast<std::byte>(kind);
  p[kEntrySizeAt] = static_cast<std::byte>(entry_size);
  store_u64(p + kBaseAt, s.base_offset);
  store_u64(p + kNextAt, s.next_offset);
  store_u64(p + kSizeAt, s.size_bytes);
  store_u64(p + kFirstTimestampAt, static_cast<std::uint64_t>(s.first_timestamp));
  store_u64(p + kLastTimestampAt, static_cast<std::uint64_t>(s.last_timestamp));
  store_u32(p + kCountAt, static_cast<std::uint32_t>(entries.size()));
  store_u32(p + kCountAt + 4, 0);
  store_u64(p + kFooterChecksumAt, checksum({out.data(), out.size() - 8}));
  return out;
}

struct Footer {
  SegmentSummary summary;
  std::size_t count = 0;
};

Result<Footer> decode_footer(std::span<const std::byte> file, std::uint8_t kind, std::size_t entry_size,
                             const char* what) {
  const std::string name(what);
  if (file.size() < kIndexFooterSize) return Status::corruption(name + " is shorter than its footer");
  const std::byte* f = file.data() + file.size() - kIndexFooterSize;
  if (load_u64(f + kFooterChecksumAt) != checksum(file.first(file.size() - 8))) {
    return Status::corruption(name + " checksum mismatch");
  }
  for (std::size_t i = 0; i < kIndexMagic.size(); ++i) {
    if (f[i] != static_cast<std::byte>(kIndexMagic[i])) return Status::corruption(name + " has a bad magic");
  }
  if (load_u16(f + kVersionAt) != kFormatVersion || std::to_integer<std::uint8_t>(f[kKindAt]) != kind ||
      std::to_integer<std::size_t>(f[kEntrySizeAt]) != entry_size) {
    return Status::corruption(name + " has an unknown version, kind or entry size");
  }
  Footer footer;
  footer.count = load_u32(f + kCountAt);
  if (footer.count * entry_size != file.size() - kIndexFooterSize) {
    return Status::corruption(name + " entry count disagrees with its size");
  }
  SegmentSummary& s = footer.summary;
  s.base_offset = load_u64(f + kBaseAt);
  s.next_offset = load_u64(f + kNextAt);
  s.size_bytes = load_u64(f + kSizeAt);
  s.first_timestamp = static_cast<std::int64_t>(load_u64(f + kFirstTimestampAt));
  s.last_timestamp = static_cast<std::int64_t>(load_u64(f + kLastTimestampAt));
  return footer;
}

}  // namespace

std::vector<std::byte> encode_offset_index(const SegmentSummary& summary, const std::vector<IndexEntry>& entries) {
  return encode(summary, entries, kOffsetIndexKind, kOffsetIndexEntrySize);
}

std::vector<std::byte> encode_time_index(const SegmentSummary& summary, const std::vector<IndexEntry>& entries) {
  return encode(summary, entries, kTimeIndexKind, kTimeIndexEntrySize);
}

Result<LoadedIndex> decode_index_files(std::span<const std::byte> offset_index, std::span<const std::byte> time_index,
                                       std::uint64_t base_offset) {
  auto of = decode_footer(offset_index, kOffsetIndexKind, kOffsetIndexEntrySize, "offset index");
  if (!of) return of.status();
  auto tf = decode_footer(time_index, kTimeIndexKind, kTimeIndexEntrySize, "time index");
  if (!tf) return tf.status();
  if (!(of->summary == tf->summary) || of->count != tf->count) {
    return Status::corruption("offset and time index footers disagree");
  }
  const SegmentSummary& s = of->summary;
  if (s.base_offset != base_offset) return Status::corruption("index footer names another segment");
  if (s.next_offset < s.base_offset || s.size_bytes < kSegmentHeaderSize ||
      s.next_offset - s.base_offset > UINT32_MAX || s.first_timestamp > s.last_timestamp) {
    return Status::corruption("index footer summary is impossible");
  }
  LoadedIndex loaded{s, {}};
  loaded.entries.reserve(of->count);
  for (std::size_t i = 0; i < of->count; ++i) {
    const std::byte* o = offset_index.data() + i * kOffsetIndexEntrySize;
    const std::byte* t = time_index.data() + i * kTimeIndexEntrySize;
    IndexEntry e{load_u32(o), load_u32(o + 4), static_cast<std::int64_t>(load_u64(t))};
    const bool in_range = e.relative_offset < s.next_offset - s.base_offset && e.position >= kSegmentHeaderSize &&
                          e.position < s.size_bytes && e.timestamp >= s.first_timestamp &&
                          e.timestamp <= s.last_timestamp;
    const bool ordered = loaded.entries.empty() || (e.relative_offset > loaded.entries.back().relative_offset &&
                                                    e.position > loaded.entries.back().position &&
                                                    e.timestamp >= loaded.entries.back().timestamp);
    if (load_u32(t + 8) != e.relative_offset || !in_range || !ordered) {
      return Status::corruption("index entry " + std::to_string(i) + " is out of range or out of order");
    }
    loaded.entries.push_back(e);
  }
  return loaded;
}

}  // namespace weft::detail::log
