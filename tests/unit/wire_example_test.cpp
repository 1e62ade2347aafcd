// Pins the examples of docs/wire-protocol.md to the real encoder. The hex below is what the document shows; the
// tests check that lib's encoder produces exactly these bytes, that the decoder reads back the documented field
// values, and that the annotated dumps in the document spell the same bytes (offsets included). If the encoder
// changes, these fail until the document is updated with it.
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "codec/envelope.hpp"
#include "codec/wire_format.hpp"

#ifndef WEFT_WIRE_PROTOCOL_DOC
#error "tests/CMakeLists.txt defines WEFT_WIRE_PROTOCOL_DOC as the path of docs/wire-protocol.md"
#endif

namespace weft::detail {
namespace {

// The example of the document: one message on telemetry.host1.cpu.
constexpr std::string_view kSubject = "telemetry.host1.cpu";
constexpr std::uint64_t kStream = 0x7f3a9c1e5b2d4806ULL;
constexpr std::int64_t kTimestamp = 1'700'000'000'123'456'789;  // 2023-11-14T22:13:20.123456789Z

constexpr std::string_view kSubjectFrameHex = "74656c656d657472792e686f7374312e637075";

constexpr std::string_view kEnvelopeHex =
    "97"                                        // fixarray, 7 elements
    "01"                                        // [0] version 1
    "cf7f3a9c1e5b2d4806"                        // [1] stream, uint64
    "cf0000000000000001"                        // [2] sequence 1, uint64
    "b374656c656d657472792e686f7374312e637075"  // [3] subject, fixstr(19)
    "d317979cfe3d85cd15"                        // [4] timestamp, int64
    "81a4756e6974a770657263656e74"              // [5] headers, fixmap(1) {"unit": "percent"}
    "c40434322e35";                             // [6] payload, bin8(4) "42.5"

// The batch example: sequences 2 and 3 of the same stream, same subject, no headers, in one frame 1.
constexpr std::int64_t kBatchTimestamp2 = 1'700'000'000'323'456'789;
constexpr std::int64_t kBatchTimestamp3 = 1'700'000'000'323'461'234;

constexpr std::string_view kBatchHex =
    "9701cf7f3a9c1e5b2d4806cf0000000000000002b374656c656d657472792e686f7374312e637075d317979cfe49718f15"
    "80c40434332e31"
    "9701cf7f3a9c1e5b2d4806cf0000000000000003b374656c656d657472792e686f7374312e637075d317979cfe4971a072"
    "80c40434342e30";

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    auto v = std::to_integer<unsigned>(b);
    out += kDigits[v >> 4];
    out += kDigits[v & 0xf];
  }
  return out;
}

ByteBuffer from_hex(std::string_view hex) {
  ByteBuffer out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

ByteBuffer encode(std::uint64_t sequence, std::int64_t timestamp, const Headers* headers, std::string_view payload) {
  OutgoingEnvelope e;
  e.stream = kStream;
  e.sequence = sequence;
  e.subject = kSubject;
  e.timestamp_ns = timestamp;
  e.headers = headers;
  e.payload = as_bytes(payload);
  ByteBuffer out;
  encode_envelope(out, e);
  return out;
}

bool is_hex_pair(std::string_view token) {
  return token.size() == 2 && std::isxdigit(static_cast<unsigned char>(token[0])) &&
         std::isxdigit(static_cast<unsigned char>(token[1]));
}

// Reads the annotated dump that follows the line `<!-- wire-example: NAME -->` in the document: the first fenced
// block after it. A dump line is a 4-digit hex offset, then byte pairs, then an annotation that does not start
// with a byte pair. Returns the bytes as hex; fails the test when an offset disagrees with the bytes before it.
std::optional<std::string> dump_in_document(const std::string& document, std::string_view name) {
  const std::string marker = "<!-- wire-example: " + std::string(name) + " -->";
  std::size_t at = document.find(marker);
  if (at == std::string::npos) {
    ADD_FAILURE() << "docs/wire-protocol.md has no " << marker;
    return std::nullopt;
  }
  std::size_t open = document.find("```", at);
  std::size_t body = document.find('\n', open);
  std::size_t close = document.find("\n```", body);
  if (open == std::string::npos || body == std::string::npos || close == std::string::npos) {
    ADD_FAILURE() << "no fenced block after " << marker;
    return std::nullopt;
  }
  std::istringstream lines(document.substr(body + 1, close - body));
  std::string line;
  std::string hex;
  while (std::getline(lines, line)) {
    std::istringstream tokens(line);
    std::string offset;
    tokens >> offset;
    if (offset.size() != 4 || offset.find_first_not_of("0123456789abcdef") != std::string::npos) continue;
    if (std::stoul(offset, nullptr, 16) != hex.size() / 2) {
      ADD_FAILURE() << name << ": the line at offset " << offset << " follows " << hex.size() / 2 << " bytes";
      return std::nullopt;
    }
    std::string token;
    while (tokens >> token && is_hex_pair(token)) hex += token;
  }
  return hex;
}

const std::string& document() {
  static const std::string text = [] {
    std::ifstream in(WEFT_WIRE_PROTOCOL_DOC);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }();
  return text;
}

TEST(WireExample, EncoderWritesTheDocumentedEnvelope) {
  Headers headers{{"unit", "percent"}};
  ByteBuffer bytes = encode(1, kTimestamp, &headers, "42.5");
  EXPECT_EQ(to_hex(bytes), kEnvelopeHex);
  EXPECT_EQ(bytes.size(), 69u);
  EXPECT_EQ(to_hex(as_bytes(kSubject)), kSubjectFrameHex);
}

TEST(WireExample, EncoderWritesTheDocumentedBatch) {
  ByteBuffer batch = encode(2, kBatchTimestamp2, nullptr, "43.1");
  ByteBuffer second = encode(3, kBatchTimestamp3, nullptr, "44.0");
  batch.insert(batch.end(), second.begin(), second.end());
  EXPECT_EQ(to_hex(batch), kBatchHex);
  EXPECT_EQ(batch.size(), 112u);
}

// The I/O thread stamps sequences into envelopes encoded with sequence 0, at the documented offset.
TEST(WireExample, StampingTheSequenceGivesTheSameBytes) {
  ByteBuffer bytes = encode(0, kBatchTimestamp2, nullptr, "43.1");
  EXPECT_EQ(std::to_integer<std::uint8_t>(bytes[wire::kSequenceOffset]), wire::kUint64Marker);
  stamp_sequence(bytes.data(), 2);
  EXPECT_EQ(to_hex(bytes), kBatchHex.substr(0, kBatchHex.size() / 2));
}

TEST(WireExample, DocumentShowsTheSameBytes) {
  ASSERT_FALSE(document().empty()) << "cannot read " << WEFT_WIRE_PROTOCOL_DOC;
  EXPECT_EQ(dump_in_document(document(), "frame0"), std::string(kSubjectFrameHex));
  EXPECT_EQ(dump_in_document(document(), "envelope"), std::string(kEnvelopeHex));
  EXPECT_EQ(dump_in_document(document(), "batch"), std::string(kBatchHex));
}

TEST(WireExample, ExampleDecodesToTheDocumentedFields) {
  ByteBuffer bytes = from_hex(kEnvelopeHex);
  std::vector<HeaderRef> scratch;
  EnvelopeView view;
  std::size_t offset = 0;
  DecodeResult result = decode_envelope(bytes, offset, view, scratch);
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(offset, bytes.size());
  EXPECT_EQ(view.version, 1u);
  EXPECT_EQ(view.stream, kStream);
  EXPECT_EQ(view.sequence, 1u);
  EXPECT_EQ(view.subject, kSubject);
  EXPECT_EQ(view.timestamp_ns, kTimestamp);
  ASSERT_EQ(view.headers.size(), 1u);
  EXPECT_EQ(view.headers[0].key, "unit");
  EXPECT_EQ(view.headers[0].value, "percent");
  EXPECT_EQ(view.as_message().payload_text(), "42.5");
}

TEST(WireExample, BatchDecodesToTwoEnvelopesInOrder) {
  ByteBuffer bytes = from_hex(kBatchHex);
  std::vector<HeaderRef> scratch;
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> payloads;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    EnvelopeView view;
    DecodeResult result = decode_envelope(bytes, offset, view, scratch);
    ASSERT_TRUE(result.ok()) << result.detail;
    EXPECT_EQ(view.subject, kSubject);
    EXPECT_TRUE(view.headers.empty());
    sequences.push_back(view.sequence);
    payloads.emplace_back(view.as_message().payload_text());
  }
  EXPECT_EQ(sequences, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(payloads, (std::vector<std::string>{"43.1", "44.0"}));
}

// docs/wire-protocol.md, "Integers": a receiver accepts any msgpack integer encoding of a value in range, including
// the signed family (0xd0..0xd3) for non-negative values, which some libraries write for signed host types.
// Disabled: the decoder takes msgpack-c's visit_negative_integer (called for every signed-family encoding, whatever
// the sign) as a negative value and rejects version, stream and sequence encoded that way. Enable once fixed.
TEST(WireRules, AcceptsSignedEncodingsOfNonNegativeIntegers) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(7);
  packer.pack_fix_int8(1);   // version as int8
  packer.pack_fix_int64(5);  // stream as int64
  packer.pack_fix_int32(9);  // sequence as int32
  packer.pack(std::string("a.b"));
  packer.pack_fix_int64(kTimestamp);
  packer.pack_map(0);
  packer.pack_bin(1);
  packer.pack_bin_body("x", 1);
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(buffer.data()), buffer.size());
  std::vector<HeaderRef> scratch;
  EnvelopeView view;
  std::size_t offset = 0;
  DecodeResult result = decode_envelope(bytes, offset, view, scratch);
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(view.version, 1u);
  EXPECT_EQ(view.stream, 5u);
  EXPECT_EQ(view.sequence, 9u);
}

// An empty payload given as a default span (or an empty vector) has a null data(); encode_envelope hands it to
// memcpy, which is undefined behaviour even for zero bytes. Only UBSan sees it (the ASan/UBSan build aborts).
// Disabled until the encoder skips empty copies; the interop test sends empty payloads from a string meanwhile.
TEST(Encoder, EmptyPayloadGivenAsANullSpan) {
  OutgoingEnvelope e;
  e.stream = kStream;
  e.sequence = 1;
  e.subject = kSubject;
  e.payload = std::span<const std::byte>();
  ByteBuffer out;
  encode_envelope(out, e);
  EXPECT_EQ(std::to_integer<std::uint8_t>(out[out.size() - 2]), 0xc4);  // bin8
  EXPECT_EQ(std::to_integer<std::uint8_t>(out.back()), 0x00);           // of 0 bytes
}

}  // namespace
}  // namespace weft::detail
