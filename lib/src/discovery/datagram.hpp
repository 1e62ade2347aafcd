// The datagram seam: discovery reaches the network only through these two interfaces. PosixDatagramNetwork
// (udp_socket.hpp) is the real one; tests use an in-memory network of fake hosts with loss and partitions.
// Every call comes from the one thread that owns the discovery agent (the node's I/O thread).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "discovery/udp_address.hpp"
#include "weft/status.hpp"

namespace weft::detail {

struct DatagramSocketOptions {
  // Where to bind. ip 0: every interface; port 0: a free port (read it back with local_address()).
  UdpAddress bind;
  // SO_REUSEADDR and SO_REUSEPORT, so that every node on a host can bind the shared beacon port. Multicast and
  // broadcast datagrams reach every socket bound to the port; a unicast datagram reaches only one of them.
  bool reuse_port = false;
  // SO_BROADCAST: the socket may send to broadcast addresses.
  bool broadcast = false;
  // The interface outgoing multicast leaves by (IP_MULTICAST_IF); 0: the kernel's choice.
  Ip4 multicast_interface = kIp4Any;
  // IP_MULTICAST_TTL: 1 keeps beacons on the local link.
  int multicast_ttl = 1;
  // IP_MULTICAST_LOOP: nodes on the same host hear each other's multicast only with this on.
  bool multicast_loop = true;
};

struct ReceivedDatagram {
  std::size_t size = 0;  // the datagram's real length: more than the buffer when it was truncated
  UdpAddress from;       // the sender's address and port
  Ip4 destination = 0;   // the address it was sent to: a group, a broadcast address or one of ours (0: unknown)
};

class DatagramSocket {
 public:
  virtual ~DatagramSocket() = default;

  [[nodiscard]] virtual UdpAddress local_address() const = 0;
  // A descriptor that polls readable when a datagram is waiting; -1 when there is none to poll (fakes).
  [[nodiscard]] virtual int fd() const noexcept = 0;

  // IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP on the interface with this address (0: the kernel's choice).
  virtual Status join_group(Ip4 group, Ip4 interface_address) = 0;
  virtual Status leave_group(Ip4 group, Ip4 interface_address) = 0;

  // Sends without blocking. Ok; back-pressure when the socket buffer is full; io-error when the system refuses
  // (no route, firewall, datagram too long).
  virtual Status send_to(std::span<const std::byte> datagram, UdpAddress to) = 0;

  // Takes the next datagram without blocking, copying what fits into `buffer`. Empty when none is waiting.
  virtual Result<std::optional<ReceivedDatagram>> receive(std::span<std::byte> buffer) = 0;
};

class DatagramNetwork {
 public:
  virtual ~DatagramNetwork() = default;
  // A bound, non-blocking socket; io-error when the address cannot be bound.
  virtual Result<std::unique_ptr<DatagramSocket>> open(const DatagramSocketOptions& options) = 0;
};

}  // namespace weft::detail
