// The datagram seam's contract, run against both implementations: real POSIX sockets on this machine and the
// in-memory fake network. What discovery relies on must hold for both, or the fake tests prove nothing.
#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "discovery/udp_socket.hpp"
#include "discovery_fake_network.hpp"

namespace weft::detail {
namespace {

struct Implementation {
  std::string name;
  std::function<DatagramNetwork&()> network;
  std::shared_ptr<void> keep_alive;
};

Implementation posix() {
  auto network = std::make_shared<PosixDatagramNetwork>();
  return {"posix", [network]() -> DatagramNetwork& { return *network; }, network};
}

Implementation fake() {
  auto network = std::make_shared<testing::FakeDatagramNetwork>();
  DatagramNetwork* host = &network->add_host(*parse_ip4("10.0.0.1"));
  return {"fake", [host]() -> DatagramNetwork& { return *host; }, network};
}

class DatagramContract : public ::testing::TestWithParam<Implementation (*)()> {
 protected:
  void SetUp() override { implementation_ = GetParam()(); }

  std::unique_ptr<DatagramSocket> open(DatagramSocketOptions options = {}) {
    auto socket = implementation_.network().open(options);
    EXPECT_TRUE(socket.is_ok()) << socket.status().to_string();
    return socket.is_ok() ? std::move(socket.value()) : nullptr;
  }

  // The next datagram, waiting up to a second for real sockets (the fake delivers at once).
  std::optional<ReceivedDatagram> receive(DatagramSocket& socket, std::span<std::byte> buffer) {
    if (socket.fd() >= 0) {
      pollfd fd{socket.fd(), POLLIN, 0};
      ::poll(&fd, 1, 1000);
    }
    auto received = socket.receive(buffer);
    EXPECT_TRUE(received.is_ok()) << received.status().to_string();
    return received.is_ok() ? received.value() : std::nullopt;
  }

  Implementation implementation_;
};

std::span<const std::byte> text(std::string_view s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

TEST_P(DatagramContract, APortZeroBindPicksAFreePort) {
  auto socket = open();
  ASSERT_NE(socket, nullptr);
  EXPECT_NE(socket->local_address().port, 0);
}

TEST_P(DatagramContract, ADatagramArrivesWithItsSenderAndDestination) {
  auto receiver = open();
  auto sender = open();
  std::array<std::byte, 64> buffer{};
  EXPECT_FALSE(receiver->receive(buffer).value().has_value());  // nothing yet: empty, not an error
  ASSERT_TRUE(sender->send_to(text("hello"), {kIp4Loopback, receiver->local_address().port}));
  auto datagram = receive(*receiver, buffer);
  ASSERT_TRUE(datagram.has_value());
  EXPECT_EQ(datagram->size, 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(buffer.data()), 5), "hello");
  EXPECT_EQ(datagram->from, (UdpAddress{kIp4Loopback, sender->local_address().port}));
  EXPECT_EQ(datagram->destination, kIp4Loopback);
}

TEST_P(DatagramContract, ATruncatedDatagramReportsItsRealLength) {
  auto receiver = open();
  auto sender = open();
  const std::string long_text(1500, 'x');
  ASSERT_TRUE(sender->send_to(text(long_text), {kIp4Loopback, receiver->local_address().port}));
  std::array<std::byte, 100> buffer{};
  auto datagram = receive(*receiver, buffer);
  ASSERT_TRUE(datagram.has_value());
  EXPECT_EQ(datagram->size, 1500u);
}

TEST_P(DatagramContract, APortIsSharedOnlyWhenEverySocketAsksForReuse) {
  auto first = open();
  DatagramSocketOptions same;
  same.bind.port = first->local_address().port;
  EXPECT_FALSE(implementation_.network().open(same).is_ok());

  DatagramSocketOptions shared;
  shared.reuse_port = true;
  auto a = open(shared);
  shared.bind.port = a->local_address().port;
  auto b = open(shared);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->local_address().port, a->local_address().port);
}

TEST_P(DatagramContract, MulticastReachesEverySocketOfThePortThatJoined) {
  DatagramSocketOptions shared;
  shared.reuse_port = true;
  auto a = open(shared);
  shared.bind.port = a->local_address().port;
  auto b = open(shared);
  auto sender = open();
  const Ip4 group = *parse_ip4("239.255.76.52");
  Status joined = a->join_group(group, kIp4Any);
  if (!joined) joined = a->join_group(group, kIp4Loopback);
  if (!joined) GTEST_SKIP() << "multicast is not available here: " << joined.message();
  ASSERT_TRUE(b->join_group(group, kIp4Any) || b->join_group(group, kIp4Loopback));
  Status sent = sender->send_to(text("beacon"), {group, a->local_address().port});
  if (!sent) GTEST_SKIP() << "multicast is not available here: " << sent.message();
  std::array<std::byte, 64> buffer{};
  for (DatagramSocket* socket : {a.get(), b.get()}) {
    auto datagram = receive(*socket, buffer);
    if (!datagram && socket->fd() >= 0) GTEST_SKIP() << "multicast does not loop back on this machine";
    ASSERT_TRUE(datagram.has_value());
    EXPECT_EQ(datagram->destination, group);
  }
}

TEST_P(DatagramContract, BroadcastNeedsTheBroadcastOption) {
  auto receiver = open();
  auto sender = open();
  EXPECT_FALSE(sender->send_to(text("x"), {kIp4Broadcast, receiver->local_address().port}));
}

INSTANTIATE_TEST_SUITE_P(Implementations, DatagramContract, ::testing::Values(&posix, &fake),
                         [](const ::testing::TestParamInfo<Implementation (*)()>& param) {
                           return param.param == &posix ? std::string("Posix") : std::string("Fake");
                         });

}  // namespace
}  // namespace weft::detail
