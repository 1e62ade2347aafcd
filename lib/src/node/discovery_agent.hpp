// Discovery inside the node (docs/discovery.md, "In the node"): the discovery agent (lib/src/discovery) stepped
// on the node's I/O thread. When a peer joins, it connects the node's subscribing side to the peer's publish
// endpoint (the best one discovery selected: ipc on the same host, loopback in the same network namespace,
// else tcp); when the peer leaves it disconnects (after a grace second, so that the peer's last messages are
// read), and a new incarnation of a peer is reconnected. Peer events
// go to NodeOptions::on_peer through the dispatcher, never run here; peers() and stats() read a snapshot the
// agent refreshes, so other threads never touch the agent itself.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "discovery/discovery.hpp"
#include "node/io_agent.hpp"
#include "node/node_context.hpp"
#include "weft/peer.hpp"
#include "weft/stats.hpp"

namespace weft::detail {

// What the I/O thread publishes for other threads: the peers and the counters, under one mutex.
class DiscoveryView {
 public:
  [[nodiscard]] std::vector<weft::PeerInfo> peers(Clock::TimePoint now) const;
  [[nodiscard]] weft::DiscoveryStats stats() const;

  struct Peer {
    weft::PeerInfo info;  // age left 0: computed from last_heard when read
    Clock::TimePoint last_heard{};
  };
  void publish(std::vector<Peer> peers, const weft::DiscoveryStats& stats);

 private:
  mutable std::mutex mutex_;
  std::vector<Peer> peers_;
  weft::DiscoveryStats stats_;
};

class DiscoveryAgent final : public IoAgent {
 public:
  // The at-least-once layer's hooks, called on the I/O thread (either may be empty): `learn_node` with a peer
  // that joined and the control endpoint discovery selected for it (ipc, loopback or the observed address:
  // reachable from here, unlike a host name), `forget_node` with a peer that left.
  using LearnNode = std::function<void(std::uint64_t, const std::string&)>;
  using ForgetNode = std::function<void(std::uint64_t)>;
  DiscoveryAgent(NodeContext& context, std::unique_ptr<Discovery> discovery, std::shared_ptr<DiscoveryView> view,
                 LearnNode learn_node, ForgetNode forget_node);

  std::size_t do_work(Clock::TimePoint now, Transport& transport) override;
  void pollable(std::vector<int>& fds) override;
  [[nodiscard]] Clock::TimePoint next_deadline() override;
  // Says goodbye (peers drop this node at once instead of after the expiry) and closes the sockets.
  void stop(Transport& transport) override;

 private:
  void handle(const DiscoveryEvent& event, Transport& transport);
  // Forgets the peer's connection now and closes it once draining_ says so.
  void disconnect_later(std::uint64_t id, Clock::TimePoint now);
  std::size_t close_drained(Clock::TimePoint now, Transport& transport);
  void connect(const DiscoveredPeer& peer, Transport& transport);
  void learn_control(const DiscoveredPeer& peer);
  void forget_control(std::uint64_t id);
  void notify(const DiscoveryEvent& event);
  void refresh_view(Clock::TimePoint now);

  NodeContext& context_;
  std::unique_ptr<Discovery> discovery_;
  std::shared_ptr<DiscoveryView> view_;
  LearnNode learn_node_;
  ForgetNode forget_node_;
  std::map<std::uint64_t, std::string> control_;  // peer id -> the control endpoint handed to learn_node
  std::map<std::uint64_t, std::string> connected_;  // peer id -> the publish endpoint our SUB connected to
  // Endpoints of peers that left (or moved), still connected until the time given: ZeroMQ discards what a
  // disconnected pipe still holds, and a peer's last messages may sit there when its goodbye arrives (it says
  // goodbye right after flushing them). A peer that comes back on one of them keeps that connection.
  std::map<std::string, Clock::TimePoint> draining_;
  std::uint64_t connects_ = 0;
  std::uint64_t connect_errors_ = 0;
  bool view_dirty_ = true;
  Clock::TimePoint next_view_{};
};

// The discovery agent's options from the node's.
[[nodiscard]] detail::DiscoveryOptions to_agent_options(const weft::DiscoveryOptions& options);

// Where a node with discovery on and nothing in NodeOptions::bind publishes: tcp on a free port of the
// discovery interface when it is an IPv4 address ("127.0.0.1" keeps a test on loopback), else of every interface.
[[nodiscard]] std::string default_discovery_bind(const weft::DiscoveryOptions& options);

// A discovered peer as the public API shows it (age 0, state alive).
[[nodiscard]] weft::PeerInfo to_peer_info(const DiscoveredPeer& peer);

}  // namespace weft::detail
