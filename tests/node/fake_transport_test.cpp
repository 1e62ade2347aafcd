// The node over the in-memory transport: exact control of what the "network" refuses and delivers.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "node/node_core.hpp"
#include "weft_testing/fake_transport.hpp"
#include "weft_testing/wait.hpp"

namespace weft {
namespace {

using namespace std::chrono_literals;
using testing::FakeNetwork;
using testing::FakeTransport;
using testing::wait_until;

std::shared_ptr<detail::NodeCore> make_node(const std::shared_ptr<FakeNetwork>& network, OverflowPolicy policy) {
  NodeOptions o;
  o.name = "fake";
  o.overflow = policy;
  o.batch_max_bytes = 0;  // one message per send, so refusals map one to one
  o.log = [](LogLevel, std::string_view) {};
  return std::make_shared<detail::NodeCore>(o, std::make_unique<FakeTransport>(network));
}

TEST(FakeTransportNode, DropPolicyCountsEachMessageAHighWaterMarkRefused) {
  auto network = std::make_shared<FakeNetwork>();
  network->refuse_sends(3);
  auto node = make_node(network, OverflowPolicy::kDrop);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(node->publish("s", as_bytes(std::to_string(i)), {}).is_ok());
  ASSERT_TRUE(node->flush(5s).is_ok());
  NodeStats s = node->stats();
  EXPECT_EQ(s.dropped_hwm, 3u);
  EXPECT_EQ(s.sent, 2u);
  EXPECT_EQ(network->sent().size(), 2u);
}

TEST(FakeTransportNode, BlockPolicyRetriesUntilTheHighWaterMarkGivesWay) {
  auto network = std::make_shared<FakeNetwork>();
  network->refuse_sends(3);
  auto node = make_node(network, OverflowPolicy::kBlock);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(node->publish("s", as_bytes(std::to_string(i)), {}).is_ok());
  ASSERT_TRUE(node->flush(5s).is_ok());
  NodeStats s = node->stats();
  EXPECT_EQ(s.dropped_hwm, 0u);
  EXPECT_EQ(s.sent, 5u);
  auto sent = network->sent();
  ASSERT_EQ(sent.size(), 5u);
  // Order and sequence numbers survive the retries.
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_NE(sent[i].body.find(std::to_string(i)), std::string::npos);
}

TEST(FakeTransportNode, SubscribingSetsThePrefixFilterAndUnsubscribingRemovesIt) {
  auto network = std::make_shared<FakeNetwork>();
  auto node = make_node(network, OverflowPolicy::kDrop);
  auto sub = node->subscribe("metrics.*.cpu", [](const Message&) {}).value();
  ASSERT_TRUE(wait_until([&] { return network->filters().count("metrics.") == 1; }));
  sub.unsubscribe();
  ASSERT_TRUE(wait_until([&] { return network->filters().empty(); }));
}

TEST(FakeTransportNode, RemoteSubscriptionEventsAreCounted) {
  auto network = std::make_shared<FakeNetwork>();
  auto node = make_node(network, OverflowPolicy::kDrop);
  network->inject_filter_event(std::string("\x01") + "a.");
  network->inject_filter_event(std::string("\x01") + "a.");
  ASSERT_TRUE(node->wait_for_subscribers("a.b", 2, 5s).is_ok());
  network->inject_filter_event(std::string("\x00", 1) + "a.");
  ASSERT_TRUE(wait_until([&] { return node->stats().remote_subscriptions == 1; }));
  network->inject_filter_event("\x05junk");
  ASSERT_TRUE(wait_until([&] { return node->stats().malformed.bad_subscription == 1; }));
}

// Publishes 64 messages of 1 KiB while the "network" refuses the first one (kBlock keeps retrying it), so that
// all of them wait in the publish queue; then lets them go and returns the largest batch that left.
std::size_t largest_batch_after_a_backlog(const std::vector<std::string>& bind) {
  auto network = std::make_shared<FakeNetwork>();
  network->refuse_sends(1'000'000);
  NodeOptions o;
  o.name = "fake";
  o.bind = bind;
  o.overflow = OverflowPolicy::kBlock;
  o.log = [](LogLevel, std::string_view) {};
  auto node = std::make_shared<detail::NodeCore>(o, std::make_unique<FakeTransport>(network));
  const std::string payload(1024, 'p');
  constexpr std::size_t kCount = 65;
  for (std::size_t i = 0; i < kCount; ++i) EXPECT_TRUE(node->publish("s", as_bytes(payload), {}).is_ok());
  network->refuse_sends(0);
  EXPECT_TRUE(node->flush(5s).is_ok());
  EXPECT_EQ(node->stats().sent, kCount);
  std::size_t largest = 0;
  for (const auto& sent : network->sent()) largest = std::max(largest, sent.body.size());
  return largest;
}

TEST(FakeTransportNode, ANodePublishingOverIpcBatchesAtMostIpcBatchMaxBytes) {
  const std::size_t ipc_limit = NodeOptions{}.ipc_batch_max_bytes;
  std::size_t over_ipc = largest_batch_after_a_backlog({"tcp://127.0.0.1:*", "ipc:///tmp/weft-fake.sock"});
  EXPECT_LE(over_ipc, ipc_limit);
  EXPECT_GT(over_ipc, ipc_limit / 2);  // batches did form
  EXPECT_GT(largest_batch_after_a_backlog({"tcp://127.0.0.1:*"}), ipc_limit);
}

TEST(FakeTransportNode, TheIpcBatchLimitFollowsThePublishingEndpoints) {
  NodeOptions o;
  EXPECT_EQ(detail::batch_max_bytes_for(o), o.batch_max_bytes);
  o.connect = {"ipc:///tmp/a.sock"};  // subscribing over ipc: the batches this node sends are not affected
  o.subscriber_bind = {"ipc:///tmp/b.sock"};
  EXPECT_EQ(detail::batch_max_bytes_for(o), o.batch_max_bytes);
  o.publish_to = {"ipc:///tmp/c.sock"};
  EXPECT_EQ(detail::batch_max_bytes_for(o), o.ipc_batch_max_bytes);
  o.batch_max_bytes = 1024;  // the lower limit wins
  EXPECT_EQ(detail::batch_max_bytes_for(o), 1024u);
  o.publish_to.clear();
  o.bind = {"ipc:///tmp/d.sock"};
  o.ipc_batch_max_bytes = 0;  // batching off over ipc
  EXPECT_EQ(detail::batch_max_bytes_for(o), 0u);
}

}  // namespace
}  // namespace weft
