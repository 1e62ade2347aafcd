// The node's machinery behind the public weft::Node facade: it owns the context, the I/O loop and the
// dispatcher, and their two threads.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "node/discovery_agent.hpp"
#include "node/dispatcher.hpp"
#include "node/io_loop.hpp"
#include "node/node_context.hpp"
#include "weft/node.hpp"

namespace weft::detail {

// The batch limit a node's publications get: NodeOptions::batch_max_bytes, lowered to ipc_batch_max_bytes when
// any endpoint it publishes on is ipc (before the max_frame_size bound, which the node applies after).
[[nodiscard]] std::size_t batch_max_bytes_for(const NodeOptions& options);

class NodeCore : public std::enable_shared_from_this<NodeCore> {
 public:
  // Validates the options (throws weft::Error), binds and connects, and starts the threads. `transport` and
  // `clock` are the seams: null means ZeroMQ and the system clock.
  NodeCore(NodeOptions options, std::unique_ptr<Transport> transport = nullptr, const Clock* clock = nullptr);
  ~NodeCore();
  NodeCore(const NodeCore&) = delete;
  NodeCore& operator=(const NodeCore&) = delete;

  Status publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers);
  Result<Subscription> subscribe(std::string_view pattern, Handler handler);

  // At least once, request/reply (node_reliable.cpp).
  // Takes the options' callbacks over (Node::publish copies them for a caller that keeps its options).
  Status publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                 PublishOptions&& options);
  Status wait_for_acknowledgements(std::chrono::milliseconds timeout);
  Result<Subscription> subscribe(std::string_view pattern, Handler handler, const SubscribeOptions& options);
  Result<OwnedMessage> request(std::string_view subject, std::span<const std::byte> payload,
                               std::chrono::milliseconds timeout, const Headers& headers);
  Status reply(const Message& request, std::span<const std::byte> payload, const Headers& headers);
  [[nodiscard]] std::string control_endpoint() const;
  void unsubscribe(SubscriptionState& subscription);
  Status wait_for_subscribers(std::string_view pattern, std::size_t count, std::chrono::milliseconds timeout);
  Status flush(std::chrono::milliseconds timeout);
  Status connect(std::string_view endpoint);
  Status disconnect(std::string_view endpoint);

  [[nodiscard]] std::vector<std::string> endpoints() const;
  [[nodiscard]] std::vector<std::string> subscriber_endpoints() const;
  [[nodiscard]] NodeStats stats() const;
  // Discovered peers (node_discovery.cpp); empty when discovery is off.
  [[nodiscard]] std::vector<PeerInfo> peers() const;
  [[nodiscard]] std::uint64_t id() const noexcept { return context_->id; }
  [[nodiscard]] const std::string& name() const noexcept { return context_->options.name; }

  void close() noexcept;
  // Flushes (up to the linger), stops and joins the threads. Idempotent; the destructor calls it.
  void shutdown();

 private:
  Status run_on_io_thread(std::function<Status(Transport&)> command);
  // Puts one message on the publish queue (with its at-least-once request, if any, which is moved into the queue's
  // slot once the message is queued), as the policy says.
  Status enqueue(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                 ReliableRequest* reliable);
  // Sets up the control channel and the at-least-once parts on the I/O loop (before the threads start).
  void start_reliability(Transport& transport);
  Status reserve_outbox(std::size_t bytes);
  void forget_consumer(std::uint64_t subscription_id);
  void close_reliability() noexcept;
  // Persistent publishing through weftd (node_persistent.cpp): the sidecar agent on the I/O loop, when
  // NodeOptions::sidecar.enabled, and the publish path that hands it messages.
  void start_sidecar();
  [[nodiscard]] bool is_persistent_subject(std::string_view subject) const;
  Status publish_persistent(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                            PublishOptions&& options);
  Status reserve_persistent();
  bool sidecar_enabled_ = false;
  std::string sidecar_endpoint_;  // resolved (the default endpoint when NodeOptions::sidecar.endpoint is empty)
  // Peer discovery, when NodeOptions::discovery.enabled (node_discovery.cpp): the agent is built (and its
  // options checked) before anything is bound, and added to the I/O loop once the endpoints are known.
  void prepare_discovery();
  void start_discovery();
  std::unique_ptr<Discovery> discovery_;  // between prepare_discovery() and start_discovery()
  std::shared_ptr<DiscoveryView> discovery_view_;  // null when discovery is off
  // Peers whose control endpoint discovery handed to the at-least-once layer: their announcements are then
  // ignored, so that one node is never registered with under two endpoints. I/O thread only.
  std::set<std::uint64_t> discovered_nodes_;

  struct Reliability;
  std::unique_ptr<Reliability> reliability_;  // null when the transport has no control channel

  std::shared_ptr<Executor> executor_;  // NodeOptions::executor; declared before context_, destroyed after it
  std::shared_ptr<NodeContext> context_;
  std::unique_ptr<IoLoop> io_loop_;
  std::shared_ptr<Dispatcher> dispatcher_;
  std::thread io_thread_;
  std::thread dispatch_thread_;
  std::vector<std::string> endpoints_;
  std::vector<std::string> subscriber_endpoints_;
  std::once_flag shutdown_once_;
  Subscription hello_subscription_;
};

}  // namespace weft::detail
