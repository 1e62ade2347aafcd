// The I/O loop stepped against the in-memory transport, with the test playing the dispatcher.
#include "node/io_loop.hpp"

#include <gtest/gtest.h>

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
  RunningLoop(NodeOptions options, std::shared_ptr<FakeNetwork> network)
      : context_(std::move(options), SystemClock::instance(), 1),
        loop_(context_, std::make_unique<FakeTransport>(std::move(network))),
        thread_([this] { loop_.run(); }) {}
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

}  // namespace
}  // namespace weft::detail
