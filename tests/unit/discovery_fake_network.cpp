#include "discovery_fake_network.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace weft::testing {

using detail::Ip4;
using detail::UdpAddress;

class FakeDatagramNetwork::Socket final : public detail::DatagramSocket {
 public:
  Socket(Host& host, UdpAddress bound, const detail::DatagramSocketOptions& options)
      : host_(host), bound_(bound), options_(options) {}
  ~Socket() override;

  [[nodiscard]] UdpAddress local_address() const override { return bound_; }
  [[nodiscard]] int fd() const noexcept override { return -1; }

  Status join_group(Ip4 group, Ip4) override {
    if (!detail::is_multicast(group)) return Status::io_error("not a multicast group");
    groups_.insert(group);
    return Status::ok();
  }
  Status leave_group(Ip4 group, Ip4) override {
    groups_.erase(group);
    return Status::ok();
  }
  Status send_to(std::span<const std::byte> datagram, UdpAddress to) override;
  Result<std::optional<detail::ReceivedDatagram>> receive(std::span<std::byte> buffer) override {
    if (queue_.empty()) return std::optional<detail::ReceivedDatagram>{};
    Packet packet = std::move(queue_.front());
    queue_.pop_front();
    std::size_t n = std::min(buffer.size(), packet.bytes.size());
    std::memcpy(buffer.data(), packet.bytes.data(), n);
    return std::optional<detail::ReceivedDatagram>{detail::ReceivedDatagram{packet.bytes.size(), packet.from,
                                                                             packet.destination}};
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return bound_.port; }
  [[nodiscard]] bool reuse() const noexcept { return options_.reuse_port; }
  [[nodiscard]] bool broadcast() const noexcept { return options_.broadcast; }
  [[nodiscard]] bool joined(Ip4 group) const { return groups_.count(group) > 0; }
  void push(UdpAddress from, Ip4 destination, std::span<const std::byte> bytes) {
    queue_.push_back({std::vector<std::byte>(bytes.begin(), bytes.end()), from, destination});
  }

 private:
  struct Packet {
    std::vector<std::byte> bytes;
    UdpAddress from;
    Ip4 destination = 0;
  };
  Host& host_;
  UdpAddress bound_;
  detail::DatagramSocketOptions options_;
  std::set<Ip4> groups_;
  std::deque<Packet> queue_;
};

class FakeDatagramNetwork::Host final : public detail::DatagramNetwork {
 public:
  Host(FakeDatagramNetwork& network, Ip4 address, int lan) : network_(network), address_(address), lan_(lan) {}

  Result<std::unique_ptr<detail::DatagramSocket>> open(const detail::DatagramSocketOptions& options) override {
    std::uint16_t port = options.bind.port;
    if (port == 0) {
      do {
        port = next_port_++;
      } while (std::any_of(sockets_.begin(), sockets_.end(), [port](Socket* s) { return s->port() == port; }));
    }
    for (Socket* other : sockets_) {
      if (other->port() == port && !(options.reuse_port && other->reuse())) {
        return Status::io_error("cannot bind udp " + UdpAddress{options.bind.ip, port}.to_string() +
                                ": Address already in use");
      }
    }
    auto socket = std::make_unique<Socket>(*this, UdpAddress{options.bind.ip, port}, options);
    sockets_.push_back(socket.get());
    return std::unique_ptr<detail::DatagramSocket>(std::move(socket));
  }

  void forget(Socket* socket) { sockets_.erase(std::remove(sockets_.begin(), sockets_.end(), socket), sockets_.end()); }

  FakeDatagramNetwork& network_;
  Ip4 address_;
  int lan_;
  bool down_ = false;
  std::uint64_t bytes_received_ = 0;
  std::uint16_t next_port_ = 40000;
  std::vector<Socket*> sockets_;
};

FakeDatagramNetwork::Socket::~Socket() { host_.forget(this); }

Status FakeDatagramNetwork::Socket::send_to(std::span<const std::byte> datagram, UdpAddress to) {
  Ip4 source = detail::is_loopback(to.ip) ? detail::kIp4Loopback : host_.address_;
  return host_.network_.route({source, bound_.port}, &host_, this, datagram, to);
}

FakeDatagramNetwork::FakeDatagramNetwork(std::uint64_t seed) : random_(seed) {}
FakeDatagramNetwork::~FakeDatagramNetwork() = default;

detail::DatagramNetwork& FakeDatagramNetwork::add_host(Ip4 address, int lan) {
  auto& slot = hosts_[address];
  if (!slot) slot = std::make_unique<Host>(*this, address, lan);
  return *slot;
}

FakeDatagramNetwork::Host* FakeDatagramNetwork::host(Ip4 address) const {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? nullptr : it->second.get();
}

void FakeDatagramNetwork::partition(std::vector<std::vector<Ip4>> sides) {
  side_.clear();
  for (std::size_t i = 0; i < sides.size(); ++i) {
    for (Ip4 address : sides[i]) side_[address] = static_cast<int>(i);
  }
}

void FakeDatagramNetwork::cut(Ip4 a, Ip4 b) {
  cuts_.insert({a, b});
  cuts_.insert({b, a});
}

void FakeDatagramNetwork::restore(Ip4 a, Ip4 b) {
  cuts_.erase({a, b});
  cuts_.erase({b, a});
}

void FakeDatagramNetwork::set_group_sending(Ip4 address, bool delivered) {
  if (delivered) {
    group_muted_.erase(address);
  } else {
    group_muted_.insert(address);
  }
}

void FakeDatagramNetwork::set_down(Ip4 address, bool down) {
  if (Host* h = host(address)) h->down_ = down;
}

std::uint64_t FakeDatagramNetwork::bytes_delivered_to(Ip4 address) const {
  Host* h = host(address);
  return h ? h->bytes_received_ : 0;
}

void FakeDatagramNetwork::reset_counters() {
  counters_ = {};
  for (auto& [address, h] : hosts_) h->bytes_received_ = 0;
}

bool FakeDatagramNetwork::connected(const Host& a, const Host& b) const {
  if (a.down_ || b.down_) return false;
  if (&a == &b) return true;
  if (cuts_.count({a.address_, b.address_}) > 0) return false;
  if (side_.empty()) return true;
  auto side = [&](Ip4 address) {
    auto it = side_.find(address);
    return it == side_.end() ? -1 : it->second;
  };
  return side(a.address_) == side(b.address_);
}

void FakeDatagramNetwork::deliver(Socket& socket, UdpAddress from, Ip4 destination, std::span<const std::byte> bytes) {
  if (loss_ > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(random_) < loss_) {
    ++counters_.lost;
    return;
  }
  ++counters_.delivered;
  counters_.bytes_delivered += bytes.size();
  socket.push(from, destination, bytes);
}

void FakeDatagramNetwork::inject(UdpAddress from, UdpAddress to, std::span<const std::byte> bytes) {
  (void)route(from, host(from.ip), nullptr, bytes, to);
}

Status FakeDatagramNetwork::route(UdpAddress from, Host* source, const Socket* sender,
                                  std::span<const std::byte> bytes, UdpAddress to) {
  if (bytes.size() > 65507) return Status::io_error("sendto: Message too long");
  ++counters_.sent;
  counters_.largest = std::max(counters_.largest, bytes.size());
  if (source != nullptr && source->down_) {
    ++counters_.blocked;
    return Status::ok();
  }
  auto copies = [&](Host& target, auto&& wanted) {
    if (source != nullptr && !connected(*source, target)) {
      ++counters_.blocked;
      return;
    }
    std::vector<Socket*> matching;
    for (Socket* socket : target.sockets_) {
      if (socket->port() == to.port && wanted(*socket)) matching.push_back(socket);
    }
    for (Socket* socket : matching) {
      target.bytes_received_ += bytes.size();
      deliver(*socket, from, to.ip, bytes);
    }
  };

  const bool group = detail::is_multicast(to.ip);
  bool broadcast = to.ip == detail::kIp4Broadcast || (to.ip & 0xff) == 0xff;
  if (group || broadcast) {
    if (broadcast && sender != nullptr && !sender->broadcast()) return Status::io_error("sendto: Permission denied");
    if ((group && !multicast_) || (broadcast && !broadcast_) || group_muted_.count(from.ip) > 0) {
      ++counters_.blocked;
      return Status::ok();
    }
    const int lan = source != nullptr ? source->lan_ : 0;
    for (auto& [address, target] : hosts_) {
      if (target->lan_ != lan) continue;
      if (group) {
        copies(*target, [&](const Socket& s) { return s.joined(to.ip); });
      } else {
        copies(*target, [](const Socket&) { return true; });
      }
    }
    return Status::ok();
  }

  Host* target = detail::is_loopback(to.ip) ? source : host(to.ip);  // 127.0.0.1 is the sender's own host
  if (target == nullptr) {
    ++counters_.blocked;  // nobody there: UDP says nothing
    return Status::ok();
  }
  // A unicast datagram reaches one socket of those sharing the port, chosen by the sender's address.
  std::vector<Socket*> matching;
  for (Socket* socket : target->sockets_) {
    if (socket->port() == to.port) matching.push_back(socket);
  }
  if (matching.empty()) return Status::ok();
  if (source != nullptr && !connected(*source, *target)) {
    ++counters_.blocked;
    return Status::ok();
  }
  Socket* chosen = matching[(from.ip * 31u + from.port) % matching.size()];
  target->bytes_received_ += bytes.size();
  deliver(*chosen, from, to.ip, bytes);
  return Status::ok();
}

}  // namespace weft::testing
