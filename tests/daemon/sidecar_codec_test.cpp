// The sidecar protocol's codec (lib/src/sidecar/), stream definitions and weftd's state files. The hex
// examples of docs/sidecar.md are checked against the encoder here (the test reads the document).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "sidecar/sidecar_admin.hpp"
#include "sidecar/packed_deliveries.hpp"
#include "sidecar/sidecar_codec.hpp"
#include "sidecar/stream_config.hpp"
#include "state_file.hpp"
#include "weft_testing/fake_file_system.hpp"

#ifndef WEFT_SIDECAR_DOC
#error "tests/CMakeLists.txt defines WEFT_SIDECAR_DOC as the path of docs/sidecar.md"
#endif

namespace weft::detail::sidecar {
namespace {

std::span<const std::byte> bytes_of(const zmq::message_t& m) {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    out += kDigits[v >> 4];
    out += kDigits[v & 0xf];
  }
  return out;
}

// The hex of the ```text block after "<!-- sidecar-example: NAME -->": the first column of each line (hex
// byte pairs separated by single spaces), up to two spaces or the end of the line.
std::string doc_example(const std::string& name) {
  std::ifstream in(WEFT_SIDECAR_DOC);
  std::stringstream all;
  all << in.rdbuf();
  const std::string doc = all.str();
  const std::string marker = "<!-- sidecar-example: " + name + " -->";
  auto at = doc.find(marker);
  if (at == std::string::npos) return "missing example " + name;
  at = doc.find("```text\n", at);
  const auto end = doc.find("```", at + 8);
  std::istringstream block(doc.substr(at + 8, end - at - 8));
  std::string line, hex;
  while (std::getline(block, line)) {
    const auto cut = line.find("  ");
    const std::string column = line.substr(0, cut);
    for (char c : column) {
      if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    }
  }
  return hex;
}

TEST(SidecarCodec, HexExamplesMatchTheSpec) {
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kAppend, 7, AppendFields{"orders.new"}))),
            doc_example("append-header"));
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kAppended, 7, AppendedFields{"orders", 41, 42}))),
            doc_example("appended-header"));
  AckFields ack;
  ack.consumer = 3;
  ack.items = {{41, 1}, {42, 2}};
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kAck, 0, ack))), doc_example("ack-header"));
  AckFields ranged;
  ranged.consumer = 3;
  ranged.ranges = {{41, 1000, 1}};
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kAck, 0, ranged))), doc_example("ack-range-header"));
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kDeliver, 0, PackedDeliverFields{3, 2}))),
            doc_example("packed-deliver-header"));
  PackedDeliveryWriter body;
  const std::string a = "AB", b = "C";
  body.add({41, 1, 0x0102030405060708}, std::as_bytes(std::span(a)));
  body.add({42, 2, 0x0102030405060709}, std::as_bytes(std::span(b)));
  EXPECT_EQ(to_hex(body.body()), doc_example("packed-deliver-body"));
  const DeadLetterFields letter{"bill.x", "billing", 3, "boom", 1'700'000'000'000'000'000};
  EXPECT_EQ(to_hex(bytes_of(encode_header(Kind::kDeadLetter, 9, letter))), doc_example("dead-letter-header"));
}

TEST(SidecarCodec, PackedDeliveriesRoundTripAndDamageIsNamed) {
  PackedDeliveryWriter writer;
  std::vector<std::string> envelopes = {"one", "", std::string(5000, 'x')};
  for (std::size_t i = 0; i < envelopes.size(); ++i) {
    writer.add({100 + i, static_cast<std::uint32_t>(i + 1), -static_cast<std::int64_t>(i)},
               std::as_bytes(std::span(envelopes[i])));
  }
  ASSERT_EQ(writer.count(), 3u);
  const std::vector<std::byte> body(writer.body().begin(), writer.body().end());
  EXPECT_EQ(check_packed_body(body, 3), "");
  PackedDeliveryReader reader(body);
  DeliveryItem item;
  std::span<const std::byte> envelope;
  for (std::size_t i = 0; i < envelopes.size(); ++i) {
    ASSERT_TRUE(reader.next(item, envelope)) << reader.error();
    EXPECT_EQ(item.offset, 100 + i);
    EXPECT_EQ(item.attempt, i + 1);
    EXPECT_EQ(item.timestamp_ns, -static_cast<std::int64_t>(i));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(envelope.data()), envelope.size()), envelopes[i]);
  }
  EXPECT_FALSE(reader.next(item, envelope));
  EXPECT_FALSE(reader.failed());

  // Handed to ZeroMQ as it is.
  zmq::message_t message = writer.take_message();
  EXPECT_EQ(message.size(), body.size());
  EXPECT_EQ(std::memcmp(message.data(), body.data(), body.size()), 0);
  EXPECT_TRUE(writer.empty());

  // Wrong counts, a cut head, a length past the end: each named, none read past the body.
  EXPECT_NE(check_packed_body(body, 2), "");
  EXPECT_NE(check_packed_body(body, 4), "");
  EXPECT_NE(check_packed_body(std::span(body).first(10), 1).find("head"), std::string::npos);
  EXPECT_NE(check_packed_body(std::span(body).first(body.size() - 1), 3).find("claims"), std::string::npos);
  std::vector<std::byte> huge = body;
  huge[20] = huge[21] = huge[22] = huge[23] = std::byte{0xff};  // the first item's length: 4 GiB
  EXPECT_NE(check_packed_body(huge, 3).find("claims"), std::string::npos);
  // Every cut of the body is either refused or read without going past it.
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_NE(check_packed_body(std::span(body).first(cut), 3), "") << "cut at " << cut;
  }
}

TEST(SidecarCodec, HeadersRoundTrip) {
  ConsumeFields f;
  f.stream = "orders";
  f.start = "time";
  f.time_ns = -5;
  f.group = "workers";
  f.credit = 9;
  zmq::message_t frame = encode_header(Kind::kConsume, 77, f);
  Header h;
  ASSERT_EQ(decode_header(bytes_of(frame), h).error, HeaderError::kNone);
  EXPECT_EQ(h.kind, Kind::kConsume);
  EXPECT_EQ(h.request_id, 77u);
  auto back = fields_as<ConsumeFields>(h).value();
  EXPECT_EQ(back.stream, "orders");
  EXPECT_EQ(back.time_ns, -5);
  EXPECT_EQ(back.group, "workers");
  EXPECT_EQ(back.credit, 9u);
  EXPECT_EQ(back.ack_wait_ms, kDefaultAckWaitMs);
}

TEST(SidecarCodec, UnknownKeysAreIgnoredAndMissingOnesTakeTheirDefaults) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(5);  // an extra element: ignored
  p.pack(1);
  p.pack(3);
  p.pack(5);
  p.pack_map(2);
  p.pack(std::string("stream"));
  p.pack(std::string("orders"));
  p.pack(std::string("from_the_future"));
  p.pack_array(0);
  p.pack(std::string("extension"));
  Header h;
  ASSERT_EQ(decode_header({reinterpret_cast<const std::byte*>(b.data()), b.size()}, h).error, HeaderError::kNone);
  auto f = fields_as<ConsumeFields>(h).value();
  EXPECT_EQ(f.stream, "orders");
  EXPECT_EQ(f.start, "first");
  EXPECT_EQ(f.credit, kDefaultCredit);
}

TEST(SidecarCodec, MalformedHeadersSayWhy) {
  auto decode = [](std::string raw) {
    Header h;
    return decode_header({reinterpret_cast<const std::byte*>(raw.data()), raw.size()}, h);
  };
  EXPECT_EQ(decode("").error, HeaderError::kMalformed);
  EXPECT_EQ(decode("\xc1").error, HeaderError::kMalformed);
  EXPECT_EQ(decode("\x93\x01\x01\x01").error, HeaderError::kMalformed);           // 3 elements
  EXPECT_EQ(decode(std::string("\x94\x01\x01\x05\x90", 5)).error, HeaderError::kMalformed);  // fields not a map
  auto v = decode(std::string("\x94\x02\x01\x05\x80", 5));
  EXPECT_EQ(v.error, HeaderError::kBadVersion);
  EXPECT_EQ(v.request_id, 5u) << "the request id is read so that the error can answer it";
  EXPECT_EQ(decode(std::string("\x94\x01\x20\x05\x80", 5)).error, HeaderError::kUnknownKind);
  EXPECT_EQ(decode(std::string("\x94\x01\x01\x05\x80\x00", 6)).error, HeaderError::kMalformed);  // trailing bytes
  EXPECT_EQ(decode(std::string(kMaxHeaderBytes + 1, '\x80')).error, HeaderError::kMalformed);
  // Fields of the wrong type.
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(4);
  p.pack(1);
  p.pack(3);
  p.pack(1);
  p.pack_map(1);
  p.pack(std::string("credit"));
  p.pack(-1);
  Header h;
  ASSERT_EQ(decode_header({reinterpret_cast<const std::byte*>(b.data()), b.size()}, h).error, HeaderError::kNone);
  EXPECT_FALSE(fields_as<ConsumeFields>(h).is_ok());
}

TEST(SidecarCodec, PackedSizesAreWhatThePackerWrites) {
  auto packed = [](auto v) {
    msgpack::sbuffer b;
    msgpack::pack(b, v);
    return b.size();
  };
  for (std::uint64_t v : {0ULL, 127ULL, 128ULL, 255ULL, 256ULL, 65535ULL, 65536ULL, 4294967295ULL, 4294967296ULL,
                          18446744073709551615ULL}) {
    EXPECT_EQ(packed_size(v), packed(v)) << v;
  }
  for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-32}, std::int64_t{-33}, std::int64_t{-128},
                         std::int64_t{-129}, std::int64_t{-32768}, std::int64_t{-32769}, std::int64_t{INT32_MIN},
                         std::int64_t{INT32_MIN} - 1, INT64_MIN, INT64_MAX, std::int64_t{1'700'000'000'000'000'000}}) {
    EXPECT_EQ(packed_size(v), packed(v)) << v;
  }
  const DeliveryItem item{65536, 1, 1'700'000'000'000'000'000};
  EXPECT_EQ(packed_size(item), packed(item));
  EXPECT_EQ(packed_size(item), 16u);
}

// Regression: 4096 items at offsets of 65,536 and up made a DELIVER header over the 64 KiB limit. As many items
// as kMaxDeliverItemsBytes allows, of the widest kind, under the widest consumer id, still decode.
TEST(SidecarCodec, ADeliverFilledToItsItemBudgetFitsInAHeader) {
  for (const DeliveryItem widest :
       {DeliveryItem{65536, 1, 1'700'000'000'000'000'000}, DeliveryItem{UINT64_MAX, UINT32_MAX, INT64_MIN}}) {
    DeliverFields fields;
    fields.consumer = UINT64_MAX;
    std::size_t bytes = 0;
    while (fields.items.size() < kMaxBodyFrames && bytes + packed_size(widest) <= kMaxDeliverItemsBytes) {
      fields.items.push_back(widest);
      bytes += packed_size(widest);
    }
    const zmq::message_t header = encode_header(Kind::kDeliver, 0, fields);
    EXPECT_LE(header.size(), kMaxHeaderBytes) << fields.items.size() << " items";
    Header h;
    ASSERT_EQ(decode_header(bytes_of(header), h).error, HeaderError::kNone) << fields.items.size() << " items";
    EXPECT_EQ(fields_as<DeliverFields>(h).value().items.size(), fields.items.size());
  }
  AckFields ack;
  ack.consumer = UINT64_MAX;
  ack.items.assign(kMaxAnswerItems, AckItem{UINT64_MAX, UINT32_MAX});
  EXPECT_LE(encode_header(Kind::kAck, UINT64_MAX, ack).size(), kMaxHeaderBytes);
}

TEST(SidecarCodec, ErrorsBecomeStatuses) {
  Status s = status_from_error(ErrorFields{static_cast<std::uint8_t>(ErrorKind::kNoStream), "no stream takes 'x'"});
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "no stream: no stream takes 'x'");
  EXPECT_EQ(status_from_error(ErrorFields{200, "?"}).code(), ErrorCode::kInternal);
}

TEST(StreamConfig, ParsesDurationsSizesAndPolicies) {
  EXPECT_EQ(parse_duration_ms("500ms").value(), 500u);
  EXPECT_EQ(parse_duration_ms("30s").value(), 30'000u);
  EXPECT_EQ(parse_duration_ms("15m").value(), 900'000u);
  EXPECT_EQ(parse_duration_ms("7d").value(), 604'800'000u);
  EXPECT_EQ(parse_duration_ms("12").value(), 12'000u);
  EXPECT_FALSE(parse_duration_ms("7 fortnights").is_ok());
  EXPECT_FALSE(parse_duration_ms("-1s").is_ok());
  EXPECT_EQ(parse_bytes("64M").value(), 64ULL << 20);
  EXPECT_EQ(parse_bytes("10GiB").value(), 10ULL << 30);
  EXPECT_EQ(parse_bytes("512 KB").value(), 512ULL << 10);
  EXPECT_FALSE(parse_bytes("99999999999999T").is_ok());
  EXPECT_EQ(parse_fsync("always").value(), log::FsyncPolicy::kEveryWrite);
  EXPECT_FALSE(parse_fsync("sometimes").is_ok());
  EXPECT_EQ(format_duration_ms(604'800'000), "7d");
  EXPECT_EQ(format_bytes_binary(64ULL << 20), "64M");
}

TEST(StreamConfig, ValidatesNamesSubjectsAndLimits) {
  StreamConfig c;
  c.name = "orders";
  c.subjects = {"orders.>"};
  EXPECT_TRUE(c.validate().is_ok());
  c.name = "../etc";
  EXPECT_FALSE(c.validate().is_ok());
  c.name = "orders";
  c.subjects = {"orders.>", "orders.eu"};
  EXPECT_NE(c.validate().message().find("overlap"), std::string::npos);
  c.subjects = {};
  EXPECT_FALSE(c.validate().is_ok());
  c.subjects = {"a..b"};
  EXPECT_FALSE(c.validate().is_ok());
  c.subjects = {"a.*"};
  c.segment_bytes = 10;
  EXPECT_FALSE(c.validate().is_ok());
  c.segment_bytes = 1 << 20;
  ASSERT_TRUE(set_stream_field(c, "retention-age", "2h").is_ok());
  EXPECT_EQ(c.log_options().retention_age, std::chrono::hours(2));
  EXPECT_FALSE(set_stream_field(c, "colour", "blue").is_ok());
}

TEST(StateFile, RoundTripsAndDetectsDamage) {
  testing::FakeFileSystem fs;
  ASSERT_TRUE(fs.make_dir("/d").is_ok());
  const std::string body = "some state";
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(body.data()), body.size());
  EXPECT_FALSE(weftd::read_state_file(fs, "/d/x.state", weftd::kConsumersMagic).value().has_value());
  ASSERT_TRUE(weftd::write_state_file(fs, "/d/x.state", weftd::kConsumersMagic, bytes).is_ok());
  auto back = weftd::read_state_file(fs, "/d/x.state", weftd::kConsumersMagic).value();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(back->data()), back->size()), body);
  EXPECT_FALSE(weftd::read_state_file(fs, "/d/x.state", weftd::kStreamsMagic).is_ok()) << "wrong magic";
  fs.flip_byte("/d/x.state", weftd::kStateHeaderSize + 2);
  EXPECT_EQ(weftd::read_state_file(fs, "/d/x.state", weftd::kConsumersMagic).status().code(), ErrorCode::kCorruption);
}

TEST(StateFile, APowerLossLeavesTheOldContentOrTheNewNeverAMix) {
  testing::FakeFileSystem fs;
  ASSERT_TRUE(fs.make_dir("/d").is_ok());
  auto write = [&](const std::string& body) {
    return weftd::write_state_file(fs, "/d/x.state", weftd::kStreamsMagic,
                                   {reinterpret_cast<const std::byte*>(body.data()), body.size()});
  };
  ASSERT_TRUE(write("old").is_ok());
  // The new content's rename is not yet durable when the power goes: the old content comes back.
  fs.fail(testing::FakeFileSystem::Op::kSyncDir, 1);
  EXPECT_FALSE(write("new!").is_ok());
  fs.power_loss();
  auto back = weftd::read_state_file(fs, "/d/x.state", weftd::kStreamsMagic).value();
  ASSERT_TRUE(back.has_value());
  const std::string text(reinterpret_cast<const char*>(back->data()), back->size());
  EXPECT_TRUE(text == "old" || text == "new!") << text;
  ASSERT_TRUE(write("newer").is_ok());
  fs.power_loss();
  back = weftd::read_state_file(fs, "/d/x.state", weftd::kStreamsMagic).value();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(back->data()), back->size()), "newer");
}

}  // namespace
}  // namespace weft::detail::sidecar
