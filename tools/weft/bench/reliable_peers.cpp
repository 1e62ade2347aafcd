// Weft's at-least-once side of the bench, through the public API only, as an application would write it.
//
// Reliable and queue throughput: the publisher binds, waits until `workers` durable subscribers or queue
// members have registered with it (NodeStats::consumers), then publishes with Delivery::kAtLeastOnce. Every
// message's on_complete stamps its acknowledgement: the throughput is acknowledged messages per second from the
// first publish to the last acknowledgement, the latency is publish() -> on_complete, with the outbox as full as
// the publisher keeps it (a figure under load, not an idle round trip). One message in kLatencyEvery is timed,
// and the last: two clock reads per message (22 ns each here) and a lock per completion cost the publisher's
// CPU a sixth of its time, which raw libzmq's publisher, timing nothing per message, does not pay.
//
// The slow-subscriber run (`slow_us` > 0) publishes for its duration against a subscriber whose handler sleeps,
// so the outbox fills to its limit and publish() blocks; the figure is the publisher's peak RSS.
//
// Request/reply: the requester binds and calls Node::request() in a loop, one in flight; the replier's handler
// answers each with Node::reply().
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/peer_support.hpp"
#include "bench/peers.hpp"
#include "bench/process.hpp"
#include "bench/statistics.hpp"
#include "weft/weft.hpp"

namespace weft::cli::bench {

namespace {

using std::chrono::duration;

constexpr std::chrono::milliseconds kPoll{5};

std::size_t live_members(const weft::Node& node) {
  std::size_t members = 0;
  for (const auto& consumer : node.stats().consumers) members += consumer.members;
  return members;
}

std::uint64_t status_field_kib(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);  // "VmHWM:    12345 kB"
  }
  return 0;
}

// Every kLatencyEvery-th message is timed (and the last one published): enough samples for a p99.9 at the
// default counts.
constexpr std::uint64_t kLatencyEvery = 16;

// What the completions of the reliable publisher record. They run off the I/O thread, on the node's completion
// thread, while the main thread publishes. That one thread writes the counters (a load and a store, no locked
// instruction); the lock is taken only for a timed message or a failure: one per message cost the publisher's
// CPU 4%.
struct Completions {
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> failed{0};
  std::mutex mutex;                  // guards what follows
  std::vector<double> latencies_us;  // publish() -> on_complete, timed acknowledged messages only
  BenchClock::time_point last{};     // the last timed acknowledgement
  std::string first_failure;

  // `published`: when a timed message was published; the epoch for the others, which read no clock.
  void complete(const Status& status, BenchClock::time_point published) {
    if (status) {
      if (published != BenchClock::time_point{}) {
        const auto now = BenchClock::now();
        std::lock_guard lock(mutex);
        latencies_us.push_back(duration<double, std::micro>(now - published).count());
        last = now;
      }
      acknowledged.store(acknowledged.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    } else {
      {
        std::lock_guard lock(mutex);
        if (first_failure.empty()) first_failure = status.to_string();
      }
      failed.store(failed.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
  }
  // Acquire: once it counts a message, what its completion wrote under the lock is visible to the next lock.
  std::uint64_t settled() const {
    return acknowledged.load(std::memory_order_acquire) + failed.load(std::memory_order_acquire);
  }
};

}  // namespace

std::uint64_t peak_rss_kib() {
  return status_field_kib("VmHWM");
}

std::uint64_t current_rss_kib() {
  return status_field_kib("VmRSS");
}

Status run_weft_reliable_publisher(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  const bool slow = spec.slow_us > 0;
  weft::NodeOptions options = node_options(spec);
  options.bind = spec.bind;
  options.overflow = weft::OverflowPolicy::kBlock;
  if (spec.outbox_messages > 0) options.outbox.max_messages = spec.outbox_messages;
  options.outbox.block_timeout = std::chrono::milliseconds(500);  // publish_until() retries until the deadline
  const std::uint64_t outbox_messages = options.outbox.max_messages;
  const std::uint64_t outbox_bytes = options.outbox.max_bytes;
  // Declared before the node, so that it outlives the node's last callbacks (the node's close() and destructor
  // run what is still outstanding). The callbacks then capture a plain pointer: with the time of publishing, 16
  // bytes, which std::function keeps inline; a shared_ptr capture (24 bytes) cost an allocation per message on
  // the publishing thread and a free on the completion thread, both on the CPU being measured.
  Completions completions;
  weft::Node node(std::move(options));
  ParentLink::say(Report("endpoint").add("ep", node.endpoints().front()).line());

  const auto setup_deadline = BenchClock::now() + kSetupTimeout;
  while (live_members(node) < spec.workers) {
    if (BenchClock::now() >= setup_deadline) {
      return Status::timeout(std::to_string(live_members(node)) + " of " + std::to_string(spec.workers) +
                             " durable subscriber(s) or queue member(s) registered in time");
    }
    std::this_thread::sleep_for(kPoll);
  }
  const std::uint64_t rss_start = current_rss_kib();

  completions.latencies_us.reserve(std::min<std::uint64_t>(spec.count / kLatencyEvery + 1, 1u << 20));
  const std::vector<std::byte> payload(spec.size, std::byte{'x'});
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  std::uint64_t sent = 0;
  std::uint64_t waits = 0;
  bool cut_short = false;
  while (sent < spec.count && !cut_short) {
    if ((sent & 0xff) == 0 && BenchClock::now() >= deadline) break;
    weft::PublishOptions publish;
    publish.delivery = weft::Delivery::kAtLeastOnce;
    const bool timed = sent % kLatencyEvery == 0 || sent + 1 == spec.count;
    const auto published = timed ? BenchClock::now() : BenchClock::time_point{};
    publish.on_complete = [record = &completions, published](const Status& status) { record->complete(status, published); };
    while (true) {
      // Moved in: the options are built afresh for each message, and a refused publish leaves them as they were.
      Status status = node.publish(kReliableSubject, payload, {}, std::move(publish));
      if (status) break;
      if (status.code() != weft::ErrorCode::kTimeout)
        return status.with_context("publishing message " + std::to_string(sent));
      ++waits;  // the outbox stayed full for block_timeout
      if (BenchClock::now() >= deadline) {
        cut_short = true;
        break;
      }
    }
    if (!cut_short) ++sent;
  }
  const auto published_all = BenchClock::now();
  if (!slow) {
    // Every message settles within its timeout; the run waits for that within its own bounds.
    const auto settle_deadline = published_all + kSetupTimeout + kQuietTimeout;
    (void)node.wait_for_acknowledgements(kSetupTimeout);
    while (completions.settled() < sent && BenchClock::now() < settle_deadline) std::this_thread::sleep_for(kPoll);
  }
  weft::NodeStats stats = node.stats();
  Report result("result");
  {
    std::lock_guard lock(completions.mutex);
    Percentiles p = percentiles(completions.latencies_us);
    const std::uint64_t acknowledged = completions.acknowledged.load(std::memory_order_relaxed);
    const double seconds = acknowledged > 0 ? duration<double>(completions.last - start).count() : 0.0;
    result.add("sent", sent)
        .add("acknowledged", acknowledged)
        .add("failed", completions.failed.load(std::memory_order_relaxed))
        .add("seconds", seconds)
        .add("publish_seconds", duration<double>(published_all - start).count())
        .add("publish_waits", waits)
        .add("p50_us", p.p50)
        .add("p99_us", p.p99)
        .add("p999_us", p.p999)
        .add("redelivered", stats.reliable.redelivered)
        .add("outbox_max_messages", outbox_messages)
        .add("outbox_max_bytes", outbox_bytes)
        .add("rss_start_kib", rss_start)
        .add("peak_rss_kib", peak_rss_kib());
    if (!completions.first_failure.empty()) {
      std::string why = completions.first_failure;
      for (char& c : why) {
        if (c == ' ' || c == '=') c = '_';
      }
      result.add("first_failure", why);
    }
  }
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  ParentLink::wait_for_release();
  node.close();  // whatever is still in the outbox (the slow run) fails now, without waiting for its timeout
  return Status::ok();
}

Status run_weft_durable_subscriber(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 1, "connect"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.connect = spec.connect;
  weft::Node node(std::move(options));
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> stopping{false};
  const auto sleep = std::chrono::microseconds(spec.slow_us);
  auto handler = [&](const weft::Message&) {
    received.fetch_add(1, std::memory_order_relaxed);
    if (sleep.count() > 0 && !stopping.load(std::memory_order_relaxed)) std::this_thread::sleep_for(sleep);
  };
  weft::SubscribeOptions subscribe;
  if (spec.queue) {
    subscribe.queue = std::string(kConsumerName);
  } else {
    subscribe.durable = std::string(kConsumerName);
  }
  auto subscription = node.subscribe(kReliableSubject, handler, subscribe);
  if (!subscription) return subscription.status().with_context("subscribing");
  ParentLink::wait_for_release();
  stopping.store(true, std::memory_order_relaxed);  // a slow handler's backlog goes quickly now
  subscription->unsubscribe();
  weft::NodeStats stats = node.stats();
  Report result("result");
  result.add("received", received.load())
      .add("duplicates", stats.reliable.duplicates)
      .add("acks_sent", stats.reliable.acks_sent)
      .add("resend_requests", stats.reliable.resend_requests);
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_weft_request(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.bind, 1, "bind"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.bind = spec.bind;
  weft::Node node(std::move(options));
  ParentLink::say(Report("endpoint").add("ep", node.endpoints().front()).line());
  if (Status s = node.wait_for_subscribers(kRequestSubject, 1, kSetupTimeout); !s) {
    return s.with_context("waiting for the replier");
  }
  const std::vector<std::byte> payload(spec.size, std::byte{'x'});
  auto samples_us = time_round_trips(spec, [&](std::uint64_t i) {
    auto reply = node.request(kRequestSubject, payload, kQuietTimeout);
    return reply ? Status::ok() : reply.status().with_context("request " + std::to_string(i));
  });
  if (!samples_us) return samples_us.status();
  Report result = round_trip_result(*samples_us);
  weft::NodeStats stats = node.stats();
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_weft_replier(const PeerSpec& spec) {
  if (Status s = expect_endpoints(spec.connect, 1, "connect"); !s) return s;
  weft::NodeOptions options = node_options(spec);
  options.connect = spec.connect;
  weft::Node node(std::move(options));
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> failures{0};
  auto subscription = node.subscribe(kRequestSubject, [&](const weft::Message& m) {
    if (node.reply(m, m.payload())) {
      replies.fetch_add(1, std::memory_order_relaxed);
    } else {
      failures.fetch_add(1, std::memory_order_relaxed);
    }
  });
  if (!subscription) return subscription.status().with_context("subscribing");
  ParentLink::wait_for_release();
  subscription->unsubscribe();
  weft::NodeStats stats = node.stats();
  Report result("result");
  result.add("replies", replies.load()).add("reply_failures", failures.load());
  add_drop_counters(result, stats);
  ParentLink::say(result.line());
  return Status::ok();
}

}  // namespace weft::cli::bench
