#include "discovery/endpoints.hpp"

#include <algorithm>
#include <optional>

namespace weft::detail {

namespace {

// "tcp://host:port" split into its parts; the host keeps IPv6 brackets.
struct TcpParts {
  std::string_view host;
  std::string_view port;
};

constexpr std::string_view kTcp = "tcp://";
constexpr std::string_view kIpc = "ipc://";
constexpr std::string_view kInproc = "inproc://";

std::optional<TcpParts> split_tcp(std::string_view uri) noexcept {
  if (!uri.starts_with(kTcp)) return std::nullopt;
  std::string_view rest = uri.substr(kTcp.size());
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return std::nullopt;
  // A connect-style "source;destination" endpoint is not something a node advertises.
  if (rest.find(';') != std::string_view::npos) return std::nullopt;
  return TcpParts{rest.substr(0, colon), rest.substr(colon + 1)};
}

bool is_wildcard_host(std::string_view host) noexcept {
  return host == "*" || host == "0.0.0.0" || host == "[::]" || host == "[*]";
}

bool is_ipv6_host(std::string_view host) noexcept { return host.starts_with('['); }

bool is_loopback_host(std::string_view host) noexcept {
  if (host == "localhost" || host == "[::1]") return true;
  auto ip = parse_ip4(host);
  return ip && is_loopback(*ip);
}

std::string tcp(std::string_view host, std::string_view port) {
  return std::string(kTcp).append(host).append(":").append(port);
}

void add_unique(std::vector<AdvertisedEndpoint>& out, std::uint8_t kind, std::string uri) {
  AdvertisedEndpoint endpoint{kind, std::move(uri)};
  if (std::find(out.begin(), out.end(), endpoint) == out.end()) out.push_back(std::move(endpoint));
}

}  // namespace

std::string_view to_string(EndpointKind kind) noexcept {
  switch (kind) {
    case EndpointKind::kPublish: return "publish";
    case EndpointKind::kWorkQueue: return "work-queue";
    case EndpointKind::kControl: return "control";
  }
  return "unknown";
}

std::vector<AdvertisedEndpoint> advertise_endpoints(std::span<const LocalEndpoint> bound, const HostInfo& host,
                                                    const AdvertiseSettings& settings) {
  std::vector<AdvertisedEndpoint> out;
  for (const LocalEndpoint& endpoint : bound) {
    const auto kind = static_cast<std::uint8_t>(endpoint.kind);
    std::string_view uri = endpoint.uri;
    if (uri.starts_with(kInproc)) continue;
    if (uri.starts_with(kIpc)) {
      std::string_view path = uri.substr(kIpc.size());
      if (path.empty() || path == "*") continue;
      if (path.starts_with('/') || path.starts_with('@')) {
        add_unique(out, kind, std::string(uri));
      } else if (!host.working_directory.empty()) {
        add_unique(out, kind, std::string(kIpc).append(host.working_directory).append("/").append(path));
      }
      continue;
    }
    auto parts = split_tcp(uri);
    if (!parts) {
      add_unique(out, kind, std::string(uri));  // another transport: as is
      continue;
    }
    if (is_wildcard_host(parts->host)) {
      if (!settings.advertise_host.empty()) {
        add_unique(out, kind, tcp(settings.advertise_host, parts->port));
      } else if (settings.interface_address != kIp4Any) {
        add_unique(out, kind, tcp(format_ip4(settings.interface_address), parts->port));
      } else {
        add_unique(out, kind, tcp(discovery_wire::kObservedHost, parts->port));
      }
      add_unique(out, kind, tcp(is_ipv6_host(parts->host) ? "[::1]" : "127.0.0.1", parts->port));
    } else if (is_loopback_host(parts->host) || settings.advertise_host.empty()) {
      add_unique(out, kind, std::string(uri));
    } else {
      add_unique(out, kind, tcp(settings.advertise_host, parts->port));
    }
  }
  return out;
}

std::vector<PeerEndpoint> select_endpoints(std::span<const EndpointRef> advertised, PeerScopes peer,
                                           const HostInfo& local, Ip4 observed) {
  const bool same_ipc = peer.ipc_scope == local.ipc_scope;
  const bool same_net = peer.net_scope == local.net_scope;
  std::vector<PeerEndpoint> out;
  for (const EndpointRef& endpoint : advertised) {
    if (endpoint.kind >= discovery_wire::kEndpointKinds) continue;  // a kind of a later revision
    PeerEndpoint selected;
    selected.kind = static_cast<EndpointKind>(endpoint.kind);
    std::string_view uri = endpoint.uri;
    if (uri.starts_with(kInproc)) continue;
    if (uri.starts_with(kIpc)) {
      bool abstract = uri.substr(kIpc.size()).starts_with('@');
      if (!(abstract ? same_net : same_ipc)) continue;
      selected.uri = std::string(uri);
      selected.reach = EndpointReach::kIpc;
    } else if (auto parts = split_tcp(uri)) {
      if (is_wildcard_host(parts->host)) {
        if (observed == kIp4Any) continue;
        if (is_loopback(observed) && !same_net) continue;
        selected.uri = tcp(format_ip4(observed), parts->port);
        selected.reach = is_loopback(observed) ? EndpointReach::kLoopback : EndpointReach::kObserved;
      } else if (is_loopback_host(parts->host)) {
        if (!same_net) continue;
        selected.uri = std::string(uri);
        selected.reach = EndpointReach::kLoopback;
      } else {
        selected.uri = std::string(uri);
        selected.reach = EndpointReach::kAdvertised;
      }
    } else {
      selected.uri = std::string(uri);
      selected.reach = EndpointReach::kAdvertised;
    }
    bool duplicate = std::any_of(out.begin(), out.end(), [&](const PeerEndpoint& e) {
      return e.kind == selected.kind && e.uri == selected.uri;
    });
    if (!duplicate) out.push_back(std::move(selected));
  }
  std::stable_sort(out.begin(), out.end(), [](const PeerEndpoint& a, const PeerEndpoint& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.reach < b.reach;
  });
  return out;
}

}  // namespace weft::detail
