// Peer discovery in the node: builds the discovery agent from NodeOptions::discovery and steps it on the I/O
// loop (node/discovery_agent.hpp), and answers peers().
#include <chrono>

#include "discovery/seeds.hpp"
#include "discovery/udp_socket.hpp"
#include "node/node_core.hpp"
#include "node/reliability.hpp"

namespace weft::detail {

void NodeCore::prepare_discovery() {
  const NodeOptions& options = context_->options;
  if (!options.discovery.enabled) return;
  LocalNodeInfo self;
  self.id = context_->id;
  // The start time: new on every start, and growing from one start to the next.
  self.incarnation = static_cast<std::uint64_t>(context_->clock.wall_ns());
  self.name = options.name;
  NodeContext& context = *context_;
  LogSink log = [&context](LogLevel level, std::string_view line) { context.logger.log(level, line); };
  // A seed that is not HOST[:PORT] is the caller's mistake: refused here. One that does not resolve (DNS may
  // be down for a while) is only logged by the agent.
  for (std::size_t i = 0; i < options.discovery.seeds.size(); ++i) {
    auto resolved = resolve_seed(options.discovery.seeds[i], options.discovery.port);
    if (!resolved && resolved.status().code() == ErrorCode::kInvalidArgument) {
      throw Error(resolved.status().with_context("NodeOptions.discovery.seeds[" + std::to_string(i) + "]"));
    }
  }
  // The sockets are made here, before the I/O thread starts; from then on only that thread touches them.
  PosixDatagramNetwork network;  // used to open the sockets only
  try {
    discovery_ = std::make_unique<Discovery>(to_agent_options(options.discovery), std::move(self),
                                             probe_host(options.discovery.host_id), network, std::move(log));
  } catch (const Error& e) {
    throw Error(e.status().with_context("NodeOptions.discovery"));
  }
}

void NodeCore::start_discovery() {
  if (!discovery_) return;
  std::vector<LocalEndpoint> endpoints;
  for (const std::string& endpoint : endpoints_) {
    if (!endpoint.starts_with("inproc://")) endpoints.push_back({EndpointKind::kPublish, endpoint});
  }
  if (reliability_ && !reliability_->control_bound.empty()) {
    endpoints.push_back({EndpointKind::kControl, reliability_->control_bound});
  }
  if (Status set = discovery_->set_endpoints(std::move(endpoints)); !set) {
    throw Error(set.with_context("NodeOptions.discovery: advertising " + std::to_string(endpoints_.size()) +
                                 " publish endpoint(s)"));
  }
  DiscoveryAgent::LearnNode learn_node;
  DiscoveryAgent::ForgetNode forget_node;
  if (reliability_) {
    // On the I/O thread, like the announcements' handler in node_reliable.cpp.
    learn_node = [this](std::uint64_t node_id, const std::string& control) {
      discovered_nodes_.insert(node_id);
      reliability_->subscriber.forget_node(node_id);  // what its announcements said, if they came first
      reliability_->subscriber.learn_publisher(control, node_id, context_->clock.now());
    };
    forget_node = [this](std::uint64_t node_id) {
      discovered_nodes_.erase(node_id);
      reliability_->subscriber.forget_node(node_id);
    };
  }
  discovery_view_ = std::make_shared<DiscoveryView>();
  io_loop_->add_agent(std::make_unique<DiscoveryAgent>(*context_, std::move(discovery_), discovery_view_,
                                                       std::move(learn_node), std::move(forget_node)));
}

std::vector<PeerInfo> NodeCore::peers() const {
  if (!discovery_view_) return {};
  return discovery_view_->peers(context_->clock.now());
}

}  // namespace weft::detail
