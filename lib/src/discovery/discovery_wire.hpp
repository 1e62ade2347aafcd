// Every constant of the discovery wire format, in one place. docs/discovery.md is the specification; keep the
// two in step.
//
// A discovery datagram is one msgpack array:
//
//   [magic "weft", version, type, flags, cluster, sender id, sender incarnation, body, extensions...]
//
// and the body is a msgpack array whose layout depends on the type. Elements past the known ones, at either
// level, are extensions of later revisions of version 1: a receiver skips them, whatever they hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::detail::discovery_wire {

// The first element of every datagram: lets a receiver tell Weft's datagrams from anything else that reaches
// its port or group (counted apart, as not_weft).
inline constexpr std::string_view kMagic = "weft";
// Version 2 may change everything after the version element, but never the first two elements.
inline constexpr std::uint64_t kVersion = 1;

// No datagram is longer, so none is ever fragmented: 1200 bytes + 28 bytes of IPv4/UDP headers (48 for IPv6)
// fit the IPv6 minimum MTU of 1280 and the MTU of every common tunnel (WireGuard, IPsec, VXLAN overlays).
// Receivers drop longer datagrams (counted as oversized).
inline constexpr std::size_t kMaxDatagramBytes = 1200;

enum class MessageType : std::uint8_t {
  kBeacon = 1,     // the sender describes itself in full
  kHeartbeat = 2,  // "still here": unicast to peers that already have the description
  kGossip = 3,     // a digest of peers the sender hears first-hand
  kBye = 4,        // the sender is leaving
};

// Bits of the flags element.
enum Flag : std::uint8_t {
  kFlagProbe = 0x01,        // answer this with a beacon (unicast, to the datagram's source)
  kFlagReply = 0x02,        // this answers a probe: never answer it
  kFlagWantUnicast = 0x04,  // "your group datagrams do not reach me": unicast your beacons to me
  kFlagSync = 0x08,         // send me your whole peer table (gossip, split over several datagrams)
};
inline constexpr std::uint8_t kKnownFlags = kFlagProbe | kFlagReply | kFlagWantUnicast | kFlagSync;

// Positions in the datagram array.
enum HeaderField : std::size_t {
  kMagicField = 0,
  kVersionField = 1,
  kTypeField = 2,
  kFlagsField = 3,
  kClusterField = 4,
  kSenderField = 5,
  kIncarnationField = 6,
  kBodyField = 7,
};
inline constexpr std::size_t kHeaderFields = 8;

// Positions in a beacon's body.
enum BeaconField : std::size_t {
  kNameField = 0,
  kHostField = 1,
  kIpcScopeField = 2,
  kNetScopeField = 3,
  kGenerationField = 4,
  kIntervalField = 5,
  kEndpointsField = 6,
  kUnicastField = 7,
};
inline constexpr std::size_t kBeaconFields = 8;

// A heartbeat's body: [generation, interval_ms].
inline constexpr std::size_t kHeartbeatFields = 2;
// A gossip body: [peers, view, entries]: how many peers the sender knows alive, a checksum of its view (see
// GossipView), and an array of entries, each [id, incarnation, address, age_ms].
enum GossipField : std::size_t { kPeersField = 0, kViewField = 1, kEntriesField = 2 };
inline constexpr std::size_t kGossipFields = 3;
inline constexpr std::size_t kGossipEntryFields = 4;
// An endpoint in a beacon: [kind, uri].
inline constexpr std::size_t kEndpointFields = 2;
// An IPv4 address and UDP port: bin of 6 bytes, address then port, big-endian.
inline constexpr std::size_t kAddressBytes = 6;

// Limits a receiver enforces (and a sender respects).
inline constexpr std::size_t kMaxArrayElements = 64;  // of any array (or keys plus values of any map)
inline constexpr std::size_t kMaxClusterBytes = 64;
inline constexpr std::size_t kMaxNameBytes = 128;
inline constexpr std::size_t kMaxHostBytes = 64;
inline constexpr std::size_t kMaxEndpoints = 8;
inline constexpr std::size_t kMaxEndpointBytes = 256;
inline constexpr std::size_t kMaxGossipEntries = 64;
inline constexpr std::size_t kMaxDepth = 4;       // datagram, body, entry, extension
inline constexpr std::size_t kMaxElements = 512;  // msgpack values in one datagram
// A peer's advertised beacon interval is clamped into this range before it sets the peer's expiry.
inline constexpr std::uint64_t kMinIntervalMs = 10;
inline constexpr std::uint64_t kMaxIntervalMs = 600'000;

// Endpoint kinds. Receivers ignore kinds they do not know.
enum class EndpointKind : std::uint8_t {
  kPublish = 0,    // the node's XPUB: subscribers connect here
  kWorkQueue = 1,  // the work-queue endpoint
  kControl = 2,    // the control endpoint
};
inline constexpr std::uint8_t kEndpointKinds = 3;

// Defaults of DiscoveryOptions. The group is in the organization-local scope (RFC 2365).
inline constexpr std::uint16_t kDefaultPort = 7650;
inline constexpr std::string_view kDefaultGroup = "239.255.76.50";
// An advertised tcp endpoint whose host is this placeholder means "the address you receive my datagrams from".
inline constexpr std::string_view kObservedHost = "*";

}  // namespace weft::detail::discovery_wire
