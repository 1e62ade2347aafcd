// The peer table: what this node knows about every peer, and the rules that decide what to believe.
//
//   unverified --(a beacon from the peer itself)--> alive --(expiry, goodbye, newer incarnation)--> gone --> erased
//        \--(probes unanswered)--> gone (unreachable)
//
// The rules (docs/discovery.md, "Peer table"):
// 1. Only the peer itself makes it alive: a beacon it sent, received directly. Gossip and heartbeats from an
//    unknown incarnation only create an unverified record and a probe; the probe's answer makes it alive.
// 2. A higher incarnation replaces a lower one (the peer restarted); datagrams of a lower one are stale.
// 3. An alive peer expires (expiry_count + 0.5) x its own interval after it was last heard directly.
// 4. Gone peers are remembered for a while (tombstones), so that gossip cannot bring them back: gossip about a
//    gone incarnation is believed only if the gossiper heard it directly after this node last did (ages
//    decide); after a goodbye, nothing of that incarnation is believed; an unreachable peer is not probed
//    again until its tombstone lapses. Gossip carries first-hand knowledge only, so it cannot echo.
// The table does no I/O: it says whom to probe, and queues the events for the node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "discovery/discovery_codec.hpp"
#include "discovery/discovery_options.hpp"
#include "discovery/endpoints.hpp"
#include "discovery/host_info.hpp"
#include "util/clock.hpp"

namespace weft::detail {

enum class PeerState : std::uint8_t { kUnverified, kAlive, kGone };
enum class GoneReason : std::uint8_t { kExpired, kDeparted, kUnreachable };

struct PeerRecord {
  using TimePoint = Clock::TimePoint;
  using Duration = Clock::Duration;

  std::uint64_t id = 0;
  std::uint64_t incarnation = 0;
  PeerState state = PeerState::kUnverified;
  GoneReason gone_reason = GoneReason::kExpired;

  // What its last beacon said (alive records).
  std::string name;
  std::string host;
  std::uint64_t ipc_scope = 0;
  std::uint64_t net_scope = 0;
  std::uint64_t generation = 0;
  std::vector<AdvertisedEndpoint> advertised;
  std::vector<PeerEndpoint> endpoints;  // advertised, selected for this node
  Duration interval{};                  // its advertised interval, clamped
  Ip4 observed = 0;                     // the source address of its last beacon

  // Where to send it unicast: the address its beacon names, else the source of its datagrams.
  UdpAddress address;
  bool address_named = false;

  TimePoint learned_at{};
  TimePoint joined_at{};          // when it last became alive
  TimePoint last_heard{};         // its last datagram, received directly
  TimePoint last_group_heard{};   // its last multicast or broadcast beacon ({}: never)
  TimePoint wants_unicast_until{};  // it asked for unicast beacons (kFlagWantUnicast) until then
  TimePoint last_answer{};        // when this node last answered its probe
  TimePoint gone_at{};

  // A pending verification: probe `to` until it answers or `sent` reaches expiry_count. Unverified records
  // always have one; an alive record has one while gossip reports a newer incarnation.
  struct Probe {
    UdpAddress to;
    std::uint32_t sent = 0;
    TimePoint next{};
  };
  std::optional<Probe> probe;

  // (expiry_count + 0.5) x interval: how long it may stay silent.
  [[nodiscard]] Duration window(std::uint32_t expiry_count) const noexcept {
    return interval * expiry_count + interval / 2;
  }
};

// "0x5eedf00dcafe0001": how logs name a peer that has not described itself.
[[nodiscard]] std::string format_peer_id(std::uint64_t id);

struct ProbeRequest {
  std::uint64_t id = 0;
  UdpAddress to;
};

class PeerTable {
 public:
  using TimePoint = Clock::TimePoint;
  using Duration = Clock::Duration;

  struct Settings {
    std::uint64_t self_id = 0;
    std::uint32_t expiry_count = 3;
    std::size_t max_peers = 4096;
    Duration default_interval = std::chrono::seconds(1);  // for records not yet described
  };

  // Outcome of a datagram from the peer itself.
  enum class Verdict : std::uint8_t {
    kAccepted,   // believed (the record is alive, or a probe for its description is scheduled)
    kStale,      // an older incarnation, or one that said goodbye: counted as dropped_stale
    kTableFull,  // a new peer, no room: counted as dropped_table_full
  };

  PeerTable(Settings settings, const HostInfo& host, DiscoveryStats& stats, std::function<void(std::string)> note);

  Verdict on_beacon(const DatagramHeader& header, const BeaconBody& body, UdpAddress from, bool via_group,
                    TimePoint now);
  Verdict on_heartbeat(const DatagramHeader& header, const HeartbeatBody& body, UdpAddress from, bool via_group,
                       TimePoint now);
  Verdict on_bye(const DatagramHeader& header, TimePoint now);
  // Any other datagram from the peer itself (a gossip digest): refreshes an alive peer, probes an unknown one.
  Verdict on_contact(const DatagramHeader& header, UdpAddress from, TimePoint now);
  // One entry of a digest from `gossiper`; entries older than `max_age` are stale.
  void on_gossip(const GossipEntry& entry, std::uint64_t gossiper, Duration max_age, TimePoint now);

  // Expires alive peers, gives up on unanswered probes, forgets old tombstones, and appends the probes now due
  // (at most `max_probes`; the rest stay due). Cheap when nothing is due.
  void tick(TimePoint now, Duration probe_interval, std::size_t max_probes, std::vector<ProbeRequest>& probes);
  // When tick() next has something to do.
  [[nodiscard]] TimePoint next_deadline() const noexcept { return next_deadline_; }

  [[nodiscard]] PeerRecord* find(std::uint64_t id) noexcept;
  [[nodiscard]] const PeerRecord* find(std::uint64_t id) const noexcept;
  [[nodiscard]] std::size_t alive_count() const noexcept { return alive_; }
  [[nodiscard]] std::size_t size() const noexcept { return records_.size(); }
  [[nodiscard]] const std::unordered_map<std::uint64_t, PeerRecord>& records() const noexcept { return records_; }
  [[nodiscard]] DiscoveredPeer describe(const PeerRecord& record) const;

  // Events for the node, in order.
  [[nodiscard]] std::deque<DiscoveryEvent>& events() noexcept { return events_; }

  // How long a gone peer is remembered (tombstone), and how long an unreachable one is left unprobed.
  [[nodiscard]] Duration tombstone_ttl(const PeerRecord& record) const noexcept;

 private:
  PeerRecord* create(std::uint64_t id, std::uint64_t incarnation, TimePoint now);
  bool make_room();
  void reset(PeerRecord& record, std::uint64_t incarnation, TimePoint now);
  void become_alive(PeerRecord& record, const BeaconBody& body, UdpAddress from, TimePoint now);
  void describe_from(PeerRecord& record, const BeaconBody& body, UdpAddress from, Ip4 observed);
  void heard(PeerRecord& record, UdpAddress from, bool via_group, TimePoint now);
  void go(PeerRecord& record, GoneReason reason, TimePoint now);
  void schedule_probe(PeerRecord& record, UdpAddress to, TimePoint now);
  void emit(DiscoveryEvent::Kind kind, const PeerRecord& record, PeerLeftReason reason = PeerLeftReason::kExpired);
  void earlier(TimePoint at) noexcept {
    if (at < next_deadline_) next_deadline_ = at;
  }

  Settings settings_;
  const HostInfo& host_;
  DiscoveryStats& stats_;
  std::function<void(std::string)> note_;
  std::unordered_map<std::uint64_t, PeerRecord> records_;
  std::size_t alive_ = 0;
  std::deque<DiscoveryEvent> events_;
  TimePoint next_deadline_ = TimePoint::max();
};

}  // namespace weft::detail
