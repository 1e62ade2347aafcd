#include "discovery/seeds.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace weft::detail {

Result<std::vector<UdpAddress>> resolve_seed(std::string_view seed, std::uint16_t default_port) {
  if (auto numeric = parse_udp_address(seed, default_port)) return std::vector<UdpAddress>{*numeric};
  std::string_view host = seed;
  std::string port = std::to_string(default_port);
  if (std::size_t colon = seed.rfind(':'); colon != std::string_view::npos) {
    host = seed.substr(0, colon);
    port = std::string(seed.substr(colon + 1));
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stoul(port) == 0 || std::stoul(port) > 65535) {
      return Status::invalid_argument("seed '" + std::string(seed) + "': the port is not 1 to 65535");
    }
  }
  if (host.empty()) return Status::invalid_argument("seed '" + std::string(seed) + "' has no host");
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  int error = ::getaddrinfo(std::string(host).c_str(), port.c_str(), &hints, &list);
  if (error != 0) return Status::unavailable("cannot resolve '" + std::string(host) + "': " + ::gai_strerror(error));
  std::vector<UdpAddress> out;
  for (addrinfo* i = list; i != nullptr; i = i->ai_next) {
    if (i->ai_family != AF_INET || i->ai_addrlen < sizeof(sockaddr_in)) continue;
    sockaddr_in address{};
    std::memcpy(&address, i->ai_addr, sizeof address);
    UdpAddress resolved{ntohl(address.sin_addr.s_addr), ntohs(address.sin_port)};
    if (std::find(out.begin(), out.end(), resolved) == out.end()) out.push_back(resolved);
  }
  ::freeaddrinfo(list);
  if (out.empty()) return Status::unavailable("'" + std::string(host) + "' has no IPv4 address");
  return out;
}

std::vector<std::string> split_seed_list(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace weft::detail
