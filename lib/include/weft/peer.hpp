// Peers a node found by discovery (NodeOptions::discovery, docs/discovery.md): what Node::peers() returns and
// what NodeOptions::on_peer hears.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

enum class PeerState : std::uint8_t {
  kVerifying,  // heard of (gossip, a stranger's heartbeat) and probed, not yet heard from directly
  kAlive,      // heard from directly within the expiry window: connected
};

[[nodiscard]] constexpr std::string_view to_string(PeerState state) noexcept {
  return state == PeerState::kAlive ? "alive" : "verifying";
}

// One endpoint a peer advertised and this node can reach, best first within its kind.
struct PeerEndpointInfo {
  std::string kind;  // "publish", "work-queue" or "control"
  std::string uri;
};

struct PeerInfo {
  std::string name;
  std::uint64_t id = 0;           // the peer's node id (Node::id() there)
  std::uint64_t incarnation = 0;  // changes on every start of the peer
  std::string host;               // the host name it reported, for people
  std::vector<PeerEndpointInfo> endpoints;
  // The publish endpoint this node's subscribing side connected to; empty when none is reachable.
  std::string connected;
  bool same_host = false;        // its ipc:// endpoints reach this node
  std::chrono::milliseconds age{0};  // since this node last heard it directly
  PeerState state = PeerState::kAlive;
};

// A peer joining or leaving, as NodeOptions::on_peer hears it: on the node's dispatcher thread, never on its
// I/O thread.
struct PeerEvent {
  enum class Kind : std::uint8_t {
    kJoined,   // alive: this node connected to it
    kUpdated,  // its endpoints or name changed: reconnected where needed
    kLeft,     // expired, said goodbye, or restarted (a kJoined for the new incarnation follows)
  };
  enum class Reason : std::uint8_t { kNone, kExpired, kDeparted, kRestarted };
  Kind kind = Kind::kJoined;
  Reason reason = Reason::kNone;  // kLeft only
  PeerInfo peer;
};

[[nodiscard]] constexpr std::string_view to_string(PeerEvent::Kind kind) noexcept {
  switch (kind) {
    case PeerEvent::Kind::kJoined: return "joined";
    case PeerEvent::Kind::kUpdated: return "updated";
    case PeerEvent::Kind::kLeft: return "left";
  }
  return "?";
}

[[nodiscard]] constexpr std::string_view to_string(PeerEvent::Reason reason) noexcept {
  switch (reason) {
    case PeerEvent::Reason::kNone: return "";
    case PeerEvent::Reason::kExpired: return "expired";
    case PeerEvent::Reason::kDeparted: return "departed";
    case PeerEvent::Reason::kRestarted: return "restarted";
  }
  return "?";
}

}  // namespace weft
