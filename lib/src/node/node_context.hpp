// What the parts of a node share: its options, clock, log, counters, queues and subscription registry. The
// NodeCore owns one; the I/O loop and the dispatcher each hold a reference.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "node/publish_queue.hpp"
#include "node/spsc_ring.hpp"
#include "node/subscription_registry.hpp"
#include "transport/transport.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/wake_signal.hpp"
#include "weft/options.hpp"
#include "weft/stats.hpp"

namespace weft::detail {

// Kinds of rate-limited log lines.
enum LogKind : std::size_t {
  kLogBadFraming,
  kLogOversized,
  kLogBadSubject,
  kLogBadEnvelope,
  kLogBadVersion,
  kLogSubjectMismatch,
  kLogBadSubscription,
  kLogHandlerException,
  kLogDroppedHwm,
  kLogTransportFailure,
};

struct NodeCounters {
  using Counter = std::atomic<std::uint64_t>;
  Counter published{0}, rejected{0}, sent{0}, dropped_hwm{0}, send_errors{0}, discarded_on_close{0};
  Counter batches_sent{0}, handler_exceptions{0};
  Counter batches_received{0}, received{0}, unmatched{0}, delivered{0}, undelivered_on_close{0};
  Counter bad_framing{0}, oversized{0}, bad_subject{0}, bad_envelope{0}, bad_version{0}, subject_mismatch{0};
  Counter bad_subscription{0};

  static void add(Counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] NodeStats snapshot() const;
};

// Subscription filters that remote subscribers hold on this node's publishing side, as the XPUB reports them.
class RemoteFilters {
 public:
  void apply(const FilterEvent& event);
  // Filters that could let through some subject the pattern matches.
  [[nodiscard]] std::size_t count_overlapping(std::string_view pattern) const;
  [[nodiscard]] std::uint64_t total() const;
  // Waits until count_overlapping(pattern) >= count or the deadline passes; returns the last count seen.
  std::size_t wait_for(std::string_view pattern, std::size_t count, std::chrono::steady_clock::time_point deadline);
  // Ends every wait_for() now (the node is closing).
  void close();

 private:
  std::size_t count_locked(std::string_view pattern) const;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::size_t, std::less<>> counts_;
  std::uint64_t total_ = 0;
  bool closed_ = false;
};

struct NodeContext {
  NodeContext(NodeOptions node_options, const Clock& node_clock, std::uint64_t node_id);

  const NodeOptions options;
  const Clock& clock;
  const std::uint64_t id;
  Logger logger;
  RateLimitedLog limited_log;
  NodeCounters counters;
  SubscriptionRegistry registry;
  RemoteFilters remote_filters;

  // Publishing threads -> I/O thread.
  PublishQueue publish_queue;
  WakeSignal io_wake;
  // Messages the I/O thread took from the publish queue and has sent, dropped or discarded; a flush waits on it.
  std::atomic<std::uint64_t> publications_done{0};
  std::mutex flush_mutex;
  std::condition_variable flush_cv;
  std::atomic<int> flush_waiters{0};

  // I/O thread -> dispatcher.
  SpscRing<InboundMessage> inbound;
  std::atomic<bool> inbound_blocked{false};  // the I/O thread waits for the dispatcher to make room
  // Wakes the dispatcher when it sleeps; wake_dispatcher() is cheap when it does not.
  WakeSignal dispatch_wake;
  void wake_dispatcher() noexcept { dispatch_wake.notify(); }
  // The transport's "input may have arrived" descriptor (ZMQ_FD of the subscribing socket), or -1. The
  // dispatcher only watches it, never touches the socket: it wakes together with the I/O thread instead of
  // after it, which takes one sleeping thread's wake-up off every received message's latency.
  int inbound_signal_fd = -1;

  // Dispatcher -> application executor (NodeOptions::executor): tasks in flight, bounded.
  std::mutex executor_mutex;
  std::condition_variable executor_cv;
  std::size_t executor_inflight = 0;

  std::atomic<bool> closed{false};     // no new work accepted
  std::atomic<bool> stopping{false};   // threads should finish
};

}  // namespace weft::detail
