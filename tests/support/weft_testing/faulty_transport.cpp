#include "weft_testing/faulty_transport.hpp"

#include <type_traits>
#include <variant>

#include "transport/zmq_transport.hpp"

namespace weft::testing {

namespace {

using detail::control::Kind;

// take() reads a message's kind from its place in the variant.
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(Kind::kAck) - 1, detail::control::Message>,
                   detail::control::Ack>);
static_assert(
    std::is_same_v<std::variant_alternative_t<static_cast<std::size_t>(Kind::kRejected) - 1, detail::control::Message>,
                   detail::control::Rejected>);

// The real control transport, with `faults` deciding which outgoing messages are lost.
class FaultyControlTransport final : public detail::ControlTransport {
 public:
  FaultyControlTransport(std::shared_ptr<ControlFaults> faults, std::unique_ptr<detail::ControlTransport> inner)
      : faults_(std::move(faults)), inner_(std::move(inner)) {}

  Result<std::string> bind(const std::string& endpoint) override { return inner_->bind(endpoint); }
  Status connect(const std::string& endpoint) override { return inner_->connect(endpoint); }
  void disconnect(const std::string& endpoint) override { inner_->disconnect(endpoint); }
  detail::SendResult send(const detail::PeerRef& to, zmq::message_t& header, zmq::message_t* body) override {
    // Lost on the wire: the sender believes it went.
    if (faults_->take(header.data(), header.size())) return detail::SendResult::kSent;
    return inner_->send(to, header, body);
  }
  bool receive(detail::ControlInbound& out) override { return inner_->receive(out); }
  void pollable(std::vector<int>& fds) override { inner_->pollable(fds); }
  void on_readable(int fd) override { inner_->on_readable(fd); }
  void close() override { inner_->close(); }

 private:
  std::shared_ptr<ControlFaults> faults_;
  std::unique_ptr<detail::ControlTransport> inner_;
};

}  // namespace

void ControlFaults::drop_outgoing(Kind kind, bool on) noexcept {
  drop_[slot(kind)].store(on);
}

std::uint64_t ControlFaults::dropped(Kind kind) const noexcept {
  return dropped_[slot(kind)].load();
}

bool ControlFaults::take(const void* header, std::size_t size) noexcept {
  auto message = detail::control::decode(header, size);
  if (!message) return false;  // not ours to judge: the peer counts it as malformed
  // The variant's alternatives are in the order of Kind, from 1.
  const Kind kind = static_cast<Kind>(message->index() + 1);
  if (!drop_[slot(kind)].load()) return false;
  dropped_[slot(kind)].fetch_add(1);
  return true;
}

FaultyTransport::FaultyTransport(std::shared_ptr<ControlFaults> faults, const detail::TransportOptions& options)
    : faults_(std::move(faults)), inner_(std::make_unique<detail::ZmqTransport>(options)) {}

FaultyTransport::~FaultyTransport() = default;

Result<std::string> FaultyTransport::bind_publisher(const std::string& endpoint) {
  return inner_->bind_publisher(endpoint);
}
Status FaultyTransport::connect_publisher(const std::string& endpoint) {
  return inner_->connect_publisher(endpoint);
}
Result<std::string> FaultyTransport::bind_subscriber(const std::string& endpoint) {
  return inner_->bind_subscriber(endpoint);
}
Status FaultyTransport::connect_subscriber(const std::string& endpoint) {
  return inner_->connect_subscriber(endpoint);
}
Status FaultyTransport::disconnect_subscriber(const std::string& endpoint) {
  return inner_->disconnect_subscriber(endpoint);
}
void FaultyTransport::add_filter(std::string_view prefix) {
  inner_->add_filter(prefix);
}
void FaultyTransport::remove_filter(std::string_view prefix) {
  inner_->remove_filter(prefix);
}
detail::SendResult FaultyTransport::send(std::string_view subject, zmq::message_t& body,
                                         std::chrono::milliseconds wait) {
  return inner_->send(subject, body, wait);
}
detail::ReceiveResult FaultyTransport::receive(detail::InboundMessage& out) {
  return inner_->receive(out);
}
bool FaultyTransport::next_filter_event(detail::FilterEvent& out) {
  return inner_->next_filter_event(out);
}
detail::Readiness FaultyTransport::wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound,
                                        std::span<pollfd> extra) {
  return inner_->wait(timeout, wake_fd, want_inbound, extra);
}
std::unique_ptr<detail::ControlTransport> FaultyTransport::make_control_transport(
    const detail::ControlTransportOptions& options) {
  auto inner = inner_->make_control_transport(options);
  if (!inner) return nullptr;
  return std::make_unique<FaultyControlTransport>(faults_, std::move(inner));
}
int FaultyTransport::inbound_signal_fd() const noexcept {
  return inner_->inbound_signal_fd();
}
void FaultyTransport::close(std::chrono::milliseconds linger) {
  inner_->close(linger);
}

}  // namespace weft::testing
