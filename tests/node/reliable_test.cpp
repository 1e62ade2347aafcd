// At-least-once delivery, work queues, dead letters and request/reply between nodes in one process, over real
// sockets. The fault tests: reliable_fault_test.cpp (lost acknowledgements, in one process),
// tests/integration/cli_reliable_test.sh (processes: SIGKILL, SIGSTOP, a cut on loopback) and
// tests/netns/reliable_netns_test.sh (cuts and packet loss between network namespaces).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "weft/node.hpp"
#include "weft_testing/wait.hpp"

namespace weft {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

NodeOptions quiet(NodeOptions o) {
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

std::unique_ptr<Node> make_publisher(NodeOptions o = {}) {
  o.bind = {"tcp://127.0.0.1:*"};
  o.overflow = OverflowPolicy::kBlock;
  return std::make_unique<Node>(quiet(o));
}

std::unique_ptr<Node> make_subscriber(const Node& publisher) {
  NodeOptions o;
  o.connect = publisher.endpoints();
  return std::make_unique<Node>(quiet(o));
}

PublishOptions at_least_once(std::function<void(const Status&)> done = {}) {
  PublishOptions p;
  p.delivery = Delivery::kAtLeastOnce;
  p.timeout = 20s;
  p.on_complete = std::move(done);
  return p;
}

// Counts what a handler saw, by payload.
class Tally {
 public:
  void add(std::string_view payload) {
    std::lock_guard lock(mutex_);
    ++seen_[std::string(payload)];
  }
  std::size_t unique() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  std::size_t total() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [k, v] : seen_) n += v;
    return n;
  }
  bool has(const std::string& payload) const {
    std::lock_guard lock(mutex_);
    return seen_.count(payload) != 0;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> seen_;
};

TEST(AtLeastOnce, EveryMessageReachesTheDurableSubscriberAndIsAcknowledged) {
  std::atomic<int> acknowledged{0};
  auto publisher = make_publisher();
  auto subscriber = make_subscriber(*publisher);
  Tally tally;
  SubscribeOptions durable;
  durable.durable = "audit";
  auto sub = subscriber->subscribe("orders.>", [&](const Message& m) { tally.add(m.payload_text()); }, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("orders.new", 1, 5s).is_ok());
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher
                    ->publish("orders.new", std::to_string(i), {},
                              at_least_once([&](const Status& s) { acknowledged += s.is_ok() ? 1 : 0; }))
                    .is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  ASSERT_TRUE(wait_until([&] { return acknowledged.load() == kCount; }));
  EXPECT_EQ(tally.unique(), static_cast<std::size_t>(kCount));
  NodeStats ps = publisher->stats();
  EXPECT_EQ(ps.reliable.published, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.reliable.acknowledged, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.reliable.outstanding, 0u);
  EXPECT_EQ(subscriber->stats().reliable.acks_sent, static_cast<std::uint64_t>(kCount));
}

// publish(..., PublishOptions&&) takes on_complete over; a refusal found after that (here the subject, checked
// as the message is queued) must hand it back, or a caller that retries would lose its callback.
TEST(AtLeastOnce, ARefusedPublishLeavesTheMovedInCallbackWithTheCaller) {
  auto publisher = make_publisher();
  std::atomic<int> completed{0};
  PublishOptions options = at_least_once([&](const Status& status) {
    if (status.is_ok()) ++completed;
  });
  ASSERT_FALSE(publisher->publish("orders..new", "x", {}, std::move(options)).is_ok());
  ASSERT_TRUE(static_cast<bool>(options.on_complete));  // NOLINT(bugprone-use-after-move): handed back
  // Nobody subscribes: the message completes at once, through the callback it got back.
  ASSERT_TRUE(publisher->publish("orders.new", "x", {}, std::move(options)).is_ok());
  EXPECT_TRUE(wait_until([&] { return completed.load() == 1; }));
}

TEST(AtLeastOnce, ADurableSubscriberThatRestartsGetsWhatItMissed) {
  auto publisher = make_publisher();
  Tally tally;
  SubscribeOptions durable;
  durable.durable = "ledger";
  durable.ack_wait = 2s;
  auto first = make_subscriber(*publisher);
  auto sub = first->subscribe("ledger.>", [&](const Message& m) { tally.add(m.payload_text()); }, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("ledger.x", 1, 5s).is_ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(publisher->publish("ledger.x", std::to_string(i), {}, at_least_once()).is_ok());
  ASSERT_TRUE(publisher->wait_for_acknowledgements(10s).is_ok());
  // The subscriber goes away (its session falls silent); messages keep coming.
  first.reset();
  for (int i = 100; i < 200; ++i) ASSERT_TRUE(publisher->publish("ledger.x", std::to_string(i), {}, at_least_once()).is_ok());
  EXPECT_EQ(publisher->wait_for_acknowledgements(200ms).code(), ErrorCode::kTimeout);
  // A new process under the same durable name picks up where the old one left off.
  auto second = make_subscriber(*publisher);
  auto sub2 = second->subscribe("ledger.>", [&](const Message& m) { tally.add(m.payload_text()); }, durable).value();
  ASSERT_TRUE(publisher->wait_for_acknowledgements(15s).is_ok());
  EXPECT_EQ(tally.unique(), 200u);
}

std::size_t members_of(const Node& publisher, const std::string& key) {
  for (const auto& c : publisher.stats().consumers) {
    if (c.key == key) return c.members;
  }
  return 0;
}

TEST(AtLeastOnce, AQueueGroupSharesTheWorkAndADeadMembersWorkGoesToTheOthers) {
  auto publisher = make_publisher();
  std::vector<std::unique_ptr<Node>> workers;
  std::vector<Subscription> subs;
  Tally tally;
  std::array<std::atomic<int>, 3> per_worker{};
  SubscribeOptions queue;
  queue.queue = "resize";
  queue.ack_wait = 1s;
  queue.max_in_flight = 16;
  for (int w = 0; w < 3; ++w) {
    workers.push_back(make_subscriber(*publisher));
    subs.push_back(workers.back()
                       ->subscribe("jobs.>",
                                   [&, w](const Message& m) {
                                     ++per_worker[static_cast<std::size_t>(w)];
                                     tally.add(m.payload_text());
                                   },
                                   queue)
                       .value());
  }
  ASSERT_TRUE(wait_until([&] { return members_of(*publisher, "resize") == 3; }));
  constexpr int kCount = 600;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(publisher->publish("jobs.x", std::to_string(i), {}, at_least_once()).is_ok());
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  EXPECT_EQ(tally.unique(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(tally.total(), static_cast<std::size_t>(kCount));  // each to exactly one member
  for (auto& n : per_worker) EXPECT_GT(n.load(), 0) << "every member took a share";
  // Now one member dies (its node stops without a word): what it held goes to the others.
  subs[0] = Subscription();
  workers[0].reset();
  for (int i = kCount; i < 2 * kCount; ++i) {
    ASSERT_TRUE(publisher->publish("jobs.x", std::to_string(i), {}, at_least_once()).is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  EXPECT_EQ(tally.unique(), static_cast<std::size_t>(2 * kCount));
}

TEST(AtLeastOnce, APoisonMessageIsDeadLetteredAfterMaxDeliverAndTheStreamGoesOn) {
  Status poison_result;
  std::atomic<bool> poison_done{false};
  auto dir = std::filesystem::temp_directory_path() / ("weft-poison-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  NodeOptions o;
  o.data_dir = dir.string();
  auto publisher = make_publisher(o);
  auto subscriber = make_subscriber(*publisher);
  Tally tally;
  std::atomic<int> poison_attempts{0};
  SubscribeOptions queue;
  queue.queue = "billing";
  queue.max_deliver = 3;
  auto sub = subscriber
                 ->subscribe("bill.>",
                             [&](const Message& m) {
                               if (m.payload_text() == "poison") {
                                 ++poison_attempts;
                                 throw std::runtime_error("cannot parse invoice");
                               }
                               tally.add(m.payload_text());
                             },
                             queue)
                 .value();
  ASSERT_TRUE(publisher->wait_for_subscribers("bill.x", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("bill.x", "poison", {}, at_least_once([&](const Status& s) {
                                   poison_result = s;
                                   poison_done = true;
                                 }))
                  .is_ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(publisher->publish("bill.x", std::to_string(i), {}, at_least_once()).is_ok());
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  ASSERT_TRUE(wait_until([&] { return poison_done.load(); }));
  EXPECT_EQ(poison_attempts.load(), 3);
  EXPECT_EQ(tally.unique(), 50u);
  EXPECT_EQ(poison_result.code(), ErrorCode::kUnavailable);
  EXPECT_NE(poison_result.message().find("cannot parse invoice"), std::string::npos) << poison_result.message();
  NodeStats ps = publisher->stats();
  EXPECT_EQ(ps.reliable.dead_lettered, 1u);
  EXPECT_EQ(ps.reliable.dead_letter_failures, 0u);
  publisher.reset();
  EXPECT_TRUE(std::filesystem::exists(dir / "dlq"));
  std::filesystem::remove_all(dir);
}

TEST(AtLeastOnce, ALateAcknowledgementIsRejectedAndTheMessageGoesToAnother) {
  auto publisher = make_publisher();
  auto slow = make_subscriber(*publisher);
  auto fast = make_subscriber(*publisher);
  SubscribeOptions queue;
  queue.queue = "q";
  queue.ack = AckPolicy::kManual;
  queue.ack_wait = 300ms;
  std::mutex mutex;
  std::vector<AckHandle> held;
  Tally fast_tally;
  auto s1 = slow->subscribe("w", [&](const Message& m) {
                    std::lock_guard lock(mutex);
                    held.push_back(m.ack_handle());  // acknowledged far too late, below
                  }, queue).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("w", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("w", "job", {}, at_least_once()).is_ok());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return !held.empty();
  }));
  // Another member joins; the first one's ack wait runs out and the job goes to it.
  auto s2 = fast->subscribe("w", [&](const Message& m) {
                    fast_tally.add(m.payload_text());
                    m.ack_handle().ack();
                  }, queue).value();
  ASSERT_TRUE(wait_until([&] { return fast_tally.has("job"); }));
  {
    std::lock_guard lock(mutex);
    held.front().ack();  // the stale acknowledgement
  }
  ASSERT_TRUE(wait_until([&] { return slow->stats().reliable.acks_rejected >= 1; }));
  EXPECT_GE(publisher->stats().reliable.stale_acks, 1u);
  ASSERT_TRUE(publisher->wait_for_acknowledgements(5s).is_ok());
}

TEST(AtLeastOnce, DuplicatesByIdempotencyKeyAreSuppressed) {
  auto publisher = make_publisher();
  auto subscriber = make_subscriber(*publisher);
  Tally tally;
  SubscribeOptions durable;
  durable.durable = "once";
  auto sub = subscriber->subscribe("pay", [&](const Message& m) { tally.add(m.payload_text()); }, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("pay", 1, 5s).is_ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(publisher->publish("pay", "charge", {{"weft-idempotency-key", "order-77"}}, at_least_once()).is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(10s).is_ok());
  EXPECT_EQ(tally.total(), 1u);
  EXPECT_EQ(subscriber->stats().reliable.suppressed, 2u);
}

// An at-least-once message also goes out best effort, and its publish-queue buffer is then handed to the outbox
// (not copied): both copies must arrive whole, the best-effort one to a plain subscriber, the outbox's to a
// durable one, in the same burst.
TEST(AtLeastOnce, APlainSubscriberAndADurableOneBothGetEveryMessageWhole) {
  auto publisher = make_publisher();
  auto plain_node = make_subscriber(*publisher);
  auto durable_node = make_subscriber(*publisher);
  Tally plain;
  Tally durable;
  auto s1 = plain_node->subscribe("mix.>", [&](const Message& m) { plain.add(m.payload_text()); }).value();
  SubscribeOptions options;
  options.durable = "whole";
  auto s2 = durable_node->subscribe("mix.>", [&](const Message& m) { durable.add(m.payload_text()); }, options).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("mix.a", 2, 5s).is_ok());
  constexpr int kCount = 2000;
  const std::string padding(300, 'p');  // some over the subject's length, some under: offsets differ
  for (int i = 0; i < kCount; ++i) {
    const std::string payload = std::to_string(i) + (i % 2 == 0 ? padding : "");
    ASSERT_TRUE(publisher->publish(i % 3 == 0 ? "mix.a" : "mix.bb.c", payload, {}, at_least_once()).is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  ASSERT_TRUE(wait_until([&] { return plain.unique() == static_cast<std::size_t>(kCount); }));
  EXPECT_EQ(durable.unique(), static_cast<std::size_t>(kCount));
  for (int i : {0, 1, kCount - 2, kCount - 1}) {
    const std::string payload = std::to_string(i) + (i % 2 == 0 ? padding : "");
    EXPECT_TRUE(plain.has(payload)) << i;
    EXPECT_TRUE(durable.has(payload)) << i;
  }
  EXPECT_EQ(plain_node->stats().malformed.total(), 0u);
  EXPECT_EQ(durable_node->stats().malformed.total(), 0u);
}

// An at-least-once message goes to its consumers over the control channel; on the publish socket only when some
// peer's plain subscription would take it (a copy ZeroMQ would drop cost the I/O thread a tenth of its time).
TEST(AtLeastOnce, OnlyAPlainSubscriberMakesAnAtLeastOnceMessageGoOutOnThePublishSocket) {
  auto publisher = make_publisher();
  auto durable_node = make_subscriber(*publisher);
  Tally durable;
  SubscribeOptions options;
  options.durable = "only";
  auto s1 = durable_node->subscribe("solo.>", [&](const Message& m) { durable.add(m.payload_text()); }, options).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("solo.x", 1, 5s).is_ok());
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher->publish("solo.x", std::to_string(i), {}, at_least_once()).is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  EXPECT_EQ(durable.unique(), static_cast<std::size_t>(kCount));
  NodeStats alone = publisher->stats();
  EXPECT_EQ(alone.sent, 0u) << "nobody subscribes plainly: nothing goes out on the publish socket";
  EXPECT_EQ(alone.batches_sent, 0u);

  auto plain_node = make_subscriber(*publisher);
  Tally plain;
  auto s2 = plain_node->subscribe("solo.>", [&](const Message& m) { plain.add(m.payload_text()); }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("solo.x", 2, 5s).is_ok());
  for (int i = kCount; i < 2 * kCount; ++i) {
    ASSERT_TRUE(publisher->publish("solo.x", std::to_string(i), {}, at_least_once()).is_ok());
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(20s).is_ok());
  ASSERT_TRUE(wait_until([&] { return plain.unique() == static_cast<std::size_t>(kCount); }))
      << "the plain subscriber got " << plain.unique() << " of " << kCount;
  EXPECT_EQ(durable.unique(), static_cast<std::size_t>(2 * kCount));
  EXPECT_EQ(publisher->stats().sent, static_cast<std::uint64_t>(kCount));
}

// Publish timeouts are kept per run of messages sent together (one deadline for a batch): every message of the
// burst must still time out, not only the first of each run.
TEST(AtLeastOnce, APublishTimeoutFailsEveryMessageOfABurst) {
  auto publisher = make_publisher();
  auto subscriber = make_subscriber(*publisher);
  SubscribeOptions durable;
  durable.durable = "never-acks";
  durable.ack = AckPolicy::kManual;  // and never acknowledged: every message waits out its timeout
  auto sub = subscriber->subscribe("burst", [](const Message&) {}, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("burst", 1, 5s).is_ok());
  constexpr int kCount = 500;
  std::atomic<int> timed_out{0};
  std::atomic<int> other{0};
  for (int i = 0; i < kCount; ++i) {
    PublishOptions p = at_least_once([&](const Status& s) {
      if (!s.is_ok() && s.message().find("not acknowledged in time") != std::string::npos) {
        ++timed_out;
      } else {
        ++other;
      }
    });
    p.timeout = 200ms;
    ASSERT_TRUE(publisher->publish("burst", std::to_string(i), {}, std::move(p)).is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return timed_out.load() + other.load() == kCount; }, 10s));
  EXPECT_EQ(timed_out.load(), kCount);
  NodeStats ps = publisher->stats();
  EXPECT_EQ(ps.reliable.expired, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.reliable.outstanding, 0u);
}

// Ack waits are kept per run of deliveries sent together (one DELIVER, one deadline): when it runs out, every
// delivery of the run goes out again (here to another member of the queue group), not only the first.
TEST(AtLeastOnce, EveryDeliveryOfABatchWhoseAckWaitRunsOutIsSentAgain) {
  auto publisher = make_publisher();
  auto holder = make_subscriber(*publisher);
  auto worker = make_subscriber(*publisher);
  SubscribeOptions queue;
  queue.queue = "q";
  queue.ack = AckPolicy::kManual;
  queue.ack_wait = 200ms;
  std::atomic<int> held{0};
  auto s1 = holder->subscribe("batch", [&](const Message&) { ++held; }, queue).value();  // never acknowledges
  ASSERT_TRUE(publisher->wait_for_subscribers("batch", 1, 5s).is_ok());
  constexpr int kCount = 300;
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher
                    ->publish("batch", std::to_string(i), {},
                              at_least_once([&](const Status& s) { ++(s.is_ok() ? acknowledged : failed); }))
                    .is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return held.load() == kCount; }));
  // Every one of them runs out its ack wait at the holder and goes to the worker.
  Tally worked;
  auto s2 = worker->subscribe("batch", [&](const Message& m) {
                      worked.add(m.payload_text());
                      m.ack_handle().ack();
                    }, queue).value();
  ASSERT_TRUE(publisher->wait_for_acknowledgements(15s).is_ok());
  ASSERT_TRUE(wait_until([&] { return acknowledged.load() + failed.load() == kCount; }));
  EXPECT_EQ(acknowledged.load(), kCount);
  EXPECT_EQ(worked.unique(), static_cast<std::size_t>(kCount));
  EXPECT_GE(publisher->stats().reliable.ack_timeouts, static_cast<std::uint64_t>(kCount));
}

TEST(AtLeastOnce, OutboxRejectPolicyRefusesWhenFull) {
  NodeOptions o;
  o.outbox.max_messages = 5;
  o.outbox.policy = OutboxPolicy::kReject;
  auto publisher = make_publisher(o);
  auto subscriber = make_subscriber(*publisher);
  SubscribeOptions durable;
  durable.durable = "stuck";
  durable.ack = AckPolicy::kManual;  // never acknowledges
  auto sub = subscriber->subscribe("s", [](const Message&) {}, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("s", 1, 5s).is_ok());
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 10; ++i) {
    Status s = publisher->publish("s", "x", {}, at_least_once());
    if (s.is_ok()) {
      ++accepted;
    } else {
      refused = s;
    }
  }
  EXPECT_EQ(accepted, 5);
  EXPECT_EQ(refused.code(), ErrorCode::kBackPressure);
  EXPECT_EQ(publisher->stats().reliable.outbox_rejected, 5u);
}

TEST(AtLeastOnce, OutboxBlockPolicyTimesOut) {
  NodeOptions o;
  o.outbox.max_messages = 2;
  o.outbox.policy = OutboxPolicy::kBlock;
  o.outbox.block_timeout = 100ms;
  auto publisher = make_publisher(o);
  auto subscriber = make_subscriber(*publisher);
  SubscribeOptions durable;
  durable.durable = "stuck";
  durable.ack = AckPolicy::kManual;
  auto sub = subscriber->subscribe("s", [](const Message&) {}, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("s", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("s", "1", {}, at_least_once()).is_ok());
  ASSERT_TRUE(publisher->publish("s", "2", {}, at_least_once()).is_ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(publisher->publish("s", "3", {}, at_least_once()).code(), ErrorCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

TEST(AtLeastOnce, OutboxDropOldestFailsTheOldest) {
  // Declared before the nodes: the completions of what is still outstanding run when the publisher stops.
  std::mutex mutex;
  std::vector<std::string> failed;
  NodeOptions o;
  o.outbox.max_messages = 3;
  o.outbox.policy = OutboxPolicy::kDropOldest;
  auto publisher = make_publisher(o);
  auto subscriber = make_subscriber(*publisher);
  SubscribeOptions durable;
  durable.durable = "stuck";
  durable.ack = AckPolicy::kManual;
  auto sub = subscriber->subscribe("s", [](const Message&) {}, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("s", 1, 5s).is_ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(publisher
                    ->publish("s", std::to_string(i), {}, at_least_once([&, i](const Status& s) {
                                if (!s.is_ok()) {
                                  std::lock_guard lock(mutex);
                                  failed.push_back(std::to_string(i) + ": " + s.message());
                                }
                              }))
                    .is_ok());
  }
  ASSERT_TRUE(wait_until([&] { return publisher->stats().reliable.outbox_dropped == 2; }));
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return failed.size() == 2;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(failed[0].substr(0, 1), "0");
  EXPECT_NE(failed[0].find("outbox was full"), std::string::npos);
}

// Regression: an acknowledgement the handler side queued while the subscriber's I/O thread was awake (spinning
// or busy) waited for that thread's next wake-up for some other reason -- a heartbeat or an announcement, about
// once a second -- before it left: the wake-up (eventfd) is written only for a sleeping thread, and the loop
// did not look at the acknowledgement queue before going to sleep. The subscriber's I/O thread spins for 30 s
// here, so every acknowledgement is queued while it is awake. One message at a time, each published when the
// previous one completed: without the fix 50 of them took about 5 s (each waited for the next thing to break
// the spin), 100 about twice that; with it each is a round trip, and 5 s leaves a loaded machine 50 ms each.
// (IoLoop.TakesAnAcknowledgementQueuedWhileItSpins pins the mechanism itself, deterministically.)
TEST(AtLeastOnce, AcknowledgementsLeaveAtOnceNotAtTheNextHeartbeat) {
  auto publisher = make_publisher();
  NodeOptions so;
  so.connect = publisher->endpoints();
  so.io_spin = 30s;
  auto subscriber = std::make_unique<Node>(quiet(so));
  SubscribeOptions durable;
  durable.durable = "prompt";
  auto sub = subscriber->subscribe("p", [](const Message&) {}, durable).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("p", 1, 5s).is_ok());
  constexpr int kCount = 100;
  std::atomic<int> completed{0};
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher->publish("p", std::to_string(i), {}, at_least_once([&](const Status& s) {
                                     if (s.is_ok()) ++completed;
                                   })).is_ok());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    ASSERT_TRUE(wait_until([&] { return completed.load() == i + 1; }, std::max(left, 0ms)))
        << "only " << completed.load() << " of " << kCount << " acknowledged within 5 s";
  }
  // The subscriber counts an acknowledgement once it is handed to its socket, so the publisher can complete the
  // last message an instant before that count moves: wait for it, then require exactly one per message.
  EXPECT_TRUE(wait_until([&] { return subscriber->stats().reliable.acks_sent >= static_cast<std::uint64_t>(kCount); },
                         5s));
  EXPECT_EQ(subscriber->stats().reliable.acks_sent, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(publisher->stats().reliable.redelivered, 0u);
}

// Regression: a subscriber's heartbeat carried its free credit and the publisher took that for the whole grant,
// so a heartbeat sent while the subscriber held all it was granted cut the stream to one delivery at a time
// until the next heartbeat (and the one after that to what was free then): under load, the stream ran at the
// pace of whatever happened to be free once a second.
TEST(AtLeastOnce, AHeartbeatFromABusySubscriberDoesNotShrinkItsCredit) {
  auto publisher = make_publisher();
  auto subscriber = make_subscriber(*publisher);
  SubscribeOptions durable;
  durable.durable = "busy";
  durable.ack = AckPolicy::kManual;
  durable.max_in_flight = 16;
  std::mutex mutex;
  std::vector<AckHandle> held;
  std::size_t received = 0;
  bool acknowledge = false;
  auto sub = subscriber->subscribe("b", [&](const Message& m) {
                           std::lock_guard lock(mutex);
                           ++received;
                           if (acknowledge) {
                             m.ack_handle().ack();
                           } else {
                             held.push_back(m.ack_handle());
                           }
                         }, durable).value();
  auto count = [&] {
    std::lock_guard lock(mutex);
    return received;
  };
  ASSERT_TRUE(publisher->wait_for_subscribers("b", 1, 5s).is_ok());
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(publisher->publish("b", std::to_string(i), {}, at_least_once()).is_ok());
  ASSERT_TRUE(wait_until([&] { return count() == 16; }));
  // The subscriber holds its whole credit; a heartbeat of its leaves and reaches the publisher (the only
  // control messages between the two, since nothing is acknowledged yet).
  const auto sent = subscriber->stats().reliable.control_sent;
  ASSERT_TRUE(wait_until([&] { return subscriber->stats().reliable.control_sent > sent; }, 5s));
  const auto heartbeat_sent = subscriber->stats().reliable.control_sent;
  ASSERT_TRUE(wait_until([&] { return publisher->stats().reliable.control_received >= heartbeat_sent; }, 5s));
  EXPECT_EQ(count(), 16u);
  {
    std::lock_guard lock(mutex);
    for (auto& h : held) h.ack();
    held.clear();
  }
  // Room for 16 again: the publisher fills it.
  EXPECT_TRUE(wait_until([&] { return count() == 32; }, 5s)) << count() << " received of 32";
  {
    std::lock_guard lock(mutex);
    acknowledge = true;
    for (auto& h : held) h.ack();
    held.clear();
  }
  ASSERT_TRUE(publisher->wait_for_acknowledgements(15s).is_ok());
}

TEST(AtLeastOnce, ADiskOutboxSendsAgainAfterThePublisherRestarts) {
  auto dir = std::filesystem::temp_directory_path() / ("weft-outbox-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Tally tally;
  std::atomic<bool> acknowledge{false};
  NodeOptions so;
  so.subscriber_bind = {"tcp://127.0.0.1:*"};
  Node subscriber(quiet(so));
  SubscribeOptions durable;
  durable.durable = "keep";
  durable.ack = AckPolicy::kManual;
  auto sub = subscriber.subscribe("k.>", [&](const Message& m) {
                                   tally.add(m.payload_text());
                                   if (acknowledge) m.ack_handle().ack();
                                 }, durable).value();
  NodeOptions po;
  po.publish_to = subscriber.subscriber_endpoints();
  po.data_dir = dir.string();
  po.outbox.persist = true;
  po.overflow = OverflowPolicy::kBlock;
  {
    Node first(quiet(po));
    ASSERT_TRUE(first.wait_for_subscribers("k.x", 1, 5s).is_ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(first.publish("k.x", std::to_string(i), {}, at_least_once()).is_ok());
    ASSERT_TRUE(wait_until([&] { return tally.unique() == 100; }));  // delivered, never acknowledged
  }  // stopped with all 100 unacknowledged
  std::size_t before = tally.total();
  acknowledge = true;
  Node second(quiet(po));
  EXPECT_EQ(second.stats().reliable.restored, 100u);
  ASSERT_TRUE(second.wait_for_acknowledgements(20s).is_ok());
  EXPECT_EQ(tally.total(), before + 100) << "each message was sent again by the restarted publisher";
  std::filesystem::remove_all(dir);
}

TEST(RequestReply, TheFirstReplyComesBack) {
  auto requester = make_publisher();
  NodeOptions o;
  o.bind = {"tcp://127.0.0.1:*"};
  o.connect = requester->endpoints();
  auto responder = std::make_unique<Node>(quiet(o));
  ASSERT_TRUE(requester->connect(responder->endpoints()[0]).is_ok());
  auto sub = responder->subscribe("time.now", [&](const Message& m) {
                      (void)responder->reply(m, "it is " + std::string(m.payload_text()));
                    }).value();
  ASSERT_TRUE(requester->wait_for_subscribers("time.now", 1, 5s).is_ok());
  auto reply = requester->request("time.now", "noon", 5s);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(reply->payload_text(), "it is noon");
  EXPECT_EQ(requester->stats().reliable.replies, 1u);
}

TEST(RequestReply, NoRespondersFailsFastNotByTimeout) {
  auto requester = make_publisher();
  auto start = std::chrono::steady_clock::now();
  auto reply = requester->request("nobody.home", "hello?", 10s);
  EXPECT_EQ(reply.status().code(), ErrorCode::kNoResponders);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(RequestReply, NoReplyTimesOut) {
  auto requester = make_publisher();
  auto silent = make_subscriber(*requester);
  auto sub = silent->subscribe("quiet", [](const Message&) {}).value();
  ASSERT_TRUE(requester->wait_for_subscribers("quiet", 1, 5s).is_ok());
  auto reply = requester->request("quiet", "anyone?", 200ms);
  EXPECT_EQ(reply.status().code(), ErrorCode::kTimeout);
}

TEST(RequestReply, ReplyToANonRequestIsAnError) {
  auto node = make_publisher();
  Message plain("a", as_bytes("x"), HeadersView(), MessageId{}, 0);
  EXPECT_EQ(node->reply(plain, "y").code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace weft
