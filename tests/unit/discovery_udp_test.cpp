// Discovery over real UDP sockets on this machine: unicast through a seed, with the beacon port shared by both
// agents (SO_REUSEPORT), and multicast when the kernel delivers it here (skipped, saying why, when it does not). No fixed ports: the
// first agent binds a free beacon port and the others share it. Waits are poll(2) on the agents' descriptors
// until their deadlines, bounded by a real-time limit; never fixed sleeps.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <memory>
#include <vector>

#include "discovery/discovery.hpp"
#include "discovery/udp_socket.hpp"

namespace weft::detail {
namespace {

using namespace std::chrono_literals;

Clock::TimePoint now() { return SystemClock::instance().now(); }

struct Agent {
  LocalNodeInfo self;
  std::unique_ptr<Discovery> discovery;
  std::vector<DiscoveryEvent> events;
};

std::unique_ptr<Agent> make_agent(PosixDatagramNetwork& network, std::uint64_t id, DiscoveryOptions options,
                                  std::string endpoint) {
  auto agent = std::make_unique<Agent>();
  agent->self.id = id;
  agent->self.incarnation = static_cast<std::uint64_t>(SystemClock::instance().wall_ns());
  agent->self.name = "udp-" + std::to_string(id);
  agent->self.endpoints = {{EndpointKind::kPublish, std::move(endpoint)}};
  options.interval = 100ms;  // real time: keep the test short
  agent->discovery = std::make_unique<Discovery>(options, agent->self, probe_host(), network);
  return agent;
}

// Polls every agent's descriptors until the earliest deadline, steps them all, until `done` or `limit`.
bool run_until(std::vector<Agent*> agents, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto give_up = now() + limit;
  while (!done()) {
    if (now() >= give_up) return false;
    std::vector<pollfd> fds;
    auto deadline = give_up;
    for (Agent* agent : agents) {
      for (int fd : agent->discovery->fds()) fds.push_back({fd, POLLIN, 0});
      deadline = std::min(deadline, agent->discovery->next_deadline());
    }
    deadline = std::max(deadline, now());  // a deadline in the past means "now"
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now());
    ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<std::int64_t>(wait.count() + 1, 0, 100)));
    for (Agent* agent : agents) {
      agent->discovery->do_work(now());
      while (auto event = agent->discovery->next_event()) agent->events.push_back(std::move(*event));
    }
  }
  return true;
}

bool sees(const Agent& agent, const Agent& other) {
  for (const auto& peer : agent.discovery->peers()) {
    if (peer.id == other.self.id && peer.incarnation == other.self.incarnation) return true;
  }
  return false;
}

TEST(DiscoveryUdp, TwoAgentsFindEachOtherThroughASeedOnLoopback) {
  PosixDatagramNetwork network;
  DiscoveryOptions first;
  first.multicast = false;
  first.port = 0;  // a free beacon port
  auto a = make_agent(network, 0xa, first, "tcp://127.0.0.1:41001");
  const std::uint16_t port = a->discovery->beacon_address().port;
  ASSERT_NE(port, 0);

  DiscoveryOptions second;
  second.multicast = false;
  second.port = port;  // shares the beacon port (SO_REUSEPORT)
  // On the same host, the seed must name a's own unicast socket: the shared port would deliver b's request to
  // one socket of the port, maybe b's own (the agent warns when that happens).
  second.seeds = {"127.0.0.1:" + std::to_string(a->discovery->unicast_address().port)};
  auto b = make_agent(network, 0xb, second, "tcp://127.0.0.1:41002");

  ASSERT_TRUE(run_until({a.get(), b.get()}, [&] { return sees(*a, *b) && sees(*b, *a); }, 5s))
      << "a: " << a->discovery->stats().datagrams_received << " datagrams, b: "
      << b->discovery->stats().datagrams_received;
  // Same process, same namespaces: the loopback endpoint is kept and comes first.
  auto peers = a->discovery->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers[0].same_host);
  ASSERT_NE(peers[0].preferred(EndpointKind::kPublish), nullptr);
  EXPECT_EQ(peers[0].preferred(EndpointKind::kPublish)->uri, "tcp://127.0.0.1:41002");
  EXPECT_EQ(a->discovery->stats().dropped_total(), a->discovery->stats().dropped_own);

  // A goodbye over the wire.
  b->discovery->leave(now());
  ASSERT_TRUE(run_until({a.get()}, [&] { return a->discovery->peers().empty(); }, 2s));
  EXPECT_EQ(a->events.back().reason, PeerLeftReason::kDeparted);
}

TEST(DiscoveryUdp, ASeedThatNamesThisHostsSharedPortEitherWorksOrIsReported) {
  PosixDatagramNetwork network;
  DiscoveryOptions options;
  options.multicast = false;
  options.port = 0;
  auto a = make_agent(network, 0xa, options, "tcp://127.0.0.1:41005");
  options.port = a->discovery->beacon_address().port;
  options.seeds = {"127.0.0.1"};  // the shared port: the kernel picks a's socket or b's own
  std::vector<std::string> log;
  auto b = std::make_unique<Agent>();
  b->self = {0xb, static_cast<std::uint64_t>(SystemClock::instance().wall_ns()), "udp-b",
             {{EndpointKind::kPublish, "tcp://127.0.0.1:41006"}}};
  options.interval = 100ms;
  b->discovery = std::make_unique<Discovery>(options, b->self, probe_host(), network,
                                             [&log](LogLevel, std::string_view line) { log.emplace_back(line); });
  auto warned = [&] {
    return std::any_of(log.begin(), log.end(),
                       [](const std::string& l) { return l.find("reached this node itself") != std::string::npos; });
  };
  EXPECT_TRUE(run_until({a.get(), b.get()}, [&] { return sees(*b, *a) || warned(); }, 3s));
}

// Whether this kernel delivers multicast sent here back to a socket here.
bool multicast_loops_back(PosixDatagramNetwork& network, Ip4 group, std::string& why) {
  DatagramSocketOptions receiver_options;
  receiver_options.reuse_port = true;
  auto receiver = network.open(receiver_options);
  auto sender = network.open({});
  if (!receiver || !sender) {
    why = "cannot open sockets";
    return false;
  }
  Status joined = receiver.value()->join_group(group, kIp4Any);
  if (!joined) joined = receiver.value()->join_group(group, kIp4Loopback);
  if (!joined) {
    why = joined.message();
    return false;
  }
  const std::byte ping[] = {std::byte{'p'}};
  Status sent = sender.value()->send_to(ping, {group, receiver.value()->local_address().port});
  if (!sent) {
    why = sent.message();
    return false;
  }
  pollfd fd{receiver.value()->fd(), POLLIN, 0};
  if (::poll(&fd, 1, 1000) != 1) {
    why = "a multicast datagram sent on this host did not come back within 1 s";
    return false;
  }
  return true;
}

TEST(DiscoveryUdp, TwoAgentsFindEachOtherByMulticast) {
  PosixDatagramNetwork network;
  const Ip4 group = *parse_ip4("239.255.76.51");
  std::string why;
  if (!multicast_loops_back(network, group, why)) {
    GTEST_SKIP() << "multicast is not available on this machine (" << why
                 << "); discovery falls back to seeds and broadcast there";
  }
  DiscoveryOptions options;
  options.multicast_group = "239.255.76.51";
  options.port = 0;
  auto a = make_agent(network, 0xa, options, "tcp://*:41003");
  ASSERT_TRUE(a->discovery->stats().multicast_active);
  options.port = a->discovery->beacon_address().port;
  auto b = make_agent(network, 0xb, options, "tcp://*:41004");
  ASSERT_TRUE(run_until({a.get(), b.get()}, [&] { return sees(*a, *b) && sees(*b, *a); }, 5s));
  auto peers = b->discovery->peers();
  ASSERT_EQ(peers.size(), 1u);
  // Same host: the loopback form of the wildcard bind comes first.
  EXPECT_EQ(peers[0].preferred(EndpointKind::kPublish)->uri, "tcp://127.0.0.1:41003");
}

}  // namespace
}  // namespace weft::detail
