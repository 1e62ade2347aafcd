// The record codec, the segment header and file names: docs/log-format.md, byte for byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "log/byte_order.hpp"
#include "log/log_format.hpp"
#include "log/record_codec.hpp"
#include "log/segment_files.hpp"
#include "log_test_support.hpp"

namespace weft::detail::log {
namespace {

using testing::bytes;
using testing::text;

std::vector<std::byte> encode(const RecordInput& in, std::uint64_t offset, std::int64_t ts) {
  std::vector<std::byte> out(encoded_size(in));
  encode_record(in, offset, ts, out.data());
  return out;
}

std::string hex(std::span<const std::byte> data) {
  std::string out;
  char buf[4];
  for (std::byte b : data) {
    std::snprintf(buf, sizeof buf, "%02x", std::to_integer<unsigned>(b));
    out += buf;
  }
  return out;
}

// The bytes of the dump that follows `marker` in docs/log-format.md: in each line of the fenced block after the
// marker, the leading two-digit hex tokens (the rest of the line is commentary).
std::string hex_in_spec(const std::string& marker) {
  std::ifstream in(WEFT_LOG_FORMAT_DOC);
  EXPECT_TRUE(in.good()) << "cannot read " << WEFT_LOG_FORMAT_DOC;
  std::string line;
  while (std::getline(in, line) && line.find(marker) == std::string::npos) {
  }
  while (std::getline(in, line) && !line.starts_with("```")) {
  }
  std::string out;
  while (std::getline(in, line) && !line.starts_with("```")) {
    std::istringstream tokens(line);
    std::string t;
    while (tokens >> t && t.size() == 2 && std::isxdigit(static_cast<unsigned char>(t[0])) &&
           std::isxdigit(static_cast<unsigned char>(t[1]))) {
      out += t;
    }
  }
  return out;
}

constexpr std::int64_t kExampleTime = 1'700'000'000'123'456'789;

TEST(LogRecord, RoundTripsWithAndWithoutKey) {
  const auto value = bytes("an envelope");
  const auto key = bytes("order-17");
  for (bool with_key : {false, true}) {
    const RecordInput in{value, with_key ? std::optional<std::span<const std::byte>>(key) : std::nullopt};
    const auto encoded = encode(in, 99, kExampleTime);
    ASSERT_EQ(encoded.size(), kRecordHeaderSize + value.size() + (with_key ? key.size() : 0));
    const Decoded d = decode_record(encoded, 1 << 20);
    ASSERT_EQ(d.outcome, DecodeOutcome::kRecord) << d.reason;
    EXPECT_EQ(d.record.offset, 99u);
    EXPECT_EQ(d.record.timestamp, kExampleTime);
    EXPECT_EQ(text(d.record.value), "an envelope");
    EXPECT_EQ(d.record.key.has_value(), with_key);
    if (with_key) {
      EXPECT_EQ(text(*d.record.key), "order-17");
    }
    EXPECT_EQ(d.record.encoded_size, encoded.size());
  }
}

TEST(LogRecord, EmptyValueAndEmptyKeyAreRecordsToo) {
  const std::vector<std::byte> empty;
  const auto encoded = encode({empty, std::span<const std::byte>(empty)}, 0, -5);
  EXPECT_EQ(encoded.size(), kRecordHeaderSize);
  const Decoded d = decode_record(encoded, 1 << 20);
  ASSERT_EQ(d.outcome, DecodeOutcome::kRecord);
  EXPECT_TRUE(d.record.key.has_value());
  EXPECT_TRUE(d.record.key->empty());
  EXPECT_TRUE(d.record.value.empty());
  EXPECT_EQ(d.record.timestamp, -5);
}

TEST(LogRecord, EveryFlippedByteIsDetected) {
  const auto value = bytes("payload bytes that matter");
  const auto key = bytes("k");
  const auto good = encode({value, std::span<const std::byte>(key)}, 7, kExampleTime);
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80, 0xFF}) {
      auto bad = good;
      bad[i] ^= std::byte{mask};
      const Decoded d = decode_record(bad, 1 << 20);
      EXPECT_NE(d.outcome, DecodeOutcome::kRecord) << "byte " << i << " mask " << int{mask};
    }
  }
}

TEST(LogRecord, ShortInputIsIncompleteWithTheSizeNeeded) {
  const auto value = bytes("0123456789");
  const auto good = encode({value, std::nullopt}, 1, 1);
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Decoded d = decode_record(std::span(good).first(n), 1 << 20);
    ASSERT_EQ(d.outcome, DecodeOutcome::kIncomplete) << n;
    EXPECT_EQ(d.needed, n < 4 ? 4u : good.size());
  }
}

TEST(LogRecord, ImplausibleLengthsAreCorruptNotIncomplete) {
  std::vector<std::byte> data(64);
  store_u32(data.data(), 3);  // below the fixed header
  EXPECT_EQ(decode_record(data, 1 << 20).outcome, DecodeOutcome::kCorrupt);
  store_u32(data.data(), 0xFFFFFFF0);  // beyond the record limit: never wait for 4 GiB
  EXPECT_EQ(decode_record(data, 1 << 20).outcome, DecodeOutcome::kCorrupt);
  store_u32(data.data(), 0);  // zero-filled tail
  EXPECT_EQ(decode_record(data, 1 << 20).outcome, DecodeOutcome::kCorrupt);
}

// Re-seals a hand-edited record with a valid checksum, as a newer writer would have written it.
void reseal(std::vector<std::byte>& rec) {
  const std::uint32_t length = load_u32(rec.data());
  store_u64(rec.data() + kChecksumAt, checksum(std::span(rec).subspan(kChecksummedFrom), length));
}

TEST(LogRecord, ANewerWritersHeaderExtensionIsSkipped) {
  // Version 1 readers must read records that carry extension bytes (ext_length) and compatible flags.
  const auto value = bytes("v");
  const auto key = bytes("key");
  auto rec = encode({value, std::span<const std::byte>(key)}, 5, 10);
  const std::vector<std::byte> ext = {std::byte{0xAA}, std::byte{0xBB}, std::byte{0xCC}};
  rec.insert(rec.begin() + kRecordHeaderSize, ext.begin(), ext.end());
  rec[kExtLengthAt] = std::byte{3};
  rec[kFlagsAt] |= std::byte{0x04};  // a compatible flag this reader does not know
  store_u32(rec.data(), static_cast<std::uint32_t>(rec.size() - kLengthFieldSize));
  reseal(rec);
  const Decoded d = decode_record(rec, 1 << 20);
  ASSERT_EQ(d.outcome, DecodeOutcome::kRecord) << d.reason;
  EXPECT_EQ(text(*d.record.key), "key");
  EXPECT_EQ(text(d.record.value), "v");
}

TEST(LogRecord, AnIncompatibleFlagIsUnsupportedNotMisread) {
  const auto value = bytes("compressed, say");
  auto rec = encode({value, std::nullopt}, 5, 10);
  rec[kFlagsAt] |= std::byte{0x20};
  reseal(rec);
  EXPECT_EQ(decode_record(rec, 1 << 20).outcome, DecodeOutcome::kUnsupported);
}

TEST(LogRecord, ARemovedRecordKeepsItsOffsetAndTimeAndNothingElse) {
  const auto rec = encode({{}, std::nullopt, false, true}, 7, 11);
  EXPECT_EQ(rec.size(), kRecordHeaderSize);
  const Decoded d = decode_record(rec, 1 << 20);
  ASSERT_EQ(d.outcome, DecodeOutcome::kRecord) << d.reason;
  EXPECT_TRUE(d.record.removed());
  EXPECT_EQ(d.record.offset, 7u);
  EXPECT_EQ(d.record.timestamp, 11);
  // A removed record that still carries a value is damage, not a message.
  const auto value = bytes("v");
  auto with_value = encode({value, std::nullopt}, 7, 11);
  with_value[kFlagsAt] |= std::byte{kFlagRemoved};
  reseal(with_value);
  EXPECT_EQ(decode_record(with_value, 1 << 20).outcome, DecodeOutcome::kCorrupt);
}

TEST(LogRecord, ATombstoneKeepsItsKey) {
  const auto key = bytes("k");
  const auto rec = encode({{}, key, true, false}, 3, 4);
  const Decoded d = decode_record(rec, 1 << 20);
  ASSERT_EQ(d.outcome, DecodeOutcome::kRecord) << d.reason;
  EXPECT_TRUE(d.record.tombstone());
  EXPECT_FALSE(d.record.removed());
  EXPECT_EQ(text(*d.record.key), "k");
}

TEST(LogRecord, KeyLengthWithoutTheKeyFlagIsCorrupt) {
  const auto value = bytes("abcd");
  auto rec = encode({value, std::nullopt}, 5, 10);
  store_u16(rec.data() + kKeyLengthAt, 2);
  reseal(rec);
  EXPECT_EQ(decode_record(rec, 1 << 20).outcome, DecodeOutcome::kCorrupt);
}

TEST(LogRecord, OversizedKeyCannotBeEncoded) {
  const std::vector<std::byte> key(kMaxKeyBytes + 1);
  EXPECT_EQ(encoded_size({{}, std::span<const std::byte>(key)}), 0u);
}

// docs/log-format.md shows this record byte by byte; the spec and the code must not drift.
TEST(LogRecord, HexExampleMatchesTheSpec) {
  const auto value = bytes("hello");
  const auto key = bytes("k1");
  const auto rec = encode({value, std::span<const std::byte>(key)}, 42, kExampleTime);
  const std::string expected =
      "23000000"          // length 35
      "51c968636534c571"  // checksum
      "2a00000000000000"  // offset 42
      "15cd853dfe9c9717"  // timestamp
      "01"                // flags: has key
      "00"                // ext_length
      "0200"              // key_length
      "6b31"              // "k1"
      "68656c6c6f";       // "hello"
  EXPECT_EQ(hex(rec), expected);
  EXPECT_EQ(hex_in_spec("log-format-example: record"), hex(rec));
}

TEST(LogSegmentHeader, HexExampleMatchesTheSpec) {
  const SegmentHeader h = encode_segment_header(4096);
  EXPECT_EQ(hex_in_spec("log-format-example: segment-header"), hex(h));
  EXPECT_TRUE(check_segment_header(h, 4096).is_ok());
}

TEST(LogSegmentHeader, DamageAndMismatchAreCaught) {
  const SegmentHeader h = encode_segment_header(7);
  EXPECT_EQ(check_segment_header(h, 8).code(), ErrorCode::kCorruption);
  for (std::size_t i = 0; i < h.size(); ++i) {
    SegmentHeader bad = h;
    bad[i] ^= std::byte{0x04};
    EXPECT_EQ(check_segment_header(bad, 7).code(), ErrorCode::kCorruption) << i;
  }
  SegmentHeader future = h;
  store_u16(future.data() + kSegmentHeaderVersionAt, 2);
  store_u64(future.data() + kSegmentHeaderChecksumAt, checksum(std::span(future).first(16)));
  EXPECT_EQ(check_segment_header(future, 7).code(), ErrorCode::kProtocol);
}

TEST(LogFileNames, AreTwentyDigitsAndASuffix) {
  EXPECT_EQ(file_name(0, FileKind::kSegment), "00000000000000000000.log");
  EXPECT_EQ(file_name(123456, FileKind::kOffsetIndex), "00000000000000123456.index");
  EXPECT_EQ(file_name(UINT64_MAX, FileKind::kTimeIndex), "18446744073709551615.timeindex");
  for (FileKind kind : {FileKind::kSegment, FileKind::kOffsetIndex, FileKind::kTimeIndex}) {
    auto parsed = parse_file_name(file_name(987654321, kind));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->base_offset, 987654321u);
    EXPECT_EQ(parsed->kind, kind);
  }
}

TEST(LogFileNames, AnythingElseIsNotALogFile) {
  for (const char* name :
       {"", "0.log", "0000000000000000000.log", "000000000000000000000.log", "0000000000000000000x.log",
        "00000000000000000000.log.tmp", "00000000000000000000.idx", "99999999999999999999.log", "lost+found"}) {
    EXPECT_FALSE(parse_file_name(name)) << name;
  }
}

}  // namespace
}  // namespace weft::detail::log
