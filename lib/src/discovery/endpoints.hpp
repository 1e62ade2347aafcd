// Which endpoints a node advertises, and which of a peer's advertised endpoints this node should use.
//
// Advertising (the sender): a bound endpoint becomes what peers can reach.
//   tcp://*:P, tcp://0.0.0.0:P, tcp://[::]:P  -> tcp://<advertise_host>:P when the operator named one, else
//       tcp://<interface address>:P when discovery is tied to an interface, else tcp://*:P ("the address you
//       receive my datagrams from": each receiver fills in the source address it sees, which is the address of
//       this host that routes to it); plus tcp://127.0.0.1:P (or [::1]) for peers in the same network namespace.
//   tcp://127.0.0.1:P   -> as is (receivers elsewhere drop it).
//   tcp://<address>:P   -> tcp://<advertise_host>:P when the operator named one, else as is.
//   ipc://relative/path -> made absolute against the working directory. ipc://@abstract as is.
//   inproc://...        -> never advertised.
//
// Selecting (the receiver): for each kind, the endpoints this node can reach, best first:
//   1. ipc, when the peer shares this node's ipc_scope (abstract ipc://@name: its net_scope);
//   2. loopback tcp, when the peer shares this node's net_scope;
//   3. tcp://*:P filled in with the address the peer's datagrams came from;
//   4. every other advertised endpoint, as advertised.
// Loopback and ipc endpoints of peers in other scopes are dropped, as are duplicates. Connect to the first;
// the others are fallbacks (connecting to two would deliver every message twice).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/discovery_codec.hpp"
#include "discovery/discovery_wire.hpp"
#include "discovery/host_info.hpp"

namespace weft::detail {

using EndpointKind = discovery_wire::EndpointKind;

[[nodiscard]] std::string_view to_string(EndpointKind kind) noexcept;

// An endpoint this node bound, as ZeroMQ reports it (wildcard hosts allowed, ports resolved).
struct LocalEndpoint {
  EndpointKind kind = EndpointKind::kPublish;
  std::string uri;
  friend bool operator==(const LocalEndpoint&, const LocalEndpoint&) = default;
};

// What a beacon carries.
struct AdvertisedEndpoint {
  std::uint8_t kind = 0;
  std::string uri;
  friend bool operator==(const AdvertisedEndpoint&, const AdvertisedEndpoint&) = default;
};

struct AdvertiseSettings {
  std::string_view advertise_host;  // DiscoveryOptions::advertise_host
  Ip4 interface_address = kIp4Any;  // the interface discovery is tied to (DiscoveryOptions::interface), if any
};

[[nodiscard]] std::vector<AdvertisedEndpoint> advertise_endpoints(std::span<const LocalEndpoint> bound,
                                                                  const HostInfo& host,
                                                                  const AdvertiseSettings& settings);

// How a peer's endpoint reaches it from this node; the order is the order of preference.
enum class EndpointReach : std::uint8_t { kIpc, kLoopback, kObserved, kAdvertised };

struct PeerEndpoint {
  EndpointKind kind = EndpointKind::kPublish;
  std::string uri;
  EndpointReach reach = EndpointReach::kAdvertised;
  friend bool operator==(const PeerEndpoint&, const PeerEndpoint&) = default;
};

struct PeerScopes {
  std::uint64_t ipc_scope = 0;
  std::uint64_t net_scope = 0;
};

// The peer's endpoints this node can reach, grouped by kind (in kind order) and best first within a kind.
// `observed` is the source address of the peer's last beacon (0: unknown).
[[nodiscard]] std::vector<PeerEndpoint> select_endpoints(std::span<const EndpointRef> advertised, PeerScopes peer,
                                                         const HostInfo& local, Ip4 observed);

}  // namespace weft::detail
