#include "codec/envelope.hpp"

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <random>
#include <string>

#include "codec/wire_format.hpp"

namespace weft::detail {
namespace {

ByteBuffer encode(std::uint64_t sequence, std::string_view subject, const Headers* headers, std::string_view payload,
                  std::int64_t timestamp = 1'700'000'000'123'456'789) {
  ByteBuffer out;
  OutgoingEnvelope e;
  e.stream = 0x5eedf00dcafe0001ULL;
  e.sequence = sequence;
  e.subject = subject;
  e.timestamp_ns = timestamp;
  e.headers = headers;
  e.payload = as_bytes(payload);
  encode_envelope(out, e);
  return out;
}

// Decodes every envelope in `bytes`. The headers of the last one stay readable until the next call (they live
// in the scratch vector, as in the dispatcher).
DecodeResult decode_all(const ByteBuffer& bytes, std::vector<EnvelopeView>& out) {
  static std::vector<HeaderRef> scratch;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    EnvelopeView view;
    DecodeResult r = decode_envelope(bytes, offset, view, scratch);
    if (!r.ok()) return r;
    out.push_back(view);
  }
  return {};
}

::testing::AssertionResult decodes(const ByteBuffer& bytes, std::vector<EnvelopeView>& out) {
  DecodeResult r = decode_all(bytes, out);
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "decode failed: " << r.detail;
}

ByteBuffer pack(const auto&... fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(sizeof...(fields));
  (packer.pack(fields), ...);
  auto* data = reinterpret_cast<const std::byte*>(buffer.data());
  return ByteBuffer(data, data + buffer.size());
}

ByteBuffer pack_raw(std::initializer_list<std::uint8_t> bytes) {
  ByteBuffer out;
  for (auto b : bytes) out.push_back(std::byte{b});
  return out;
}

DecodeResult decode_one(const ByteBuffer& bytes) {
  std::vector<HeaderRef> scratch;
  EnvelopeView view;
  std::size_t offset = 0;
  return decode_envelope(bytes, offset, view, scratch);
}

msgpack::type::raw_ref bin(std::string_view s) { return {s.data(), static_cast<std::uint32_t>(s.size())}; }

TEST(Envelope, RoundTripsEveryField) {
  Headers headers{{"content-type", "text/plain"}, {"trace-id", "4bf92f3577b34da6"}};
  ByteBuffer bytes = encode(42, "telemetry.host1.cpu", &headers, "hello");
  EXPECT_EQ(bytes.size(), encoded_envelope_size("telemetry.host1.cpu", &headers, 5));

  std::vector<EnvelopeView> views;
  ASSERT_TRUE(decodes(bytes, views));
  ASSERT_EQ(views.size(), 1u);
  const EnvelopeView& v = views[0];
  EXPECT_EQ(v.version, 1u);
  EXPECT_EQ(v.stream, 0x5eedf00dcafe0001ULL);
  EXPECT_EQ(v.sequence, 42u);
  EXPECT_EQ(v.subject, "telemetry.host1.cpu");
  EXPECT_EQ(v.timestamp_ns, 1'700'000'000'123'456'789);
  ASSERT_EQ(v.headers.size(), 2u);
  EXPECT_EQ(v.headers[0].key, "content-type");
  EXPECT_EQ(v.headers[1].value, "4bf92f3577b34da6");
  Message m = v.as_message();
  EXPECT_EQ(m.payload_text(), "hello");
  EXPECT_EQ(m.headers().get("trace-id"), "4bf92f3577b34da6");
}

TEST(Envelope, RoundTripsSizesAcrossEveryLengthEncoding) {
  for (std::size_t size : {0u, 1u, 31u, 32u, 255u, 256u, 65535u, 65536u, 1u << 20}) {
    std::string payload(size, 'p');
    std::string subject(size % 200 + 1, 's');
    ByteBuffer bytes = encode(7, subject, nullptr, payload, -5);
    EXPECT_EQ(bytes.size(), encoded_envelope_size(subject, nullptr, size));
    std::vector<EnvelopeView> views;
    ASSERT_TRUE(decodes(bytes, views)) << size;
    EXPECT_EQ(views[0].payload.size(), size);
    EXPECT_EQ(views[0].subject, subject);
    EXPECT_EQ(views[0].timestamp_ns, -5);
  }
}

TEST(Envelope, SequenceCanBeStampedInPlace) {
  ByteBuffer bytes = encode(0, "a.b", nullptr, "x");
  stamp_sequence(bytes.data(), 0x0102030405060708ULL);
  std::vector<EnvelopeView> views;
  ASSERT_TRUE(decodes(bytes, views));
  EXPECT_EQ(views[0].sequence, 0x0102030405060708ULL);
}

TEST(Envelope, ABatchIsEnvelopesBackToBack) {
  ByteBuffer batch;
  for (int i = 1; i <= 3; ++i) {
    ByteBuffer one = encode(static_cast<std::uint64_t>(i), "a.b", nullptr, std::to_string(i));
    batch.insert(batch.end(), one.begin(), one.end());
  }
  std::vector<EnvelopeView> views;
  ASSERT_TRUE(decodes(batch, views));
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[2].sequence, 3u);
  EXPECT_EQ(views[2].as_message().payload_text(), "3");
}

// Another implementation may encode integers minimally, timestamps as int64 or uint, and so on.
TEST(Envelope, AcceptsAnyIntegerEncodingFromOtherImplementations) {
  std::map<std::string, std::string> headers{{"k", "v"}};
  ByteBuffer bytes = pack(1, 5, 9, std::string("a.b"), 123, headers, bin("pay"));
  std::vector<EnvelopeView> views;
  ASSERT_TRUE(decodes(bytes, views));
  EXPECT_EQ(views[0].sequence, 9u);
  EXPECT_EQ(views[0].timestamp_ns, 123);
  EXPECT_EQ(views[0].headers[0].value, "v");
}

TEST(Envelope, SkipsExtensionFieldsOfLaterRevisions) {
  std::map<std::string, std::string> none;
  std::vector<int> nested{1, 2, 3};
  std::map<int, std::string> ext{{1, "x"}};
  ByteBuffer bytes = pack(1, 5, 9, std::string("a.b"), 123, none, bin("pay"), nested, ext, std::string("more"), 1.5);
  std::vector<EnvelopeView> views;
  ASSERT_TRUE(decodes(bytes, views));
  EXPECT_EQ(views[0].as_message().payload_text(), "pay");
}

TEST(EnvelopeRejects, AnotherProtocolVersion) {
  std::map<std::string, std::string> none;
  DecodeResult r = decode_one(pack(2, 5, 9, std::string("a.b"), 123, none, bin("pay")));
  EXPECT_EQ(r.error, DecodeError::kBadVersion);
  EXPECT_NE(r.detail.find("protocol version 2"), std::string::npos);
}

TEST(EnvelopeRejects, EveryTruncation) {
  Headers headers{{"k", "v"}};
  ByteBuffer whole = encode(1, "a.b.c", &headers, "payload");
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    ByteBuffer part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    DecodeResult r = decode_one(part);
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    if (cut > 0) {
      EXPECT_EQ(r.error, DecodeError::kTruncated) << "cut at " << cut << ": " << r.detail;
    }
  }
}

TEST(EnvelopeRejects, WrongTypeInEachField) {
  std::map<std::string, std::string> none;
  auto p = bin("p");
  std::string s = "a.b";
  const ByteBuffer cases[] = {
      pack(std::string("1"), 5, 9, s, 1, none, p),  // version not an integer
      pack(1, -5, 9, s, 1, none, p),                // negative stream
      pack(1, 5, std::string("9"), s, 1, none, p),  // sequence as text
      pack(1, 5, 9, 17, 1, none, p),                // subject as integer
      pack(1, 5, 9, s, 1.5, none, p),               // timestamp as float
      pack(1, 5, 9, s, 1, std::string("h"), p),     // headers not a map
      pack(1, 5, 9, s, 1, none, std::string("p")),  // payload as str, not bin
      pack(1, 5, 9, s, 1, std::map<std::string, int>{{"k", 1}}, p),  // header value not a string
      pack(1, 5, 9, s, 1, std::map<int, std::string>{{1, "v"}}, p),  // header key not a string
  };
  int i = 0;
  for (const auto& bytes : cases) {
    DecodeResult r = decode_one(bytes);
    EXPECT_EQ(r.error, DecodeError::kMalformed) << "case " << i << ": " << r.detail;
    ++i;
  }
}

TEST(EnvelopeRejects, TooFewElementsAndNonArrays) {
  EXPECT_EQ(decode_one(pack(1, 5, 9, std::string("a"), 1, 2)).error, DecodeError::kMalformed);
  EXPECT_EQ(decode_one(pack_raw({0x01})).error, DecodeError::kMalformed);                // a bare integer
  EXPECT_EQ(decode_one(pack_raw({0xc1})).error, DecodeError::kMalformed);                // never-used byte
  EXPECT_EQ(decode_one(pack_raw({0xdd, 0xff, 0xff, 0xff, 0xff})).error, DecodeError::kMalformed);  // 4G elements
}

TEST(EnvelopeRejects, HeaderAbuse) {
  std::map<std::string, std::string> many;
  for (int i = 0; i < 65; ++i) {
    std::string key = "k";
    key += std::to_string(i);  // not "k" + ...: GCC 12 -O2 raises a false -Wrestrict there
    many[key] = "v";
  }
  EXPECT_NE(decode_one(pack(1, 5, 9, std::string("a"), 1, many, bin("p"))).detail.find("65 headers"),
            std::string::npos);
  std::map<std::string, std::string> empty_key{{"", "v"}};
  EXPECT_EQ(decode_one(pack(1, 5, 9, std::string("a"), 1, empty_key, bin("p"))).error, DecodeError::kMalformed);
  std::map<std::string, std::string> long_value{{"k", std::string(8193, 'v')}};
  EXPECT_EQ(decode_one(pack(1, 5, 9, std::string("a"), 1, long_value, bin("p"))).error, DecodeError::kMalformed);
  // A duplicate key, which a map type cannot produce: write the map by hand.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(7);
  packer.pack(1).pack(5).pack(9).pack(std::string("a")).pack(1);
  packer.pack_map(2);
  packer.pack(std::string("k")).pack(std::string("1")).pack(std::string("k")).pack(std::string("2"));
  packer.pack(bin("p"));
  ByteBuffer dup(reinterpret_cast<const std::byte*>(buffer.data()),
                 reinterpret_cast<const std::byte*>(buffer.data()) + buffer.size());
  EXPECT_NE(decode_one(dup).detail.find("appears twice"), std::string::npos);
}

TEST(EnvelopeRejects, NestingDeeperThanTheLimit) {
  // An extension element of 10,000 nested arrays: rejected at the depth limit, without deep recursion.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(8);
  packer.pack(1).pack(5).pack(9).pack(std::string("a")).pack(1);
  packer.pack_map(0);
  packer.pack(bin("p"));
  for (int i = 0; i < 10000; ++i) packer.pack_array(1);
  packer.pack(0);
  ByteBuffer bytes(reinterpret_cast<const std::byte*>(buffer.data()),
                   reinterpret_cast<const std::byte*>(buffer.data()) + buffer.size());
  DecodeResult r = decode_one(bytes);
  EXPECT_EQ(r.error, DecodeError::kMalformed);
  EXPECT_NE(r.detail.find("nested deeper"), std::string::npos);
}

// Random damage must never crash, hang or read out of bounds (run under ASan in CI).
TEST(EnvelopeRejects, RandomCorruptionNeverCrashes) {
  Headers headers{{"k", "v"}, {"trace", "abc"}};
  ByteBuffer whole = encode(1, "a.b.c", &headers, std::string(100, 'x'));
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    ByteBuffer damaged = whole;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] = std::byte(rng() & 0xff);
    std::vector<EnvelopeView> views;
    if (decode_all(damaged, views).ok()) ++accepted;  // damage inside the payload is not detectable here
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20000);
}

// decode_envelope reads Weft's own header-less envelopes directly and leaves everything else to the general
// parser: on any input, intact or damaged, the two must agree on the outcome, the fields and where they stop.
::testing::AssertionResult same_as_parser(const ByteBuffer& bytes) {
  std::vector<HeaderRef> fast_scratch;
  std::vector<HeaderRef> parser_scratch;
  std::size_t fast_offset = 0;
  std::size_t parser_offset = 0;
  while (true) {
    EnvelopeView fast;
    EnvelopeView parsed;
    DecodeResult f = decode_envelope(bytes, fast_offset, fast, fast_scratch);
    DecodeResult p = decode_envelope_with_parser(bytes, parser_offset, parsed, parser_scratch);
    if (f.error != p.error || f.detail != p.detail || fast_offset != parser_offset) {
      return ::testing::AssertionFailure() << "decode_envelope: '" << f.detail << "' at " << fast_offset
                                           << ", the parser: '" << p.detail << "' at " << parser_offset;
    }
    if (!f.ok()) return ::testing::AssertionSuccess();
    bool same = fast.version == parsed.version && fast.stream == parsed.stream && fast.sequence == parsed.sequence &&
                fast.subject == parsed.subject && fast.timestamp_ns == parsed.timestamp_ns &&
                fast.payload.size() == parsed.payload.size() &&
                (fast.payload.empty() || fast.payload.data() == parsed.payload.data()) &&
                fast.headers.size() == parsed.headers.size();
    for (std::size_t i = 0; same && i < fast.headers.size(); ++i) {
      same = fast.headers[i].key == parsed.headers[i].key && fast.headers[i].value == parsed.headers[i].value;
    }
    if (!same) return ::testing::AssertionFailure() << "the fields differ at offset " << fast_offset;
    if (fast_offset >= bytes.size()) return ::testing::AssertionSuccess();
  }
}

TEST(Envelope, DirectReaderAgreesWithTheParserOnIntactEnvelopes) {
  Headers headers{{"k", "v"}};
  for (std::size_t subject_bytes : {1, 31, 32, 255, 256}) {
    for (std::size_t payload_bytes : {0, 1, 255, 256, 65535, 65536}) {
      std::string subject(subject_bytes, 's');
      std::string payload(payload_bytes, 'p');
      EXPECT_TRUE(same_as_parser(encode(7, subject, nullptr, payload))) << subject_bytes << "/" << payload_bytes;
      EXPECT_TRUE(same_as_parser(encode(7, subject, &headers, payload))) << subject_bytes << "/" << payload_bytes;
      EXPECT_TRUE(same_as_parser(encode(7, subject, nullptr, payload, -5))) << subject_bytes << "/" << payload_bytes;
    }
  }
  ByteBuffer batch = encode(1, "a.b", nullptr, "one");
  ByteBuffer second = encode(2, "a.b", &headers, "two");
  ByteBuffer third = encode(3, "a.b", nullptr, "three");
  batch.insert(batch.end(), second.begin(), second.end());
  batch.insert(batch.end(), third.begin(), third.end());
  EXPECT_TRUE(same_as_parser(batch));
  // Shapes other encoders write: the parser decides them.
  std::map<std::string, std::string> none;
  EXPECT_TRUE(same_as_parser(pack(1, 5, 9, std::string("a.b"), 123, none, bin("pay"))));
  EXPECT_TRUE(same_as_parser(pack(2, 5, 9, std::string("a.b"), 123, none, bin("pay"))));
}

TEST(Envelope, DirectReaderAgreesWithTheParserOnDamage) {
  ByteBuffer whole = encode(1, "a.b.c", nullptr, std::string(300, 'x'));
  for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
    ByteBuffer part(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_TRUE(same_as_parser(part)) << "cut at " << cut;
  }
  for (std::size_t at = 0; at < 40; ++at) {  // every byte of the fields before the payload, every value
    for (int value = 0; value < 256; ++value) {
      ByteBuffer damaged = whole;
      damaged[at] = std::byte(value);
      EXPECT_TRUE(same_as_parser(damaged)) << "byte " << at << " = " << value;
    }
  }
  std::mt19937 rng(4242);
  for (int round = 0; round < 20000; ++round) {
    ByteBuffer damaged = whole;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) damaged[rng() % 40] = std::byte(rng() & 0xff);
    ASSERT_TRUE(same_as_parser(damaged)) << "round " << round;
  }
}

}  // namespace
}  // namespace weft::detail
