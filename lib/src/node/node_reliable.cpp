// The node's at-least-once delivery, work queues and request/reply: the parts on the I/O thread (control
// channel, publisher and subscriber engines, announcements, requests) and the public calls that reach them.
#include <optional>
#include <random>

#include "node/node_core.hpp"
#include "node/reliability.hpp"
#include "reliable/hello.hpp"
#include "subject/reserved.hpp"
#include "weft/subject.hpp"

namespace weft::detail {


namespace {

// How many messages an at-least-once publisher may have queued for the I/O thread before publish() waits for
// it to take some (with OutboxPolicy::kBlock, up to its block_timeout): one full DELIVER's worth.
constexpr std::uint64_t kAtLeastOnceRunAhead = 1024;

std::uint64_t random_u64() {
  std::random_device device;
  std::uint64_t value = 0;
  while (value == 0) value = (std::uint64_t{device()} << 32) ^ device();
  return value;
}

// The control endpoint when NodeOptions::control_bind is empty: beside the first publish endpoint.
std::string derive_control_endpoint(const NodeOptions& options, const std::vector<std::string>& endpoints) {
  if (!options.control_bind.empty()) return options.control_bind;
  if (!endpoints.empty()) {
    const std::string& first = endpoints.front();
    if (first.starts_with("ipc://")) return first + ".ctl";
    if (first.starts_with("tcp://")) {
      auto colon = first.rfind(':');
      if (colon != std::string::npos && colon > 6) return first.substr(0, colon) + ":*";
    }
  }
  return "tcp://127.0.0.1:*";
}

// A control endpoint bound on every interface is advertised under the host's name, which peers can resolve.
std::string advertised(const std::string& endpoint) {
  for (std::string_view any : {"tcp://0.0.0.0:", "tcp://*:"}) {
    if (endpoint.starts_with(any)) {
      char host[256] = {};
      if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
        return "tcp://" + std::string(host) + ":" + endpoint.substr(any.size());
      }
    }
  }
  return endpoint;
}

std::string routing_id(std::uint64_t node_id, std::uint64_t incarnation) {
  std::string id(16, '\0');
  for (int i = 0; i < 8; ++i) {
    id[static_cast<std::size_t>(i)] = static_cast<char>((node_id >> (56 - 8 * i)) & 0xff);
    id[static_cast<std::size_t>(8 + i)] = static_cast<char>((incarnation >> (56 - 8 * i)) & 0xff);
  }
  return id;
}

}  // namespace

void NodeCore::start_reliability(Transport& transport) {
  ControlTransportOptions control_options;
  control_options.routing_id = routing_id(context_->id, random_u64());
  control_options.max_message_bytes = static_cast<std::int64_t>(context_->options.max_frame_size) * 2 + (1 << 20);
  auto control_transport = transport.make_control_transport(control_options);
  if (!control_transport) return;  // a transport without a control channel: best effort only

  auto channel = std::make_unique<ControlChannel>(*context_, std::move(control_transport));
  std::string endpoint = derive_control_endpoint(context_->options, endpoints_);
  auto bound = channel->bind(endpoint);
  if (!bound) throw Error(bound.status().with_context("NodeOptions.control_bind"));

  auto reliability = std::make_unique<Reliability>(*context_, *channel, random_u64());
  if (!context_->options.data_dir.empty()) {
    auto store = DeadLetterStore::open(reliability->fs, context_->clock, context_->options.data_dir + "/dlq");
    if (!store) throw Error(store.status().with_context("NodeOptions.data_dir"));
    reliability->dead_letters = std::move(*store);
  }
  if (context_->options.outbox.persist) {
    if (context_->options.data_dir.empty()) {
      throw Error(Status::invalid_argument("NodeOptions.outbox.persist needs NodeOptions.data_dir"));
    }
    OutboxStore::Recovered recovered;
    auto store = OutboxStore::open(reliability->fs, context_->clock, context_->options.data_dir + "/outbox", recovered);
    if (!store) throw Error(store.status().with_context("NodeOptions.outbox.persist"));
    reliability->outbox = std::move(*store);
    reliability->publisher.restore(reliability->outbox.get(), recovered, context_->clock.now());
    if (!recovered.entries.empty()) {
      context_->logger.log(LogLevel::kWarning, "the disk outbox holds " + std::to_string(recovered.entries.size()) +
                                                   " message(s) not yet acknowledged: sending them again");
    }
  }
  // The publisher engine was made before the stores existed; hand them over now (nothing runs yet).
  reliability_ = std::move(reliability);
  reliability_->control_endpoint = advertised(*bound);
  reliability_->control_bound = *bound;
  reliability_->publisher.set_dead_letters(reliability_->dead_letters.get());
  channel->add_handler(&reliability_->publisher);
  channel->add_handler(&reliability_->subscriber);
  channel->add_handler(&reliability_->requests);
  io_loop_->set_reliable(&reliability_->publisher);
  io_loop_->add_agent(std::move(channel));
  io_loop_->add_agent(std::make_unique<HelloAgent>(
      *context_, Hello{context_->id, context_->options.name, reliability_->control_endpoint}));

  // Learn where publishers' control channels are from their announcements.
  auto state = context_->registry.add(
      std::string(kHelloSubject),
      [this](const Message& message) {
        auto hello = decode_hello(message.payload());
        if (!hello || hello->node_id == context_->id) return;
        (void)io_loop_->post([this, hello = std::move(*hello)](Transport&) {
          if (discovered_nodes_.count(hello.node_id) != 0) return;  // discovery told us already
          reliability_->subscriber.learn_publisher(hello.control_endpoint, hello.node_id, context_->clock.now());
        });
      },
      nullptr, true);
  if (!io_loop_->add_filter(std::string(kHelloSubject))) return;
  hello_subscription_ = Subscription(std::move(state), weak_from_this());
}

std::string NodeCore::control_endpoint() const { return reliability_ ? reliability_->control_endpoint : ""; }

Status NodeCore::reserve_outbox(std::size_t bytes) {
  NodeContext& context = *context_;
  const OutboxOptions& limits = context.options.outbox;
  OutboxRoom& room = context.outbox_room;
  if (limits.policy == OutboxPolicy::kDropOldest) {
    room.reserve(bytes);  // the I/O thread fails the oldest to make room
    return Status::ok();
  }
  if (room.try_reserve(bytes, limits.max_messages, limits.max_bytes)) return Status::ok();
  auto full = [&] {
    return "the at-least-once outbox is full (" + std::to_string(room.messages()) + " messages, " +
           std::to_string(room.bytes()) + " bytes)";
  };
  if (limits.policy == OutboxPolicy::kReject) {
    NodeCounters::add(context.counters.outbox_rejected);
    return Status::back_pressure(full() + ": consumers are not acknowledging fast enough");
  }
  const bool reserved =
      room.reserve_until(bytes, limits.max_messages, limits.max_bytes,
                         std::chrono::steady_clock::now() + limits.block_timeout,
                         [&] { return context.closed.load(std::memory_order_relaxed); });
  if (context.closed.load(std::memory_order_relaxed)) {
    if (reserved) room.release(1, bytes);
    return Status::closed("the node is closed");
  }
  if (!reserved) {
    NodeCounters::add(context.counters.outbox_rejected);
    return Status::timeout("the at-least-once outbox stayed full for " + std::to_string(limits.block_timeout.count()) +
                           " ms");
  }
  return Status::ok();
}

Status NodeCore::publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                         PublishOptions&& options) {
  Delivery delivery = Delivery::kBestEffort;
  if (options.delivery) {
    delivery = *options.delivery;
  } else if (is_persistent_subject(subject)) {
    delivery = Delivery::kPersistent;
  } else {
    for (const auto& pattern : context_->options.at_least_once_subjects) {
      if (subject_matches(pattern, subject)) delivery = Delivery::kAtLeastOnce;
    }
  }
  if (delivery == Delivery::kBestEffort) return enqueue(subject, payload, headers, nullptr);
  if (delivery == Delivery::kPersistent) return publish_persistent(subject, payload, headers, std::move(options));
  if (!reliability_) return Status::unavailable("at-least-once delivery needs a control channel, which this node lacks");
  if (context_->closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  std::size_t bytes = encoded_envelope_size(subject, headers.empty() ? nullptr : &headers, payload.size());
  if (Status reserved = reserve_outbox(bytes); !reserved) return reserved;
  if (context_->options.outbox.policy == OutboxPolicy::kBlock) {
    // A publisher far ahead of the I/O thread gains nothing: the consumers' credit decides when a message
    // leaves the outbox. On a CPU the two share, its burst only holds up the DELIVERs and the acknowledgements
    // it waits for (a pinned bench ran 8-10% faster with this pacing, docs/performance.md).
    const OutboxOptions& limits = context_->options.outbox;
    auto closed = [this] { return context_->closed.load(std::memory_order_relaxed); };
    if (!context_->publish_queue.wait_while_queued(kAtLeastOnceRunAhead, limits.block_timeout, closed)) {
      context_->release_outbox(bytes);
      if (closed()) return Status::closed("the node is closed");
      NodeCounters::add(context_->counters.rejected);
      return Status::timeout("the node's I/O thread took none of the " + std::to_string(kAtLeastOnceRunAhead) +
                             " or more messages queued for it in " + std::to_string(limits.block_timeout.count()) +
                             " ms");
    }
  }
  ReliableRequest request;
  request.timeout = options.timeout;
  request.on_complete = std::move(options.on_complete);
  Status queued = enqueue(subject, payload, headers, &request);
  if (!queued) {
    context_->release_outbox(bytes);
    // Not queued: the callback goes back, so that a caller that moved its options in can publish them again.
    options.on_complete = std::move(request.on_complete);
  }
  return queued;
}

Status NodeCore::wait_for_acknowledgements(std::chrono::milliseconds timeout) {
  NodeContext& context = *context_;
  // First everything queued must reach the outbox, then the outbox must empty.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (Status flushed = flush(timeout); !flushed) return flushed;
  if (context.outbox_room.wait_until(deadline, [&] {
        return context.outbox_room.messages() == 0 && context.persistent_in_flight.load() == 0;
      })) {
    return Status::ok();
  }
  return Status::timeout(std::to_string(context.outbox_room.messages()) + " at-least-once and " +
                         std::to_string(context.persistent_in_flight.load()) +
                         " persistent message(s) still unacknowledged after " + std::to_string(timeout.count()) +
                         " ms");
}

Result<Subscription> NodeCore::subscribe(std::string_view pattern, Handler handler, const SubscribeOptions& options) {
  if (options.durable.empty() && options.queue.empty()) return subscribe(pattern, std::move(handler));
  if (!options.durable.empty() && !options.queue.empty()) {
    return Status::invalid_argument("a subscription is durable or a queue member, not both");
  }
  if (!reliability_) return Status::unavailable("at-least-once delivery needs a control channel, which this node lacks");
  if (context_->closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  if (Status valid = validate_pattern(pattern); !valid) return valid;
  if (!handler) return Status::invalid_argument("the handler is empty");
  if (options.max_deliver < 1) return Status::invalid_argument("max_deliver must be at least 1");
  if (options.max_in_flight < 1) return Status::invalid_argument("max_in_flight must be at least 1");
  if (options.ack_wait.count() < 10) return Status::invalid_argument("ack_wait must be at least 10 ms");
  auto reliable = std::make_shared<ReliableSubscription>(options, random_u64());
  auto state = context_->registry.add(std::string(pattern), std::move(handler), reliable);
  LocalConsumer consumer;
  consumer.subscription_id = state->id();
  consumer.mode = options.durable.empty() ? control::ConsumerMode::kQueue : control::ConsumerMode::kDurable;
  consumer.key = options.durable.empty() ? options.queue : options.durable;
  consumer.pattern = std::string(pattern);
  consumer.session = reliable->session;
  consumer.ack_wait = options.ack_wait;
  consumer.max_deliver = options.max_deliver;
  consumer.credit = options.max_in_flight;
  bool posted = io_loop_->post([this, consumer = std::move(consumer)](Transport&) mutable {
    reliability_->subscriber.add(std::move(consumer), context_->clock.now());
  });
  if (!posted) {
    context_->registry.remove(state->id());
    return Status::closed("the node is closed");
  }
  return Subscription(std::move(state), weak_from_this());
}

void NodeCore::forget_consumer(std::uint64_t subscription_id) {
  if (!reliability_) return;
  (void)io_loop_->post([this, subscription_id](Transport&) { reliability_->subscriber.remove(subscription_id); });
}

void NodeCore::close_reliability() noexcept {
  if (!reliability_) return;
  reliability_->pending.close();
  context_->outbox_room.notify_all();
}

Result<OwnedMessage> NodeCore::request(std::string_view subject, std::span<const std::byte> payload,
                                       std::chrono::milliseconds timeout, const Headers& headers) {
  NodeContext& context = *context_;
  if (!reliability_) return Status::unavailable("request/reply needs a control channel, which this node lacks");
  if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  if (Status valid = validate_subject(subject); !valid) return valid;
  // Nobody subscribed: say so at once rather than let the caller wait out its timeout.
  if (context.remote_filters.count_overlapping(subject) == 0) {
    NodeCounters::add(context.counters.no_responders);
    return Status::no_responders("no node subscribes to '" + std::string(subject) + "'");
  }
  NodeCounters::add(context.counters.requests);
  std::uint64_t id = reliability_->pending.open();
  Headers with_reply = headers;
  with_reply.set(kReplyToHeader, reliability_->control_endpoint);
  with_reply.set(kRequestIdHeader, std::to_string(id));
  // A queue group answers once: the request goes to one of its members through the outbox as well.
  std::optional<ReliableRequest> to_queues;
  for (const ConsumerInfo& consumer : context.remote_filters.consumers()) {
    if (consumer.queue && consumer.members > 0 && subject_matches(consumer.pattern, subject)) {
      to_queues.emplace();
      to_queues->request = true;
      to_queues->timeout = timeout;
      break;
    }
  }
  if (to_queues) (void)reserve_outbox(payload.size());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool reserved = static_cast<bool>(to_queues);
  Status sent = enqueue(subject, payload, with_reply, to_queues ? &*to_queues : nullptr);
  if (!sent) {
    if (reserved) context.release_outbox(payload.size());
    (void)reliability_->pending.wait(id, std::chrono::steady_clock::now());
    return sent;
  }
  auto reply = reliability_->pending.wait(id, deadline);
  if (reply) return std::move(*reply);
  if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  NodeCounters::add(context.counters.request_timeouts);
  return Status::timeout("no reply to '" + std::string(subject) + "' within " + std::to_string(timeout.count()) + " ms");
}

Status NodeCore::reply(const Message& request, std::span<const std::byte> payload, const Headers& headers) {
  if (!reliability_) return Status::unavailable("request/reply needs a control channel, which this node lacks");
  auto reply_to = request.headers().get(kReplyToHeader);
  auto id_text = request.headers().get(kRequestIdHeader);
  if (!reply_to || !id_text || reply_to->empty()) {
    return Status::invalid_argument("the message on '" + std::string(request.subject()) + "' is not a request");
  }
  std::uint64_t request_id = 0;
  for (char c : *id_text) {
    if (c < '0' || c > '9') return Status::invalid_argument("the request id '" + std::string(*id_text) + "' is not a number");
    request_id = request_id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (Status valid = validate_headers(headers); !valid) return valid;
  OutgoingEnvelope envelope;
  envelope.stream = context_->id;
  envelope.sequence = 0;
  envelope.subject = request.subject();
  envelope.timestamp_ns = context_->clock.wall_ns();
  envelope.headers = headers.empty() ? nullptr : &headers;
  envelope.payload = payload;
  ByteBuffer bytes;
  encode_envelope(bytes, envelope);
  if (bytes.size() > context_->options.max_frame_size) {
    return Status::invalid_argument("the reply is over max_frame_size");
  }
  bool posted = io_loop_->post([this, endpoint = std::string(*reply_to), request_id, bytes = std::move(bytes)](
                                   Transport&) mutable {
    reliability_->requests.send_reply(std::move(endpoint), request_id, std::move(bytes), context_->clock.now());
  });
  return posted ? Status::ok() : Status::closed("the node is closed");
}

}  // namespace weft::detail
