// Nodes over real ZeroMQ sockets, in one process. Every contract test runs over tcp and ipc.
#include "weft/node.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weft_testing/wait.hpp"

namespace weft {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

std::string ipc_endpoint() {
  static std::atomic<int> counter{0};
  return "ipc:///tmp/weft-node-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
}

std::string current_thread_name() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// The scheduler state of a thread of this process: 'R' running, 'S' sleeping (blocked), ...
char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= line.size() ? '?' : line[close_paren + 2];
}

// Messages a handler collected, safe to read from the test thread.
class Inbox {
 public:
  Handler handler() {
    return [this](const Message& m) {
      std::lock_guard lock(mutex_);
      messages_.push_back(m.to_owned());
    };
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  std::vector<OwnedMessage> messages() const {
    std::lock_guard lock(mutex_);
    return {messages_.begin(), messages_.end()};
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) const {
    return wait_until([&] { return size() >= n; }, timeout);
  }

 private:
  mutable std::mutex mutex_;
  std::deque<OwnedMessage> messages_;
};

NodeOptions quiet(NodeOptions o) {
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

class NodePair : public ::testing::TestWithParam<std::string> {
 protected:
  // A publisher that binds and a subscriber that connects to it, over the parameter's transport.
  void start(NodeOptions pub_options = {}, NodeOptions sub_options = {}) {
    pub_options.name = "pub";
    pub_options.bind = {GetParam() == "tcp" ? "tcp://127.0.0.1:*" : ipc_endpoint()};
    publisher = std::make_unique<Node>(quiet(pub_options));
    sub_options.name = "sub";
    sub_options.connect = publisher->endpoints();
    subscriber = std::make_unique<Node>(quiet(sub_options));
  }
  std::unique_ptr<Node> publisher;
  std::unique_ptr<Node> subscriber;
};

INSTANTIATE_TEST_SUITE_P(Transports, NodePair, ::testing::Values("tcp", "ipc"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(NodePair, DeliversEveryMessageInOrderWithItsFields) {
  start();
  Inbox inbox;
  auto sub = subscriber->subscribe("telemetry.>", inbox.handler()).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("telemetry.host1.cpu", 1, 5s).is_ok());
  constexpr int kCount = 1000;
  auto before = std::chrono::system_clock::now();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(publisher->publish("telemetry.host1.cpu", std::to_string(i), {{"seq", std::to_string(i)}}).is_ok());
  }
  ASSERT_TRUE(inbox.wait_for(kCount));
  auto messages = inbox.messages();
  ASSERT_EQ(messages.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    const auto& m = messages[static_cast<std::size_t>(i)];
    EXPECT_EQ(m.subject, "telemetry.host1.cpu");
    EXPECT_EQ(m.payload_text(), std::to_string(i));
    EXPECT_EQ(m.headers.get("seq"), std::to_string(i));
    EXPECT_EQ(m.id.stream, publisher->id());
    EXPECT_EQ(m.id.sequence, static_cast<std::uint64_t>(i + 1));
  }
  auto published_ns = std::chrono::nanoseconds(messages[0].timestamp_ns);
  EXPECT_GE(published_ns.count(), std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch()).count());
  NodeStats ps = publisher->stats();
  EXPECT_EQ(ps.published, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.sent, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.dropped_hwm, 0u);
  NodeStats ss = subscriber->stats();
  EXPECT_EQ(ss.received, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ss.delivered, static_cast<std::uint64_t>(kCount));
  ASSERT_EQ(ss.subscriptions.size(), 1u);
  EXPECT_EQ(ss.subscriptions[0].pattern, "telemetry.>");
  EXPECT_EQ(ss.subscriptions[0].delivered, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(sub.stats().delivered, static_cast<std::uint64_t>(kCount));
}

// The SUB filter is only the literal prefix; the node matches exactly on top of it.
TEST_P(NodePair, ASubscriberSeesOnlyWhatItsPatternMatches) {
  start();
  Inbox star;
  Inbox exact;
  auto s1 = subscriber->subscribe("a.*.c", star.handler()).value();
  auto s2 = subscriber->subscribe("a.b", exact.handler()).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("a.b", 2, 5s).is_ok());
  for (const char* subject : {"a.b.c", "a.b.x.c", "a.bc", "a.b", "a.x.c", "a.b.c.d", "ab.c"}) {
    ASSERT_TRUE(publisher->publish(subject, subject).is_ok());
  }
  ASSERT_TRUE(publisher->publish("a.b", "last").is_ok());
  ASSERT_TRUE(exact.wait_for(2));
  ASSERT_TRUE(star.wait_for(2));
  std::vector<std::string> star_subjects;
  for (const auto& m : star.messages()) star_subjects.push_back(m.subject);
  EXPECT_EQ(star_subjects, (std::vector<std::string>{"a.b.c", "a.x.c"}));
  std::vector<std::string> exact_payloads;
  for (const auto& m : exact.messages()) exact_payloads.push_back(std::string(m.payload_text()));
  EXPECT_EQ(exact_payloads, (std::vector<std::string>{"a.b", "last"}));
  // "a.bc", "a.b.x.c", "a.b.c.d" pass the prefix filters but match nothing.
  EXPECT_TRUE(wait_until([&] { return subscriber->stats().unmatched == 3; }));
}

TEST_P(NodePair, HandlersRunOffTheIoThread) {
  start();
  std::mutex mutex;
  std::string thread_name;
  auto sub = subscriber->subscribe("x", [&](const Message&) {
    std::lock_guard lock(mutex);
    thread_name = current_thread_name();
  }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("x", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("x", "1").is_ok());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return !thread_name.empty();
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(thread_name, "weft-dispatch");
}

TEST_P(NodePair, UnsubscribeStopsDeliveriesAndTheFilterGoesAway) {
  start();
  Inbox inbox;
  auto sub = subscriber->subscribe("u.>", inbox.handler()).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("u.x", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("u.x", "1").is_ok());
  ASSERT_TRUE(inbox.wait_for(1));
  sub.unsubscribe();
  EXPECT_FALSE(sub.active());
  // The publisher learns of the unsubscription and stops sending at all.
  ASSERT_TRUE(wait_until([&] { return publisher->stats().remote_subscriptions == 0; }));
  ASSERT_TRUE(publisher->publish("u.x", "2").is_ok());
  ASSERT_TRUE(publisher->flush(5s).is_ok());
  EXPECT_EQ(inbox.size(), 1u);
}

// Regression: ZeroMQ's SUB sends a subscribe on every call but an unsubscribe only for the last, so two
// subscriptions sharing a prefix left the publisher counting one subscriber after both were gone.
TEST_P(NodePair, SubscriptionsSharingAPrefixLeaveNoFilterBehind) {
  start();
  Inbox inbox;
  auto a = subscriber->subscribe("p.*", inbox.handler()).value();
  auto b = subscriber->subscribe("p.>", inbox.handler()).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("p.x", 1, 5s).is_ok());
  a.unsubscribe();
  b.unsubscribe();
  ASSERT_TRUE(wait_until([&] { return publisher->stats().remote_subscriptions == 0; }))
      << publisher->stats().remote_subscriptions << " left";
  EXPECT_EQ(publisher->wait_for_subscribers("p.x", 1, 50ms).code(), ErrorCode::kTimeout);
}

TEST_P(NodePair, DestroyingASubscriptionWaitsForTheHandlerInProgress) {
  start();
  std::atomic<bool> in_handler{false};
  std::atomic<bool> release{false};
  std::atomic<bool> handler_done{false};
  auto sub = std::make_unique<Subscription>(subscriber->subscribe("slow", [&](const Message&) {
                                                          in_handler = true;
                                                          while (!release) std::this_thread::yield();
                                                          handler_done = true;
                                                        })
                                                .value());
  ASSERT_TRUE(publisher->wait_for_subscribers("slow", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("slow", "1").is_ok());
  ASSERT_TRUE(wait_until([&] { return in_handler.load(); }));
  // Release the handler only once this thread is blocked (in the destructor): if the destructor did not wait,
  // it would return while the handler is still running.
  pid_t self = static_cast<pid_t>(::gettid());
  std::thread releaser([&] {
    wait_until([&] { return thread_state(self) == 'S'; }, 5s);
    release = true;
  });
  sub.reset();
  EXPECT_TRUE(handler_done.load());
  releaser.join();
}

TEST_P(NodePair, AHandlerMayUnsubscribeItself) {
  start();
  std::atomic<int> calls{0};
  Subscription sub;
  sub = subscriber->subscribe("self", [&](const Message&) {
                      ++calls;
                      sub.unsubscribe();
                    })
            .value();
  ASSERT_TRUE(publisher->wait_for_subscribers("self", 1, 5s).is_ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(publisher->publish("self", "x").is_ok());
  ASSERT_TRUE(wait_until([&] { return calls.load() >= 1; }));
  ASSERT_TRUE(publisher->flush(5s).is_ok());
  ASSERT_TRUE(wait_until([&] { return publisher->stats().remote_subscriptions == 0; }));
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(NodePair, AThrowingHandlerIsCountedAndTheNodeGoesOn) {
  start();
  Inbox inbox;
  auto bad = subscriber->subscribe("t.>", [](const Message& m) {
                          if (m.payload_text() == "boom") throw std::runtime_error("boom");
                        }).value();
  auto good = subscriber->subscribe("t.>", inbox.handler()).value();
  // One filter for both: the node subscribes to a prefix once, however many local subscriptions share it.
  ASSERT_TRUE(publisher->wait_for_subscribers("t.x", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("t.x", "boom").is_ok());
  ASSERT_TRUE(publisher->publish("t.x", "fine").is_ok());
  ASSERT_TRUE(inbox.wait_for(2));
  EXPECT_EQ(bad.stats().handler_exceptions, 1u);
  EXPECT_EQ(bad.stats().delivered, 2u);
  EXPECT_EQ(subscriber->stats().handler_exceptions, 1u);
}

TEST_P(NodePair, ASlowHandlerDoesNotStallPublishingAndEveryDropIsCounted) {
  NodeOptions pub_options;
  pub_options.send_hwm = 10;
  pub_options.batch_max_bytes = 0;  // one message per ZeroMQ message, so the high-water mark fills fast
  NodeOptions sub_options;
  sub_options.recv_hwm = 10;
  sub_options.dispatch_queue_batches = 4;
  start(pub_options, sub_options);
  std::atomic<bool> release{false};
  std::atomic<std::uint64_t> handled{0};
  auto sub = subscriber->subscribe("flood", [&](const Message&) {
                          while (!release) std::this_thread::yield();
                          ++handled;
                        }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("flood", 1, 5s).is_ok());
  constexpr int kCount = 20000;
  auto start_time = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    Status s = publisher->publish("flood", std::string(100, 'x'));
    ASSERT_TRUE(s.is_ok() || s.code() == ErrorCode::kBackPressure) << s.to_string();
  }
  ASSERT_TRUE(publisher->flush(10s).is_ok());
  // The publisher never waited on the stuck handler.
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 8s);
  NodeStats ps = publisher->stats();
  EXPECT_GT(ps.dropped_hwm, 0u);
  EXPECT_EQ(ps.published + ps.rejected, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(ps.sent + ps.dropped_hwm, ps.published);
  release = true;
  // Whatever was sent arrives: no drop anywhere is silent.
  ASSERT_TRUE(wait_until([&] { return handled.load() == ps.sent; }))
      << "handled " << handled.load() << " of " << ps.sent << " sent";
}

TEST_P(NodePair, BlockPolicyLosesNothingToASlowSubscriber) {
  NodeOptions pub_options;
  pub_options.overflow = OverflowPolicy::kBlock;
  pub_options.block_timeout = 10s;
  pub_options.send_hwm = 5;
  pub_options.batch_max_bytes = 1024;
  pub_options.publish_queue_messages = 64;
  NodeOptions sub_options;
  sub_options.recv_hwm = 5;
  sub_options.dispatch_queue_batches = 2;
  start(pub_options, sub_options);
  std::atomic<std::uint64_t> handled{0};
  auto sub = subscriber->subscribe("b", [&](const Message&) {
                          if (handled % 1000 == 0) std::this_thread::sleep_for(1ms);  // a slow consumer
                          ++handled;
                        }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("b", 1, 5s).is_ok());
  // Far more than the high-water marks and queues hold (5 + 5 + 64 + 2 batches), so the publisher must block;
  // small enough to finish quickly under ThreadSanitizer on a shared 2-core machine.
  constexpr std::uint64_t kCount = 5000;
  for (std::uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(publisher->publish("b", std::string(64, 'y')).is_ok());
  ASSERT_TRUE(wait_until([&] { return handled.load() == kCount; }, 120s)) << handled.load();
  NodeStats ps = publisher->stats();
  EXPECT_EQ(ps.dropped_hwm, 0u);
  EXPECT_EQ(ps.rejected, 0u);
  EXPECT_EQ(ps.sent, kCount);
}

TEST_P(NodePair, ConsecutiveMessagesForOneSubjectTravelInBatches) {
  NodeOptions pub_options;
  pub_options.overflow = OverflowPolicy::kBlock;  // lossless, so the counts below are exact
  start(pub_options);
  Inbox inbox;
  auto sub = subscriber->subscribe("batch", inbox.handler()).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("batch", 1, 5s).is_ok());
  constexpr int kCount = 5000;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(publisher->publish("batch", "m").is_ok());
  // The deadline is generous because sanitizer builds on a loaded machine move a few hundred messages/s.
  ASSERT_TRUE(inbox.wait_for(kCount, 120s)) << inbox.size();
  NodeStats ps = publisher->stats();
  EXPECT_LT(ps.batches_sent, ps.sent);  // published faster than single sends: batches formed
  EXPECT_EQ(subscriber->stats().batches_received, ps.batches_sent);
}

// An executor task keeps the node's context alive past the node. When such a task ran last and the node's
// context owned the executor, the task destroyed the executor on the executor's own thread, which then
// joined itself (std::system_error, "Resource deadlock avoided"). The node owns the executor now.
TEST_P(NodePair, AnExecutorTaskThatOutlivesTheNodeDoesNotDestroyTheExecutorOnItsOwnThread) {
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool open = false;
    bool task_queued = false;
    void open_it() {
      std::lock_guard lock(mutex);
      open = true;
      cv.notify_all();
    }
  };
  // One worker thread that runs the tasks once the gate opens; its destructor opens the gate and joins.
  struct GatedExecutor : Executor {
    explicit GatedExecutor(std::shared_ptr<Gate> g) : gate(std::move(g)) {
      worker = std::thread([this] {
        std::unique_lock lock(gate->mutex);
        gate->cv.wait(lock, [&] { return gate->open; });
        auto pending = std::move(tasks);
        lock.unlock();
        for (auto& task : pending) task();
      });
    }
    void execute(std::function<void()> task) override {
      std::lock_guard lock(gate->mutex);
      tasks.push_back(std::move(task));
      gate->task_queued = true;
      gate->cv.notify_all();
    }
    ~GatedExecutor() override {
      gate->open_it();
      worker.join();  // throws std::system_error if this runs on the worker itself
    }
    std::shared_ptr<Gate> gate;
    std::vector<std::function<void()>> tasks;
    std::thread worker;
  };
  auto gate = std::make_shared<Gate>();
  NodeOptions sub_options;
  sub_options.executor = std::make_shared<GatedExecutor>(gate);  // the node holds the only reference
  start({}, sub_options);
  std::atomic<int> handled{0};
  auto sub = subscriber->subscribe("g", [&](const Message&) { ++handled; }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("g", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("g", "1").is_ok());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(gate->mutex);
    return gate->task_queued;
  }));
  sub = Subscription();
  subscriber.reset();  // destroys the executor here, on this thread; the queued task runs and ends after
  gate->open_it();
  EXPECT_LE(handled.load(), 1);
}

TEST_P(NodePair, AnExecutorRunsTheHandlers) {
  struct ThreadExecutor : Executor {
    void execute(std::function<void()> task) override {
      std::lock_guard lock(mutex);
      threads.emplace_back([task = std::move(task)] {
        pthread_setname_np(pthread_self(), "user-executor");
        task();
      });
    }
    ~ThreadExecutor() override {
      for (auto& t : threads) t.join();
    }
    std::mutex mutex;
    std::vector<std::thread> threads;
  };
  auto executor = std::make_shared<ThreadExecutor>();
  NodeOptions sub_options;
  sub_options.executor = executor;
  start({}, sub_options);
  std::mutex mutex;
  std::vector<std::string> names;
  auto sub = subscriber->subscribe("e", [&](const Message&) {
                          std::lock_guard lock(mutex);
                          names.push_back(current_thread_name());
                        }).value();
  ASSERT_TRUE(publisher->wait_for_subscribers("e", 1, 5s).is_ok());
  ASSERT_TRUE(publisher->publish("e", "1").is_ok());
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mutex);
    return names.size() == 1;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(names[0], "user-executor");
}

TEST_P(NodePair, WaitForSubscribersTimesOutWithACount) {
  start();
  Status s = publisher->wait_for_subscribers("nobody.here", 1, 50ms);
  EXPECT_EQ(s.code(), ErrorCode::kTimeout);
  EXPECT_NE(s.message().find("saw 0"), std::string::npos) << s.message();
}

TEST(Node, CollectorTopologySubscriberBindsPublishersConnect) {
  Inbox inbox;
  NodeOptions sink_options;
  sink_options.subscriber_bind = {"tcp://127.0.0.1:*"};
  Node sink(quiet(sink_options));
  auto sub = sink.subscribe("metrics.>", inbox.handler()).value();
  std::vector<std::unique_ptr<Node>> sources;
  for (int i = 0; i < 3; ++i) {
    NodeOptions o;
    o.publish_to = sink.subscriber_endpoints();
    sources.push_back(std::make_unique<Node>(quiet(o)));
  }
  for (auto& source : sources) {
    ASSERT_TRUE(source->wait_for_subscribers("metrics.cpu", 1, 5s).is_ok());
    ASSERT_TRUE(source->publish("metrics.cpu", "1").is_ok());
  }
  ASSERT_TRUE(inbox.wait_for(3));
}

TEST(Node, RejectsBadInputWithClearErrors) {
  NodeOptions o;
  o.max_frame_size = 4096;
  Node node(quiet(o));
  EXPECT_EQ(node.publish("a..b", "x").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(node.publish("a.*", "x").code(), ErrorCode::kInvalidArgument);
  Status big = node.publish("a", std::string(5000, 'x'));
  EXPECT_EQ(big.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(big.message().find("max_frame_size"), std::string::npos);
  EXPECT_EQ(node.publish("a", "x", {{"", "v"}}).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(node.subscribe("a.>.b", [](const Message&) {}).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(node.subscribe("a", Handler{}).status().code(), ErrorCode::kInvalidArgument);
  node.close();
  EXPECT_EQ(node.publish("a", "x").code(), ErrorCode::kClosed);
  EXPECT_EQ(node.subscribe("a", [](const Message&) {}).status().code(), ErrorCode::kClosed);
}

TEST(Node, ConstructionFailsLoudlyOnBadOptions) {
  NodeOptions bad_endpoint;
  bad_endpoint.bind = {"tcp://not an endpoint"};
  try {
    Node node(quiet(bad_endpoint));
    FAIL() << "expected weft::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NodeOptions.bind[0]"), std::string::npos) << e.what();
  }
  NodeOptions bad_size;
  bad_size.max_frame_size = 10;
  EXPECT_THROW(Node{quiet(bad_size)}, Error);
  // Two nodes cannot bind one port.
  NodeOptions first;
  first.bind = {"tcp://127.0.0.1:*"};
  Node a(quiet(first));
  NodeOptions second;
  second.bind = a.endpoints();
  EXPECT_THROW(Node{quiet(second)}, Error);
}

TEST(Node, RuntimeConnectAndDisconnect) {
  NodeOptions pub_options;
  pub_options.bind = {"tcp://127.0.0.1:*"};
  Node publisher(quiet(pub_options));
  Node subscriber(quiet(NodeOptions{}));
  Inbox inbox;
  auto sub = subscriber.subscribe("r", inbox.handler()).value();
  ASSERT_TRUE(subscriber.connect(publisher.endpoints()[0]).is_ok());
  ASSERT_TRUE(publisher.wait_for_subscribers("r", 1, 5s).is_ok());
  ASSERT_TRUE(publisher.publish("r", "1").is_ok());
  ASSERT_TRUE(inbox.wait_for(1));
  ASSERT_TRUE(subscriber.disconnect(publisher.endpoints()[0]).is_ok());
  ASSERT_TRUE(wait_until([&] { return publisher.stats().remote_subscriptions == 0; }));
  EXPECT_EQ(subscriber.disconnect("tcp://127.0.0.1:1").code(), ErrorCode::kNotFound);
}

TEST(Node, DestructorFlushesWhatWasQueued) {
  NodeOptions sub_options;
  sub_options.subscriber_bind = {"tcp://127.0.0.1:*"};
  Node subscriber(quiet(sub_options));
  Inbox inbox;
  auto sub = subscriber.subscribe("f", inbox.handler()).value();
  constexpr int kCount = 5000;
  {
    NodeOptions o;
    o.publish_to = subscriber.subscriber_endpoints();
    o.overflow = OverflowPolicy::kBlock;
    o.linger = 5s;
    Node publisher(quiet(o));
    ASSERT_TRUE(publisher.wait_for_subscribers("f", 1, 5s).is_ok());
    for (int i = 0; i < kCount; ++i) ASSERT_TRUE(publisher.publish("f", "x").is_ok());
  }  // the destructor waits for the queue to drain and ZeroMQ to send
  ASSERT_TRUE(inbox.wait_for(kCount));
}

TEST(Node, CloseReleasesCallersBlockedInTheNode) {
  NodeOptions o;
  o.publish_to = {"tcp://127.0.0.1:1"};  // nobody there: with kBlock the queue never drains
  o.overflow = OverflowPolicy::kBlock;
  o.block_timeout = 60s;
  o.publish_queue_messages = 2;
  o.linger = 0ms;
  Node node(quiet(o));
  // No subscriber ever comes: one thread waits for one, another publishes until the node closes.
  std::atomic<int> returned{0};
  std::thread waiter([&] {
    EXPECT_EQ(node.wait_for_subscribers("x", 1, 60s).code(), ErrorCode::kClosed);
    ++returned;
  });
  std::thread publisher([&] {
    Status s;
    while ((s = node.publish("x", "1")).is_ok()) {
    }
    EXPECT_EQ(s.code(), ErrorCode::kClosed);
    ++returned;
  });
  // The waiter would wait a minute; close() must free it, and refuse the publisher.
  ASSERT_TRUE(wait_until([&] { return node.stats().published >= 1; }));
  node.close();
  ASSERT_TRUE(wait_until([&] { return returned.load() == 2; }, 5s));
  waiter.join();
  publisher.join();
}

TEST(Node, StopKeepsTheFinalCountsReadable) {
  NodeOptions o;
  o.publish_to = {"tcp://127.0.0.1:1"};
  o.overflow = OverflowPolicy::kBlock;
  o.linger = 0ms;
  Node node(quiet(o));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(node.publish("x", "1").is_ok());
  node.stop();
  NodeStats s = node.stats();
  EXPECT_EQ(s.published, 10u);
  EXPECT_EQ(s.sent + s.discarded_on_close, 10u);
  EXPECT_EQ(s.dropped_hwm, 0u);  // kBlock never drops at the high-water mark, not even when stopping
  EXPECT_EQ(node.publish("x", "1").code(), ErrorCode::kClosed);
}

TEST(Node, MovedFromNodeRefusesWork) {
  Node a(quiet(NodeOptions{}));
  Node b(std::move(a));
  EXPECT_EQ(a.publish("x", "1").code(), ErrorCode::kClosed);  // NOLINT: testing use after move on purpose
  EXPECT_TRUE(b.publish("x", "1").is_ok());
}

// The thread of this process with that name, or 0.
pid_t thread_named(const std::string& name) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(entry.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line == name) return static_cast<pid_t>(std::stol(entry.path().filename().string()));
  }
  return 0;
}

// A node whose threads may use one CPU only has its I/O thread spin, not its dispatcher too: with a spin of an
// hour, an idle dispatcher that spun would never be seen asleep.
TEST(Node, OnOneCpuTheIdleDispatcherSleepsInsteadOfSpinning) {
  cpu_set_t before;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof before, &before), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
  NodeOptions o;
  o.dispatch_spin = std::chrono::hours(1);
  Node node(quiet(o));  // its threads inherit this thread's mask
  ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof before, &before), 0);
  pid_t dispatcher = 0;
  ASSERT_TRUE(wait_until([&] { return (dispatcher = thread_named("weft-dispatch")) != 0; }));
  EXPECT_TRUE(wait_until([&] { return thread_state(dispatcher) == 'S'; }, 5s)) << thread_state(dispatcher);
}

}  // namespace
}  // namespace weft
