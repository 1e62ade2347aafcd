// The options of the discovery agent, its counters, and the events it hands to the node. Every option has a
// documented default; docs/discovery.md, "Knobs", explains when to change them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "discovery/discovery_wire.hpp"
#include "discovery/endpoints.hpp"
#include "discovery/udp_address.hpp"

namespace weft::detail {

struct DiscoveryOptions {
  // Nodes only see peers of the same cluster; beacons of other clusters are counted and dropped. 1 to 64 bytes.
  std::string cluster = "weft";

  // The UDP port every node of the cluster binds (shared: SO_REUSEPORT) to hear multicast and broadcast
  // beacons, and where a seed "host:port" without a port points. 0: a free port (tests).
  std::uint16_t port = discovery_wire::kDefaultPort;

  // Multicast beacons to `multicast_group`:`port`, on by default. Where multicast is blocked (most clouds, many
  // container networks, VPNs), use seeds; both can run at once.
  bool multicast = true;
  std::string multicast_group = std::string(discovery_wire::kDefaultGroup);
  // Router hops a multicast beacon may cross; 1 keeps it on the local link.
  int multicast_ttl = 1;

  // The interface for multicast and for the tcp address advertised for wildcard binds: a name ("eth0") or an
  // IPv4 address. Empty: the kernel's default interface for multicast, and each receiver uses the address it
  // sees beacons come from.
  std::string interface;

  // Broadcast beacons to `broadcast_address`:`port` as well (for LANs whose switches drop multicast).
  bool broadcast = false;
  std::string broadcast_address = "255.255.255.255";

  // Unicast seeds, "host:port" or "host" (then `port`); a host may be a DNS name, resolved when the agent is
  // built (a headless Kubernetes service name gives every pod). The node contacts them until it knows a peer,
  // then every `seed_refresh` intervals, and asks each for its whole peer table: one reachable seed is enough
  // to learn the cluster. Seeds need not be special nodes.
  std::vector<std::string> seeds;
  std::uint32_t seed_refresh = 10;

  // This node's own unicast socket: the source of everything it sends and where peers answer. 0: a free port.
  // Set it (and publish it) when the node runs behind port mapping and names `advertise_host`.
  std::uint16_t unicast_port = 0;

  // The address peers should use to reach this node: replaces the host of advertised tcp endpoints, and with
  // it peers send unicast datagrams to advertise_host:unicast_port. For NAT, port mapping, containers. An IPv4
  // address or a name (endpoints only: the unicast address must then be numeric to be used).
  std::string advertise_host;

  // The beacon interval, and how many intervals without a word from a peer before it is declared gone: a peer
  // expires (expiry_count + 0.5) x its own advertised interval after it was last heard.
  std::chrono::milliseconds interval{1000};
  std::uint32_t expiry_count = 3;

  // Beacon traffic budget, bytes per second, as one node receives it from the whole cluster. When
  // nodes x beacon size x (1 s / interval) would exceed it, every node stretches its interval (so expiry
  // stretches too) up to max_interval. 0: never stretch.
  std::size_t beacon_budget = 100'000;
  std::chrono::milliseconds max_interval{10'000};

  // Gossip: every `interval`, send a digest of the peers this node hears first-hand to `gossip_fanout` random
  // peers. A digest holds at most what fits one datagram (about 38 peers): larger tables are sampled, newest
  // changes first, then round-robin.
  bool gossip = true;
  std::size_t gossip_fanout = 2;

  // The most peers (alive, being verified, or remembered as gone) the table holds; beacons and gossip about
  // further peers are counted (table_full) and dropped.
  std::size_t max_peers = 4096;

  // Replaces the host scopes (HostInfo) when set: nodes given the same host_id treat each other as sharing ipc
  // and loopback. For hosts where /proc cannot tell.
  std::string host_id;
};

// Every datagram received or dropped, by reason, and what the agent did.
struct DiscoveryStats {
  // Received.
  std::uint64_t datagrams_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t beacons_received = 0;
  std::uint64_t heartbeats_received = 0;
  std::uint64_t gossip_received = 0;
  std::uint64_t byes_received = 0;

  // Dropped datagrams, one counter per reason.
  std::uint64_t dropped_oversized = 0;      // longer than 1200 bytes
  std::uint64_t dropped_not_weft = 0;       // not a Weft discovery datagram (another program on the port/group)
  std::uint64_t dropped_malformed = 0;      // Weft magic, but breaks the format
  std::uint64_t dropped_bad_version = 0;    // a protocol version this node does not speak
  std::uint64_t dropped_unknown_type = 0;   // a message type of a later revision
  std::uint64_t dropped_other_cluster = 0;  // another cluster's beacon
  std::uint64_t dropped_own = 0;            // this node's own datagram, looped back
  std::uint64_t dropped_stale = 0;          // from an older incarnation of a known peer, or after its goodbye
  std::uint64_t dropped_table_full = 0;     // from a new peer while the table is full
  std::uint64_t receive_errors = 0;         // the socket reported an error

  // Gossip entries ignored (the datagram itself was fine).
  std::uint64_t gossip_entries_stale = 0;     // older than the expiry window, or about a peer already gone
  std::uint64_t gossip_entries_ignored = 0;   // about a peer this node already knows at that incarnation, or itself

  // Sent.
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t beacons_sent = 0;     // group and unicast beacons, probes and replies
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t gossip_sent = 0;
  std::uint64_t probes_sent = 0;      // beacons that ask for an answer (verification, seeds)
  std::uint64_t views_pulled = 0;     // tables asked of a peer whose digest showed a view this node lacks
  std::uint64_t send_errors = 0;      // refused by the system (no route, firewall)
  std::uint64_t send_dropped = 0;     // the socket's buffer was full

  // Peers.
  std::uint64_t peers_joined = 0;
  std::uint64_t peers_updated = 0;
  std::uint64_t peers_expired = 0;      // missed expiry_count beacons
  std::uint64_t peers_departed = 0;     // said goodbye
  std::uint64_t peers_restarted = 0;    // replaced by a newer incarnation
  std::uint64_t peers_unreachable = 0;  // learned by gossip but never answered this node directly

  bool multicast_active = false;  // joined the group: multicast beacons can arrive
  std::chrono::milliseconds current_interval{0};

  [[nodiscard]] std::uint64_t dropped_total() const noexcept {
    return dropped_oversized + dropped_not_weft + dropped_malformed + dropped_bad_version + dropped_unknown_type +
           dropped_other_cluster + dropped_own + dropped_stale + dropped_table_full;
  }
};

// A peer as this node sees it.
struct DiscoveredPeer {
  std::uint64_t id = 0;
  std::uint64_t incarnation = 0;
  std::string name;
  std::string host;
  bool same_host = false;               // shares this node's ipc scope: its ipc:// endpoints are reachable
  bool same_network_namespace = false;  // shares this node's net scope: its 127.0.0.1 endpoints are reachable
  // The endpoints to connect to: grouped by kind, best first (see endpoints.hpp).
  std::vector<PeerEndpoint> endpoints;
  UdpAddress discovery_address;  // where this node sends it unicast datagrams

  // The best endpoint of a kind: the one to connect to. Null when the peer advertises none this node can reach.
  [[nodiscard]] const PeerEndpoint* preferred(EndpointKind kind) const noexcept {
    for (const PeerEndpoint& endpoint : endpoints) {
      if (endpoint.kind == kind) return &endpoint;
    }
    return nullptr;
  }
};

enum class PeerLeftReason : std::uint8_t {
  kExpired,    // missed expiry_count beacons
  kDeparted,   // said goodbye
  kRestarted,  // a newer incarnation replaced it (a kJoined for the new one follows)
};

struct DiscoveryEvent {
  enum class Kind : std::uint8_t {
    kJoined,   // connect to peer.endpoints
    kUpdated,  // its endpoints or name changed: reconnect where the preferred endpoints differ
    kLeft,     // disconnect; `reason` says why
  };
  Kind kind = Kind::kJoined;
  PeerLeftReason reason = PeerLeftReason::kExpired;  // kLeft only
  DiscoveredPeer peer;
};

}  // namespace weft::detail
