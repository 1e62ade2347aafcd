// The discovery codec: round trips, the byte-exact example of docs/discovery.md, limits, and a decoder that
// survives every truncation, every corrupted byte and random input.
#include "discovery/discovery_codec.hpp"

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <random>
#include <string>

namespace weft::detail {
namespace {

namespace wire = discovery_wire;

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    auto v = static_cast<unsigned>(b);
    out += kDigits[v >> 4];
    out += kDigits[v & 0xf];
  }
  return out;
}

std::vector<std::byte> unhex(std::string_view text) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

DatagramHeader header(wire::MessageType type, std::uint8_t flags = 0) {
  DatagramHeader h;
  h.type = type;
  h.flags = flags;
  h.cluster = "prod";
  h.sender = 0x5eedf00dcafe0001ULL;
  h.incarnation = 0x17a2b3c4d5e6f708ULL;
  return h;
}

// The beacon of docs/discovery.md, "A beacon, byte by byte".
BeaconBody example_body() {
  BeaconBody body;
  body.name = "orders-1";
  body.host = "web-07";
  body.ipc_scope = 0x1111111111111111ULL;
  body.net_scope = 0x2222222222222222ULL;
  body.generation = 1;
  body.interval_ms = 1000;
  body.endpoints = {{0, "tcp://*:5555"}, {0, "tcp://127.0.0.1:5555"}};
  return body;
}

DecodedDatagram decode_ok(std::span<const std::byte> bytes) {
  DecodedDatagram out;
  DatagramCheck check = decode_datagram(bytes, out);
  EXPECT_TRUE(check.ok()) << check.detail;
  return out;
}

DatagramError decode_error(std::span<const std::byte> bytes) {
  DecodedDatagram out;
  return decode_datagram(bytes, out).error;
}

template <typename... Fields>
std::vector<std::byte> pack(const Fields&... fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(sizeof...(fields));
  (packer.pack(fields), ...);
  auto* data = reinterpret_cast<const std::byte*>(buffer.data());
  return {data, data + buffer.size()};
}

TEST(DiscoveryCodec, TheDocumentedBeaconIsByteExact) {
  DatagramBuffer buffer;
  ASSERT_TRUE(encode_beacon(header(wire::MessageType::kBeacon), example_body(), buffer));
  // docs/discovery.md shows these bytes; change both together.
  EXPECT_EQ(hex(buffer.bytes()),
            "98a4776566740101"          // fixarray(8), "weft", version 1, type 1 (beacon)
            "00a470726f64"              // flags 0, cluster "prod"
            "cf5eedf00dcafe0001"        // sender id
            "cf17a2b3c4d5e6f708"        // incarnation
            "98"                        // body: fixarray(8)
            "a86f72646572732d31"        // name "orders-1"
            "a67765622d3037"            // host "web-07"
            "cf1111111111111111"        // ipc scope
            "cf2222222222222222"        // net scope
            "01"                        // generation 1
            "cd03e8"                    // interval 1000 ms
            "92"                        // endpoints: fixarray(2)
            "9200ac7463703a2f2f2a3a35353535"                          // [0, "tcp://*:5555"]
            "9200b47463703a2f2f3132372e302e302e313a35353535"          // [0, "tcp://127.0.0.1:5555"]
            "c0");                      // unicast: nil
  EXPECT_EQ(buffer.size(), 111u);
}

TEST(DiscoveryCodec, TheDocumentedHeartbeatAndGossipDigestAreByteExact) {
  DatagramBuffer buffer;
  ASSERT_TRUE(encode_heartbeat(header(wire::MessageType::kHeartbeat, wire::kFlagWantUnicast), {7, 2500}, buffer));
  EXPECT_EQ(hex(buffer.bytes()),
            "98a4776566740102"          // fixarray(8), "weft", version 1, type 2 (heartbeat)
            "04a470726f64"              // flags: want-unicast, cluster "prod"
            "cf5eedf00dcafe0001"        // sender id
            "cf17a2b3c4d5e6f708"        // incarnation
            "9207cd09c4");              // body: [generation 7, interval 2500 ms]
  EXPECT_EQ(buffer.size(), 37u);

  const std::vector<GossipEntry> entries = {
      {0x5eedf00dcafe0002ULL, 0x17a2b3c4d5e6f709ULL, {0x0a00000c, 41234}, 250},
      {0x5eedf00dcafe0003ULL, 0x17a2b3c4d5e6f70aULL, {0x0a00000d, 40000}, 1020}};
  const GossipView view{3, 0x0a1b2c3d4e5f6071ULL};
  ASSERT_EQ(encode_gossip(header(wire::MessageType::kGossip), view, entries, buffer), std::optional<std::size_t>(2));
  EXPECT_EQ(hex(buffer.bytes()),
            "98a4776566740103"          // fixarray(8), "weft", version 1, type 3 (gossip)
            "00a470726f64"              // flags 0, cluster "prod"
            "cf5eedf00dcafe0001"        // sender id
            "cf17a2b3c4d5e6f708"        // incarnation
            "93"                        // body: fixarray(3)
            "03"                        // peers: 3
            "cf0a1b2c3d4e5f6071"        // view checksum
            "92"                        // entries: fixarray(2)
            "94cf5eedf00dcafe0002cf17a2b3c4d5e6f709c4060a00000ca112ccfa"    // 10.0.0.12:41234, 250 ms
            "94cf5eedf00dcafe0003cf17a2b3c4d5e6f70ac4060a00000d9c40cd03fc");  // 10.0.0.13:40000, 1020 ms
  EXPECT_EQ(buffer.size(), 103u);
  EXPECT_EQ(decode_ok(buffer.bytes()).view, view);
}

TEST(DiscoveryCodec, BeaconRoundTrips) {
  DatagramBuffer buffer;
  BeaconBody body = example_body();
  body.unicast = UdpAddress{0xc0000207, 7651};
  ASSERT_TRUE(encode_beacon(header(wire::MessageType::kBeacon, wire::kFlagProbe | wire::kFlagSync), body, buffer));
  DecodedDatagram out = decode_ok(buffer.bytes());
  EXPECT_EQ(out.header.type, wire::MessageType::kBeacon);
  EXPECT_TRUE(out.header.has(wire::kFlagProbe));
  EXPECT_TRUE(out.header.has(wire::kFlagSync));
  EXPECT_FALSE(out.header.has(wire::kFlagReply));
  EXPECT_EQ(out.header.cluster, "prod");
  EXPECT_EQ(out.header.sender, 0x5eedf00dcafe0001ULL);
  EXPECT_EQ(out.header.incarnation, 0x17a2b3c4d5e6f708ULL);
  EXPECT_EQ(out.beacon.name, "orders-1");
  EXPECT_EQ(out.beacon.host, "web-07");
  EXPECT_EQ(out.beacon.ipc_scope, 0x1111111111111111ULL);
  EXPECT_EQ(out.beacon.net_scope, 0x2222222222222222ULL);
  EXPECT_EQ(out.beacon.generation, 1u);
  EXPECT_EQ(out.beacon.interval_ms, 1000u);
  ASSERT_EQ(out.beacon.endpoints.size(), 2u);
  EXPECT_EQ(out.beacon.endpoints[1].uri, "tcp://127.0.0.1:5555");
  ASSERT_TRUE(out.beacon.unicast.has_value());
  EXPECT_EQ(*out.beacon.unicast, (UdpAddress{0xc0000207, 7651}));
}

TEST(DiscoveryCodec, HeartbeatAndByeRoundTrip) {
  DatagramBuffer buffer;
  ASSERT_TRUE(encode_heartbeat(header(wire::MessageType::kHeartbeat, wire::kFlagWantUnicast), {7, 2500}, buffer));
  EXPECT_LT(buffer.size(), 45u);
  DecodedDatagram out = decode_ok(buffer.bytes());
  EXPECT_EQ(out.header.type, wire::MessageType::kHeartbeat);
  EXPECT_TRUE(out.header.has(wire::kFlagWantUnicast));
  EXPECT_EQ(out.heartbeat.generation, 7u);
  EXPECT_EQ(out.heartbeat.interval_ms, 2500u);

  ASSERT_TRUE(encode_bye(header(wire::MessageType::kBye), buffer));
  EXPECT_EQ(decode_ok(buffer.bytes()).header.type, wire::MessageType::kBye);
}

TEST(DiscoveryCodec, AGossipDigestTakesWhatFitsOneDatagramAndSplitsTheRest) {
  std::vector<GossipEntry> entries;
  for (std::uint64_t i = 0; i < 100; ++i) {
    entries.push_back({0xa000000000000000ULL + i, 0x17a2b3c4d5e6f708ULL + i,
                       {0x0a000000u + static_cast<std::uint32_t>(i), 40000}, static_cast<std::uint32_t>(i * 37)});
  }
  DatagramBuffer buffer;
  auto written = encode_gossip(header(wire::MessageType::kGossip), {3, 0xabcdef}, entries, buffer);
  ASSERT_TRUE(written.has_value());
  EXPECT_GE(*written, 35u);  // about 30 bytes per entry
  EXPECT_LE(buffer.size(), wire::kMaxDatagramBytes);
  DecodedDatagram out = decode_ok(buffer.bytes());
  EXPECT_EQ(out.view, (GossipView{3, 0xabcdef}));
  ASSERT_EQ(out.gossip.size(), *written);
  for (std::size_t i = 0; i < *written; ++i) {
    EXPECT_EQ(out.gossip[i].id, entries[i].id);
    EXPECT_EQ(out.gossip[i].incarnation, entries[i].incarnation);
    EXPECT_EQ(out.gossip[i].address, entries[i].address);
    EXPECT_EQ(out.gossip[i].age_ms, entries[i].age_ms);
  }
  // Splitting: every entry goes out exactly once, every datagram within the limit.
  std::span<const GossipEntry> rest(entries);
  std::size_t total = 0;
  std::size_t datagrams = 0;
  while (!rest.empty()) {
    auto n = encode_gossip(header(wire::MessageType::kGossip), {3, 0xabcdef}, rest, buffer);
    ASSERT_TRUE(n && *n > 0);
    EXPECT_LE(buffer.size(), wire::kMaxDatagramBytes);
    total += decode_ok(buffer.bytes()).gossip.size();
    rest = rest.subspan(*n);
    ++datagrams;
  }
  EXPECT_EQ(total, entries.size());
  EXPECT_EQ(datagrams, 3u);
  // An empty digest is valid.
  EXPECT_EQ(encode_gossip(header(wire::MessageType::kGossip), {3, 0xabcdef}, {}, buffer), std::optional<std::size_t>(0));
  EXPECT_TRUE(decode_ok(buffer.bytes()).gossip.empty());
}

TEST(DiscoveryCodec, TheEncoderRefusesWhatDoesNotFit) {
  DatagramBuffer buffer;
  BeaconBody body = example_body();
  std::vector<std::string> long_uris;
  for (int i = 0; i < 8; ++i) long_uris.push_back("ipc:///" + std::string(200, 'a' + static_cast<char>(i)));
  body.endpoints.clear();
  for (const auto& uri : long_uris) body.endpoints.push_back({0, uri});
  EXPECT_FALSE(encode_beacon(header(wire::MessageType::kBeacon), body, buffer));  // 8 x 200 bytes > 1200
  body.endpoints.resize(3);
  EXPECT_TRUE(encode_beacon(header(wire::MessageType::kBeacon), body, buffer));
  body.endpoints.assign(9, {0, "tcp://*:1"});
  EXPECT_FALSE(encode_beacon(header(wire::MessageType::kBeacon), body, buffer));  // more than 8
  std::string long_cluster(65, 'c');
  DatagramHeader h = header(wire::MessageType::kBye);
  h.cluster = long_cluster;
  EXPECT_FALSE(encode_bye(h, buffer));
}

TEST(DiscoveryCodec, DatagramsThatAreNotWeftAreToldApart) {
  EXPECT_EQ(decode_error({}), DatagramError::kNotWeft);
  EXPECT_EQ(decode_error(unhex("deadbeef")), DatagramError::kNotWeft);
  EXPECT_EQ(decode_error(pack(1, 2, 3)), DatagramError::kNotWeft);
  EXPECT_EQ(decode_error(pack(std::string("zyre"), 1)), DatagramError::kNotWeft);
  EXPECT_EQ(decode_error(unhex("5a5245010203")), DatagramError::kNotWeft);  // a Zyre beacon: "ZRE", version 1
}

TEST(DiscoveryCodec, WrongVersionsUnknownTypesAndOversizedDatagramsAreTold) {
  EXPECT_EQ(decode_error(pack(std::string("weft"), 2)), DatagramError::kBadVersion);
  EXPECT_EQ(decode_error(pack(std::string("weft"), 2, std::string("anything at all"))), DatagramError::kBadVersion);
  EXPECT_EQ(decode_error(pack(std::string("weft"), 1, 9, 0, std::string("prod"), 1u, 1u, std::vector<int>{})),
            DatagramError::kUnknownType);
  // Version 2 may break version 1's limits; it is still reported as another version.
  EXPECT_EQ(decode_error(unhex("92a477656674cd0200")), DatagramError::kBadVersion);
  EXPECT_EQ(decode_error(unhex("9fa47765667402dc0100")), DatagramError::kBadVersion);
  EXPECT_EQ(decode_error(unhex("98a477656674a131")), DatagramError::kMalformed);  // version "1"
  std::vector<std::byte> big(wire::kMaxDatagramBytes + 1, std::byte{0});
  EXPECT_EQ(decode_error(big), DatagramError::kOversized);
}

TEST(DiscoveryCodec, EveryFieldIsChecked) {
  const std::string w = "weft";
  const std::string prod = "prod";
  // Header fields of the wrong type or out of range.
  EXPECT_EQ(decode_error(pack(w, 1)), DatagramError::kMalformed);                                  // too short
  EXPECT_EQ(decode_error(pack(w, std::string("1"), 1, 0, prod, 1u, 1u, std::vector<int>{})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 4, 300, prod, 1u, 1u, std::vector<int>{})), DatagramError::kMalformed);  // flags
  EXPECT_EQ(decode_error(pack(w, 1, 4, 0, std::string(), 1u, 1u, std::vector<int>{})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 4, 0, std::string(65, 'c'), 1u, 1u, std::vector<int>{})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 4, 0, std::string("pr\nod"), 1u, 1u, std::vector<int>{})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 4, 0, prod, -1, 1u, std::vector<int>{})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 4, 0, prod, 1u, 1u, 7)), DatagramError::kMalformed);  // body not an array
  EXPECT_TRUE(decode_error(pack(w, 1, 4, 0, prod, 1u, 1u, std::vector<int>{})) == DatagramError::kNone);
  // Unknown flag bits and extension elements are accepted (later revisions of version 1).
  DecodedDatagram out;
  EXPECT_TRUE(decode_datagram(pack(w, 1, 4, 0xf0, prod, 1u, 1u, std::vector<int>{}, std::string("ext"), 3.5), out).ok());
  // Heartbeat body.
  EXPECT_EQ(decode_error(pack(w, 1, 2, 0, prod, 1u, 1u, std::vector<int>{1})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 2, 0, prod, 1u, 1u, std::vector<std::string>{"a", "b"})), DatagramError::kMalformed);
  EXPECT_EQ(decode_error(pack(w, 1, 2, 0, prod, 1u, 1u, std::vector<int>{1, 2, 3})), DatagramError::kNone);
}

TEST(DiscoveryCodec, BeaconBodiesAreCheckedFieldByField) {
  DatagramBuffer buffer;
  ASSERT_TRUE(encode_beacon(header(wire::MessageType::kBeacon), example_body(), buffer));
  const std::string good = hex(buffer.bytes());
  // Replaces the first occurrence of `from` (the unicast field: the last byte) in the hex of a good beacon.
  auto with = [&](std::string_view from, std::string_view to) {
    std::string text = good;
    auto at = from == "c0" ? text.size() - 2 : text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return decode_error(unhex(text));
  };
  EXPECT_EQ(with("a86f72646572732d31", "a0"), DatagramError::kMalformed);                  // empty name
  EXPECT_EQ(with("a86f72646572732d31", "08"), DatagramError::kMalformed);                  // name not a string
  EXPECT_EQ(with("a67765622d3037", "c0"), DatagramError::kMalformed);                      // host nil
  EXPECT_EQ(with("cf1111111111111111", "a1"), DatagramError::kMalformed);                  // scope a string (and short)
  EXPECT_EQ(with("9200ac", "92ccffac"), DatagramError::kNone);                             // kind 255: kept for later
  EXPECT_EQ(with("9200ac", "92cd0100ac"), DatagramError::kMalformed);                      // kind 256
  EXPECT_EQ(with("9200ac7463703a2f2f2a3a35353535", "9200a0"), DatagramError::kMalformed);  // empty uri
  EXPECT_EQ(with("9200ac7463703a2f2f2a3a35353535", "9100"), DatagramError::kMalformed);   // [kind] only
  EXPECT_EQ(with("c0", "c4060a0000010000"), DatagramError::kMalformed);                    // unicast port 0
  EXPECT_EQ(with("c0", "c4050a00000100"), DatagramError::kMalformed);                      // unicast of 5 bytes
  EXPECT_EQ(with("c0", "c4060a0000011de7"), DatagramError::kNone);                         // 10.0.0.1:7655
}

TEST(DiscoveryCodec, NestingAndSizeLimitsHold) {
  // Nested deeper than four levels.
  std::vector<std::byte> deep = unhex("98a4776566740101" "00a470726f64" "01" "01" "9191919190");
  EXPECT_EQ(decode_error(deep), DatagramError::kMalformed);
  // An array announcing more elements than any datagram may hold.
  EXPECT_EQ(decode_error(unhex("98a477656674010100a470726f640101dc0100")), DatagramError::kMalformed);
  // A string announcing more bytes than there are.
  EXPECT_EQ(decode_error(unhex("98a477656674010100db7fffffff")), DatagramError::kMalformed);
}

TEST(DiscoveryCodec, EveryTruncationIsRejected) {
  DatagramBuffer buffer;
  BeaconBody body = example_body();
  body.unicast = UdpAddress{0xc0000207, 7651};
  ASSERT_TRUE(encode_beacon(header(wire::MessageType::kBeacon), body, buffer));
  auto bytes = buffer.bytes();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    DatagramError error = decode_error(bytes.first(n));
    EXPECT_TRUE(error == DatagramError::kMalformed || error == DatagramError::kNotWeft) << n;
  }
}

TEST(DiscoveryCodec, CorruptedAndRandomBytesNeverCrashTheDecoder) {
  DatagramBuffer buffer;
  ASSERT_TRUE(encode_beacon(header(wire::MessageType::kBeacon), example_body(), buffer));
  std::vector<std::byte> bytes(buffer.bytes().begin(), buffer.bytes().end());
  DecodedDatagram out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      std::vector<std::byte> corrupted = bytes;
      corrupted[i] = static_cast<std::byte>(v);
      DatagramCheck check = decode_datagram(corrupted, out);
      if (check.ok()) {
        EXPECT_LE(out.beacon.endpoints.size(), wire::kMaxEndpoints);
      }
    }
  }
  std::mt19937_64 random(1);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> noise(random() % 1300);
    for (auto& b : noise) b = static_cast<std::byte>(random());
    if (round % 2 == 0 && noise.size() > 8) {  // give half of them a valid start
      std::vector<std::byte> start = unhex("98a4776566740101");
      std::copy(start.begin(), start.end(), noise.begin());
    }
    (void)decode_datagram(noise, out);
  }
}

}  // namespace
}  // namespace weft::detail
