// Raw libzmq's side of the bench, the physical limit of Weft's transport, measured as shared/bench does:
// PUB/SUB throughput with an XPUB using ZMQ_XPUB_NODROP (a full high-water mark blocks the sender instead of
// dropping) at libzmq's default high-water mark, and REQ/REP round trips, every one timed.
//
// The subscriber binds and the publisher connects, waits for the subscription, sends, then sends an empty end
// marker; the subscriber times from its first message to the end marker, exactly as Weft's does.
#include <zmq.hpp>

#include <string>
#include <vector>

#include "bench/peer_support.hpp"
#include "bench/peers.hpp"
#include "bench/process.hpp"
#include "bench/statistics.hpp"

namespace weft::cli::bench {

namespace {

constexpr int kHighWaterMark = 1'000;                     // libzmq's default, each side
constexpr std::chrono::milliseconds kResponderPoll{100};  // how often an idle responder looks for its release

int milliseconds(std::chrono::milliseconds d) {
  return static_cast<int>(d.count());
}

}  // namespace

Status run_zmq_subscriber(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::sub);
  socket.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::subscribe, "");
  socket.set(zmq::sockopt::rcvtimeo, milliseconds(kSetupTimeout + kQuietTimeout));
  socket.bind(spec.bind.front());
  ParentLink::say(Report("endpoint").add("ep", socket.get(zmq::sockopt::last_endpoint)).line());

  zmq::message_t message;
  std::uint64_t received = 0;
  bool complete = false;
  BenchClock::time_point first;
  BenchClock::time_point end;
  while (socket.recv(message)) {
    if (message.size() == 0) {  // the end marker
      end = BenchClock::now();
      complete = true;
      break;
    }
    if (received++ == 0) {
      first = BenchClock::now();
      socket.set(zmq::sockopt::rcvtimeo, milliseconds(kQuietTimeout));
    }
  }
  if (!complete) end = BenchClock::now() - kQuietTimeout;  // the stream stalled: it ended a quiet period ago
  Report result("result");
  result.add("received", received)
      .add("seconds", received > 0 ? seconds_between(first, end) : 0.0)
      .add("complete", std::uint64_t{complete ? 1u : 0u});
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_zmq_publisher(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 1, "connect"); !s) return s;
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::xpub);
  socket.set(zmq::sockopt::sndhwm, kHighWaterMark);
  socket.set(zmq::sockopt::xpub_nodrop, 1);
  socket.set(zmq::sockopt::linger, milliseconds(kExitGrace));
  socket.set(zmq::sockopt::rcvtimeo, milliseconds(kSetupTimeout));
  socket.connect(spec.connect.front());
  zmq::message_t subscription;
  if (!socket.recv(subscription)) return Status::timeout("no subscription arrived");

  const std::vector<char> payload(spec.size, 'x');
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  std::uint64_t sent = 0;
  while (sent < spec.count) {
    if ((sent & 0xff) == 0 && BenchClock::now() >= deadline) break;
    if (!socket.send(zmq::buffer(payload), zmq::send_flags::none)) return Status::io_error("send refused");
    ++sent;
  }
  const auto published = BenchClock::now();
  if (!socket.send(zmq::message_t(), zmq::send_flags::none)) return Status::io_error("end marker refused");
  ParentLink::say(Report("result").add("sent", sent).add("publish_seconds", seconds_between(start, published)).line());
  ParentLink::wait_for_release();
  return Status::ok();
}

Status run_zmq_requester(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndtimeo, milliseconds(kSetupTimeout));  // the first send waits for the responder
  socket.set(zmq::sockopt::rcvtimeo, milliseconds(kQuietTimeout));
  socket.bind(spec.bind.front());
  ParentLink::say(Report("endpoint").add("ep", socket.get(zmq::sockopt::last_endpoint)).line());

  const std::vector<char> payload(spec.size, 'x');
  zmq::message_t reply;
  auto samples_us = time_round_trips(spec, [&](std::uint64_t i) {
    if (!socket.send(zmq::buffer(payload), zmq::send_flags::none)) {
      return Status::timeout("no responder after " + std::to_string(i) + " round trips");
    }
    if (!socket.recv(reply)) return Status::timeout("no reply after " + std::to_string(i) + " round trips");
    return Status::ok();
  });
  if (!samples_us) return samples_us.status();
  Report result = round_trip_result(*samples_us);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_zmq_responder(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 1, "connect"); !s) return s;
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::rep);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, milliseconds(kResponderPoll));
  socket.connect(spec.connect.front());
  zmq::message_t message;
  std::uint64_t replies = 0;
  while (true) {
    if (!socket.recv(message)) {
      if (ParentLink::released()) break;
      continue;
    }
    socket.send(message, zmq::send_flags::none);
    ++replies;
  }
  ParentLink::say(Report("result").add("replies", replies).line());
  return Status::ok();
}

// PUSH/PULL, the baseline of the work queue: every puller binds, the pusher connects to all of them (so its
// round robin covers every puller from the first message), sends, then one empty end marker per puller. Each
// puller stamps its first and last message on the steady clock, which every process of this machine shares:
// the throughput is all messages over the span from the earliest first to the latest last.
Status run_zmq_puller(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::pull);
  socket.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, milliseconds(kSetupTimeout + kQuietTimeout));
  socket.bind(spec.bind.front());
  ParentLink::say(Report("endpoint").add("ep", socket.get(zmq::sockopt::last_endpoint)).line());

  zmq::message_t message;
  std::uint64_t received = 0;
  bool complete = false;
  BenchClock::time_point first;
  BenchClock::time_point last;
  while (socket.recv(message)) {
    if (message.size() == 0) {  // an end marker (a puller may get none: then its quiet period ends it)
      complete = true;
      break;
    }
    last = BenchClock::now();
    if (received++ == 0) {
      first = last;
      socket.set(zmq::sockopt::rcvtimeo, milliseconds(kQuietTimeout));
    }
  }
  auto ns = [](BenchClock::time_point t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  Report result("result");
  result.add("received", received)
      .add("first_ns", received > 0 ? ns(first) : std::uint64_t{0})
      .add("last_ns", received > 0 ? ns(last) : std::uint64_t{0})
      .add("complete", std::uint64_t{complete ? 1u : 0u});
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_zmq_pusher(const PeerSpec& spec) {
  if (spec.connect.empty()) return Status::invalid_argument("connect: no puller endpoint");
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::push);
  socket.set(zmq::sockopt::sndhwm, kHighWaterMark);
  socket.set(zmq::sockopt::linger, milliseconds(kExitGrace));
  socket.set(zmq::sockopt::sndtimeo, milliseconds(kSetupTimeout));
  for (const auto& endpoint : spec.connect) socket.connect(endpoint);

  const std::vector<char> payload(spec.size, 'x');
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  std::uint64_t sent = 0;
  while (sent < spec.count) {
    if ((sent & 0xff) == 0 && BenchClock::now() >= deadline) break;
    if (!socket.send(zmq::buffer(payload), zmq::send_flags::none)) return Status::timeout("no puller took a message");
    ++sent;
  }
  const auto published = BenchClock::now();
  for (std::size_t i = 0; i < spec.connect.size(); ++i) {
    if (!socket.send(zmq::message_t(), zmq::send_flags::none)) return Status::io_error("end marker refused");
  }
  ParentLink::say(Report("result").add("sent", sent).add("publish_seconds", seconds_between(start, published)).line());
  ParentLink::wait_for_release();
  return Status::ok();
}

}  // namespace weft::cli::bench
