#include "discovery/peer_table.hpp"

#include <algorithm>

namespace weft::detail {

namespace wire = discovery_wire;

namespace {

// Tombstones outlive the expiry window by far: gossip is first-hand, so nothing can report a dead peer as fresh
// for longer than one window after its death.
constexpr int kTombstoneWindows = 20;
// An unreachable peer is probed again (if gossip still reports it) after this many windows.
constexpr int kUnreachableWindows = 10;

Clock::Duration clamp_interval(std::uint64_t interval_ms) noexcept {
  return std::chrono::milliseconds(std::clamp(interval_ms, wire::kMinIntervalMs, wire::kMaxIntervalMs));
}

// What the node acts on. The discovery address is left out: it moves with NAT rebinding and multi-homed routes,
// and the node does not connect there.
bool same_view(const DiscoveredPeer& a, const DiscoveredPeer& b) {
  return a.name == b.name && a.host == b.host && a.endpoints == b.endpoints && a.same_host == b.same_host &&
         a.same_network_namespace == b.same_network_namespace;
}

}  // namespace

std::string format_peer_id(std::uint64_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x0000000000000000";
  for (int i = 17; i >= 2; --i, id >>= 4) out[static_cast<std::size_t>(i)] = kDigits[id & 0xf];
  return out;
}

PeerTable::PeerTable(Settings settings, const HostInfo& host, DiscoveryStats& stats,
                     std::function<void(std::string)> note)
    : settings_(settings), host_(host), stats_(stats), note_(std::move(note)) {}

PeerRecord* PeerTable::find(std::uint64_t id) noexcept {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

const PeerRecord* PeerTable::find(std::uint64_t id) const noexcept {
  auto it = records_.find(id);
  return it == records_.end() ? nullptr : &it->second;
}

PeerTable::Duration PeerTable::tombstone_ttl(const PeerRecord& record) const noexcept {
  int windows = record.gone_reason == GoneReason::kUnreachable ? kUnreachableWindows : kTombstoneWindows;
  return record.window(settings_.expiry_count) * windows;
}

DiscoveredPeer PeerTable::describe(const PeerRecord& record) const {
  DiscoveredPeer peer;
  peer.id = record.id;
  peer.incarnation = record.incarnation;
  peer.name = record.name;
  peer.host = record.host;
  peer.same_host = record.ipc_scope == host_.ipc_scope;
  peer.same_network_namespace = record.net_scope == host_.net_scope;
  peer.endpoints = record.endpoints;
  peer.discovery_address = record.address;
  return peer;
}

// ---------------------------------------------------------------------------------------------------------------
// Records

bool PeerTable::make_room() {
  if (records_.size() < settings_.max_peers) return true;
  // Forget the oldest tombstone; never an alive or unverified peer.
  auto oldest = records_.end();
  for (auto it = records_.begin(); it != records_.end(); ++it) {
    if (it->second.state == PeerState::kGone && (oldest == records_.end() || it->second.gone_at < oldest->second.gone_at)) {
      oldest = it;
    }
  }
  if (oldest == records_.end()) return false;
  records_.erase(oldest);
  return true;
}

PeerRecord* PeerTable::create(std::uint64_t id, std::uint64_t incarnation, TimePoint now) {
  if (!make_room()) return nullptr;
  PeerRecord& record = records_[id];
  record.id = id;
  reset(record, incarnation, now);
  return &record;
}

// Starts the record over for a new incarnation, as an unverified peer.
void PeerTable::reset(PeerRecord& record, std::uint64_t incarnation, TimePoint now) {
  if (record.state == PeerState::kAlive) --alive_;
  std::uint64_t id = record.id;
  record = PeerRecord{};
  record.id = id;
  record.incarnation = incarnation;
  record.state = PeerState::kUnverified;
  record.interval = settings_.default_interval;
  record.learned_at = now;
}

void PeerTable::heard(PeerRecord& record, UdpAddress from, bool via_group, TimePoint now) {
  record.last_heard = now;
  if (via_group) record.last_group_heard = now;
  if (!record.address_named) record.address = from;
  earlier(now + record.window(settings_.expiry_count));
}

void PeerTable::describe_from(PeerRecord& record, const BeaconBody& body, UdpAddress from, Ip4 observed) {
  record.name = std::string(body.name);
  record.host = std::string(body.host);
  record.ipc_scope = body.ipc_scope;
  record.net_scope = body.net_scope;
  record.generation = body.generation;
  record.interval = clamp_interval(body.interval_ms);
  record.observed = observed;
  record.advertised.clear();
  for (const EndpointRef& endpoint : body.endpoints) {
    record.advertised.push_back({endpoint.kind, std::string(endpoint.uri)});
  }
  record.endpoints = select_endpoints(body.endpoints, {body.ipc_scope, body.net_scope}, host_, observed);
  record.address_named = body.unicast.has_value();
  record.address = body.unicast.value_or(from);
}

void PeerTable::become_alive(PeerRecord& record, const BeaconBody& body, UdpAddress from, TimePoint now) {
  describe_from(record, body, from, from.ip);
  if (record.state != PeerState::kAlive) ++alive_;
  record.state = PeerState::kAlive;
  record.probe.reset();
  record.joined_at = now;
  ++stats_.peers_joined;
  emit(DiscoveryEvent::Kind::kJoined, record);
  if (record.endpoints.empty() && !record.advertised.empty()) {
    note_("peer '" + record.name + "' (" + record.address.to_string() +
          ") advertises no endpoint this node can reach: its loopback or ipc endpoints need the same host");
  }
}

void PeerTable::go(PeerRecord& record, GoneReason reason, TimePoint now) {
  if (record.state == PeerState::kAlive) --alive_;
  record.state = PeerState::kGone;
  record.gone_reason = reason;
  record.gone_at = now;
  record.probe.reset();
  earlier(now + tombstone_ttl(record));
}

void PeerTable::schedule_probe(PeerRecord& record, UdpAddress to, TimePoint now) {
  if (record.probe && record.probe->to == to) return;  // already probing there
  record.probe = PeerRecord::Probe{to, 0, now};
  earlier(now);
}

void PeerTable::emit(DiscoveryEvent::Kind kind, const PeerRecord& record, PeerLeftReason reason) {
  DiscoveryEvent event;
  event.kind = kind;
  event.reason = reason;
  event.peer = describe(record);
  events_.push_back(std::move(event));
}

// ---------------------------------------------------------------------------------------------------------------
// First-hand datagrams

PeerTable::Verdict PeerTable::on_beacon(const DatagramHeader& header, const BeaconBody& body, UdpAddress from,
                                        bool via_group, TimePoint now) {
  PeerRecord* record = find(header.sender);
  if (record == nullptr) {
    record = create(header.sender, header.incarnation, now);
    if (record == nullptr) return Verdict::kTableFull;
  } else if (header.incarnation < record->incarnation) {
    return Verdict::kStale;
  } else if (header.incarnation > record->incarnation) {
    if (record->state == PeerState::kAlive) {
      ++stats_.peers_restarted;
      emit(DiscoveryEvent::Kind::kLeft, *record, PeerLeftReason::kRestarted);
    }
    reset(*record, header.incarnation, now);
  } else if (record->state == PeerState::kGone && record->gone_reason == GoneReason::kDeparted) {
    return Verdict::kStale;  // sent before its goodbye and overtaken by it
  }

  if (record->state == PeerState::kAlive) {
    if (record->probe && record->probe->to == from) record->probe.reset();  // the answer to our probe
    DiscoveredPeer before = describe(*record);
    // A multi-homed peer's multicast and unicast beacons may come from different addresses: once it is heard by
    // multicast, only multicast beacons say where it is, so that the two cannot take turns.
    const bool observe = via_group || record->last_group_heard == TimePoint{};
    const Ip4 observed = observe ? from.ip : record->observed;
    bool changed = body.generation != record->generation || observed != record->observed;
    heard(*record, from, via_group, now);
    if (changed) {
      describe_from(*record, body, from, observed);
      DiscoveredPeer after = describe(*record);
      if (!same_view(before, after)) {
        ++stats_.peers_updated;
        events_.push_back({DiscoveryEvent::Kind::kUpdated, PeerLeftReason::kExpired, std::move(after)});
      }
    } else {
      record->interval = clamp_interval(body.interval_ms);
    }
    return Verdict::kAccepted;
  }
  // Unverified, or gone (expired or unreachable: it was cut off, not dead), or new: it speaks for itself now.
  become_alive(*record, body, from, now);
  heard(*record, from, via_group, now);
  return Verdict::kAccepted;
}

PeerTable::Verdict PeerTable::on_heartbeat(const DatagramHeader& header, const HeartbeatBody& body,
                                           UdpAddress from, bool via_group, TimePoint now) {
  PeerRecord* record = find(header.sender);
  if (record == nullptr) {
    record = create(header.sender, header.incarnation, now);
    if (record == nullptr) return Verdict::kTableFull;
  } else if (header.incarnation < record->incarnation) {
    return Verdict::kStale;
  } else if (header.incarnation > record->incarnation) {
    // A restart: keep the old incarnation until the new one describes itself.
    schedule_probe(*record, from, now);
    return Verdict::kAccepted;
  } else if (record->state == PeerState::kGone && record->gone_reason == GoneReason::kDeparted) {
    return Verdict::kStale;
  }

  if (record->state == PeerState::kAlive) {
    heard(*record, from, via_group, now);
    record->interval = clamp_interval(body.interval_ms);
    if (body.generation != record->generation) schedule_probe(*record, record->address, now);
    return Verdict::kAccepted;
  }
  // Not described (yet, or any more): ask it for a beacon.
  if (record->state == PeerState::kGone) reset(*record, header.incarnation, now);
  schedule_probe(*record, from, now);
  return Verdict::kAccepted;
}

PeerTable::Verdict PeerTable::on_bye(const DatagramHeader& header, TimePoint now) {
  PeerRecord* record = find(header.sender);
  if (record == nullptr || header.incarnation < record->incarnation) return Verdict::kStale;
  if (header.incarnation > record->incarnation) {
    if (record->state == PeerState::kAlive) {
      ++stats_.peers_restarted;
      emit(DiscoveryEvent::Kind::kLeft, *record, PeerLeftReason::kRestarted);
    }
    reset(*record, header.incarnation, now);
  }
  if (record->state == PeerState::kGone && record->gone_reason == GoneReason::kDeparted) return Verdict::kStale;
  if (record->state == PeerState::kAlive) {
    ++stats_.peers_departed;
    emit(DiscoveryEvent::Kind::kLeft, *record, PeerLeftReason::kDeparted);
  }
  go(*record, GoneReason::kDeparted, now);
  return Verdict::kAccepted;
}

PeerTable::Verdict PeerTable::on_contact(const DatagramHeader& header, UdpAddress from, TimePoint now) {
  PeerRecord* record = find(header.sender);
  if (record == nullptr) {
    record = create(header.sender, header.incarnation, now);
    if (record == nullptr) return Verdict::kTableFull;
    schedule_probe(*record, from, now);
    return Verdict::kAccepted;
  }
  if (header.incarnation < record->incarnation) return Verdict::kStale;
  if (header.incarnation == record->incarnation && record->state == PeerState::kAlive) {
    heard(*record, from, /*via_group=*/false, now);
  } else if (header.incarnation == record->incarnation && record->state == PeerState::kGone &&
             record->gone_reason == GoneReason::kDeparted) {
    return Verdict::kStale;
  } else if (!record->probe) {
    if (record->state == PeerState::kGone) reset(*record, header.incarnation, now);
    schedule_probe(*record, from, now);
  }
  return Verdict::kAccepted;
}

// ---------------------------------------------------------------------------------------------------------------
// Gossip: second-hand, so it only ever leads to a probe.

void PeerTable::on_gossip(const GossipEntry& entry, std::uint64_t gossiper, Duration max_age, TimePoint now) {
  if (entry.id == settings_.self_id || entry.id == gossiper) {
    ++stats_.gossip_entries_ignored;
    return;
  }
  const Duration age = std::chrono::milliseconds(entry.age_ms);
  if (age > max_age) {
    ++stats_.gossip_entries_stale;
    return;
  }
  PeerRecord* record = find(entry.id);
  if (record == nullptr) {
    record = create(entry.id, entry.incarnation, now);
    if (record == nullptr) {
      ++stats_.gossip_entries_ignored;
      return;
    }
    schedule_probe(*record, entry.address, now);
    return;
  }
  if (entry.incarnation < record->incarnation) {
    ++stats_.gossip_entries_stale;
    return;
  }
  if (entry.incarnation > record->incarnation) {
    if (record->state == PeerState::kAlive) {
      schedule_probe(*record, entry.address, now);  // the old one stays until the new one answers
    } else {
      reset(*record, entry.incarnation, now);
      schedule_probe(*record, entry.address, now);
    }
    return;
  }
  if (record->state != PeerState::kGone) {
    ++stats_.gossip_entries_ignored;
    return;
  }
  // A tombstone. Believe the gossip only if the gossiper heard the peer clearly after this node last did.
  const TimePoint heard_at = now - age;
  if (record->gone_reason == GoneReason::kExpired && heard_at > record->last_heard + record->interval) {
    TimePoint last_heard = record->last_heard;
    reset(*record, entry.incarnation, now);
    record->last_heard = last_heard;
    schedule_probe(*record, entry.address, now);
    return;
  }
  ++stats_.gossip_entries_stale;
}

// ---------------------------------------------------------------------------------------------------------------
// Time

void PeerTable::tick(TimePoint now, Duration probe_interval, std::size_t max_probes,
                     std::vector<ProbeRequest>& probes) {
  if (now < next_deadline_) return;
  TimePoint next = TimePoint::max();
  const std::uint32_t expiry = settings_.expiry_count;
  for (auto it = records_.begin(); it != records_.end();) {
    PeerRecord& record = it->second;
    if (record.state == PeerState::kAlive && now >= record.last_heard + record.window(expiry)) {
      ++stats_.peers_expired;
      emit(DiscoveryEvent::Kind::kLeft, record, PeerLeftReason::kExpired);
      go(record, GoneReason::kExpired, now);
    }
    if (record.state == PeerState::kGone && now >= record.gone_at + tombstone_ttl(record)) {
      it = records_.erase(it);
      continue;
    }
    if (record.probe && now >= record.probe->next) {
      if (record.probe->sent >= expiry) {
        if (record.state == PeerState::kUnverified) {
          ++stats_.peers_unreachable;
          note_("peer " + format_peer_id(record.id) + ", learned by gossip, did not answer at " +
                record.probe->to.to_string() + ": not reachable from this node, ignored for now");
          go(record, GoneReason::kUnreachable, now);
        } else {
          record.probe.reset();
        }
      } else if (probes.size() < max_probes) {
        probes.push_back({record.id, record.probe->to});
        ++record.probe->sent;
        record.probe->next = now + probe_interval;
      }
    }
    if (record.state == PeerState::kAlive) next = std::min(next, record.last_heard + record.window(expiry));
    if (record.state == PeerState::kGone) next = std::min(next, record.gone_at + tombstone_ttl(record));
    if (record.probe) next = std::min(next, record.probe->next);
    ++it;
  }
  next_deadline_ = next;
}

}  // namespace weft::detail
