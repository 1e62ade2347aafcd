#include "discovery/host_info.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>

namespace weft::detail {

namespace {

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

std::string read_link(const char* path) {
  char buffer[256];
  ssize_t n = ::readlink(path, buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

Ip4 ip_of(const sockaddr* address) noexcept {
  if (address == nullptr || address->sa_family != AF_INET) return 0;
  sockaddr_in in{};
  std::memcpy(&in, address, sizeof in);
  return ntohl(in.sin_addr.s_addr);
}

std::vector<NetworkInterface> list_interfaces() {
  std::vector<NetworkInterface> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    NetworkInterface interface;
    interface.name = i->ifa_name != nullptr ? i->ifa_name : "";
    interface.address = ip_of(i->ifa_addr);
    interface.netmask = ip_of(i->ifa_netmask);
    interface.up = (i->ifa_flags & IFF_UP) != 0 && (i->ifa_flags & IFF_RUNNING) != 0;
    interface.loopback = (i->ifa_flags & IFF_LOOPBACK) != 0;
    interface.multicast = (i->ifa_flags & IFF_MULTICAST) != 0;
    if ((i->ifa_flags & IFF_BROADCAST) != 0) interface.broadcast = ip_of(i->ifa_broadaddr);
    out.push_back(std::move(interface));
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

std::uint64_t scope_hash(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;  // splitmix64's finalizer
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::optional<NetworkInterface> HostInfo::find_interface(std::string_view name_or_address) const {
  auto ip = parse_ip4(name_or_address);
  for (const NetworkInterface& interface : interfaces) {
    if (ip ? interface.address == *ip : interface.name == name_or_address) return interface;
  }
  return std::nullopt;
}

HostInfo probe_host(std::string_view host_id) {
  HostInfo host;
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) == 0) host.hostname = name;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) != nullptr) host.working_directory = cwd;
  host.interfaces = list_interfaces();

  if (!host_id.empty()) {
    host.ipc_scope = host.net_scope = scope_hash(std::string("host-id:").append(host_id));
    return host;
  }
  std::string boot = read_first_line("/proc/sys/kernel/random/boot_id");
  std::string mount_ns = read_link("/proc/self/ns/mnt");
  std::string net_ns = read_link("/proc/self/ns/net");
  if (!boot.empty() && !mount_ns.empty() && !net_ns.empty()) {
    host.ipc_scope = scope_hash("boot:" + boot + "/" + mount_ns);
    host.net_scope = scope_hash("boot:" + boot + "/" + net_ns);
  } else {
    std::string machine = read_first_line("/etc/machine-id");
    host.ipc_scope = host.net_scope = scope_hash("machine:" + machine + "/" + host.hostname);
  }
  return host;
}

}  // namespace weft::detail
