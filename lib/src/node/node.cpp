#include "weft/node.hpp"

#include "node/node_core.hpp"

namespace weft {

namespace {
Status moved_from() { return Status::closed("this Node was moved from"); }
}  // namespace

Node::Node(NodeOptions options) : core_(std::make_shared<detail::NodeCore>(std::move(options))) {}

Node::~Node() {
  if (core_) core_->shutdown();
}

Node::Node(Node&&) noexcept = default;

Node& Node::operator=(Node&& other) noexcept {
  if (this != &other) {
    if (core_) core_->shutdown();
    core_ = std::move(other.core_);
  }
  return *this;
}

Status Node::publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers) {
  return core_ ? core_->publish(subject, payload, headers) : moved_from();
}

Result<Subscription> Node::subscribe(std::string_view pattern, Handler handler) {
  if (!core_) return moved_from();
  return core_->subscribe(pattern, std::move(handler));
}

Status Node::publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                     const PublishOptions& options) {
  return core_ ? core_->publish(subject, payload, headers, PublishOptions(options)) : moved_from();
}

Status Node::publish(std::string_view subject, std::span<const std::byte> payload, const Headers& headers,
                     PublishOptions&& options) {
  return core_ ? core_->publish(subject, payload, headers, std::move(options)) : moved_from();
}

Status Node::wait_for_acknowledgements(std::chrono::milliseconds timeout) {
  return core_ ? core_->wait_for_acknowledgements(timeout) : moved_from();
}

Result<Subscription> Node::subscribe(std::string_view pattern, Handler handler, const SubscribeOptions& options) {
  if (!core_) return moved_from();
  return core_->subscribe(pattern, std::move(handler), options);
}

Result<OwnedMessage> Node::request(std::string_view subject, std::span<const std::byte> payload,
                                   std::chrono::milliseconds timeout, const Headers& headers) {
  if (!core_) return moved_from();
  return core_->request(subject, payload, timeout, headers);
}

Status Node::reply(const Message& request, std::span<const std::byte> payload, const Headers& headers) {
  return core_ ? core_->reply(request, payload, headers) : moved_from();
}

std::string Node::control_endpoint() const { return core_ ? core_->control_endpoint() : std::string(); }

Status Node::wait_for_subscribers(std::string_view subject_or_pattern, std::size_t count,
                                  std::chrono::milliseconds timeout) {
  return core_ ? core_->wait_for_subscribers(subject_or_pattern, count, timeout) : moved_from();
}

Status Node::flush(std::chrono::milliseconds timeout) { return core_ ? core_->flush(timeout) : moved_from(); }

Status Node::connect(std::string_view endpoint) { return core_ ? core_->connect(endpoint) : moved_from(); }

Status Node::disconnect(std::string_view endpoint) { return core_ ? core_->disconnect(endpoint) : moved_from(); }

std::vector<std::string> Node::endpoints() const { return core_ ? core_->endpoints() : std::vector<std::string>{}; }

std::vector<std::string> Node::subscriber_endpoints() const {
  return core_ ? core_->subscriber_endpoints() : std::vector<std::string>{};
}

NodeStats Node::stats() const { return core_ ? core_->stats() : NodeStats{}; }

std::vector<PeerInfo> Node::peers() const { return core_ ? core_->peers() : std::vector<PeerInfo>{}; }

std::uint64_t Node::id() const noexcept { return core_ ? core_->id() : 0; }

const std::string& Node::name() const noexcept {
  static const std::string kNone;
  return core_ ? core_->name() : kNone;
}

void Node::close() noexcept {
  if (core_) core_->close();
}

void Node::stop() {
  if (core_) core_->shutdown();
}

}  // namespace weft
