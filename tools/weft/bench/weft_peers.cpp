// Weft's side of the bench: what an application would write, through the public API only.
//
// Throughput: the publisher binds, waits for the subscriber (wait_for_subscribers), publishes with
// OverflowPolicy::kBlock (lossless), then an empty end marker on the same subject, and flushes. The
// subscriber counts from its first message to the end marker. Round trips: the requester binds a publisher
// and a subscriber side; the responder connects to both (publish_to), and its handler publishes every ping
// back; the requester's handler times the round trip and sends the next ping, so one is in flight at a time.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "bench/peer_support.hpp"
#include "bench/peers.hpp"
#include "bench/process.hpp"
#include "bench/statistics.hpp"
#include "weft/weft.hpp"

namespace weft::cli::bench {

namespace {

using std::chrono::duration;
using std::chrono::duration_cast;

// Publishes, waiting for room (kBlock) until the deadline: a timeout from publish() means only that the queue
// stayed full for block_timeout.
Status publish_until(weft::Node& node, std::string_view subject, std::span<const std::byte> payload,
                     BenchClock::time_point deadline, std::uint64_t& waits) {
  while (true) {
    Status status = node.publish(subject, payload);
    if (status || status.code() != weft::ErrorCode::kTimeout) return status;
    ++waits;
    if (BenchClock::now() >= deadline) return status;
  }
}

// The subscriber's tally. on_message runs on the node's dispatcher thread; wait() on the main thread.
class StreamTally {
 public:
  void on_message(std::size_t payload_bytes) {
    auto now = BenchClock::now();
    if (payload_bytes == 0) {  // the end marker
      std::lock_guard lock(mutex_);
      end_ = now;
      ended_ = true;
      changed_.notify_one();
      return;
    }
    std::uint64_t n = received_.load(std::memory_order_relaxed);
    if (n == 0) first_ = now;
    received_.store(n + 1, std::memory_order_release);  // publishes first_ to wait()
  }

  // Until the end marker, or nothing for `first_wait` before the first message or kQuietTimeout after one.
  // True when the end marker came.
  bool wait(std::chrono::milliseconds first_wait) {
    std::unique_lock lock(mutex_);
    std::uint64_t seen = 0;
    auto last_change = BenchClock::now();
    while (!ended_) {
      auto limit = seen == 0 ? first_wait : kQuietTimeout;
      auto now = BenchClock::now();
      if (now - last_change > limit) break;
      changed_.wait_for(lock, std::chrono::milliseconds(50));
      std::uint64_t n = received_.load(std::memory_order_acquire);
      if (n != seen) {
        seen = n;
        last_change = BenchClock::now();
        end_ = last_change;  // the best guess should the end marker never come
      }
    }
    return ended_;
  }

  [[nodiscard]] std::uint64_t received() const noexcept { return received_.load(std::memory_order_acquire); }
  // From the first message to the end marker (or the last progress seen).
  [[nodiscard]] double seconds() const {
    std::lock_guard lock(mutex_);
    return received() > 0 ? seconds_between(first_, end_) : 0;
  }

 private:
  std::atomic<std::uint64_t> received_{0};
  BenchClock::time_point first_;  // written by the dispatcher before received_ becomes 1
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  BenchClock::time_point end_;
  bool ended_ = false;
};

// The requester's round trips. The pong handler (dispatcher thread) records and decides; the main thread
// waits.
class RoundTrips {
 public:
  explicit RoundTrips(const PeerSpec& spec) : warmup_(spec.warmup), count_(spec.count), duration_(spec.duration) {
    samples_us_.reserve(spec.count);
  }

  void begin(BenchClock::time_point now) noexcept { started_ = now; }

  // A reply came: records it. True when another ping should go. The duration counts from the first reply,
  // as the raw libzmq requester's does.
  bool on_reply(BenchClock::time_point now) {
    if (done_.load(std::memory_order_relaxed)) return false;
    if (completed_ >= warmup_) samples_us_.push_back(duration<double, std::micro>(now - started_).count());
    if (completed_ == 0) deadline_ = now + duration_;
    ++completed_;
    progress_.store(completed_, std::memory_order_relaxed);
    if (samples_us_.size() < count_ && now < deadline_) return true;
    finish(Status::ok());
    return false;
  }

  void finish(Status status) {
    std::lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return;
    status_ = std::move(status);
    done_.store(true, std::memory_order_release);
    changed_.notify_one();
  }

  // Until finished, or no reply for kQuietTimeout (then a timeout status).
  Status wait() {
    std::unique_lock lock(mutex_);
    std::uint64_t seen = 0;
    auto last_change = BenchClock::now();
    while (!done_.load(std::memory_order_acquire)) {
      if (BenchClock::now() - last_change > kQuietTimeout) {
        done_.store(true, std::memory_order_release);
        status_ = Status::timeout("no reply for " + std::to_string(kQuietTimeout.count()) + " ms after " +
                                  std::to_string(seen) + " round trips");
        break;
      }
      changed_.wait_for(lock, std::chrono::milliseconds(50));
      std::uint64_t n = progress_.load(std::memory_order_relaxed);
      if (n != seen) {
        seen = n;
        last_change = BenchClock::now();
      }
    }
    return status_;
  }

  // After wait(): the recorded round trips, in microseconds.
  std::vector<double>& samples_us() noexcept { return samples_us_; }

 private:
  const std::uint64_t warmup_;
  const std::uint64_t count_;
  const std::chrono::milliseconds duration_;
  BenchClock::time_point deadline_ = BenchClock::time_point::max();
  BenchClock::time_point started_;
  std::uint64_t completed_ = 0;
  std::vector<double> samples_us_;
  std::atomic<std::uint64_t> progress_{0};
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  Status status_;
};

}  // namespace

Status run_weft_publisher(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.bind = spec.bind;
  options.overflow = weft::OverflowPolicy::kBlock;
  weft::Node node(std::move(options));
  ParentLink::say(Report("endpoint").add("ep", node.endpoints().front()).line());
  if (Status s = node.wait_for_subscribers(kThroughputSubject, 1, kSetupTimeout); !s) {
    return s.with_context("waiting for the subscriber");
  }

  const std::vector<std::byte> payload(spec.size, std::byte{'x'});
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  std::uint64_t sent = 0;
  std::uint64_t waits = 0;
  while (sent < spec.count) {
    if ((sent & 0xff) == 0 && BenchClock::now() >= deadline) break;
    Status status = publish_until(node, kThroughputSubject, payload, deadline, waits);
    if (!status) {
      if (status.code() == weft::ErrorCode::kTimeout) break;  // past the deadline and still no room
      return status.with_context("publishing message " + std::to_string(sent));
    }
    ++sent;
  }
  const auto published = BenchClock::now();
  if (Status s = publish_until(node, kThroughputSubject, {}, published + kSetupTimeout, waits); !s) {
    return s.with_context("publishing the end marker");
  }
  Status flushed = node.flush(kSetupTimeout);
  weft::NodeStats stats = node.stats();
  Report result("result");
  result.add("sent", sent)
      .add("publish_seconds", seconds_between(start, published))
      .add("publish_waits", waits)
      .add("flushed", std::uint64_t{flushed ? 1u : 0u})
      .add("batches_sent", stats.batches_sent)
      .add("mean_batch",
           stats.batches_sent > 0 ? static_cast<double>(stats.sent) / static_cast<double>(stats.batches_sent) : 0.0);
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  // The node stays up until the subscriber has everything: its destructor would give ZeroMQ only `linger`.
  ParentLink::wait_for_release();
  return Status::ok();
}

Status run_weft_subscriber(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 1, "connect"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.connect = spec.connect;
  weft::Node node(std::move(options));
  StreamTally tally;
  auto subscription =
      node.subscribe(kThroughputSubject, [&tally](const weft::Message& m) { tally.on_message(m.payload().size()); });
  if (!subscription) return subscription.status().with_context("subscribing");

  bool complete = tally.wait(std::chrono::milliseconds(kSetupTimeout) + kQuietTimeout);
  subscription->unsubscribe();
  weft::NodeStats stats = node.stats();
  Report result("result");
  result.add("received", tally.received())
      .add("seconds", tally.seconds())
      .add("complete", std::uint64_t{complete ? 1u : 0u})
      .add("batches_received", stats.batches_received);
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_weft_requester(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 2, "bind"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.bind = {spec.bind[0]};
  options.subscriber_bind = {spec.bind[1]};
  weft::Node node(std::move(options));

  const std::vector<std::byte> payload(spec.size, std::byte{'x'});
  RoundTrips trips(spec);
  auto subscription = node.subscribe(kPongSubject, [&](const weft::Message&) {
    if (!trips.on_reply(BenchClock::now())) return;
    trips.begin(BenchClock::now());
    if (Status s = node.publish(kPingSubject, payload); !s) trips.finish(s.with_context("publishing a ping"));
  });
  if (!subscription) return subscription.status().with_context("subscribing");
  ParentLink::say(
      Report("endpoint").add("ep", node.endpoints().front()).add("ep2", node.subscriber_endpoints().front()).line());
  // The responder subscribes to pings only once it holds this node's subscription to pongs, so from here on
  // neither side's first message can miss its subscriber.
  if (Status s = node.wait_for_subscribers(kPingSubject, 1, kSetupTimeout); !s) {
    return s.with_context("waiting for the responder");
  }
  trips.begin(BenchClock::now());
  if (Status s = node.publish(kPingSubject, payload); !s) return s.with_context("publishing the first ping");
  Status status = trips.wait();
  subscription->unsubscribe();
  if (!status) return status;

  Report result = round_trip_result(trips.samples_us());
  weft::NodeStats stats = node.stats();
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_weft_responder(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 2, "connect"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.connect = {spec.connect[0]};
  options.publish_to = {spec.connect[1]};
  weft::Node node(std::move(options));
  if (Status s = node.wait_for_subscribers(kPongSubject, 1, kSetupTimeout); !s) {
    return s.with_context("waiting for the requester's subscription");
  }
  std::atomic<std::uint64_t> failures{0};
  auto subscription = node.subscribe(kPingSubject, [&](const weft::Message& m) {
    if (!node.publish(kPongSubject, m.payload())) failures.fetch_add(1, std::memory_order_relaxed);
  });
  if (!subscription) return subscription.status().with_context("subscribing");
  ParentLink::wait_for_release();
  subscription->unsubscribe();
  weft::NodeStats stats = node.stats();
  Report result("result");
  result.add("replies", stats.published).add("reply_failures", failures.load());
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

}  // namespace weft::cli::bench
