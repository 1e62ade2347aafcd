// The discovery codec: beacons, heartbeats, gossip digests and goodbyes as msgpack datagrams of at most
// discovery_wire::kMaxDatagramBytes (docs/discovery.md, "Wire format"). Encoding writes into a fixed buffer and
// reports what does not fit instead of growing it. Decoding trusts nothing: it parses with msgpack-c's visitor
// parser into a small bounded tree (no exceptions, views into the datagram), then checks every field's type and
// limit before anything is used.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/discovery_wire.hpp"
#include "discovery/udp_address.hpp"

namespace weft::detail {

// The elements every datagram starts with.
struct DatagramHeader {
  discovery_wire::MessageType type = discovery_wire::MessageType::kBeacon;
  std::uint8_t flags = 0;
  std::string_view cluster;
  std::uint64_t sender = 0;       // the node's id
  std::uint64_t incarnation = 0;  // new on every start of the node

  [[nodiscard]] bool has(discovery_wire::Flag flag) const noexcept { return (flags & flag) != 0; }
};

// One advertised endpoint. `kind` is a discovery_wire::EndpointKind, or a kind of a later revision.
struct EndpointRef {
  std::uint8_t kind = 0;
  std::string_view uri;
};

struct BeaconBody {
  std::string_view name;
  std::string_view host;          // the host's name, for people: same-host decisions use the scopes
  std::uint64_t ipc_scope = 0;    // HostInfo::ipc_scope
  std::uint64_t net_scope = 0;    // HostInfo::net_scope
  std::uint64_t generation = 0;   // changes when anything in the beacon body changes
  std::uint64_t interval_ms = 0;  // the sender's current beacon interval
  std::vector<EndpointRef> endpoints;
  std::optional<UdpAddress> unicast;  // where the sender wants unicast datagrams; empty: at their source address
};

struct HeartbeatBody {
  std::uint64_t generation = 0;
  std::uint64_t interval_ms = 0;
};

// One peer in a gossip digest: what the gossiper knows first-hand.
struct GossipEntry {
  std::uint64_t id = 0;
  std::uint64_t incarnation = 0;
  UdpAddress address;       // where the gossiper reaches it
  std::uint32_t age_ms = 0;  // how long ago the gossiper last heard from it directly
};

// What a gossip digest says about its sender's whole view, so that a receiver can tell whether they agree
// without exchanging tables: the number of peers it knows alive, and the XOR of view_term(id, incarnation) over
// those peers and itself. Two nodes that know the same members at the same incarnations have the same view.
struct GossipView {
  std::uint64_t peers = 0;
  std::uint64_t checksum = 0;
  friend bool operator==(const GossipView&, const GossipView&) = default;
};

// One member's share of GossipView::checksum (a splitmix64 mix of id and incarnation). Stable across releases.
[[nodiscard]] std::uint64_t view_term(std::uint64_t id, std::uint64_t incarnation) noexcept;

// A datagram being built. Never longer than kMaxDatagramBytes.
class DatagramBuffer {
 public:
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {bytes_.data(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  void clear() noexcept { size_ = 0; }

 private:
  friend class DatagramWriter;
  std::array<std::byte, discovery_wire::kMaxDatagramBytes> bytes_{};
  std::size_t size_ = 0;
};

// Each returns false, leaving `out` unspecified, when the datagram would exceed kMaxDatagramBytes or a field is
// over its limit.
[[nodiscard]] bool encode_beacon(const DatagramHeader& header, const BeaconBody& body, DatagramBuffer& out);
[[nodiscard]] bool encode_heartbeat(const DatagramHeader& header, const HeartbeatBody& body, DatagramBuffer& out);
[[nodiscard]] bool encode_bye(const DatagramHeader& header, DatagramBuffer& out);
// Encodes as many entries as fit (at most kMaxGossipEntries), from the front of `entries`, and returns how many;
// an empty digest is valid. Empty when the header alone does not fit.
std::optional<std::size_t> encode_gossip(const DatagramHeader& header, const GossipView& view,
                                         std::span<const GossipEntry> entries, DatagramBuffer& out);

// A decoded datagram. The views point into the decoded bytes; reuse one object to reuse its vectors.
struct DecodedDatagram {
  DatagramHeader header;
  BeaconBody beacon;           // kBeacon
  HeartbeatBody heartbeat;     // kHeartbeat
  GossipView view;                  // kGossip
  std::vector<GossipEntry> gossip;  // kGossip
};

enum class DatagramError {
  kNone,
  kOversized,    // longer than kMaxDatagramBytes
  kNotWeft,      // not a Weft discovery datagram at all (no magic): somebody else's traffic
  kBadVersion,   // a Weft datagram of a version this node does not speak
  kUnknownType,  // a well-formed header with a message type of a later revision
  kMalformed,    // a Weft datagram that breaks the format or a limit
};

struct DatagramCheck {
  DatagramError error = DatagramError::kNone;
  std::string detail;  // what was wrong, for the (rate-limited) log
  [[nodiscard]] bool ok() const noexcept { return error == DatagramError::kNone; }
};

DatagramCheck decode_datagram(std::span<const std::byte> datagram, DecodedDatagram& out);

}  // namespace weft::detail
