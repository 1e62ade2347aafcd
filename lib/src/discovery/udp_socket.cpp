#include "discovery/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace weft::detail {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

sockaddr_in to_sockaddr(UdpAddress address) noexcept {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_addr.s_addr = htonl(address.ip);
  out.sin_port = htons(address.port);
  return out;
}

UdpAddress from_sockaddr(const sockaddr_in& in) noexcept { return {ntohl(in.sin_addr.s_addr), ntohs(in.sin_port)}; }

// The socket calls take `sockaddr*`: the POSIX idiom for the generic address type.
const sockaddr* generic(const sockaddr_in* address) noexcept { return reinterpret_cast<const sockaddr*>(address); }
sockaddr* generic(sockaddr_in* address) noexcept { return reinterpret_cast<sockaddr*>(address); }

Status set_int_option(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return Status::io_error(std::string("setsockopt(") + what + "): " + errno_text(errno));
  }
  return Status::ok();
}

class PosixDatagramSocket final : public DatagramSocket {
 public:
  explicit PosixDatagramSocket(int fd) noexcept : fd_(fd) {}
  ~PosixDatagramSocket() override { ::close(fd_); }
  PosixDatagramSocket(const PosixDatagramSocket&) = delete;
  PosixDatagramSocket& operator=(const PosixDatagramSocket&) = delete;

  [[nodiscard]] UdpAddress local_address() const override {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd_, generic(&address), &length) != 0) return {};
    return from_sockaddr(address);
  }

  [[nodiscard]] int fd() const noexcept override { return fd_; }

  Status join_group(Ip4 group, Ip4 interface_address) override {
    return membership(IP_ADD_MEMBERSHIP, group, interface_address, "join");
  }
  Status leave_group(Ip4 group, Ip4 interface_address) override {
    return membership(IP_DROP_MEMBERSHIP, group, interface_address, "leave");
  }

  Status send_to(std::span<const std::byte> datagram, UdpAddress to) override {
    const sockaddr_in address = to_sockaddr(to);
    ssize_t sent;
    do {
      sent = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL, generic(&address),
                      sizeof address);
    } while (sent < 0 && errno == EINTR);
    if (sent >= 0) return Status::ok();
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      return Status::back_pressure("the socket's send buffer is full");
    }
    return Status::io_error("sendto " + to.to_string() + ": " + errno_text(errno));
  }

  Result<std::optional<ReceivedDatagram>> receive(std::span<std::byte> buffer) override {
    sockaddr_in from{};
    iovec io{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
    msghdr message{};
    message.msg_name = &from;
    message.msg_namelen = sizeof from;
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t received;
    do {
      // MSG_TRUNC: the return value is the datagram's real length even when the buffer was shorter.
      received = ::recvmsg(fd_, &message, MSG_DONTWAIT | MSG_TRUNC);
    } while (received < 0 && errno == EINTR);
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<ReceivedDatagram>{};
      return Status::io_error("recvmsg: " + errno_text(errno));
    }
    ReceivedDatagram datagram;
    datagram.size = static_cast<std::size_t>(received);
    datagram.from = from_sockaddr(from);
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        datagram.destination = ntohl(info.ipi_addr.s_addr);
      }
    }
    return std::optional<ReceivedDatagram>{datagram};
  }

 private:
  Status membership(int option, Ip4 group, Ip4 interface_address, const char* what) {
    ip_mreq request{};
    request.imr_multiaddr.s_addr = htonl(group);
    request.imr_interface.s_addr = htonl(interface_address);
    if (::setsockopt(fd_, IPPROTO_IP, option, &request, sizeof request) != 0) {
      return Status::io_error(std::string("cannot ") + what + " multicast group " + format_ip4(group) +
                              " on interface " + format_ip4(interface_address) + ": " + errno_text(errno));
    }
    return Status::ok();
  }

  int fd_;
};

}  // namespace

Result<std::unique_ptr<DatagramSocket>> PosixDatagramNetwork::open(const DatagramSocketOptions& options) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::io_error("socket(AF_INET, SOCK_DGRAM): " + errno_text(errno));
  auto socket = std::make_unique<PosixDatagramSocket>(fd);  // closes fd on every early return
  auto apply = [&]() -> Status {
    if (options.reuse_port) {
      if (auto s = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"); !s) return s;
      if (auto s = set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"); !s) return s;
    }
    if (options.broadcast) {
      if (auto s = set_int_option(fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"); !s) return s;
    }
    if (auto s = set_int_option(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"); !s) return s;
    if (auto s = set_int_option(fd, IPPROTO_IP, IP_MULTICAST_TTL, options.multicast_ttl, "IP_MULTICAST_TTL"); !s) {
      return s;
    }
    if (auto s = set_int_option(fd, IPPROTO_IP, IP_MULTICAST_LOOP, options.multicast_loop ? 1 : 0,
                                "IP_MULTICAST_LOOP");
        !s) {
      return s;
    }
    if (options.multicast_interface != kIp4Any) {
      in_addr interface_address{htonl(options.multicast_interface)};
      if (::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &interface_address, sizeof interface_address) != 0) {
        return Status::io_error("setsockopt(IP_MULTICAST_IF " + format_ip4(options.multicast_interface) +
                                "): " + errno_text(errno));
      }
    }
    sockaddr_in address = to_sockaddr(options.bind);
    if (::bind(fd, generic(&address), sizeof address) != 0) {
      return Status::io_error("cannot bind udp " + options.bind.to_string() + ": " + errno_text(errno));
    }
    return Status::ok();
  };
  if (Status status = apply(); !status) return status;
  return std::unique_ptr<DatagramSocket>(std::move(socket));
}

}  // namespace weft::detail
