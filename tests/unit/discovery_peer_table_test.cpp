// The peer table's rules, one by one, with exact times: what makes a peer alive, what expires it, what a newer
// incarnation does, and why gossip cannot bring back the dead.
#include "discovery/peer_table.hpp"

#include <gtest/gtest.h>

namespace weft::detail {
namespace {

using namespace std::chrono_literals;
using Kind = DiscoveryEvent::Kind;
using TimePoint = Clock::TimePoint;

constexpr std::uint64_t kSelf = 1;
constexpr std::uint64_t kPeer = 42;
const UdpAddress kFrom{0x0a000002, 40000};
const UdpAddress kElsewhere{0x0a000003, 40001};

class PeerTableTest : public ::testing::Test {
 protected:
  PeerTableTest() : table_({kSelf, 3, 8, 1s}, host_, stats_, [this](std::string line) { notes_.push_back(line); }) {
    host_.ipc_scope = 100;
    host_.net_scope = 200;
    body_.name = "peer";
    body_.host = "h";
    body_.ipc_scope = 7;
    body_.net_scope = 8;
    body_.generation = 1;
    body_.interval_ms = 1000;
    body_.endpoints = {{0, "tcp://*:5555"}};
  }

  DatagramHeader header(std::uint64_t incarnation, std::uint64_t id = kPeer) {
    DatagramHeader h;
    h.cluster = "weft";
    h.sender = id;
    h.incarnation = incarnation;
    return h;
  }

  PeerTable::Verdict beacon(std::uint64_t incarnation, UdpAddress from = kFrom) {
    return table_.on_beacon(header(incarnation), body_, from, false, now_);
  }

  std::vector<ProbeRequest> tick() {
    std::vector<ProbeRequest> probes;
    table_.tick(now_, 1s, 64, probes);
    return probes;
  }

  std::vector<DiscoveryEvent> events() {
    std::vector<DiscoveryEvent> out(table_.events().begin(), table_.events().end());
    table_.events().clear();
    return out;
  }

  PeerState state(std::uint64_t id = kPeer) { return table_.find(id)->state; }

  HostInfo host_;
  DiscoveryStats stats_;
  std::vector<std::string> notes_;
  PeerTable table_;
  BeaconBody body_;
  TimePoint now_{std::chrono::seconds(100)};
};

TEST_F(PeerTableTest, ABeaconFromThePeerItselfMakesItAliveWithItsEndpointsSelected) {
  EXPECT_EQ(beacon(1), PeerTable::Verdict::kAccepted);
  auto e = events();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, Kind::kJoined);
  EXPECT_EQ(e[0].peer.name, "peer");
  EXPECT_EQ(e[0].peer.endpoints.at(0).uri, "tcp://10.0.0.2:5555");
  EXPECT_EQ(e[0].peer.discovery_address, kFrom);
  EXPECT_EQ(table_.alive_count(), 1u);
  // The same beacon again: nothing new.
  now_ += 1s;
  EXPECT_EQ(beacon(1), PeerTable::Verdict::kAccepted);
  EXPECT_TRUE(events().empty());
}

TEST_F(PeerTableTest, ANewGenerationWithOtherEndpointsIsAnUpdate) {
  (void)beacon(1);
  (void)events();
  body_.generation = 2;
  body_.endpoints = {{0, "tcp://*:6666"}};
  now_ += 1s;
  (void)beacon(1);
  auto e = events();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, Kind::kUpdated);
  EXPECT_EQ(e[0].peer.endpoints.at(0).uri, "tcp://10.0.0.2:6666");
  // A new generation that changes nothing this node sees is no event.
  body_.generation = 3;
  (void)beacon(1);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(stats_.peers_updated, 1u);
}

TEST_F(PeerTableTest, AMultiHomedPeerDoesNotFlapBetweenItsAddresses) {
  // Its multicast beacons leave by one interface, its answers to probes by another.
  const UdpAddress by_group{0x0a000002, 40000};
  const UdpAddress by_unicast{0xc0a80002, 40000};
  EXPECT_EQ(table_.on_beacon(header(1), body_, by_group, true, now_), PeerTable::Verdict::kAccepted);
  for (int i = 0; i < 5; ++i) {
    now_ += 500ms;
    (void)table_.on_beacon(header(1), body_, by_unicast, false, now_);
    now_ += 500ms;
    (void)table_.on_beacon(header(1), body_, by_group, true, now_);
  }
  auto e = events();
  ASSERT_EQ(e.size(), 1u);  // the join, and no update
  EXPECT_EQ(table_.describe(*table_.find(kPeer)).endpoints.at(0).uri, "tcp://10.0.0.2:5555");
}

TEST_F(PeerTableTest, AnAlivePeerExpiresThreeAndAHalfIntervalsAfterItWasLastHeard) {
  (void)beacon(1);
  (void)events();
  const TimePoint last = now_;
  now_ = last + 3499ms;
  EXPECT_TRUE(tick().empty());
  EXPECT_EQ(state(), PeerState::kAlive);
  now_ = last + 3500ms;
  (void)tick();
  EXPECT_EQ(state(), PeerState::kGone);
  auto e = events();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, Kind::kLeft);
  EXPECT_EQ(e[0].reason, PeerLeftReason::kExpired);
  EXPECT_EQ(table_.alive_count(), 0u);
}

TEST_F(PeerTableTest, ExpiryFollowsThePeersOwnInterval) {
  body_.interval_ms = 4000;  // a peer of a big cluster, stretched
  (void)beacon(1);
  const TimePoint last = now_;
  now_ = last + 13s;
  (void)tick();
  EXPECT_EQ(state(), PeerState::kAlive);
  now_ = last + 14s;
  (void)tick();
  EXPECT_EQ(state(), PeerState::kGone);
}

TEST_F(PeerTableTest, TheDeadlineSaysWhenTickHasWork) {
  EXPECT_EQ(table_.next_deadline(), TimePoint::max());
  (void)beacon(1);
  EXPECT_LE(table_.next_deadline(), now_ + 3500ms);
  now_ += 3500ms;
  (void)tick();
  EXPECT_EQ(state(), PeerState::kGone);
  EXPECT_GT(table_.next_deadline(), now_);  // now the tombstone's end
}

TEST_F(PeerTableTest, AHigherIncarnationReplacesTheOldOneAndALowerOneIsStale) {
  (void)beacon(5);
  (void)events();
  now_ += 200ms;
  EXPECT_EQ(beacon(6, kElsewhere), PeerTable::Verdict::kAccepted);
  auto e = events();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].kind, Kind::kLeft);
  EXPECT_EQ(e[0].reason, PeerLeftReason::kRestarted);
  EXPECT_EQ(e[0].peer.incarnation, 5u);
  EXPECT_EQ(e[1].kind, Kind::kJoined);
  EXPECT_EQ(e[1].peer.incarnation, 6u);
  EXPECT_EQ(e[1].peer.discovery_address, kElsewhere);
  EXPECT_EQ(beacon(5), PeerTable::Verdict::kStale);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(table_.alive_count(), 1u);
}

TEST_F(PeerTableTest, AHeartbeatFromAStrangerOnlyAsksForItsBeacon) {
  EXPECT_EQ(table_.on_heartbeat(header(1), {1, 1000}, kFrom, false, now_), PeerTable::Verdict::kAccepted);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(state(), PeerState::kUnverified);
  auto probes = tick();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].to, kFrom);
  (void)beacon(1);  // the answer
  EXPECT_EQ(events().at(0).kind, Kind::kJoined);
  EXPECT_FALSE(table_.find(kPeer)->probe.has_value());
}

TEST_F(PeerTableTest, GossipLeadsToProbesNeverToAJoinAndUnansweredProbesGiveUp) {
  table_.on_gossip({kPeer, 1, kFrom, 100}, 9, 3500ms, now_);
  EXPECT_EQ(state(), PeerState::kUnverified);
  EXPECT_TRUE(events().empty());
  for (int i = 0; i < 3; ++i) {
    auto probes = tick();
    ASSERT_EQ(probes.size(), 1u) << i;
    EXPECT_EQ(probes[0].to, kFrom);
    now_ += 1s;
  }
  EXPECT_TRUE(tick().empty());
  EXPECT_EQ(state(), PeerState::kGone);
  EXPECT_EQ(stats_.peers_unreachable, 1u);
  EXPECT_TRUE(events().empty());  // never joined, so never left
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("did not answer at 10.0.0.2:40000"), std::string::npos);
  // More gossip about it is not believed until the tombstone lapses (10 windows)...
  table_.on_gossip({kPeer, 1, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_TRUE(tick().empty());
  now_ += 36s;
  (void)tick();
  EXPECT_EQ(table_.find(kPeer), nullptr);
  // ...then it is probed again.
  table_.on_gossip({kPeer, 1, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_EQ(tick().size(), 1u);
}

TEST_F(PeerTableTest, StaleGossipDoesNotBringBackAnExpiredPeer) {
  (void)beacon(1);
  const TimePoint last = now_;
  now_ += 3500ms;
  (void)tick();
  ASSERT_EQ(state(), PeerState::kGone);
  (void)events();
  // The gossiper heard it 3 s ago: half a second after this node last did. Not news.
  table_.on_gossip({kPeer, 1, kFrom, 3000}, 9, 3500ms, now_);
  EXPECT_EQ(state(), PeerState::kGone);
  EXPECT_EQ(stats_.gossip_entries_stale, 1u);
  // Older than the gossip window: not news either.
  table_.on_gossip({kPeer, 1, kFrom, 3600}, 9, 3500ms, now_);
  EXPECT_EQ(stats_.gossip_entries_stale, 2u);
  // An older incarnation: stale.
  table_.on_gossip({kPeer, 0, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_EQ(stats_.gossip_entries_stale, 3u);
  EXPECT_TRUE(tick().empty());
  // Heard 100 ms ago, 3.4 s after this node last did: worth a probe, but only its answer makes it alive.
  table_.on_gossip({kPeer, 1, kFrom, 100}, 9, 3500ms, now_);
  EXPECT_EQ(state(), PeerState::kUnverified);
  EXPECT_EQ(tick().size(), 1u);
  EXPECT_TRUE(events().empty());
  EXPECT_LT(last, now_);
}

TEST_F(PeerTableTest, APartitionedPeerComesBackByItsOwnBeacon) {
  (void)beacon(1);
  now_ += 3500ms;
  (void)tick();
  (void)events();
  now_ += 10s;
  EXPECT_EQ(beacon(1), PeerTable::Verdict::kAccepted);  // same incarnation: it was cut off, not dead
  EXPECT_EQ(events().at(0).kind, Kind::kJoined);
}

TEST_F(PeerTableTest, AfterAGoodbyeNothingOfThatIncarnationIsBelieved) {
  (void)beacon(1);
  (void)events();
  EXPECT_EQ(table_.on_bye(header(1), now_), PeerTable::Verdict::kAccepted);
  auto e = events();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].reason, PeerLeftReason::kDeparted);
  EXPECT_EQ(beacon(1), PeerTable::Verdict::kStale);  // sent before the goodbye, arrived after
  EXPECT_EQ(table_.on_heartbeat(header(1), {1, 1000}, kFrom, false, now_), PeerTable::Verdict::kStale);
  EXPECT_EQ(table_.on_bye(header(1), now_), PeerTable::Verdict::kStale);
  table_.on_gossip({kPeer, 1, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_EQ(state(), PeerState::kGone);
  EXPECT_TRUE(events().empty());
  EXPECT_EQ(beacon(2), PeerTable::Verdict::kAccepted);  // its next start is welcome
  EXPECT_EQ(events().at(0).kind, Kind::kJoined);
}

TEST_F(PeerTableTest, GossipOfANewerIncarnationProbesWithoutDroppingTheOldOne) {
  (void)beacon(1);
  (void)events();
  table_.on_gossip({kPeer, 2, kElsewhere, 0}, 9, 3500ms, now_);
  EXPECT_EQ(state(), PeerState::kAlive);
  EXPECT_EQ(table_.find(kPeer)->incarnation, 1u);
  auto probes = tick();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].to, kElsewhere);
  EXPECT_TRUE(events().empty());
}

TEST_F(PeerTableTest, GossipAboutItselfOrTheGossiperIsIgnored) {
  table_.on_gossip({kSelf, 1, kFrom, 0}, 9, 3500ms, now_);
  table_.on_gossip({9, 1, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(stats_.gossip_entries_ignored, 2u);
}

TEST_F(PeerTableTest, AFullTableDropsNewPeersButMakesRoomFromTombstones) {
  for (std::uint64_t id = 100; id < 108; ++id) {
    EXPECT_EQ(table_.on_beacon(header(1, id), body_, kFrom, false, now_), PeerTable::Verdict::kAccepted);
  }
  EXPECT_EQ(table_.on_beacon(header(1, 200), body_, kFrom, false, now_), PeerTable::Verdict::kTableFull);
  table_.on_gossip({201, 1, kFrom, 0}, 9, 3500ms, now_);
  EXPECT_EQ(table_.find(201), nullptr);
  EXPECT_EQ(table_.on_bye(header(1, 100), now_), PeerTable::Verdict::kAccepted);
  EXPECT_EQ(table_.on_beacon(header(1, 200), body_, kFrom, false, now_), PeerTable::Verdict::kAccepted);
  EXPECT_EQ(table_.size(), 8u);
}

}  // namespace
}  // namespace weft::detail
