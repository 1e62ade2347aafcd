#include "node/node_core.hpp"

#include "node/reliability.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <random>

#include "codec/wire_format.hpp"
#include "transport/zmq_transport.hpp"
#include "subject/reserved.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

namespace {

// Frames between max_frame_size and this are received and counted as oversized; past it, ZeroMQ drops the
// connection on its own, so that a hostile peer cannot make the node allocate without bound.
constexpr std::int64_t kHardFrameLimitFactor = 2;
constexpr std::int64_t kHardFrameLimitSlack = 1024 * 1024;

// How long a caller waits for the I/O thread to carry out a connect or disconnect.
constexpr std::chrono::seconds kCommandTimeout{10};

std::string default_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "host");
  return std::string(host) + "-" + std::to_string(::getpid());
}

std::uint64_t random_id() {
  std::random_device device;
  std::uint64_t id = 0;
  while (id == 0) id = (std::uint64_t{device()} << 32) ^ device();
  return id;
}

bool is_ipc(const std::string& endpoint) { return endpoint.starts_with("ipc://"); }

void check(bool ok, const std::string& what) {
  if (!ok) throw Error(Status::invalid_argument("NodeOptions." + what));
}

NodeOptions validated(NodeOptions options) {
  if (options.name.empty()) options.name = default_name();
  check(options.max_frame_size >= 1024 && options.max_frame_size <= (std::size_t{1} << 30),
        "max_frame_size must be between 1 KiB and 1 GiB");
  check(options.send_hwm >= 0 && options.recv_hwm >= 0, "send_hwm and recv_hwm must not be negative");
  check(options.publish_queue_messages >= 1, "publish_queue_messages must be at least 1");
  check(options.publish_queue_bytes >= 1024, "publish_queue_bytes must be at least 1 KiB");
  check(options.dispatch_queue_batches >= 1, "dispatch_queue_batches must be at least 1");
  check(options.block_timeout.count() >= 0 && options.linger.count() >= 0,
        "block_timeout and linger must not be negative");
  check(options.io_spin.count() >= 0 && options.dispatch_spin.count() >= 0, "io_spin and dispatch_spin must not be negative");
  auto check_endpoints = [](const std::vector<std::string>& list, const char* field) {
    for (std::size_t i = 0; i < list.size(); ++i) {
      check(!list[i].empty(), std::string(field) + "[" + std::to_string(i) + "] is empty");
    }
  };
  check_endpoints(options.bind, "bind");
  check_endpoints(options.connect, "connect");
  check_endpoints(options.subscriber_bind, "subscriber_bind");
  check_endpoints(options.publish_to, "publish_to");
  for (std::size_t i = 0; i < options.persistent_subjects.size(); ++i) {
    check(validate_pattern(options.persistent_subjects[i]).is_ok(),
          "persistent_subjects[" + std::to_string(i) + "] is not a valid subject pattern");
  }
  check(options.sidecar.request_timeout.count() >= 1, "sidecar.request_timeout must be at least 1 ms");
  check(options.sidecar.max_in_flight >= 1, "sidecar.max_in_flight must be at least 1");
  // A node that discovers peers must publish somewhere they can reach.
  if (options.discovery.enabled && options.bind.empty()) options.bind.push_back(default_discovery_bind(options.discovery));
  // Once the endpoints are final. A batch is one frame, so it can be no larger than a frame may be.
  options.batch_max_bytes = std::min(batch_max_bytes_for(options), options.max_frame_size);
  return options;
}


void name_thread(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

}  // namespace

std::size_t batch_max_bytes_for(const NodeOptions& options) {
  const bool over_ipc = std::any_of(options.bind.begin(), options.bind.end(), is_ipc) ||
                        std::any_of(options.publish_to.begin(), options.publish_to.end(), is_ipc);
  return over_ipc ? std::min(options.batch_max_bytes, options.ipc_batch_max_bytes) : options.batch_max_bytes;
}

NodeCore::NodeCore(NodeOptions options, std::unique_ptr<Transport> transport, const Clock* clock) {
  options = validated(std::move(options));
  // The node, not the context, owns the executor: executor tasks keep the context alive, and a task that
  // dropped the last reference would otherwise destroy the executor on the executor's own thread.
  executor_ = std::move(options.executor);
  options.executor = nullptr;
  context_ = std::make_shared<NodeContext>(std::move(options), clock ? *clock : SystemClock::instance(), random_id());
  context_->executor = executor_.get();
  const NodeOptions& o = context_->options;
  prepare_discovery();
  if (!transport) {
    TransportOptions t;
    t.send_hwm = o.send_hwm;
    t.recv_hwm = o.recv_hwm;
    t.hard_frame_limit = static_cast<std::int64_t>(o.max_frame_size) * kHardFrameLimitFactor + kHardFrameLimitSlack;
    t.tcp_send_buffer = o.tcp_send_buffer;
    t.tcp_receive_buffer = o.tcp_receive_buffer;
    transport = std::make_unique<ZmqTransport>(t);
  }
  auto fail = [](const Status& status, const char* field, std::size_t index) {
    throw Error(status.with_context("NodeOptions." + std::string(field) + "[" + std::to_string(index) + "]"));
  };
  for (std::size_t i = 0; i < o.bind.size(); ++i) {
    auto bound = transport->bind_publisher(o.bind[i]);
    if (!bound) fail(bound.status(), "bind", i);
    endpoints_.push_back(*bound);
  }
  for (std::size_t i = 0; i < o.subscriber_bind.size(); ++i) {
    auto bound = transport->bind_subscriber(o.subscriber_bind[i]);
    if (!bound) fail(bound.status(), "subscriber_bind", i);
    subscriber_endpoints_.push_back(*bound);
  }
  for (std::size_t i = 0; i < o.connect.size(); ++i) {
    if (Status s = transport->connect_subscriber(o.connect[i]); !s) fail(s, "connect", i);
  }
  for (std::size_t i = 0; i < o.publish_to.size(); ++i) {
    if (Status s = transport->connect_publisher(o.publish_to[i]); !s) fail(s, "publish_to", i);
  }

  context_->inbound_signal_fd = transport->inbound_signal_fd();
  Transport& transport_ref = *transport;
  io_loop_ = std::make_unique<IoLoop>(*context_, std::move(transport));
  start_reliability(transport_ref);
  start_sidecar();
  start_discovery();
  auto dispatcher = std::make_shared<Dispatcher>(context_);
  dispatcher_ = dispatcher;
  // The sockets were made on this thread; starting the thread is the full memory barrier ZeroMQ asks for
  // when a socket moves to another thread, and from now on only the I/O thread touches them.
  io_thread_ = std::thread([loop = io_loop_.get()] {
    name_thread("weft-io");
    loop->run();
  });
  // The thread holds the dispatcher (and through it the context) so that a node destroyed from inside a
  // handler can let the thread finish on its own.
  dispatch_thread_ = std::thread([dispatcher] {
    name_thread("weft-dispatch");
    dispatcher->run();
  });
}

NodeCore::~NodeCore() { shutdown(); }

Status NodeCore::publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers) {
  if (is_persistent_subject(subject)) return publish_persistent(subject, payload, headers, PublishOptions{});
  return enqueue(subject, payload, headers, nullptr);
}

Status NodeCore::enqueue(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                         ReliableRequest* reliable) {
  NodeContext& context = *context_;
  if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  if (Status valid = validate_subject(subject); !valid) return valid;
  if (is_internal_subject(subject)) {
    return Status::invalid_argument("subject '" + std::string(subject) + "' is reserved for Weft's own use");
  }
  if (!headers.empty()) {
    if (Status valid = validate_headers(headers); !valid) return valid;
  }
  const Headers* header_ptr = headers.empty() ? nullptr : &headers;
  std::size_t envelope_bytes = encoded_envelope_size(subject, header_ptr, payload.size());
  if (envelope_bytes > context.options.max_frame_size) {
    return Status::invalid_argument("a message of " + std::to_string(envelope_bytes) +
                                    " bytes encoded is over max_frame_size (" +
                                    std::to_string(context.options.max_frame_size) + ")");
  }
  OutgoingEnvelope envelope;
  envelope.stream = context.id;
  envelope.sequence = 0;  // stamped by the I/O thread as the message leaves, so sequences follow wire order
  envelope.subject = subject;
  envelope.timestamp_ns = context.clock.wall_ns();
  envelope.headers = header_ptr;
  envelope.payload = payload;
  PublishQueue& queue = context.publish_queue;
  auto fill = [&](PublishItem& item) {
    // A slot comes free as best effort with no callbacks (PublishQueue::pop()): only the others have more to set.
    if (reliable != nullptr) queue.set_request(item, std::move(*reliable));
    item.subject_bytes = static_cast<std::uint32_t>(subject.size());
    item.bytes.resize(subject.size());
    std::memcpy(item.bytes.data(), subject.data(), subject.size());
    encode_envelope(item.bytes, envelope);
  };
  const std::size_t bytes = subject.size() + envelope_bytes;
  std::uint64_t popped_before = queue.popped();
  if (queue.try_push(bytes, fill)) {
    NodeCounters::add(context.counters.published);
    context.io_wake.notify();
    return Status::ok();
  }
  auto describe_full = [&] {
    return "the publish queue is full (" + std::to_string(queue.capacity()) + " messages or " +
           std::to_string(queue.max_bytes()) + " bytes): the network or the subscribers are slower than the publisher";
  };
  if (context.options.overflow == OverflowPolicy::kDrop) {
    NodeCounters::add(context.counters.rejected);
    return Status::back_pressure(describe_full());
  }
  auto deadline = std::chrono::steady_clock::now() + context.options.block_timeout;
  while (true) {
    queue.wait_for_room(popped_before, deadline, [&] { return context.closed.load(std::memory_order_relaxed); });
    if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
    popped_before = queue.popped();
    if (queue.try_push(bytes, fill)) {
      NodeCounters::add(context.counters.published);
      context.io_wake.notify();
      return Status::ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      NodeCounters::add(context.counters.rejected);
      return Status::timeout(describe_full() + "; waited " + std::to_string(context.options.block_timeout.count()) +
                             " ms for room");
    }
  }
}

Result<Subscription> NodeCore::subscribe(std::string_view pattern, Handler handler) {
  if (context_->closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  if (Status valid = validate_pattern(pattern); !valid) return valid;
  if (!handler) return Status::invalid_argument("the handler is empty");
  auto state = context_->registry.add(std::string(pattern), std::move(handler));
  std::string prefix(literal_prefix(pattern));
  if (!io_loop_->add_filter(prefix)) {
    context_->registry.remove(state->id());
    return Status::closed("the node is closed");
  }
  return Subscription(std::move(state), weak_from_this());
}

void NodeCore::unsubscribe(SubscriptionState& subscription) {
  if (!context_->registry.remove(subscription.id())) {
    subscription.stop();
    return;
  }
  subscription.stop();
  if (subscription.reliable()) {
    forget_consumer(subscription.id());
    return;
  }
  std::string prefix(literal_prefix(subscription.pattern()));
  // Refused only once the node is stopping, when the sockets are going away anyway.
  (void)io_loop_->remove_filter(prefix);
}

Status NodeCore::wait_for_subscribers(std::string_view pattern, std::size_t count, std::chrono::milliseconds timeout) {
  if (Status valid = validate_pattern(pattern); !valid) return valid;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t seen = context_->remote_filters.wait_for(pattern, count, deadline);
  if (seen >= count) return Status::ok();
  if (context_->closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  return Status::timeout("waited " + std::to_string(timeout.count()) + " ms for " + std::to_string(count) +
                         " subscriber(s) to '" + std::string(pattern) + "', saw " + std::to_string(seen));
}

Status NodeCore::flush(std::chrono::milliseconds timeout) {
  NodeContext& context = *context_;
  const std::uint64_t target = context.publish_queue.pushed();
  auto done = [&] { return context.publish_queue.popped() >= target; };
  if (done()) return Status::ok();
  std::unique_lock lock(context.flush_mutex);
  context.flush_waiters.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool flushed = context.flush_cv.wait_for(lock, timeout, done);
  context.flush_waiters.fetch_sub(1, std::memory_order_relaxed);
  if (flushed) return Status::ok();
  return Status::timeout(std::to_string(target - context.publish_queue.popped()) +
                         " message(s) still queued after " + std::to_string(timeout.count()) + " ms");
}

Status NodeCore::run_on_io_thread(std::function<Status(Transport&)> command) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  if (!io_loop_->post([promise, command = std::move(command)](Transport& t) { promise->set_value(command(t)); })) {
    return Status::closed("the node is closed");
  }
  if (future.wait_for(kCommandTimeout) != std::future_status::ready) {
    return Status::timeout("the I/O thread did not answer within 10 s");
  }
  return future.get();
}

Status NodeCore::connect(std::string_view endpoint) {
  if (endpoint.empty()) return Status::invalid_argument("the endpoint is empty");
  std::string ep(endpoint);
  return run_on_io_thread([ep](Transport& t) { return t.connect_subscriber(ep); });
}

Status NodeCore::disconnect(std::string_view endpoint) {
  std::string ep(endpoint);
  return run_on_io_thread([ep](Transport& t) { return t.disconnect_subscriber(ep); });
}

std::vector<std::string> NodeCore::endpoints() const { return endpoints_; }

std::vector<std::string> NodeCore::subscriber_endpoints() const { return subscriber_endpoints_; }

NodeStats NodeCore::stats() const {
  NodeStats s = context_->counters.snapshot();
  s.remote_subscriptions = context_->remote_filters.total();
  s.reliable.outstanding = context_->outbox_room.messages();
  s.persistent.in_flight = context_->persistent_in_flight.load(std::memory_order_relaxed);
  s.persistent.sidecar_up = context_->sidecar_up.load(std::memory_order_relaxed);
  for (const ConsumerInfo& c : context_->remote_filters.consumers()) {
    s.consumers.push_back({c.key, c.queue, c.pattern, c.members});
  }
  s.subscriptions = context_->registry.stats();
  if (discovery_view_) s.discovery = discovery_view_->stats();
  return s;
}

void NodeCore::close() noexcept {
  context_->closed.store(true, std::memory_order_relaxed);
  close_reliability();
  // Callers waiting for room in the outbox or among the persistent messages in flight return now, with a
  // closed status.
  {
    std::lock_guard lock(context_->persistent_mutex);
  }
  context_->persistent_cv.notify_all();
  context_->outbox_room.notify_all();
  // Callers blocked in publish() (kBlock) or wait_for_subscribers() return now, with a closed status.
  context_->publish_queue.wake_all_waiters();
  context_->remote_filters.close();
}

void NodeCore::shutdown() {
  std::call_once(shutdown_once_, [this] {
    NodeContext& context = *context_;
    close();
    auto linger = context.options.linger;
    auto deadline = std::chrono::steady_clock::now() + linger;
    (void)flush(linger);
    io_loop_->set_linger_deadline(deadline);
    context.stopping.store(true, std::memory_order_release);
    context.io_wake.force_notify();
    context.publish_queue.notify_room();
    if (io_thread_.joinable()) io_thread_.join();
    context.dispatch_wake.force_notify();
    {
      std::lock_guard lock(context.executor_mutex);
      context.executor_cv.notify_all();
    }
    if (dispatch_thread_.joinable()) {
      if (dispatch_thread_.get_id() == std::this_thread::get_id()) {
        context.logger.error("the node was destroyed from inside a handler; its dispatcher stops after the handler");
        dispatch_thread_.detach();
      } else {
        dispatch_thread_.join();
      }
    }
  });
}

}  // namespace weft::detail
