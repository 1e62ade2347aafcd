// An in-memory UDP network for discovery tests: fake hosts with addresses, LANs that multicast and broadcast
// reach, loss, partitions, cut links and hosts that stop. Delivery is immediate and deterministic (seeded), so
// tests step time with a fake clock and never sleep. Single-threaded, like the agents it serves.
//
// It behaves as Linux does where discovery depends on it: several sockets may share a port only if all asked
// for reuse; multicast and broadcast reach every socket on the port (multicast only those that joined the group),
// a unicast datagram only one of them; sending to a broadcast address needs the broadcast option; group
// datagrams come back to the sender's own host (multicast loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <vector>

#include "discovery/datagram.hpp"

namespace weft::testing {

class FakeDatagramNetwork {
 public:
  explicit FakeDatagramNetwork(std::uint64_t seed = 42);
  ~FakeDatagramNetwork();
  FakeDatagramNetwork(const FakeDatagramNetwork&) = delete;
  FakeDatagramNetwork& operator=(const FakeDatagramNetwork&) = delete;

  // A host with this address on `lan`: what its agents open sockets through. Multicast and broadcast stay in a
  // LAN; unicast reaches every host. 127.0.0.1 of each host is its own.
  detail::DatagramNetwork& add_host(detail::Ip4 address, int lan = 0);

  // Each delivery is lost with this probability.
  void set_loss(double probability) { loss_ = probability; }
  // false: group datagrams go nowhere, as in most clouds and container networks.
  void set_multicast(bool delivered) { multicast_ = delivered; }
  void set_broadcast(bool delivered) { broadcast_ = delivered; }
  // Hosts on different sides cannot reach each other; hosts on no side reach only each other.
  void partition(std::vector<std::vector<detail::Ip4>> sides);
  void heal() { side_.clear(); }
  // Cuts (or restores) the link between two hosts, both ways.
  void cut(detail::Ip4 a, detail::Ip4 b);
  void restore(detail::Ip4 a, detail::Ip4 b);
  // false: this host's group datagrams go nowhere (a one-way multicast failure), its unicast still does.
  void set_group_sending(detail::Ip4 host, bool delivered);
  // A down host sends and receives nothing (a frozen or unplugged machine).
  void set_down(detail::Ip4 host, bool down);

  // As if `from` had sent these bytes to `to` (unicast, a group or a broadcast address).
  void inject(detail::UdpAddress from, detail::UdpAddress to, std::span<const std::byte> bytes);

  struct Counters {
    std::uint64_t sent = 0;       // datagrams handed to the network
    std::uint64_t delivered = 0;  // copies delivered to sockets
    std::uint64_t lost = 0;       // copies lost to set_loss
    std::uint64_t blocked = 0;    // sends or copies stopped by partitions, cuts, down hosts, disabled multicast
    std::uint64_t bytes_delivered = 0;
    std::size_t largest = 0;      // the longest datagram sent
  };
  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  // Bytes delivered to sockets of this host so far.
  [[nodiscard]] std::uint64_t bytes_delivered_to(detail::Ip4 host) const;
  void reset_counters();

 private:
  class Host;
  class Socket;
  friend class Socket;
  friend class Host;

  // `source` is the sending host (null: injected from outside every host), `sender` its socket (null: injected).
  Status route(detail::UdpAddress from, Host* source, const Socket* sender, std::span<const std::byte> bytes,
               detail::UdpAddress to);
  void deliver(Socket& socket, detail::UdpAddress from, detail::Ip4 destination, std::span<const std::byte> bytes);
  [[nodiscard]] bool connected(const Host& a, const Host& b) const;
  [[nodiscard]] Host* host(detail::Ip4 address) const;

  std::map<detail::Ip4, std::unique_ptr<Host>> hosts_;
  std::map<detail::Ip4, int> side_;
  std::set<std::pair<detail::Ip4, detail::Ip4>> cuts_;
  std::set<detail::Ip4> group_muted_;
  std::mt19937_64 random_;
  double loss_ = 0.0;
  bool multicast_ = true;
  bool broadcast_ = true;
  Counters counters_;
};

}  // namespace weft::testing
