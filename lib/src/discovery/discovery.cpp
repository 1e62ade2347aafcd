#include "discovery/discovery.hpp"

#include <algorithm>
#include <array>

namespace weft::detail {

namespace wire = discovery_wire;
using namespace std::chrono_literals;

namespace {

// Bounds on one pass, so that a flood cannot starve the rest of the I/O thread.
constexpr std::size_t kMaxDatagramsPerPass = 256;  // per socket
constexpr std::size_t kMaxProbesPerPass = 64;
// A probe from the same peer is answered at most this often (fraction of the interval).
constexpr int kAnswerSpacingDivisor = 4;
// Each kind of network-triggered warning is logged at most once per this interval.
constexpr auto kLogInterval = 10s;
// The diagnostics about multicast and seeds wait this many intervals.
constexpr int kDiagnoseIntervals = 10;

Status invalid(std::string message) { return Status::invalid_argument("discovery: " + std::move(message)); }

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Construction

Discovery::Discovery(DiscoveryOptions options, LocalNodeInfo self, HostInfo host, DatagramNetwork& network,
                     LogSink log)
    : options_(std::move(options)),
      self_(std::move(self)),
      host_(std::move(host)),
      log_(std::move(log)),
      table_({self_.id, options_.expiry_count, options_.max_peers,
              std::chrono::duration_cast<Duration>(options_.interval)},
             host_, stats_, [this](std::string line) { notes_.push_back(std::move(line)); }),
      interval_(std::chrono::duration_cast<Duration>(options_.interval)),
      random_(self_.id ^ (self_.incarnation * 0x9e3779b97f4a7c15ULL)) {
  validate();
  if (!options_.interface.empty()) {
    auto interface = host_.find_interface(options_.interface);
    if (!interface) {
      std::string known;
      for (const auto& i : host_.interfaces) known += " " + i.name + "=" + format_ip4(i.address);
      throw Error(invalid("no IPv4 interface '" + options_.interface + "' (this host has:" + known + ")"));
    }
    interface_address_ = interface->address;
  }
  open_sockets(network);
  advertised_ = advertise_endpoints(self_.endpoints, host_, {options_.advertise_host, interface_address_});
  DatagramBuffer probe;
  if (!encode_own_beacon(0, probe)) {
    throw Error(invalid("the node's name and endpoints do not fit one " + std::to_string(wire::kMaxDatagramBytes) +
                        "-byte beacon: advertise fewer or shorter endpoints"));
  }
  beacon_bytes_ = probe.size();
  resolve_seeds();
  stats_.current_interval = std::chrono::duration_cast<std::chrono::milliseconds>(interval_);
}

Discovery::~Discovery() = default;

void Discovery::validate() const {
  const DiscoveryOptions& o = options_;
  if (o.cluster.empty() || o.cluster.size() > wire::kMaxClusterBytes) {
    throw Error(invalid("cluster must be 1 to 64 bytes, not '" + o.cluster + "'"));
  }
  for (char c : o.cluster) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) throw Error(invalid("cluster holds a control character"));
  }
  if (o.interval < 10ms || o.interval > std::chrono::milliseconds(wire::kMaxIntervalMs)) {
    throw Error(invalid("interval must be 10 ms to 10 min"));
  }
  if (o.max_interval < o.interval) throw Error(invalid("max_interval is shorter than interval"));
  if (o.expiry_count < 1 || o.expiry_count > 100) throw Error(invalid("expiry_count must be 1 to 100"));
  if (o.gossip_fanout > 16) throw Error(invalid("gossip_fanout must be at most 16"));
  if (o.max_peers < 1) throw Error(invalid("max_peers must be at least 1"));
  if (o.seed_refresh < 1) throw Error(invalid("seed_refresh must be at least 1"));
  if (o.multicast_ttl < 0 || o.multicast_ttl > 255) throw Error(invalid("multicast_ttl must be 0 to 255"));
  if (o.multicast) {
    auto group = parse_ip4(o.multicast_group);
    if (!group || !is_multicast(*group)) {
      throw Error(invalid("multicast_group '" + o.multicast_group + "' is not an IPv4 multicast address"));
    }
  }
  if (o.broadcast && !parse_ip4(o.broadcast_address)) {
    throw Error(invalid("broadcast_address '" + o.broadcast_address + "' is not an IPv4 address"));
  }
  if (self_.name.empty() || self_.name.size() > wire::kMaxNameBytes) {
    throw Error(invalid("the node's name must be 1 to 128 bytes"));
  }
  for (const std::string& seed : o.seeds) {
    if (seed.empty()) throw Error(invalid("an empty seed"));
  }
}

void Discovery::open_sockets(DatagramNetwork& network) {
  DatagramSocketOptions beacon;
  beacon.bind = {kIp4Any, options_.port};
  beacon.reuse_port = true;
  auto opened = network.open(beacon);
  if (!opened) throw Error(opened.status().with_context("discovery: binding the beacon port"));
  beacon_socket_ = std::move(opened.value());
  if (options_.port == 0) options_.port = beacon_socket_->local_address().port;
  if (options_.broadcast) broadcast_ = *parse_ip4(options_.broadcast_address);
  if (options_.multicast) join_group();

  // Everything this node sends leaves by its own socket, so that peers answer it there (the beacon port is
  // shared, and a unicast datagram to it reaches one node of the host only).
  DatagramSocketOptions unicast;
  unicast.bind = {kIp4Any, options_.unicast_port};
  unicast.broadcast = options_.broadcast;
  unicast.multicast_interface = multicast_interface_;
  unicast.multicast_ttl = options_.multicast_ttl;
  unicast.multicast_loop = true;
  opened = network.open(unicast);
  if (!opened) throw Error(opened.status().with_context("discovery: opening the unicast socket"));
  unicast_socket_ = std::move(opened.value());
}

void Discovery::join_group() {
  group_ = *parse_ip4(options_.multicast_group);
  // The chosen interface; else the kernel's default; else (no default route) each multicast interface in turn,
  // loopback last (then at least the nodes of this host hear each other).
  std::vector<Ip4> candidates{interface_address_};
  if (interface_address_ == kIp4Any) {
    for (const NetworkInterface& i : host_.interfaces) {
      if (i.up && i.multicast && !i.loopback) candidates.push_back(i.address);
    }
    candidates.push_back(kIp4Loopback);
  }
  std::string failures;
  for (Ip4 candidate : candidates) {
    Status joined = beacon_socket_->join_group(group_, candidate);
    if (joined) {
      stats_.multicast_active = true;
      multicast_interface_ = candidate;
      return;
    }
    failures += "\n  " + joined.message();
  }
  log(LogLevel::kError, "discovery: multicast is off: could not join " + options_.multicast_group +
                            " on any interface; use seeds or broadcast" + failures);
}

void Discovery::resolve_seeds() {
  seeds_.clear();
  unresolved_seeds_.clear();
  for (const std::string& seed : options_.seeds) {
    auto resolved = resolve_seed(seed, options_.port);
    if (!resolved) {
      unresolved_seeds_.push_back(seed);
      log(LogLevel::kWarning, "discovery: seed '" + seed + "' is not usable: " + resolved.status().message());
      continue;
    }
    for (UdpAddress address : resolved.value()) {
      if (std::find(seeds_.begin(), seeds_.end(), address) == seeds_.end()) seeds_.push_back(address);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stepping

std::size_t Discovery::do_work(TimePoint now) {
  if (left_) return 0;
  if (started_ == TimePoint::min()) started_ = now;
  last_now_ = now;
  input_pending_ = false;
  std::size_t work = read(*beacon_socket_, true, now);
  work += read(*unicast_socket_, false, now);

  probes_.clear();
  table_.tick(now, interval_, kMaxProbesPerPass, probes_);
  if (!probes_.empty()) {
    send_probes(now);
    work += probes_.size();
  }
  if (now >= next_beacon_) {
    send_beacons(now);
    ++work;
  }
  if (options_.gossip && now >= next_gossip_) {
    send_gossip(now);
    ++work;
  }
  if (!seeds_.empty() && now >= next_seed_) {
    contact_seeds(now);
    ++work;
  }
  for (const std::string& note : notes_) log(LogLevel::kInfo, "discovery: " + note);
  notes_.clear();
  return work;
}

std::vector<int> Discovery::fds() const {
  std::vector<int> out;
  for (const auto* socket : {beacon_socket_.get(), unicast_socket_.get()}) {
    if (socket != nullptr && socket->fd() >= 0) out.push_back(socket->fd());
  }
  return out;
}

Discovery::TimePoint Discovery::next_deadline() const noexcept {
  if (left_) return TimePoint::max();
  if (input_pending_) return last_now_;
  TimePoint next = std::min(next_beacon_, table_.next_deadline());
  if (options_.gossip) next = std::min(next, next_gossip_);
  if (!seeds_.empty()) next = std::min(next, next_seed_);
  return next;
}

std::optional<DiscoveryEvent> Discovery::next_event() {
  auto& events = table_.events();
  if (events.empty()) return std::nullopt;
  DiscoveryEvent event = std::move(events.front());
  events.pop_front();
  return event;
}

std::vector<DiscoveredPeer> Discovery::peers() const {
  std::vector<DiscoveredPeer> out;
  for (const auto& [id, record] : table_.records()) {
    if (record.state == PeerState::kAlive) out.push_back(table_.describe(record));
  }
  std::sort(out.begin(), out.end(), [](const DiscoveredPeer& a, const DiscoveredPeer& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  });
  return out;
}

Status Discovery::set_endpoints(std::vector<LocalEndpoint> endpoints) {
  std::vector<AdvertisedEndpoint> advertised =
      advertise_endpoints(endpoints, host_, {options_.advertise_host, interface_address_});
  std::swap(advertised, advertised_);
  DatagramBuffer probe;
  if (!encode_own_beacon(0, probe)) {
    std::swap(advertised, advertised_);
    return invalid("these endpoints do not fit one beacon");
  }
  self_.endpoints = std::move(endpoints);
  beacon_bytes_ = probe.size();
  ++generation_;
  next_beacon_ = TimePoint::min();  // tell the peers at the next pass
  return Status::ok();
}

void Discovery::set_seeds(std::vector<UdpAddress> seeds) {
  seeds_ = std::move(seeds);
  unresolved_seeds_.clear();
  synced_ = false;
  next_seed_ = TimePoint::min();
}

UdpAddress Discovery::unicast_address() const { return unicast_socket_->local_address(); }
UdpAddress Discovery::beacon_address() const { return beacon_socket_->local_address(); }

// ---------------------------------------------------------------------------------------------------------------
// Receiving

std::size_t Discovery::read(DatagramSocket& socket, bool beacon_socket, TimePoint now) {
  // One byte more than the limit, so that an oversized datagram shows as such even if the system truncates.
  std::array<std::byte, wire::kMaxDatagramBytes + 1> buffer;
  std::size_t count = 0;
  for (; count < kMaxDatagramsPerPass; ++count) {
    auto received = socket.receive(buffer);
    if (!received) {
      ++stats_.receive_errors;
      warn_limited(kLogReceiveError, now, "discovery: " + received.status().message());
      break;
    }
    if (!received.value()) return count;
    const ReceivedDatagram& datagram = *received.value();
    std::size_t size = std::min(datagram.size, buffer.size());
    handle(std::span<const std::byte>(buffer.data(), size), datagram, beacon_socket, now);
  }
  if (count == kMaxDatagramsPerPass) input_pending_ = true;
  return count;
}

bool Discovery::via_group(const ReceivedDatagram& received, bool beacon_socket) const noexcept {
  if (!beacon_socket) return false;
  Ip4 to = received.destination;
  if (is_multicast(to) || to == kIp4Broadcast || (broadcast_ != 0 && to == broadcast_)) return true;
  return std::any_of(host_.interfaces.begin(), host_.interfaces.end(),
                     [to](const NetworkInterface& i) { return i.broadcast != 0 && i.broadcast == to; });
}

void Discovery::handle(std::span<const std::byte> datagram, const ReceivedDatagram& received, bool beacon_socket,
                       TimePoint now) {
  ++stats_.datagrams_received;
  stats_.bytes_received += received.size;
  const std::string from_text = received.from.to_string();
  if (received.size > wire::kMaxDatagramBytes) {
    ++stats_.dropped_oversized;
    warn_limited(kLogOversized, now, "discovery: dropped a datagram of " + std::to_string(received.size) +
                                         " bytes from " + from_text + ", over the limit of " +
                                         std::to_string(wire::kMaxDatagramBytes));
    return;
  }
  DatagramCheck check = decode_datagram(datagram, decoded_);
  switch (check.error) {
    case DatagramError::kNone: break;
    case DatagramError::kOversized:
      ++stats_.dropped_oversized;
      warn_limited(kLogOversized, now, "discovery: dropped an oversized datagram from " + from_text);
      return;
    case DatagramError::kNotWeft:
      ++stats_.dropped_not_weft;
      warn_limited(kLogNotWeft, now, "discovery: dropped a datagram from " + from_text +
                                         " that is not Weft discovery (another program on this port or group?)");
      return;
    case DatagramError::kMalformed:
      ++stats_.dropped_malformed;
      warn_limited(kLogMalformed, now, "discovery: dropped a malformed datagram from " + from_text + ": " +
                                           check.detail);
      return;
    case DatagramError::kBadVersion:
      ++stats_.dropped_bad_version;
      warn_limited(kLogBadVersion, now, "discovery: dropped a datagram from " + from_text + ": " + check.detail);
      return;
    case DatagramError::kUnknownType:
      ++stats_.dropped_unknown_type;
      warn_limited(kLogUnknownType, now, "discovery: dropped a datagram from " + from_text + ": " + check.detail);
      return;
  }
  const DatagramHeader& header = decoded_.header;
  if (header.cluster != options_.cluster) {
    ++stats_.dropped_other_cluster;
    warn_limited(kLogOtherCluster, now, "discovery: ignoring peers of cluster '" + std::string(header.cluster) +
                                            "' (from " + from_text + "); this node is in '" + options_.cluster + "'");
    return;
  }
  if (header.sender == self_.id) {
    ++stats_.dropped_own;
    if (header.incarnation == self_.incarnation && header.has(wire::kFlagSync) && !warned_self_seed_) {
      // The kernel hands a unicast datagram for a shared port to one of the sockets on it: here, this node's own.
      warned_self_seed_ = true;
      log(LogLevel::kWarning,
          "discovery: a seed request reached this node itself: a seed names this host's shared beacon port, which "
          "delivers to one node of the host only. Name another node's unicast_port as the seed, or keep multicast "
          "on (nodes of one host always hear each other by multicast)");
    }
    if (header.incarnation != self_.incarnation) {
      warn_limited(kLogIdClash, now, "discovery: another node at " + from_text + " uses this node's id " +
                                         format_peer_id(self_.id));
    }
    return;
  }

  const bool group = via_group(received, beacon_socket);
  PeerTable::Verdict verdict = PeerTable::Verdict::kAccepted;
  switch (header.type) {
    case wire::MessageType::kBeacon:
      ++stats_.beacons_received;
      verdict = table_.on_beacon(header, decoded_.beacon, received.from, group, now);
      break;
    case wire::MessageType::kHeartbeat:
      ++stats_.heartbeats_received;
      verdict = table_.on_heartbeat(header, decoded_.heartbeat, received.from, group, now);
      break;
    case wire::MessageType::kGossip: {
      ++stats_.gossip_received;
      if (header.has(wire::kFlagReply)) synced_ = true;  // an answer to a table request
      verdict = table_.on_contact(header, received.from, now);
      if (verdict != PeerTable::Verdict::kAccepted) break;
      const PeerRecord* sender = table_.find(header.sender);
      Duration max_age = sender != nullptr ? sender->window(options_.expiry_count)
                                           : interval_ * options_.expiry_count + interval_ / 2;
      for (const GossipEntry& entry : decoded_.gossip) table_.on_gossip(entry, header.sender, max_age, now);
      compare_views(decoded_.view, received.from, now);
      break;
    }
    case wire::MessageType::kBye:
      ++stats_.byes_received;
      verdict = table_.on_bye(header, now);
      break;
  }
  if (verdict == PeerTable::Verdict::kStale) {
    ++stats_.dropped_stale;
    return;
  }
  if (verdict == PeerTable::Verdict::kTableFull) {
    ++stats_.dropped_table_full;
    return;
  }
  if (header.type != wire::MessageType::kBye) answer(header, received.from, now);
}

// Acts on the flags of an accepted datagram.
void Discovery::answer(const DatagramHeader& header, UdpAddress from, TimePoint now) {
  PeerRecord* record = table_.find(header.sender);
  if (record == nullptr) return;
  if (header.has(wire::kFlagWantUnicast)) {
    record->wants_unicast_until = now + std::max(record->window(options_.expiry_count),
                                                 interval_ * options_.expiry_count + interval_ / 2);
  }
  if (header.has(wire::kFlagProbe) && !header.has(wire::kFlagReply) &&
      (record->last_answer == TimePoint{} || now >= record->last_answer + interval_ / kAnswerSpacingDivisor)) {
    record->last_answer = now;
    std::uint8_t flags = wire::kFlagReply;
    if (record->state != PeerState::kAlive || !group_reaches_us(*record, now)) flags |= wire::kFlagWantUnicast;
    DatagramBuffer reply;
    if (encode_own_beacon(flags, reply)) {
      ++stats_.beacons_sent;
      send(reply, from, now);
    }
  }
  if (header.has(wire::kFlagSync)) send_sync(from, header.sender, now);
}

bool Discovery::group_reaches_us(const PeerRecord& record, TimePoint now) const noexcept {
  if (!stats_.multicast_active && !options_.broadcast) return false;
  return record.last_group_heard != TimePoint{} && now < record.last_group_heard + record.window(options_.expiry_count);
}

// ---------------------------------------------------------------------------------------------------------------
// Sending

DatagramHeader Discovery::make_header(wire::MessageType type, std::uint8_t flags) const noexcept {
  DatagramHeader h;
  h.type = type;
  h.flags = flags;
  h.cluster = options_.cluster;
  h.sender = self_.id;
  h.incarnation = self_.incarnation;
  return h;
}

bool Discovery::encode_own_beacon(std::uint8_t flags, DatagramBuffer& out) const {
  BeaconBody body;
  body.name = self_.name;
  body.host = std::string_view(host_.hostname).substr(0, wire::kMaxHostBytes);
  body.ipc_scope = host_.ipc_scope;
  body.net_scope = host_.net_scope;
  body.generation = generation_;
  body.interval_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(interval_).count());
  for (const AdvertisedEndpoint& endpoint : advertised_) body.endpoints.push_back({endpoint.kind, endpoint.uri});
  if (!options_.advertise_host.empty()) {
    if (auto ip = parse_ip4(options_.advertise_host); ip && unicast_socket_ != nullptr) {
      body.unicast = UdpAddress{*ip, unicast_socket_->local_address().port};
    }
  }
  return encode_beacon(make_header(wire::MessageType::kBeacon, flags), body, out);
}

void Discovery::send(const DatagramBuffer& datagram, UdpAddress to, TimePoint now) {
  Status sent = unicast_socket_->send_to(datagram.bytes(), to);
  if (sent) {
    ++stats_.datagrams_sent;
    stats_.bytes_sent += datagram.size();
    return;
  }
  if (sent.code() == ErrorCode::kBackPressure) {
    ++stats_.send_dropped;
    return;
  }
  ++stats_.send_errors;
  warn_limited(kLogSendError, now, "discovery: " + sent.message());
}

void Discovery::update_interval() {
  Duration interval = std::chrono::duration_cast<Duration>(options_.interval);
  if (options_.beacon_budget > 0) {
    // Every node receives every node's beacon once per interval: keep nodes x bytes / interval under budget.
    const double nodes = static_cast<double>(table_.alive_count() + 1);
    const double seconds = nodes * static_cast<double>(beacon_bytes_) / static_cast<double>(options_.beacon_budget);
    auto needed = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    interval = std::clamp(needed, interval, std::chrono::duration_cast<Duration>(options_.max_interval));
  }
  interval_ = interval;
  stats_.current_interval = std::chrono::duration_cast<std::chrono::milliseconds>(interval_);
}

Discovery::TimePoint Discovery::jittered(TimePoint now) {
  // 90% to 100% of the interval: nodes that started together drift apart, and a gap between two beacons never
  // exceeds the interval the beacon announced.
  std::uniform_int_distribution<std::int64_t> tenth(0, interval_.count() / 10);
  return now + interval_ - Duration(tenth(random_));
}

void Discovery::send_beacons(TimePoint now) {
  update_interval();
  sync_answers_this_interval_ = 0;
  sync_extra_datagrams_this_interval_ = 0;
  DatagramBuffer beacon;
  if (!encode_own_beacon(0, beacon)) return;  // checked at construction and in set_endpoints
  beacon_bytes_ = beacon.size();
  if (stats_.multicast_active) {
    ++stats_.beacons_sent;
    send(beacon, {group_, options_.port}, now);
  }
  if (options_.broadcast) {
    ++stats_.beacons_sent;
    send(beacon, {broadcast_, options_.port}, now);
  }
  // Unicast heartbeats to the peers group beacons do not serve: those whose group beacons do not reach this
  // node (it asks them to unicast back), and those that asked this node for unicast.
  DatagramBuffer heartbeat;
  for (const auto& [id, record] : table_.records()) {
    if (record.state != PeerState::kAlive) continue;
    const bool group_ok = group_reaches_us(record, now);
    if (group_ok && now >= record.wants_unicast_until) continue;
    std::uint8_t flags = group_ok ? 0 : wire::kFlagWantUnicast;
    HeartbeatBody body{generation_, static_cast<std::uint64_t>(stats_.current_interval.count())};
    if (!encode_heartbeat(make_header(wire::MessageType::kHeartbeat, flags), body, heartbeat)) continue;
    ++stats_.heartbeats_sent;
    send(heartbeat, record.address, now);
  }
  diagnose(now);
  next_beacon_ = jittered(now);
}

void Discovery::send_probes(TimePoint now) {
  DatagramBuffer probe;
  if (!encode_own_beacon(wire::kFlagProbe | wire::kFlagWantUnicast, probe)) return;
  for (const ProbeRequest& request : probes_) {
    ++stats_.probes_sent;
    ++stats_.beacons_sent;
    send(probe, request.to, now);
  }
}

void Discovery::contact_seeds(TimePoint now) {
  DatagramBuffer probe;
  if (encode_own_beacon(wire::kFlagProbe | wire::kFlagSync | wire::kFlagWantUnicast, probe)) {
    for (UdpAddress seed : seeds_) {
      ++stats_.probes_sent;
      ++stats_.beacons_sent;
      send(probe, seed, now);
    }
    // Not answered yet (a seed's answers are budgeted, and a thousand nodes may start at once): ask one peer this
    // node already knows as well, so that the load of answering joiners spreads over the cluster.
    if (!synced_ && table_.alive_count() > 0) {
      std::vector<const PeerRecord*> alive;
      for (const auto& [id, record] : table_.records()) {
        if (record.state == PeerState::kAlive) alive.push_back(&record);
      }
      const PeerRecord* peer = alive[std::uniform_int_distribution<std::size_t>(0, alive.size() - 1)(random_)];
      ++stats_.probes_sent;
      ++stats_.beacons_sent;
      send(probe, peer->address, now);
    }
  }
  // Until a seed has sent its table (or while this node knows nobody), ask every interval; then rarely, to heal
  // partitions.
  const bool settled = synced_ && table_.alive_count() > 0;
  next_seed_ = now + (settled ? interval_ * options_.seed_refresh : interval_);
}

void Discovery::leave(TimePoint now) {
  if (left_) return;
  DatagramBuffer bye;
  if (encode_bye(make_header(wire::MessageType::kBye, 0), bye)) {
    if (stats_.multicast_active) send(bye, {group_, options_.port}, now);
    if (options_.broadcast) send(bye, {broadcast_, options_.port}, now);
    for (const auto& [id, record] : table_.records()) {
      if (record.state == PeerState::kAlive && (!group_reaches_us(record, now) || now < record.wants_unicast_until)) {
        send(bye, record.address, now);
      }
    }
  }
  if (stats_.multicast_active) (void)beacon_socket_->leave_group(group_, multicast_interface_);
  left_ = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Logging: discovery fails silently in the wild (blocked multicast, unreachable advertised addresses). Say so.

void Discovery::diagnose(TimePoint now) {
  if (now < started_ + interval_ * kDiagnoseIntervals) return;
  if (!warned_no_peers_ && table_.alive_count() == 0) {
    warned_no_peers_ = true;
    std::string how = stats_.multicast_active ? "multicast on " + options_.multicast_group + ":" +
                                                    std::to_string(options_.port)
                                              : std::string("no multicast");
    log(LogLevel::kWarning, "discovery: no peer found in cluster '" + options_.cluster + "' yet (" + how +
                                (seeds_.empty() ? ", no seeds" : ", seeds not answering") +
                                "). Where multicast is blocked (clouds, containers, VPNs), set seeds");
  }
  if (!warned_unicast_only_ && stats_.multicast_active && table_.alive_count() > 0) {
    bool any_group = std::any_of(table_.records().begin(), table_.records().end(), [](const auto& entry) {
      return entry.second.state == PeerState::kAlive && entry.second.last_group_heard != TimePoint{};
    });
    if (!any_group) {
      warned_unicast_only_ = true;
      log(LogLevel::kInfo, "discovery: peers are reachable by unicast only; no multicast beacon has arrived, so "
                           "multicast is probably blocked on this network");
    }
  }
}

void Discovery::log(LogLevel level, std::string_view line) const {
  if (log_) log_(level, line);
}

void Discovery::warn_limited(LogKind kind, TimePoint now, std::string_view line) {
  LogSlot& slot = log_slots_[kind];
  if (slot.last != TimePoint::min() && now < slot.last + kLogInterval) {
    ++slot.held_back;
    return;
  }
  std::string text(line);
  if (slot.held_back > 0) text += " (and " + std::to_string(slot.held_back) + " more like it)";
  slot.last = now;
  slot.held_back = 0;
  log(LogLevel::kWarning, text);
}

}  // namespace weft::detail
