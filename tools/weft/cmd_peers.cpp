// weft peers: which nodes of a cluster discovery finds from here. A thin layer over weft::Node: it starts a node
// with discovery on, listens for a while, and prints Node::peers().
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "discovery_cli.hpp"
#include "weft/node.hpp"

namespace weft::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kVerb = "peers";

constexpr const char* kHelpIntro = R"(usage: weft peers [OPTIONS]

Lists the nodes of a cluster that discovery finds from this host: it joins the cluster for --wait seconds
(long enough to hear every node's beacon once), prints one line per peer, and exits. This command is itself a
node for that long: the others see it come and, when it exits, go.

Columns: NAME and ID (the node's id, new on every start), HOST (as the node reports it), ENDPOINTS (those
this host can reach, best first: ipc on the same host, loopback in the same network namespace, then tcp),
AGE (since its last beacon was heard; a peer is dropped after about 3.5 beacon intervals of silence) and
STATE (alive, or verifying: heard of through another node and not yet answered).

)";

constexpr const char* kHelpOutro = R"(
Examples:
  weft peers                                # the default cluster, by multicast
  weft peers --cluster staging --seed 10.0.0.5 --json | jq -r .name
  weft peers --watch                        # a live table; Ctrl-C to stop
  weft peers --min 3 --wait 10              # wait for 3 peers (exit 1 if they do not all come): for scripts

Output with --json: one object per peer and line, with name, id (hex), incarnation, host, endpoints
([{kind, uri}]), connected (the publish endpoint this node subscribed at), same_host, age_ms, state. With
--watch --json: one object per change, the same fields and "event" (joined, updated, left) and "reason".

Exit status: 0, or 1 when fewer than --min peers were found within --wait; 2 on bad usage.
)";

struct PeersSettings {
  NodeOptions node;
  DiscoveryFlags discovery;
  double wait_seconds = -1;  // -1: 1.5 beacon intervals
  std::int64_t min = 0;
  bool watch = false;
  bool json = false;
  std::chrono::milliseconds wait{0};
};

po::options_description visible_options(PeersSettings& s) {
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("wait", po::value(&s.wait_seconds)->value_name("SECONDS"),
       "listen this long before printing (default 1.5 beacon intervals)")
      ("min", po::value(&s.min)->value_name("N"), "print as soon as N peers are alive; exit 1 if not within --wait")
      ("watch", po::bool_switch(&s.watch), "keep listening: reprint the table every beacon interval until Ctrl-C")
      ("json", po::bool_switch(&s.json), "one JSON object per peer and line (see below)")
      ("name", po::value(&s.node.name)->value_name("NAME"), "this node's name, as the peers see it");
  // clang-format on
  add_discovery_options(options, s.discovery, true);
  return options;
}

void finish_settings(PeersSettings& s) {
  finish_discovery(s.discovery, s.node, true);
  if (s.min < 0) throw UsageError("--min must be 0 or more");
  if (s.wait_seconds < 0) {
    s.wait = s.node.discovery.interval * 3 / 2;
  } else {
    s.wait = seconds_flag("--wait", s.wait_seconds);
  }
  if (s.node.name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    s.node.name = "weft-peers@" + std::string(host[0] != '\0' ? host : "host") + "-" + std::to_string(::getpid());
  }
  s.node.linger = std::chrono::milliseconds(100);
}

std::string hex_id(std::uint64_t id) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

std::string format_age(std::chrono::milliseconds age) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(age.count()) / 1000.0);
  return text;
}

std::string endpoint_list(const PeerInfo& peer) {
  std::string out;
  for (const auto& endpoint : peer.endpoints) {
    if (!out.empty()) out += ' ';
    out += endpoint.kind == "publish" ? endpoint.uri : endpoint.kind + "=" + endpoint.uri;
  }
  return out.empty() ? "-" : out;
}

void append_peer_json(std::string& out, const PeerInfo& peer) {
  out += "\"name\":";
  append_json_string(out, peer.name);
  out += ",\"id\":\"" + hex_id(peer.id) + "\",\"incarnation\":" + std::to_string(peer.incarnation) + ",\"host\":";
  append_json_string(out, peer.host);
  out += ",\"endpoints\":[";
  for (std::size_t i = 0; i < peer.endpoints.size(); ++i) {
    if (i != 0) out += ',';
    out += "{\"kind\":";
    append_json_string(out, peer.endpoints[i].kind);
    out += ",\"uri\":";
    append_json_string(out, peer.endpoints[i].uri);
    out += '}';
  }
  out += "],\"connected\":";
  append_json_string(out, peer.connected);
  out += ",\"same_host\":";
  out += peer.same_host ? "true" : "false";
  out += ",\"age_ms\":" + std::to_string(peer.age.count()) + ",\"state\":";
  append_json_string(out, to_string(peer.state));
}

void print_json(const std::vector<PeerInfo>& peers) {
  for (const PeerInfo& peer : peers) {
    std::string line = "{";
    append_peer_json(line, peer);
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
}

void print_table(const std::vector<PeerInfo>& peers) {
  std::size_t name_width = 4;
  std::size_t host_width = 4;
  for (const PeerInfo& peer : peers) {
    name_width = std::max(name_width, peer.name.size());
    host_width = std::max(host_width, peer.host.size());
  }
  const int nw = static_cast<int>(name_width);
  const int hw = static_cast<int>(host_width);
  std::printf("%-*s  %-16s  %-*s  %6s  %-9s  %s\n", nw, "NAME", "ID", hw, "HOST", "AGE", "STATE", "ENDPOINTS");
  for (const PeerInfo& peer : peers) {
    std::printf("%-*s  %-16s  %-*s  %6s  %-9s  %s\n", nw, peer.name.c_str(), hex_id(peer.id).c_str(), hw,
                peer.host.c_str(), format_age(peer.age).c_str(), std::string(to_string(peer.state)).c_str(),
                endpoint_list(peer).c_str());
  }
  if (peers.empty()) std::printf("(no peers)\n");
}

std::size_t alive(const std::vector<PeerInfo>& peers) {
  std::size_t n = 0;
  for (const PeerInfo& peer : peers) n += peer.state == PeerState::kAlive ? 1 : 0;
  return n;
}

// --watch --json: the node's peer events as they come, one object per line.
struct EventPrinter {
  std::mutex mutex;
  void print(const PeerEvent& event) {
    std::string line = "{\"event\":";
    append_json_string(line, to_string(event.kind));
    line += ",\"reason\":";
    append_json_string(line, to_string(event.reason));
    line += ',';
    append_peer_json(line, event.peer);
    line += "}\n";
    std::lock_guard lock(mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
};

int run(PeersSettings& s) {
  StopSignals stop;
  EventPrinter events;
  if (s.watch && s.json) s.node.on_peer = [&events](const PeerEvent& event) { events.print(event); };
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  print_discovery(s.node);

  const auto interval = s.node.discovery.interval;
  if (s.watch) {
    if (s.json) {
      (void)stop.wait_until(StopSignals::Deadline::max());
      return kExitOk;
    }
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    auto next = Clock::now() + std::min(s.wait, std::chrono::milliseconds(interval));
    while (stop.wait_until(next) != StopSignals::Wake::kStop) {
      if (tty) std::printf("\033[H\033[2J");
      auto peers = node->peers();
      std::printf("%zu peer(s) in cluster %s\n", alive(peers), s.node.discovery.cluster.c_str());
      print_table(peers);
      if (!tty) std::printf("\n");
      std::fflush(stdout);
      next += interval;
    }
    return kExitOk;
  }

  const auto deadline = Clock::now() + s.wait;
  const auto slice = std::chrono::milliseconds(20);
  while (Clock::now() < deadline) {
    if (s.min > 0 && alive(node->peers()) >= static_cast<std::size_t>(s.min)) break;
    if (stop.wait_until(std::min(deadline, Clock::now() + slice)) == StopSignals::Wake::kStop) break;
  }
  auto peers = node->peers();
  if (s.json) {
    print_json(peers);
  } else {
    print_table(peers);
  }
  std::fflush(stdout);
  if (s.min > 0 && alive(peers) < static_cast<std::size_t>(s.min)) {
    return report_failure(kVerb, "found " + std::to_string(alive(peers)) + " peer(s), fewer than --min " +
                                     std::to_string(s.min));
  }
  return kExitOk;
}

}  // namespace

int run_peers(int argc, char** argv) {
  PeersSettings s;
  po::options_description visible = visible_options(s);
  po::positional_options_description positional;
  try {
    po::variables_map values = parse_arguments(argc, argv, visible, positional);
    if (values.count("help") != 0) {
      std::cout << kHelpIntro << visible << kHelpOutro << kDiscoveryHelp;
      return kExitOk;
    }
    finish_settings(s);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  }
  return run(s);
}

}  // namespace weft::cli
