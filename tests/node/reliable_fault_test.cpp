// At-least-once faults a network cannot aim at, in one process over real sockets: the subscriber's transport is
// wrapped (weft_testing/faulty_transport.hpp) so that it loses chosen control messages on their way out. The
// faults that a network can cause are in tests/integration/cli_reliable_test.sh and tests/netns/.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "node/node_core.hpp"
#include "weft/node.hpp"
#include "weft_testing/faulty_transport.hpp"
#include "weft_testing/wait.hpp"

namespace weft {
namespace {

using namespace std::chrono_literals;
using detail::control::Kind;
using testing::ControlFaults;
using testing::FaultyTransport;
using testing::wait_until;

NodeOptions quiet(NodeOptions o) {
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

// How many times a handler saw each payload.
class Calls {
 public:
  void add(std::string_view payload) {
    std::lock_guard lock(mutex_);
    ++seen_[std::string(payload)];
  }
  [[nodiscard]] std::size_t unique() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  [[nodiscard]] std::size_t total() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [payload, times] : seen_) n += static_cast<std::size_t>(times);
    return n;
  }
  [[nodiscard]] std::size_t lost(int sent) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (int i = 0; i < sent; ++i) n += seen_.count(std::to_string(i)) == 0 ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> seen_;
};

// Acknowledgements alone are lost from subscriber to publisher (deliveries, heartbeats and everything else
// pass) until every message was delivered again at least once: the publisher's ack waits run out and it
// redelivers; the subscriber recognises each redelivery as one it handled, acknowledges it unseen, and no
// handler runs twice. Once acknowledgements pass again everything settles.
TEST(AtLeastOnceFaults, LostAcknowledgementsAreRedeliveredButNoHandlerSeesAMessageTwice) {
  NodeOptions po;
  po.bind = {"tcp://127.0.0.1:*"};
  po.overflow = OverflowPolicy::kBlock;
  Node publisher(quiet(po));
  auto faults = std::make_shared<ControlFaults>();
  NodeOptions so;
  so.connect = publisher.endpoints();
  auto subscriber = std::make_shared<detail::NodeCore>(quiet(so), std::make_unique<FaultyTransport>(faults));
  Calls calls;
  SubscribeOptions durable;
  durable.durable = "acks-lost";
  durable.ack_wait = 300ms;
  durable.max_deliver = 1000;  // redelivered for as long as the fault lasts, never dead-lettered
  auto sub = subscriber
                 ->subscribe(
                     "acks.>", [&](const Message& m) { calls.add(m.payload_text()); }, durable)
                 .value();
  ASSERT_TRUE(publisher.wait_for_subscribers("acks.x", 1, 5s).is_ok());

  constexpr int kCount = 500;  // under the subscription's credit (max_in_flight): all are in flight at once
  faults->drop_outgoing(Kind::kAck, true);
  PublishOptions once;
  once.delivery = Delivery::kAtLeastOnce;
  once.timeout = 30s;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(publisher.publish("acks.x", std::to_string(i), {}, once).is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.unique() == kCount; }, 15s)) << calls.unique() << " handled";
  // The fault lasts until the subscriber has recognised at least as many redeliveries as were sent.
  auto recognised = [&] {
    const ReliableStats r = subscriber->stats().reliable;
    return r.duplicates + r.suppressed;
  };
  ASSERT_TRUE(wait_until([&] { return recognised() >= kCount; }, 15s)) << recognised() << " recognised";
  EXPECT_EQ(publisher.wait_for_acknowledgements(0ms).code(), ErrorCode::kTimeout) << "settled with acks lost";
  faults->drop_outgoing(Kind::kAck, false);
  ASSERT_TRUE(publisher.wait_for_acknowledgements(15s).is_ok());

  const ReliableStats ps = publisher.stats().reliable;
  const ReliableStats ss = subscriber->stats().reliable;
  const std::size_t lost = calls.lost(kCount);
  std::printf(
      "acks_lost: sent=%d received=%zu unique=%zu duplicates=%zu lost=%zu (acks dropped %llu, "
      "deliveries received %llu, redelivered %llu, recognised as duplicates %llu + suppressed %llu)\n",
      kCount, calls.total(), calls.unique(), calls.total() - calls.unique(), lost,
      static_cast<unsigned long long>(faults->dropped(Kind::kAck)), static_cast<unsigned long long>(ss.received),
      static_cast<unsigned long long>(ps.redelivered), static_cast<unsigned long long>(ss.duplicates),
      static_cast<unsigned long long>(ss.suppressed));
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(calls.total(), static_cast<std::size_t>(kCount)) << "a handler saw a message twice";
  EXPECT_GE(ps.redelivered, static_cast<std::uint64_t>(kCount));
  EXPECT_GE(ss.duplicates + ss.suppressed, static_cast<std::uint64_t>(kCount));
  EXPECT_GE(faults->dropped(Kind::kAck), 1u);
  EXPECT_EQ(ps.acknowledged, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.dead_lettered, 0u);
}

}  // namespace
}  // namespace weft
