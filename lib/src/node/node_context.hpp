// What the parts of a node share: its options, clock, log, counters, queues and subscription registry. The
// NodeCore owns one; the I/O loop and the dispatcher each hold a reference.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/outbox_room.hpp"
#include "node/publish_queue.hpp"
#include "reliable/ack_queue.hpp"
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
  kLogBadControl,
  kLogReliable,
};

struct NodeCounters {
  using Counter = std::atomic<std::uint64_t>;
  Counter published{0}, rejected{0}, sent{0}, dropped_hwm{0}, send_errors{0}, discarded_on_close{0};
  Counter batches_sent{0}, handler_exceptions{0};
  Counter batches_received{0}, received{0}, unmatched{0}, delivered{0}, undelivered_on_close{0};
  Counter bad_framing{0}, oversized{0}, bad_subject{0}, bad_envelope{0}, bad_version{0}, subject_mismatch{0};
  Counter bad_subscription{0};
  // The control channel and at-least-once delivery.
  Counter control_sent{0}, control_received{0}, control_malformed{0}, control_unhandled{0};
  Counter reliable_published{0}, reliable_acknowledged{0}, reliable_failed{0}, reliable_expired{0};
  Counter reliable_unrouted{0}, outbox_rejected{0}, outbox_dropped{0}, reliable_deliveries{0};
  Counter reliable_redelivered{0}, reliable_naks{0}, ack_timeouts{0}, stale_acks{0}, dead_lettered{0};
  Counter dead_letter_failures{0}, reliable_received{0}, reliable_duplicates{0}, reliable_suppressed{0};
  Counter acks_sent{0}, naks_sent{0}, acks_rejected{0}, resend_requests{0};
  Counter requests{0}, replies{0}, request_timeouts{0}, no_responders{0};
  Counter announcements{0}, late_replies{0}, reliable_restored{0};
  // Persistent publishing through weftd.
  Counter persistent_published{0}, persistent_rejected{0}, persisted{0}, persist_failed{0}, persist_unavailable{0};
  Counter persist_appends{0};

  static void add(Counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
  // For a counter that only one thread ever writes (the I/O thread's per-message ones): a plain load and store.
  // A locked add also waits for every store before it to reach the cache, and on the at-least-once path those
  // are stores to cold memory (the outbox entry and its buffer): the wait showed as most of PublisherEngine::add.
  static void add_single_writer(Counter& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] NodeStats snapshot() const;
};

// A durable consumer or queue group some peer registered with this node's publishing side.
struct ConsumerInfo {
  std::string key;
  bool queue = false;
  std::string pattern;
  std::size_t members = 0;
};

// Subscription filters that remote subscribers hold on this node's publishing side, as the XPUB reports them,
// and the at-least-once consumers registered over the control channel: who would receive what is published.
class RemoteFilters {
 public:
  void apply(const FilterEvent& event);
  void set_consumers(std::vector<ConsumerInfo> consumers);
  [[nodiscard]] std::vector<ConsumerInfo> consumers() const;
  // Filters that could let through some subject the pattern matches.
  [[nodiscard]] std::size_t count_overlapping(std::string_view pattern) const;
  // Whether a peer's subscribing socket holds a filter that lets `subject` through (consumers aside).
  [[nodiscard]] bool any_filter_for(std::string_view subject) const;
  [[nodiscard]] std::uint64_t total() const;
  // Bumped by every subscription event, the node's own announcements' included: cheap to poll for change.
  [[nodiscard]] std::uint64_t changes() const noexcept { return changes_.load(std::memory_order_relaxed); }
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
  std::vector<ConsumerInfo> consumers_;
  bool closed_ = false;
  std::atomic<std::uint64_t> changes_{0};
};

// What the I/O thread hands the dispatcher: a received message, and for an at-least-once delivery the
// metadata its acknowledgements need.
struct DispatchItem {
  InboundMessage frames;
  std::unique_ptr<ReliableMeta> reliable;
};

struct NodeContext {
  NodeContext(NodeOptions node_options, const Clock& node_clock, std::uint64_t node_id);

  const NodeOptions options;  // options.executor is moved out: see executor
  // NodeOptions::executor, or null. Owned by the NodeCore, which joins the dispatcher (its only user) first.
  Executor* executor = nullptr;
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
  SpscRing<DispatchItem> inbound;
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

  // Work the I/O thread hands the dispatcher besides messages (completions of at-least-once publishes):
  // it must not run application code itself.
  void post_to_dispatcher(std::function<void()> task) {
    {
      std::lock_guard lock(tasks_mutex);
      tasks.push_back(std::move(task));
    }
    dispatch_wake.force_notify();
  }
  // The same for many tasks at once: one lock and one wake-up (the completions of one I/O pass).
  void post_to_dispatcher(std::vector<std::function<void()>>& batch) {
    if (batch.empty()) return;
    {
      std::lock_guard lock(tasks_mutex);
      if (tasks.empty()) {
        tasks.swap(batch);
      } else {
        for (auto& task : batch) tasks.push_back(std::move(task));
      }
    }
    batch.clear();
    dispatch_wake.force_notify();
  }
  std::mutex tasks_mutex;
  std::vector<std::function<void()>> tasks;

  // Decisions about at-least-once deliveries, from whoever handled them to the I/O thread.
  AckQueue acks;

  // The at-least-once outbox's occupancy, reserved by publish() and released by the I/O thread.
  OutboxRoom outbox_room;
  // Persistent messages publish() handed to the I/O thread and weftd has not answered yet: changed under
  // persistent_mutex, signalled by persistent_cv; an atomic, since wait_for_acknowledgements() reads it too.
  std::mutex persistent_mutex;
  std::condition_variable persistent_cv;
  std::atomic<std::size_t> persistent_in_flight{0};
  void release_persistent(std::size_t count) {
    {
      std::lock_guard lock(persistent_mutex);
      persistent_in_flight.store(persistent_in_flight.load() - std::min(persistent_in_flight.load(), count));
    }
    persistent_cv.notify_all();
    outbox_room.wake_waiters();  // wait_for_acknowledgements() waits for both to empty
  }
  // Whether weftd answered the last time the sidecar agent asked (set on the I/O thread): while it is false a
  // persistent publish fails at once rather than wait out the request timeout.
  std::atomic<bool> sidecar_up{false};
  std::atomic<bool> sidecar_down{false};
  // A message taken back from the disk outbox occupies the outbox like a published one.
  void reserve_restored(std::size_t bytes) { outbox_room.reserve(bytes); }
  void release_outbox(std::size_t bytes) { release_outbox(1, bytes); }
  // Many messages at once (the completions of one I/O pass): one release.
  void release_outbox(std::size_t messages, std::size_t bytes) { outbox_room.release(messages, bytes); }

  // The consumers peers registered here, for wait_for_subscribers() and request()'s "no responders".
  void set_consumers(std::vector<ConsumerInfo> list) { remote_filters.set_consumers(std::move(list)); }

  std::atomic<bool> closed{false};     // no new work accepted
  std::atomic<bool> stopping{false};   // threads should finish
};

}  // namespace weft::detail
