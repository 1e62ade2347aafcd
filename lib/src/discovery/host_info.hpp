// What discovery needs to know about the host it runs on: its name, its interfaces, and two scopes that tell
// whether another process can reach this one through ipc:// or through the loopback interface.
//
// "Same host" is not one question but two, and neither is answered by /etc/machine-id (copied into container
// images, so identical across containers) or by the hostname:
// - an ipc:// path reaches another process when both share a kernel and a mount namespace: ipc_scope;
// - 127.0.0.1 (and abstract ipc://@name sockets) reach another process when both share a kernel and a network
//   namespace: net_scope.
// Each scope is a hash of the kernel's boot id (random per boot, /proc/sys/kernel/random/boot_id) and the
// namespace's inode (/proc/self/ns/mnt, /proc/self/ns/net). Two containers on one host therefore differ in both;
// two containers of one Kubernetes pod share net_scope (so they use 127.0.0.1) but not ipc_scope.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/udp_address.hpp"

namespace weft::detail {

struct NetworkInterface {
  std::string name;
  Ip4 address = 0;
  Ip4 netmask = 0;
  Ip4 broadcast = 0;  // 0 when the interface has none
  bool up = false;
  bool loopback = false;
  bool multicast = false;
};

struct HostInfo {
  std::string hostname;
  std::uint64_t ipc_scope = 0;
  std::uint64_t net_scope = 0;
  // Relative ipc:// paths are advertised made absolute against it.
  std::string working_directory;
  std::vector<NetworkInterface> interfaces;  // IPv4 only

  // The interface named `name_or_address` ("eth0" or "192.0.2.7"), if there is one.
  [[nodiscard]] std::optional<NetworkInterface> find_interface(std::string_view name_or_address) const;
};

// Reads the host: /proc, gethostname, getcwd, getifaddrs. Where /proc is missing (not Linux), the scopes fall
// back to a hash of /etc/machine-id and the hostname. A non-empty `host_id` (DiscoveryOptions::host_id)
// replaces both scopes: processes given the same host_id treat each other as sharing ipc and loopback.
HostInfo probe_host(std::string_view host_id = {});

// The 64-bit hash the scopes use (FNV-1a, then a splitmix64 finalizer to spread it). Stable across releases:
// peers of different versions compare scopes.
[[nodiscard]] std::uint64_t scope_hash(std::string_view text) noexcept;

}  // namespace weft::detail
