// A transport that wraps the real one (ZeroMQ) and loses chosen kinds of control messages on their way out,
// for faults a network cannot aim at: acknowledgements travel on the same TCP connection as deliveries, so
// only their sender can lose them alone. Everything else passes through untouched.
//
//   auto faults = std::make_shared<ControlFaults>();
//   auto node = std::make_shared<detail::NodeCore>(options, std::make_unique<FaultyTransport>(faults));
//   faults->drop_outgoing(control::Kind::kAck, true);   // from now on this node's acks are lost
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "control/control_messages.hpp"
#include "transport/transport.hpp"

namespace weft::testing {

// What the faulty transports and the test share; the test keeps it after the node took the transport. The
// switches are flipped by the test's thread and read by the node's I/O thread.
class ControlFaults {
 public:
  // While `on`, this node's outgoing control messages of `kind` are discarded (send reports them sent).
  void drop_outgoing(detail::control::Kind kind, bool on) noexcept;
  // How many of `kind` were discarded so far.
  [[nodiscard]] std::uint64_t dropped(detail::control::Kind kind) const noexcept;

  // The transport's question: is this header frame to be lost? Counts it when so.
  [[nodiscard]] bool take(const void* header, std::size_t size) noexcept;

 private:
  static constexpr std::size_t kKinds = 16;
  static std::size_t slot(detail::control::Kind kind) noexcept { return static_cast<std::size_t>(kind) % kKinds; }
  std::array<std::atomic<bool>, kKinds> drop_{};
  std::array<std::atomic<std::uint64_t>, kKinds> dropped_{};
};

// The publish/subscribe side is the real ZmqTransport's; the control transport it makes is wrapped so that
// `faults` decides what leaves.
class FaultyTransport final : public detail::Transport {
 public:
  // Throws weft::Error when ZeroMQ cannot make the sockets.
  explicit FaultyTransport(std::shared_ptr<ControlFaults> faults, const detail::TransportOptions& options = {});
  ~FaultyTransport() override;

  Result<std::string> bind_publisher(const std::string& endpoint) override;
  Status connect_publisher(const std::string& endpoint) override;
  Result<std::string> bind_subscriber(const std::string& endpoint) override;
  Status connect_subscriber(const std::string& endpoint) override;
  Status disconnect_subscriber(const std::string& endpoint) override;
  void add_filter(std::string_view prefix) override;
  void remove_filter(std::string_view prefix) override;
  detail::SendResult send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds wait) override;
  detail::ReceiveResult receive(detail::InboundMessage& out) override;
  bool next_filter_event(detail::FilterEvent& out) override;
  detail::Readiness wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound,
                         std::span<pollfd> extra) override;
  [[nodiscard]] std::unique_ptr<detail::ControlTransport> make_control_transport(
      const detail::ControlTransportOptions& options) override;
  [[nodiscard]] int inbound_signal_fd() const noexcept override;
  void close(std::chrono::milliseconds linger) override;

 private:
  std::shared_ptr<ControlFaults> faults_;
  std::unique_ptr<detail::Transport> inner_;
};

}  // namespace weft::testing
