#include "node/discovery_agent.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>

namespace weft::detail {

namespace {

// How often, at most, a steady stream of datagrams refreshes the snapshot peers() reads (events refresh it at
// once). Ages are computed when read, so only the counters and last-heard times lag by this much.
constexpr std::chrono::milliseconds kViewRefresh{100};
// How long the connection to a peer that left stays open for what it sent last to be read.
constexpr std::chrono::milliseconds kDrainGrace{1000};

std::string hex_id(std::uint64_t id) {
  char text[19];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

weft::PeerEvent::Reason to_reason(PeerLeftReason reason) {
  switch (reason) {
    case PeerLeftReason::kExpired: return weft::PeerEvent::Reason::kExpired;
    case PeerLeftReason::kDeparted: return weft::PeerEvent::Reason::kDeparted;
    case PeerLeftReason::kRestarted: return weft::PeerEvent::Reason::kRestarted;
  }
  return weft::PeerEvent::Reason::kNone;
}

weft::DiscoveryStats to_public(const detail::DiscoveryStats& s, std::size_t alive) {
  weft::DiscoveryStats out;
  out.enabled = true;
  out.multicast_active = s.multicast_active;
  out.peers = alive;
  out.beacons_sent = s.beacons_sent;
  out.beacons_received = s.beacons_received;
  out.datagrams_sent = s.datagrams_sent;
  out.datagrams_received = s.datagrams_received;
  out.malformed = s.dropped_oversized + s.dropped_not_weft + s.dropped_malformed + s.dropped_bad_version +
                  s.dropped_unknown_type;
  out.foreign_cluster = s.dropped_other_cluster;
  out.dropped = s.dropped_total();
  out.peers_joined = s.peers_joined;
  out.peers_expired = s.peers_expired;
  out.peers_departed = s.peers_departed;
  out.peers_restarted = s.peers_restarted;
  out.send_errors = s.send_errors;
  return out;
}

}  // namespace

detail::DiscoveryOptions to_agent_options(const weft::DiscoveryOptions& options) {
  detail::DiscoveryOptions out;
  out.cluster = options.cluster;
  out.port = options.port;
  out.multicast = options.multicast;
  out.multicast_group = options.multicast_group;
  out.interface = options.interface;
  out.broadcast = options.broadcast;
  out.seeds = options.seeds;
  out.unicast_port = options.unicast_port;
  out.advertise_host = options.advertise_host;
  out.interval = options.interval;
  out.expiry_count = options.expiry_beacons;
  out.host_id = options.host_id;
  return out;
}

std::string default_discovery_bind(const weft::DiscoveryOptions& options) {
  if (!options.interface.empty() && parse_ip4(options.interface)) return "tcp://" + options.interface + ":*";
  return "tcp://0.0.0.0:*";
}

weft::PeerInfo to_peer_info(const DiscoveredPeer& peer) {
  weft::PeerInfo info;
  info.name = peer.name;
  info.id = peer.id;
  info.incarnation = peer.incarnation;
  info.host = peer.host;
  info.same_host = peer.same_host;
  info.state = weft::PeerState::kAlive;
  for (const PeerEndpoint& endpoint : peer.endpoints) {
    info.endpoints.push_back({std::string(to_string(endpoint.kind)), endpoint.uri});
  }
  return info;
}

// ---------------------------------------------------------------------------------------------------------------
// DiscoveryView

std::vector<weft::PeerInfo> DiscoveryView::peers(Clock::TimePoint now) const {
  std::lock_guard lock(mutex_);
  std::vector<weft::PeerInfo> out;
  out.reserve(peers_.size());
  for (const Peer& peer : peers_) {
    out.push_back(peer.info);
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - peer.last_heard);
    out.back().age = std::max(age, std::chrono::milliseconds{0});
  }
  return out;
}

weft::DiscoveryStats DiscoveryView::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void DiscoveryView::publish(std::vector<Peer> peers, const weft::DiscoveryStats& stats) {
  std::lock_guard lock(mutex_);
  peers_ = std::move(peers);
  stats_ = stats;
}

// ---------------------------------------------------------------------------------------------------------------
// DiscoveryAgent

DiscoveryAgent::DiscoveryAgent(NodeContext& context, std::unique_ptr<Discovery> discovery,
                               std::shared_ptr<DiscoveryView> view, LearnNode learn_node, ForgetNode forget_node)
    : context_(context),
      discovery_(std::move(discovery)),
      view_(std::move(view)),
      learn_node_(std::move(learn_node)),
      forget_node_(std::move(forget_node)) {}

std::size_t DiscoveryAgent::do_work(Clock::TimePoint now, Transport& transport) {
  if (!discovery_) return 0;
  std::size_t work = discovery_->do_work(now) + close_drained(now, transport);
  while (auto event = discovery_->next_event()) {
    handle(*event, transport);
    view_dirty_ = true;
    ++work;
  }
  if (view_dirty_ || (work > 0 && now >= next_view_)) refresh_view(now);
  return work;
}

void DiscoveryAgent::pollable(std::vector<int>& fds) {
  if (!discovery_) return;
  for (int fd : discovery_->fds()) fds.push_back(fd);
}

Clock::TimePoint DiscoveryAgent::next_deadline() {
  if (!discovery_) return Clock::TimePoint::max();
  Clock::TimePoint next = discovery_->next_deadline();
  for (const auto& [endpoint, until] : draining_) next = std::min(next, until);
  return next;
}

void DiscoveryAgent::stop(Transport& transport) {
  if (!discovery_) return;
  const auto now = context_.clock.now();
  if (context_.options.discovery.goodbye) discovery_->leave(now);
  for (const auto& [id, endpoint] : connected_) (void)transport.disconnect_subscriber(endpoint);
  connected_.clear();
  for (const auto& [endpoint, until] : draining_) (void)transport.disconnect_subscriber(endpoint);
  draining_.clear();
  refresh_view(now);    // the final counters, the goodbye included
  discovery_.reset();  // closes the sockets here, on the I/O thread
  refresh_view(now);    // no peers any more
}

void DiscoveryAgent::handle(const DiscoveryEvent& event, Transport& transport) {
  const DiscoveredPeer& peer = event.peer;
  const Clock::TimePoint now = context_.clock.now();
  switch (event.kind) {
    case DiscoveryEvent::Kind::kJoined:
      connect(peer, transport);
      learn_control(peer);
      break;
    case DiscoveryEvent::Kind::kUpdated: {
      const PeerEndpoint* best = peer.preferred(EndpointKind::kPublish);
      auto it = connected_.find(peer.id);
      const bool same = it != connected_.end() && best != nullptr && it->second == best->uri;
      if (!same) {
        disconnect_later(peer.id, now);
        connect(peer, transport);
      }
      const PeerEndpoint* control = peer.preferred(EndpointKind::kControl);
      auto known = control_.find(peer.id);
      if (control == nullptr || known == control_.end() || known->second != control->uri) {
        forget_control(peer.id);
        learn_control(peer);
      }
      break;
    }
    case DiscoveryEvent::Kind::kLeft:
      disconnect_later(peer.id, now);
      forget_control(peer.id);
      context_.logger.log(LogLevel::kInfo, "discovery: peer '" + peer.name + "' (" + hex_id(peer.id) + ") left: " +
                                               std::string(to_string(to_reason(event.reason))));
      break;
  }
  notify(event);
}

void DiscoveryAgent::connect(const DiscoveredPeer& peer, Transport& transport) {
  const PeerEndpoint* best = peer.preferred(EndpointKind::kPublish);
  if (best == nullptr) {
    context_.logger.log(LogLevel::kWarning, "discovery: peer '" + peer.name + "' (" + hex_id(peer.id) +
                                                ") advertises no publish endpoint this node can reach");
    return;
  }
  if (auto draining = draining_.find(best->uri); draining != draining_.end()) {
    // Still connected there (a peer that left moments ago, back on the same endpoint): connecting again would
    // open a second pipe and deliver everything twice.
    draining_.erase(draining);
    connected_[peer.id] = best->uri;
    return;
  }
  if (Status connected = transport.connect_subscriber(best->uri); !connected) {
    ++connect_errors_;
    context_.limited_log.warn(kLogTransportFailure, "discovery: could not connect to peer '" + peer.name + "' at " +
                                                        best->uri + ": " + connected.message());
    return;
  }
  ++connects_;
  connected_[peer.id] = best->uri;
  context_.logger.log(LogLevel::kInfo, "discovery: peer '" + peer.name + "' (" + hex_id(peer.id) + ") joined; " +
                                           "subscribed at " + best->uri);
}

void DiscoveryAgent::disconnect_later(std::uint64_t id, Clock::TimePoint now) {
  auto it = connected_.find(id);
  if (it == connected_.end()) return;
  draining_[it->second] = now + kDrainGrace;
  connected_.erase(it);
}

std::size_t DiscoveryAgent::close_drained(Clock::TimePoint now, Transport& transport) {
  std::size_t closed = 0;
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    (void)transport.disconnect_subscriber(it->first);  // fails only if ZeroMQ already dropped it: nothing to do
    it = draining_.erase(it);
    ++closed;
  }
  return closed;
}

void DiscoveryAgent::learn_control(const DiscoveredPeer& peer) {
  const PeerEndpoint* control = peer.preferred(EndpointKind::kControl);
  if (control == nullptr || !learn_node_) return;  // the peer's announcements will say where it is, if anywhere
  control_[peer.id] = control->uri;
  learn_node_(peer.id, control->uri);
}

void DiscoveryAgent::forget_control(std::uint64_t id) {
  control_.erase(id);
  if (forget_node_) forget_node_(id);
}

void DiscoveryAgent::notify(const DiscoveryEvent& event) {
  if (!context_.options.on_peer) return;
  weft::PeerEvent out;
  out.kind = event.kind == DiscoveryEvent::Kind::kJoined    ? weft::PeerEvent::Kind::kJoined
             : event.kind == DiscoveryEvent::Kind::kUpdated ? weft::PeerEvent::Kind::kUpdated
                                                            : weft::PeerEvent::Kind::kLeft;
  if (out.kind == weft::PeerEvent::Kind::kLeft) out.reason = to_reason(event.reason);
  out.peer = to_peer_info(event.peer);
  if (auto it = connected_.find(event.peer.id); it != connected_.end()) out.peer.connected = it->second;
  // Application code never runs on the I/O thread: the dispatcher runs it.
  NodeContext& context = context_;
  context_.post_to_dispatcher([&context, out = std::move(out)] {
    try {
      context.options.on_peer(out);
    } catch (const std::exception& e) {
      context.logger.error(std::string("NodeOptions.on_peer threw: ") + e.what());
    } catch (...) {
      context.logger.error("NodeOptions.on_peer threw");
    }
  });
}

void DiscoveryAgent::refresh_view(Clock::TimePoint now) {
  view_dirty_ = false;
  next_view_ = now + kViewRefresh;
  std::vector<DiscoveryView::Peer> peers;
  std::size_t alive = 0;
  if (discovery_) {
    const PeerTable& table = discovery_->table();
    for (const auto& [id, record] : table.records()) {
      if (record.state == detail::PeerState::kGone) continue;
      DiscoveryView::Peer peer;
      if (record.state == detail::PeerState::kAlive) {
        ++alive;
        peer.info = to_peer_info(table.describe(record));
        if (auto it = connected_.find(id); it != connected_.end()) peer.info.connected = it->second;
        peer.last_heard = record.last_heard;
      } else {
        peer.info.id = record.id;
        peer.info.incarnation = record.incarnation;
        peer.info.name = record.name;
        peer.info.host = record.host;
        peer.info.state = weft::PeerState::kVerifying;
        peer.last_heard = record.last_heard != Clock::TimePoint{} ? record.last_heard : record.learned_at;
      }
      peers.push_back(std::move(peer));
    }
    std::sort(peers.begin(), peers.end(), [](const DiscoveryView::Peer& a, const DiscoveryView::Peer& b) {
      return a.info.name != b.info.name ? a.info.name < b.info.name : a.info.id < b.info.id;
    });
  }
  weft::DiscoveryStats stats = discovery_ ? to_public(discovery_->stats(), alive) : view_->stats();
  if (!discovery_) stats.peers = 0;
  stats.connects = connects_;
  stats.connect_errors = connect_errors_;
  if (discovery_) stats.unicast_port = discovery_->unicast_address().port;
  view_->publish(std::move(peers), stats);
}

}  // namespace weft::detail
