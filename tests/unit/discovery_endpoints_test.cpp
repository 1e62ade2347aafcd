// What a node advertises, what a peer keeps of it, how "same host" is decided, and the small parsers.
#include "discovery/endpoints.hpp"

#include <gtest/gtest.h>

#include "discovery/discovery.hpp"
#include "discovery/host_info.hpp"
#include "discovery/udp_address.hpp"

namespace weft::detail {
namespace {

HostInfo host(std::string name, std::uint64_t ipc, std::uint64_t net) {
  HostInfo h;
  h.hostname = std::move(name);
  h.ipc_scope = ipc;
  h.net_scope = net;
  h.working_directory = "/srv/app";
  return h;
}

std::vector<std::string> uris(const std::vector<AdvertisedEndpoint>& endpoints) {
  std::vector<std::string> out;
  for (const auto& e : endpoints) out.push_back(e.uri);
  return out;
}

std::vector<std::string> uris(const std::vector<PeerEndpoint>& endpoints) {
  std::vector<std::string> out;
  for (const auto& e : endpoints) out.push_back(e.uri);
  return out;
}

std::vector<EndpointRef> refs(const std::vector<AdvertisedEndpoint>& endpoints) {
  std::vector<EndpointRef> out;
  for (const auto& e : endpoints) out.push_back({e.kind, e.uri});
  return out;
}

using V = std::vector<std::string>;
constexpr auto kPublish = EndpointKind::kPublish;

TEST(DiscoveryEndpoints, WildcardBindsAreAdvertisedAsTheObservedAddressPlusLoopback) {
  HostInfo h = host("a", 1, 2);
  std::vector<LocalEndpoint> bound = {{kPublish, "tcp://0.0.0.0:5555"}, {kPublish, "tcp://*:5556"},
                                      {kPublish, "tcp://[::]:5557"}};
  EXPECT_EQ(uris(advertise_endpoints(bound, h, {})),
            (V{"tcp://*:5555", "tcp://127.0.0.1:5555", "tcp://*:5556", "tcp://127.0.0.1:5556", "tcp://*:5557",
               "tcp://[::1]:5557"}));
}

TEST(DiscoveryEndpoints, TheOperatorsAddressOrTheInterfaceReplacesWildcardsAndConcreteHosts) {
  HostInfo h = host("a", 1, 2);
  std::vector<LocalEndpoint> bound = {{kPublish, "tcp://0.0.0.0:5555"}, {kPublish, "tcp://172.17.0.2:6000"},
                                      {kPublish, "tcp://127.0.0.1:7000"}};
  EXPECT_EQ(uris(advertise_endpoints(bound, h, {"203.0.113.9", 0})),
            (V{"tcp://203.0.113.9:5555", "tcp://127.0.0.1:5555", "tcp://203.0.113.9:6000", "tcp://127.0.0.1:7000"}));
  EXPECT_EQ(uris(advertise_endpoints(bound, h, {"", *parse_ip4("192.0.2.2")})),
            (V{"tcp://192.0.2.2:5555", "tcp://127.0.0.1:5555", "tcp://172.17.0.2:6000", "tcp://127.0.0.1:7000"}));
}

TEST(DiscoveryEndpoints, IpcPathsAreMadeAbsoluteAndInprocIsNeverAdvertised) {
  HostInfo h = host("a", 1, 2);
  std::vector<LocalEndpoint> bound = {{kPublish, "ipc://run/node.sock"}, {kPublish, "ipc:///tmp/x.sock"},
                                      {kPublish, "ipc://@abstract"},     {kPublish, "inproc://local"},
                                      {kPublish, "ipc://*"},             {kPublish, "ws://host:80/path"}};
  EXPECT_EQ(uris(advertise_endpoints(bound, h, {})),
            (V{"ipc:///srv/app/run/node.sock", "ipc:///tmp/x.sock", "ipc://@abstract", "ws://host:80/path"}));
}

TEST(DiscoveryEndpoints, SameHostPeersGetIpcFirstThenLoopbackThenTheObservedAddress) {
  HostInfo mine = host("a", 1, 2);
  std::vector<LocalEndpoint> bound = {{kPublish, "tcp://*:5555"},
                                      {kPublish, "ipc:///run/weft/b.sock"},
                                      {EndpointKind::kControl, "tcp://10.9.9.9:7000"},
                                      {EndpointKind::kWorkQueue, "ipc://@queue"}};
  auto advertised = advertise_endpoints(bound, mine, {});
  auto refs_ = refs(advertised);
  const Ip4 observed = *parse_ip4("192.0.2.7");

  // Same kernel, same mount and network namespaces.
  EXPECT_EQ(uris(select_endpoints(refs_, {1, 2}, mine, observed)),
            (V{"ipc:///run/weft/b.sock", "tcp://127.0.0.1:5555", "tcp://192.0.2.7:5555", "ipc://@queue",
               "tcp://10.9.9.9:7000"}));
  // Another container on the same kernel: its own namespaces, no ipc, no loopback.
  EXPECT_EQ(uris(select_endpoints(refs_, {3, 4}, mine, observed)), (V{"tcp://192.0.2.7:5555", "tcp://10.9.9.9:7000"}));
  // Another container of the same pod: shared network namespace, separate filesystem.
  EXPECT_EQ(uris(select_endpoints(refs_, {3, 2}, mine, observed)),
            (V{"tcp://127.0.0.1:5555", "tcp://192.0.2.7:5555", "ipc://@queue", "tcp://10.9.9.9:7000"}));
  // Nothing observed yet (a description relayed without a datagram): the wildcard cannot be used.
  EXPECT_EQ(uris(select_endpoints(refs_, {3, 4}, mine, 0)), (V{"tcp://10.9.9.9:7000"}));
}

TEST(DiscoveryEndpoints, UnknownKindsAndDuplicatesAreDropped) {
  HostInfo mine = host("a", 1, 2);
  std::vector<EndpointRef> advertised = {{0, "tcp://*:1"}, {0, "tcp://192.0.2.7:1"}, {9, "tcp://192.0.2.7:2"},
                                         {0, "inproc://x"}};
  auto selected = select_endpoints(advertised, {3, 4}, mine, *parse_ip4("192.0.2.7"));
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].reach, EndpointReach::kObserved);
}

TEST(DiscoveryEndpoints, HostScopesAreStableAndTheOverrideWorks) {
  HostInfo a = probe_host();
  HostInfo b = probe_host();
  EXPECT_NE(a.ipc_scope, 0u);
  EXPECT_NE(a.net_scope, 0u);
  EXPECT_EQ(a.ipc_scope, b.ipc_scope);
  EXPECT_EQ(a.net_scope, b.net_scope);
  EXPECT_NE(a.ipc_scope, a.net_scope);  // two questions, two answers
  EXPECT_FALSE(a.hostname.empty());
  EXPECT_TRUE(a.find_interface("lo").has_value() || a.find_interface("127.0.0.1").has_value());
  HostInfo forced = probe_host("rack-7");
  EXPECT_EQ(forced.ipc_scope, forced.net_scope);
  EXPECT_EQ(forced.ipc_scope, probe_host("rack-7").ipc_scope);
  EXPECT_NE(forced.ipc_scope, a.ipc_scope);
  EXPECT_EQ(scope_hash("x"), scope_hash("x"));
  EXPECT_NE(scope_hash("x"), scope_hash("y"));
}

TEST(DiscoveryEndpoints, AddressesParseStrictly) {
  EXPECT_EQ(parse_ip4("192.0.2.7"), 0xc0000207u);
  EXPECT_EQ(parse_ip4("0.0.0.0"), 0u);
  EXPECT_EQ(parse_ip4("255.255.255.255"), 0xffffffffu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "a.b.c.d", "1..2.3", "::1", "1.2.3.-4"}) {
    EXPECT_FALSE(parse_ip4(bad).has_value()) << bad;
  }
  EXPECT_EQ(parse_udp_address("10.0.0.1:7650", 1), (UdpAddress{0x0a000001, 7650}));
  EXPECT_EQ(parse_udp_address("10.0.0.1", 7650), (UdpAddress{0x0a000001, 7650}));
  EXPECT_FALSE(parse_udp_address("10.0.0.1:0", 1).has_value());
  EXPECT_FALSE(parse_udp_address("10.0.0.1:65536", 1).has_value());
  EXPECT_FALSE(parse_udp_address("host:80", 1).has_value());
  EXPECT_EQ((UdpAddress{0x0a000001, 7650}).to_string(), "10.0.0.1:7650");
}

TEST(DiscoveryEndpoints, SeedListsSplitAndResolve) {
  EXPECT_EQ(split_seed_list(" a:1, b ,,c:3 "), (V{"a:1", "b", "c:3"}));
  EXPECT_TRUE(split_seed_list("").empty());
  auto numeric = resolve_seed("10.1.2.3:7000", 7650);
  ASSERT_TRUE(numeric.is_ok());
  EXPECT_EQ(numeric.value(), (std::vector<UdpAddress>{{0x0a010203, 7000}}));
  auto local = resolve_seed("localhost", 7650);
  ASSERT_TRUE(local.is_ok()) << local.status().to_string();
  EXPECT_EQ(local.value().front(), (UdpAddress{kIp4Loopback, 7650}));
  EXPECT_EQ(resolve_seed("localhost:http", 1).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_seed(":7000", 1).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace weft::detail
