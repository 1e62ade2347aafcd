// A hostile or broken peer, played by raw ZeroMQ sockets: each kind of malformed input is discarded, counted
// in its own counter, and the node keeps serving.
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <zmq.hpp>

#include <atomic>
#include <map>
#include <string>

#include "weft/node.hpp"
#include "weft_testing/wait.hpp"

namespace weft {
namespace {

using namespace std::chrono_literals;
using testing::wait_until;

std::string envelope(std::uint64_t version, std::string_view subject, std::string_view payload) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(7);
  packer.pack(version).pack(7).pack(1).pack(std::string(subject)).pack(0);
  packer.pack(std::map<std::string, std::string>{});
  packer.pack_bin(static_cast<std::uint32_t>(payload.size()));
  packer.pack_bin_body(payload.data(), static_cast<std::uint32_t>(payload.size()));
  return {buffer.data(), buffer.size()};
}

class MalformedInput : public ::testing::Test {
 protected:
  void SetUp() override {
    raw_pub_.set(zmq::sockopt::xpub_verbose, 1);
    raw_pub_.set(zmq::sockopt::xpub_nodrop, 1);  // a full high-water mark blocks the raw sender: nothing lost
    raw_pub_.bind("tcp://127.0.0.1:*");
    NodeOptions o;
    o.name = "victim";
    o.connect = {raw_pub_.get(zmq::sockopt::last_endpoint)};
    o.max_frame_size = 4096;
    o.log = [this](LogLevel, std::string_view) { ++log_lines_; };
    node_ = std::make_unique<Node>(o);
    sub_ = node_->subscribe(">", [this](const Message& m) {
                   if (m.payload_text() == "good") ++good_;
                 }).value();
    // Wait for the node's subscription to ">" (the empty prefix) to reach the raw publisher; the node also
    // subscribes to its announcements ("_weft.hello"), which may come first.
    zmq::message_t subscription;
    do {
      ASSERT_TRUE(raw_pub_.recv(subscription));
    } while (subscription.to_string() != std::string("\x01", 1));
  }

  void send(std::initializer_list<std::string> frames) {
    std::size_t i = 0;
    for (const auto& f : frames) {
      ++i;
      raw_pub_.send(zmq::buffer(f), i < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  // Sends a valid message after the bad input and waits for it: the node kept serving.
  void expect_still_serving() {
    int before = good_;
    send({"ok.subject", envelope(1, "ok.subject", "good")});
    ASSERT_TRUE(wait_until([&] { return good_ == before + 1; })) << "the node stopped serving";
  }

  zmq::context_t context_;
  zmq::socket_t raw_pub_{context_, zmq::socket_type::xpub};
  std::unique_ptr<Node> node_;
  Subscription sub_;
  std::atomic<int> good_{0};
  std::atomic<int> log_lines_{0};
};

TEST_F(MalformedInput, OneFrameOrThreeFramesIsBadFraming) {
  send({"just.a.subject"});
  send({"a", envelope(1, "a", "x"), "extra"});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.bad_framing, 2u);
}

TEST_F(MalformedInput, InvalidSubjectFrame) {
  send({"a..b", envelope(1, "a..b", "x")});
  send({"a.*", envelope(1, "a.*", "x")});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.bad_subject, 2u);
}

TEST_F(MalformedInput, WrongProtocolVersion) {
  send({"v", envelope(2, "v", "x")});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.bad_version, 1u);
}

TEST_F(MalformedInput, TruncatedAndGarbageEnvelopes) {
  std::string whole = envelope(1, "t", "payload");
  send({"t", whole.substr(0, whole.size() - 3)});
  send({"t", "\xc1\xc1\xc1"});
  send({"t", ""});
  send({"t", "not msgpack at all, just text"});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.bad_envelope, 4u);
}

TEST_F(MalformedInput, EnvelopeSubjectDifferentFromFrameZero) {
  send({"x.y", envelope(1, "x.z", "sneaky")});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.subject_mismatch, 1u);
}

TEST_F(MalformedInput, FrameOverMaxFrameSize) {
  send({"big", envelope(1, "big", std::string(5000, 'x'))});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.oversized, 1u);
}

// A good envelope followed by damage in the same frame: the good one is delivered, the rest counted once.
TEST_F(MalformedInput, DamageAfterAGoodEnvelopeInABatch) {
  std::string batch = envelope(1, "ok.subject", "good") + "\x97\x01" + "garbage";  // version 1, then nonsense
  send({"ok.subject", batch});
  ASSERT_TRUE(wait_until([&] { return good_ == 1; }));
  EXPECT_TRUE(wait_until([&] { return node_->stats().malformed.bad_envelope == 1; }));
  EXPECT_EQ(node_->stats().received, 1u);
}

TEST_F(MalformedInput, AFloodIsCountedButTheLogIsRateLimited) {
  for (int i = 0; i < 2000; ++i) send({"t", "\xc1"});
  expect_still_serving();
  EXPECT_EQ(node_->stats().malformed.bad_envelope, 2000u);
  EXPECT_LT(log_lines_.load(), 10);
}

TEST(MalformedSubscription, ANonSubscriptionMessageToThePublisherIsCounted) {
  NodeOptions o;
  o.bind = {"tcp://127.0.0.1:*"};
  o.log = [](LogLevel, std::string_view) {};
  Node node(o);
  zmq::context_t context;
  zmq::socket_t raw_sub(context, zmq::socket_type::xsub);
  raw_sub.connect(node.endpoints()[0]);
  raw_sub.send(zmq::str_buffer("\x07nonsense"), zmq::send_flags::none);
  raw_sub.send(zmq::str_buffer("\x01ok"), zmq::send_flags::none);  // a real subscription still works
  ASSERT_TRUE(wait_until([&] { return node.stats().malformed.bad_subscription == 1; }));
  ASSERT_TRUE(node.wait_for_subscribers("ok", 1, 5s).is_ok());
}

}  // namespace
}  // namespace weft
