// The node every process embeds: it publishes and subscribes over ZeroMQ.
//
//   weft::NodeOptions options;
//   options.bind = {"tcp://127.0.0.1:*"};
//   weft::Node node(options);
//   node.publish("telemetry.host1.cpu", weft::as_bytes("42"));
//
// Every member function is safe to call from any thread. One I/O thread owns the node's sockets; handlers run
// on a dispatcher thread (or the executor in NodeOptions), never on the I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/message.hpp"
#include "weft/options.hpp"
#include "weft/peer.hpp"
#include "weft/stats.hpp"
#include "weft/status.hpp"
#include "weft/subscription.hpp"

namespace weft {

namespace detail {
class NodeCore;
}

class Node {
 public:
  // Binds and connects as the options say and starts the node's threads. Throws weft::Error when the options
  // are invalid or an endpoint cannot be bound.
  explicit Node(NodeOptions options);
  // Waits up to options.linger for queued publications to leave, then stops the threads.
  ~Node();
  Node(Node&&) noexcept;
  Node& operator=(Node&&) noexcept;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Best effort, at most once. Ok once the message is queued for sending. Errors: invalid-argument (bad
  // subject or headers, envelope over max_frame_size), back-pressure (kDrop and the queue is full), timeout
  // (kBlock and no room within block_timeout), closed.
  Status publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers = {});
  Status publish(std::string_view subject, std::string_view text, const Headers& headers = {}) {
    return publish(subject, as_bytes(text), headers);
  }

  // With options: PublishOptions::delivery = Delivery::kAtLeastOnce keeps the message in the outbox until
  // every durable subscriber and queue group that matched it acknowledged it; on_complete says how it ended.
  // Ok once the message is queued; back-pressure or timeout when the outbox is full (OutboxOptions::policy).
  // Delivery::kPersistent (or a subject in NodeOptions::persistent_subjects, also through the plain publish())
  // hands the message to weftd (NodeOptions::sidecar, docs/sidecar.md section 16): on_persisted/on_complete say
  // once it is durable in its stream, or why not. publish() itself returns unavailable at once when the node has
  // no sidecar or weftd is known to be down, and back-pressure or timeout past sidecar.max_in_flight.
  Status publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                 const PublishOptions& options);
  // The same, taking the options' callbacks over instead of copying them: a fresh PublishOptions per message
  // (std::move(options), or a temporary) saves a copy, often an allocation, of on_complete per publish. When
  // publish() refuses the message (any error), the callbacks are left in `options`, so it can be tried again.
  Status publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                 PublishOptions&& options);
  Status publish(std::string_view subject, std::string_view text, const Headers& headers,
                 const PublishOptions& options) {
    return publish(subject, as_bytes(text), headers, options);
  }
  Status publish(std::string_view subject, std::string_view text, const Headers& headers, PublishOptions&& options) {
    return publish(subject, as_bytes(text), headers, std::move(options));
  }

  // Waits until every at-least-once and persistent message published so far is settled: acknowledged
  // everywhere (durable in weftd), or failed. Ok, or timeout saying how many are outstanding. A persistent
  // message counts as settled once its completion callbacks ran, so do not call it from one of them.
  Status wait_for_acknowledgements(std::chrono::milliseconds timeout);

  // Delivers every message whose subject matches the pattern to the handler, until the Subscription is
  // destroyed. Errors: invalid-argument (bad pattern, empty handler), closed.
  Result<Subscription> subscribe(std::string_view pattern, Handler handler);

  // A durable subscription (options.durable) or a work-queue member (options.queue): at least once, settled
  // as options.ack says. With neither set, the same as subscribe(pattern, handler).
  Result<Subscription> subscribe(std::string_view pattern, Handler handler, const SubscribeOptions& options);

  // Joins work-queue `group` on the pattern: each matching message goes to exactly one member of the group.
  Result<Subscription> queue_subscribe(std::string_view pattern, std::string_view group, Handler handler,
                                       SubscribeOptions options = {}) {
    options.queue = std::string(group);
    return subscribe(pattern, std::move(handler), options);
  }

  // Publishes a request and waits for the first reply. Responders subscribe to the subject as usual (or as a
  // queue group, so that one of them answers) and answer with reply(). no-responders at once when no node is
  // subscribed to the subject; timeout when nobody answered in time.
  Result<OwnedMessage> request(std::string_view subject, std::span<const std::byte> payload,
                               std::chrono::milliseconds timeout, const Headers& headers = {});
  Result<OwnedMessage> request(std::string_view subject, std::string_view text, std::chrono::milliseconds timeout,
                               const Headers& headers = {}) {
    return request(subject, as_bytes(text), timeout, headers);
  }
  // Answers a request received in a handler. invalid-argument when the message is not a request.
  Status reply(const Message& request, std::span<const std::byte> payload, const Headers& headers = {});
  Status reply(const Message& request, std::string_view text, const Headers& headers = {}) {
    return reply(request, as_bytes(text), headers);
  }

  // Waits until peers hold at least `count` subscription filters that overlap the subject or pattern: the cure
  // for ZeroMQ's slow joiner, whose first messages are lost while its subscription is still on its way.
  // Ok, or timeout (the message says how many there were).
  Status wait_for_subscribers(std::string_view subject_or_pattern, std::size_t count,
                              std::chrono::milliseconds timeout);

  // Waits until every message accepted so far has been handed to ZeroMQ (or dropped, counted). Ok or timeout.
  Status flush(std::chrono::milliseconds timeout);

  // Adds a connection at run time (as NodeOptions::connect) or removes one.
  Status connect(std::string_view endpoint);
  Status disconnect(std::string_view endpoint);

  // The endpoints this node publishes on, with wildcards resolved ("tcp://127.0.0.1:41237").
  [[nodiscard]] std::vector<std::string> endpoints() const;
  // Where peers reach this node's control channel (acknowledgements, at-least-once deliveries, replies).
  [[nodiscard]] std::string control_endpoint() const;
  // The endpoints its subscriber side listens on (NodeOptions::subscriber_bind), resolved.
  [[nodiscard]] std::vector<std::string> subscriber_endpoints() const;

  [[nodiscard]] NodeStats stats() const;
  // The peers discovery found (NodeOptions::discovery), ordered by name then id; empty when it is off.
  [[nodiscard]] std::vector<PeerInfo> peers() const;
  // A random 64-bit id, new every time a node starts; it is also the stream of its best-effort messages.
  [[nodiscard]] std::uint64_t id() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;

  // Refuses new work from now on and never blocks: publish() and subscribe() return closed, and callers blocked
  // in publish() or wait_for_subscribers() return closed at once. stop() or the destructor still flushes.
  void close() noexcept;

  // Closes, waits up to options.linger for queued publications to leave, then stops the node's threads. What is
  // left is discarded and counted; stats() still answers afterwards, with the final counts. Idempotent; the
  // destructor calls it.
  void stop();

 private:
  std::shared_ptr<detail::NodeCore> core_;
};

}  // namespace weft
