#include "discovery_cli.hpp"

#include <cstdio>

namespace weft::cli {

const char* const kDiscoveryHelp = R"(
Discovery: given neither --bind nor --connect, the node finds its peers by itself. It announces itself by
UDP multicast (group 239.255.76.50, port 7650) once a second, binds tcp on a free port, and connects to every
publisher of its cluster it hears of; a peer that stops is dropped after about 3.5 s, and one that comes back
is connected again. Where multicast is blocked (clouds, containers, VPNs), name a few other nodes' hosts with
--seed HOST[:PORT]; one reachable seed is enough. `weft peers` shows who is there. docs/discovery.md has it all.
  weft sub 'demo.>'                       # in one shell
  weft pub demo.hello 'hi there'          # in another: no endpoint needed
  weft sub --cluster staging --seed 10.0.0.5 'orders.>'
)";

void print_discovery(const NodeOptions& node) {
  const DiscoveryOptions& d = node.discovery;
  if (!d.enabled) return;
  std::string how;
  if (d.multicast) how = "multicast " + d.multicast_group + ":" + std::to_string(d.port);
  for (const std::string& seed : d.seeds) how += (how.empty() ? "seed " : ", seed ") + seed;
  std::fprintf(stderr, "discovering peers in cluster %s (%s)\n", d.cluster.c_str(), how.c_str());
}

void add_discovery_options(po::options_description& options, DiscoveryFlags& flags, bool always) {
  // clang-format off
  options.add_options()
      ("cluster", po::value(&flags.cluster)->value_name("NAME"),
       "discovery: see only peers of cluster NAME (default weft)")
      ("seed", po::value(&flags.seeds)->value_name("HOST[:PORT]"),
       "discovery: also contact this node by unicast, for networks without multicast (repeatable)");
  if (!always) {
    options.add_options()
        ("no-discovery", po::bool_switch(&flags.off), "never look for peers: use --bind/--connect only");
  }
  options.add_options()
      ("discovery-port", po::value(&flags.port)->value_name("PORT"),
       "discovery: the cluster's UDP beacon port (default 7650)")
      ("interface", po::value(&flags.interface)->value_name("NAME|ADDRESS"),
       "discovery: the interface to announce on and advertise (eth0, 10.0.0.5; 127.0.0.1 keeps to this host)")
      ("advertise", po::value(&flags.advertise)->value_name("HOST"),
       "discovery: the address peers should use to reach this node (NAT, containers)")
      ("beacon-interval", po::value(&flags.interval_seconds)->value_name("SECONDS"),
       "discovery: seconds between beacons (default 1); a silent peer is dropped after 3.5 of them")
      ("no-multicast", po::bool_switch(&flags.no_multicast), "discovery: seeds only, no multicast beacons");
  // clang-format on
}

void finish_discovery(const DiscoveryFlags& flags, NodeOptions& node, bool always) {
  const bool has_endpoint =
      !node.bind.empty() || !node.connect.empty() || !node.subscriber_bind.empty() || !node.publish_to.empty();
  const bool asked = !flags.cluster.empty() || !flags.seeds.empty() || flags.port >= 0 ||
                     !flags.interface.empty() || !flags.advertise.empty() || flags.interval_seconds != 0 ||
                     flags.no_multicast;
  if (flags.off) {
    if (asked) throw UsageError("--no-discovery contradicts the discovery flags given with it");
    return;
  }
  if (!always && has_endpoint && !asked) return;  // explicit endpoints only, as before discovery
  DiscoveryOptions& d = node.discovery;
  d.enabled = true;
  if (!flags.cluster.empty()) {
    if (flags.cluster.size() > 64) throw UsageError("--cluster must be 1 to 64 bytes");
    d.cluster = flags.cluster;
  }
  for (const std::string& seed : flags.seeds) {
    if (seed.empty()) throw UsageError("--seed must be HOST or HOST:PORT");
    d.seeds.push_back(seed);
  }
  if (flags.port >= 0) {
    if (flags.port < 1 || flags.port > 65535) throw UsageError("--discovery-port must be from 1 to 65535");
    d.port = static_cast<std::uint16_t>(flags.port);
  }
  d.interface = flags.interface;
  d.advertise_host = flags.advertise;
  if (flags.interval_seconds != 0) {
    if (!(flags.interval_seconds >= 0.01) || flags.interval_seconds > 600) {
      throw UsageError("--beacon-interval must be from 0.01 to 600 seconds");
    }
    d.interval = std::chrono::milliseconds(static_cast<std::int64_t>(flags.interval_seconds * 1000));
  }
  if (flags.no_multicast) {
    if (d.seeds.empty()) throw UsageError("--no-multicast needs at least one --seed");
    d.multicast = false;
  }
}

}  // namespace weft::cli
