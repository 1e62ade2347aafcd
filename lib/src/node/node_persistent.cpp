// Persistent publishing (Delivery::kPersistent, docs/sidecar.md "Publishing from a node"): the public calls'
// side. Messages travel on the publish queue like every other; the I/O loop hands them to the sidecar agent,
// which owns the SidecarClient, instead of the publish/subscribe sockets.
#include <random>

#include "node/node_core.hpp"
#include "node/reliability.hpp"
#include "node/sidecar_agent.hpp"
#include "node/sidecar_dead_letters.hpp"
#include "sidecar/sidecar_endpoint.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

namespace {

std::uint64_t random_stream_id() {
  std::random_device device;
  std::uint64_t value = 0;
  while (value == 0) value = (std::uint64_t{device()} << 32) ^ device();
  return value;
}

}  // namespace

void NodeCore::start_sidecar() {
  const SidecarOptions& o = context_->options.sidecar;
  if (!o.enabled) return;
  sidecar::SidecarClientOptions client_options;
  client_options.endpoint = o.endpoint.empty() ? sidecar::default_sidecar_endpoint() : o.endpoint;
  client_options.request_timeout = o.request_timeout;
  // The node bounds what is in flight itself (max_in_flight messages, so at most as many appends).
  client_options.max_requests = o.max_in_flight + 16;
  // The socket is made on this thread and used only by the I/O thread once it starts (as the node's others),
  // in the node's ZeroMQ context: the agent closes it when it stops, before the transport ends the context.
  client_options.context = io_loop_->transport().zmq_context();
  auto client = sidecar::SidecarClient::connect(client_options, context_->clock);
  if (!client) throw Error(client.status().with_context("NodeOptions.sidecar.endpoint"));
  sidecar_endpoint_ = client_options.endpoint;
  auto agent = std::make_unique<SidecarAgent>(*context_, std::move(*client), random_stream_id());
  // The node's dead letters go to weftd too, its own queue (if any) being the fallback (nothing runs yet).
  if (reliability_) {
    reliability_->sidecar_dead_letters =
        std::make_unique<SidecarDeadLetters>(*context_, *agent, reliability_->dead_letters.get());
    reliability_->publisher.set_dead_letters(reliability_->sidecar_dead_letters.get());
  }
  io_loop_->set_sidecar(agent.get());
  io_loop_->add_agent(std::move(agent));
  sidecar_enabled_ = true;
}

bool NodeCore::is_persistent_subject(std::string_view subject) const {
  for (const auto& pattern : context_->options.persistent_subjects) {
    if (subject_matches(pattern, subject)) return true;
  }
  return false;
}

Status NodeCore::reserve_persistent() {
  NodeContext& context = *context_;
  const std::size_t limit = context.options.sidecar.max_in_flight;
  std::unique_lock lock(context.persistent_mutex);
  auto has_room = [&] { return context.persistent_in_flight.load() < limit; };
  if (!has_room()) {
    auto full = [&] {
      return std::to_string(context.persistent_in_flight.load()) +
             " persistent messages wait for weftd's acknowledgement (NodeOptions::sidecar.max_in_flight)";
    };
    if (context.options.outbox.policy != OutboxPolicy::kBlock) return Status::back_pressure(full());
    if (!context.persistent_cv.wait_for(lock, context.options.outbox.block_timeout, [&] {
          return has_room() || context.closed.load(std::memory_order_relaxed);
        })) {
      return Status::timeout(full() + ", for " + std::to_string(context.options.outbox.block_timeout.count()) +
                             " ms");
    }
    if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  }
  context.persistent_in_flight.fetch_add(1);
  return Status::ok();
}

Status NodeCore::publish_persistent(std::string_view subject, std::span<const std::byte> payload,
                                    const Headers& headers, PublishOptions&& options) {
  NodeContext& context = *context_;
  auto refuse = [&](Status why) {
    NodeCounters::add(context.counters.persistent_rejected);
    return why;
  };
  // Never a silent fallback to best effort: the caller asked for a durable copy.
  if (!sidecar_enabled_) {
    return refuse(Status::unavailable("a persistent publish on '" + std::string(subject) +
                                      "' needs a sidecar, and none is configured: set NodeOptions::sidecar.enabled "
                                      "(and run weftd), or publish with another Delivery"));
  }
  if (context.closed.load(std::memory_order_relaxed)) return Status::closed("the node is closed");
  if (context.sidecar_down.load(std::memory_order_relaxed)) {
    return refuse(Status::unavailable("weftd at " + sidecar_endpoint_ + " did not answer within " +
                                      std::to_string(context.options.sidecar.request_timeout.count()) +
                                      " ms: persistent publishes fail until it answers again (is weftd running?)"));
  }
  if (Status reserved = reserve_persistent(); !reserved) return refuse(reserved);
  ReliableRequest request;
  request.persistent = true;
  request.on_complete = std::move(options.on_complete);
  request.on_persisted = std::move(options.on_persisted);
  Status queued = enqueue(subject, payload, headers, &request);
  if (!queued) {
    context.release_persistent(1);
    // Not queued: the callbacks go back, so that a caller that moved its options in can publish them again.
    options.on_complete = std::move(request.on_complete);
    options.on_persisted = std::move(request.on_persisted);
    return refuse(queued);
  }
  NodeCounters::add(context.counters.persistent_published);
  return Status::ok();
}

}  // namespace weft::detail
