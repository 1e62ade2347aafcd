// The discovery agent: finds the cluster's nodes without configured endpoints, notices when they die, and
// tells the node whom to connect to (docs/discovery.md).
//
// It is stepped like every active part of Weft: the owner (the node's I/O thread) polls fds(), and calls
// do_work(now) when one is readable or next_deadline() has passed; do_work reads datagrams, sends beacons,
// heartbeats, probes and gossip when they are due, expires peers, and queues events. Single-threaded: every
// call comes from the owner's thread. The owner drains the events after each do_work.
//
//   Discovery discovery(options, self, probe_host(options.host_id), network, log);
//   for (;;) {
//     poll(discovery.fds(), until discovery.next_deadline());
//     discovery.do_work(clock.now());
//     while (auto event = discovery.next_event()) connect_or_disconnect(*event);
//   }
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/datagram.hpp"
#include "discovery/discovery_codec.hpp"
#include "discovery/discovery_options.hpp"
#include "discovery/endpoints.hpp"
#include "discovery/host_info.hpp"
#include "discovery/peer_table.hpp"
#include "discovery/seeds.hpp"
#include "util/clock.hpp"
#include "weft/options.hpp"
#include "weft/status.hpp"

namespace weft::detail {

// Who this node is, as its beacons say.
struct LocalNodeInfo {
  std::uint64_t id = 0;
  // Must change on every start of the node and grow from one start to the next: the start time in nanoseconds
  // since the Unix epoch does both. A peer that sees a higher incarnation for a known id drops the old one.
  std::uint64_t incarnation = 0;
  std::string name;
  std::vector<LocalEndpoint> endpoints;  // as bound: wildcards are resolved when advertised
};

class Discovery {
 public:
  using TimePoint = Clock::TimePoint;
  using Duration = Clock::Duration;

  // Opens the sockets, joins the multicast group and resolves the seeds (blocking on DNS for seed names).
  // Throws weft::Error: invalid-argument for invalid options or endpoints that do not fit one beacon, io-error
  // when a socket cannot be bound. A multicast group that cannot be joined is logged, not thrown: seeds and
  // broadcast still work (stats().multicast_active says which).
  Discovery(DiscoveryOptions options, LocalNodeInfo self, HostInfo host, DatagramNetwork& network,
            LogSink log = {});
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // One step; returns how much it did (0: nothing was due and nothing arrived).
  std::size_t do_work(TimePoint now);
  // The descriptors to poll for input.
  [[nodiscard]] std::vector<int> fds() const;
  // When do_work has something to do even if no datagram arrives: may be in the past (TimePoint::min() before the
  // first do_work), which means at once; TimePoint::max(): never.
  [[nodiscard]] TimePoint next_deadline() const noexcept;

  // The next event, oldest first; empty when there is none.
  [[nodiscard]] std::optional<DiscoveryEvent> next_event();

  // Alive peers, ordered by name then id.
  [[nodiscard]] std::vector<DiscoveredPeer> peers() const;
  [[nodiscard]] const DiscoveryStats& stats() const noexcept { return stats_; }
  // Every record, peers being verified included (the node's peers() shows them with their ages).
  [[nodiscard]] const PeerTable& table() const noexcept { return table_; }

  // Advertises other endpoints from the next beacon on. Invalid-argument (and nothing changes) when they do not
  // fit one beacon.
  Status set_endpoints(std::vector<LocalEndpoint> endpoints);
  // Replaces the seeds, e.g. with names the owner re-resolved off its I/O thread.
  void set_seeds(std::vector<UdpAddress> seeds);
  // Says goodbye to the group and to every peer reached by unicast, once; do_work does nothing afterwards.
  // Never blocks.
  void leave(TimePoint now);

  [[nodiscard]] UdpAddress unicast_address() const;  // this node's own socket (ip 0: every interface)
  [[nodiscard]] UdpAddress beacon_address() const;   // the shared beacon port
  [[nodiscard]] const std::vector<UdpAddress>& seeds() const noexcept { return seeds_; }
  [[nodiscard]] const std::vector<std::string>& unresolved_seeds() const noexcept { return unresolved_seeds_; }
  [[nodiscard]] const std::vector<AdvertisedEndpoint>& advertised() const noexcept { return advertised_; }
  [[nodiscard]] Duration interval() const noexcept { return interval_; }

 private:
  enum LogKind : std::size_t {
    kLogOversized, kLogNotWeft, kLogMalformed, kLogBadVersion, kLogUnknownType, kLogOtherCluster, kLogIdClash,
    kLogSendError, kLogReceiveError, kLogKinds
  };

  void validate() const;
  void open_sockets(DatagramNetwork& network);
  void join_group();
  void resolve_seeds();
  [[nodiscard]] std::size_t read(DatagramSocket& socket, bool beacon_socket, TimePoint now);
  void handle(std::span<const std::byte> datagram, const ReceivedDatagram& received, bool beacon_socket,
              TimePoint now);
  void answer(const DatagramHeader& header, UdpAddress from, TimePoint now);
  [[nodiscard]] bool via_group(const ReceivedDatagram& received, bool beacon_socket) const noexcept;
  [[nodiscard]] bool group_reaches_us(const PeerRecord& record, TimePoint now) const noexcept;

  void send_beacons(TimePoint now);
  void send_gossip(TimePoint now);
  void send_sync(UdpAddress to, std::uint64_t requester, TimePoint now);
  void contact_seeds(TimePoint now);
  void send_probes(TimePoint now);
  void diagnose(TimePoint now);
  [[nodiscard]] GossipView view() const;
  void compare_views(const GossipView& theirs, UdpAddress from, TimePoint now);
  void update_interval();
  [[nodiscard]] TimePoint jittered(TimePoint now);

  [[nodiscard]] DatagramHeader make_header(discovery_wire::MessageType type, std::uint8_t flags) const noexcept;
  [[nodiscard]] bool encode_own_beacon(std::uint8_t flags, DatagramBuffer& out) const;
  [[nodiscard]] std::vector<GossipEntry> gossip_entries(TimePoint now, std::uint64_t except, bool rotate);
  void send(const DatagramBuffer& datagram, UdpAddress to, TimePoint now);
  void log(LogLevel level, std::string_view line) const;
  void warn_limited(LogKind kind, TimePoint now, std::string_view line);

  DiscoveryOptions options_;
  LocalNodeInfo self_;
  HostInfo host_;
  LogSink log_;
  DiscoveryStats stats_;
  PeerTable table_;

  std::unique_ptr<DatagramSocket> unicast_socket_;
  std::unique_ptr<DatagramSocket> beacon_socket_;
  Ip4 interface_address_ = kIp4Any;
  Ip4 multicast_interface_ = kIp4Any;
  Ip4 group_ = 0;
  Ip4 broadcast_ = 0;
  std::vector<UdpAddress> seeds_;
  std::vector<std::string> unresolved_seeds_;
  std::vector<AdvertisedEndpoint> advertised_;
  std::uint64_t generation_ = 1;
  std::size_t beacon_bytes_ = 0;  // the size of this node's last full beacon

  Duration interval_;
  TimePoint started_ = TimePoint::min();
  TimePoint next_beacon_ = TimePoint::min();
  TimePoint next_gossip_ = TimePoint::min();
  TimePoint next_seed_ = TimePoint::min();
  TimePoint last_now_ = TimePoint::min();
  bool input_pending_ = false;  // a pass stopped reading at its bound
  bool left_ = false;

  std::size_t sync_answers_this_interval_ = 0;
  std::size_t sync_extra_datagrams_this_interval_ = 0;
  bool synced_ = false;  // a seed (or any peer) has answered a table request
  std::vector<std::uint64_t> gossip_order_;  // alive peers, for the round-robin part of digests
  // Anti-entropy (compare_views).
  TimePoint behind_since_ = TimePoint::min();
  TimePoint next_pull_ = TimePoint::min();
  std::uint32_t pull_backoff_ = 1;  // intervals
  std::uint64_t pulls_ = 0;
  std::uint64_t peers_at_pull_ = 0;
  std::size_t gossip_cursor_ = 0;
  std::vector<ProbeRequest> probes_;
  DecodedDatagram decoded_;
  std::vector<std::string> notes_;  // what the table had to say during this pass, logged at its end
  std::mt19937_64 random_;

  struct LogSlot {
    TimePoint last = TimePoint::min();
    std::uint64_t held_back = 0;
  };
  std::array<LogSlot, kLogKinds> log_slots_{};
  bool warned_no_peers_ = false;
  bool warned_unicast_only_ = false;
  bool warned_self_seed_ = false;
};

}  // namespace weft::detail
