// The I/O loop stepped against the in-memory transport, with the test playing the dispatcher.
#include "node/io_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "weft_testing/fake_transport.hpp"
#include "weft_testing/wait.hpp"

namespace weft::detail {
namespace {

using namespace std::chrono_literals;
using testing::FakeNetwork;
using testing::FakeTransport;
using testing::wait_until;

NodeOptions options_with(std::size_t dispatch_queue, std::chrono::microseconds spin) {
  NodeOptions o;
  o.name = "loop";
  o.dispatch_queue_batches = dispatch_queue;
  o.io_spin = spin;
  o.log = [](LogLevel, std::string_view) {};
  return o;
}

class RunningLoop {
 public:
  // `add_agents` runs before the thread starts (IoLoop::add_agent is only for then).
  RunningLoop(NodeOptions options, std::shared_ptr<FakeNetwork> network,
              const std::function<void(NodeContext&, IoLoop&)>& add_agents = {})
      : context_(std::move(options), SystemClock::instance(), 1),
        loop_(context_, std::make_unique<FakeTransport>(std::move(network))) {
    if (add_agents) add_agents(context_, loop_);
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~RunningLoop() {
    context_.stopping = true;
    context_.io_wake.force_notify();
    thread_.join();
  }
  NodeContext& context() { return context_; }

 private:
  NodeContext context_;
  IoLoop loop_;
  std::thread thread_;
};

// Regression: the I/O thread went to sleep on the subscribing socket while that socket still held input it had
// not read: the dispatcher made room during the I/O thread's spin without a wake-up (the two had raced on the
// "blocked" flag), and a socket only signals new input. The stream stalled for good. Here the test pops without
// any wake-up while the loop spins: the loop must notice the room by itself.
TEST(IoLoop, TakesWaitingInputWhenRoomAppearsWithoutAWakeUp) {
  auto network = std::make_shared<FakeNetwork>();
  RunningLoop running(options_with(2, std::chrono::seconds(2)), network);
  NodeContext& context = running.context();
  for (int i = 0; i < 3; ++i) network->inject({"s", "envelope"});
  ASSERT_TRUE(wait_until([&] { return context.inbound.full(); }, 5s))
      << context.counters.batches_received.load() << " taken, " << context.counters.bad_framing.load() << " bad";
  context.inbound.pop();                  // room for the third message...
  context.inbound_blocked = false;        // ...and no wake-up for the I/O thread
  ASSERT_TRUE(wait_until([&] { return context.counters.batches_received.load() == 3; }, 1s))
      << "the third message stayed in the socket: " << context.counters.batches_received.load() << " taken";
}

// The ordinary path: the dispatcher pops and wakes the sleeping I/O thread, which reads on.
TEST(IoLoop, TheDispatchersWakeUpResumesReading) {
  auto network = std::make_shared<FakeNetwork>();
  RunningLoop running(options_with(2, std::chrono::microseconds(0)), network);
  NodeContext& context = running.context();
  for (int i = 0; i < 5; ++i) network->inject({"s", "envelope"});
  for (int taken = 0; taken < 5; ++taken) {
    ASSERT_TRUE(wait_until([&] { return context.inbound.front() != nullptr; }, 5s)) << "after " << taken;
    context.inbound.pop();
    if (context.inbound_blocked.exchange(false)) context.io_wake.force_notify();
  }
  EXPECT_EQ(context.counters.batches_received.load(), 5u);
}

// Plays the subscriber engine's part: takes the acknowledgement queue on each pass, and has no timer.
class AckTaker final : public IoAgent {
 public:
  explicit AckTaker(NodeContext& context) : context_(context) {}
  std::size_t do_work(Clock::TimePoint, Transport&) override {
    std::size_t n = 0;
    if (!context_.acks.empty()) {
      context_.acks.take(scratch_);
      n = scratch_.size();
      taken += n;
    }
    ++passes;
    return n;
  }
  void pollable(std::vector<int>&) override {}
  [[nodiscard]] Clock::TimePoint next_deadline() override { return Clock::TimePoint::max(); }

  std::atomic<std::size_t> taken{0};
  std::atomic<std::size_t> passes{0};

 private:
  NodeContext& context_;
  std::vector<AckDecision> scratch_;
};

void queue_ack(NodeContext& context) {
  AckDecision d;
  d.dseq = 1;
  context.acks.push(std::move(d));
  context.io_wake.notify();  // as the dispatcher does: writes the eventfd only if the loop sleeps
}

// Regression: an acknowledgement queued while the I/O thread was awake (here: spinning, for 30 s) was not seen:
// notify() writes the eventfd only for a sleeping thread, and the loop did not look at the queue, so the
// acknowledgement waited for the next timer (in a node, the subscriber's 1 s heartbeat). With no timer at all
// here, it would have waited for the spin to end and then forever.
TEST(IoLoop, TakesAnAcknowledgementQueuedWhileItSpins) {
  auto network = std::make_shared<FakeNetwork>();
  AckTaker* taker = nullptr;
  RunningLoop running(options_with(16, std::chrono::seconds(30)), network, [&](NodeContext& context, IoLoop& loop) {
    auto agent = std::make_unique<AckTaker>(context);
    taker = agent.get();
    loop.add_agent(std::move(agent));
  });
  // After its first pass the loop has nothing to do: it spins.
  ASSERT_TRUE(wait_until([&] { return taker->passes.load() >= 1; }, 5s));
  queue_ack(running.context());
  ASSERT_TRUE(wait_until([&] { return taker->taken.load() == 1; }, 5s))
      << "the acknowledgement is still queued after " << taker->passes.load() << " pass(es)";
}

// The same with the loop asleep in poll(2): the producer's notify() wakes it.
TEST(IoLoop, ASleepingLoopWakesForAnAcknowledgement) {
  auto network = std::make_shared<FakeNetwork>();
  AckTaker* taker = nullptr;
  RunningLoop running(options_with(16, std::chrono::microseconds(0)), network,
                      [&](NodeContext& context, IoLoop& loop) {
                        auto agent = std::make_unique<AckTaker>(context);
                        taker = agent.get();
                        loop.add_agent(std::move(agent));
                      });
  ASSERT_TRUE(wait_until([&] { return taker->passes.load() >= 1; }, 5s));
  for (std::size_t i = 1; i <= 3; ++i) {
    queue_ack(running.context());
    ASSERT_TRUE(wait_until([&] { return taker->taken.load() == i; }, 5s)) << "acknowledgement " << i;
  }
}

}  // namespace
}  // namespace weft::detail
