// The real transport: one ZeroMQ context with an XPUB (publishing side) and a SUB (subscribing side).
#pragma once

#include <zmq.hpp>

#include <vector>

#include "transport/transport.hpp"

namespace weft::detail {

class ZmqTransport final : public Transport {
 public:
  // Throws weft::Error when ZeroMQ cannot make the sockets.
  explicit ZmqTransport(const TransportOptions& options);
  ~ZmqTransport() override;

  Result<std::string> bind_publisher(const std::string& endpoint) override;
  Status connect_publisher(const std::string& endpoint) override;
  Result<std::string> bind_subscriber(const std::string& endpoint) override;
  Status connect_subscriber(const std::string& endpoint) override;
  Status disconnect_subscriber(const std::string& endpoint) override;
  void add_filter(std::string_view prefix) override;
  void remove_filter(std::string_view prefix) override;
  SendResult send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds wait) override;
  ReceiveResult receive(InboundMessage& out) override;
  bool next_filter_event(FilterEvent& out) override;
  Readiness wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound, std::span<pollfd> extra) override;
  [[nodiscard]] int inbound_signal_fd() const noexcept override { return subscriber_fd_; }
  [[nodiscard]] std::unique_ptr<ControlTransport> make_control_transport(
      const ControlTransportOptions& options) override;
  [[nodiscard]] zmq::context_t* zmq_context() noexcept override { return &context_; }
  void close(std::chrono::milliseconds linger) override;

 private:
  Result<std::string> bind(zmq::socket_t& socket, const std::string& endpoint);
  void set_send_timeout(std::chrono::milliseconds wait);

  zmq::context_t context_;
  zmq::socket_t publisher_;   // XPUB
  zmq::socket_t subscriber_;  // SUB
  int publisher_fd_ = -1;   // ZMQ_FD: signals new commands for the socket
  int subscriber_fd_ = -1;
  int send_timeout_ms_ = 0;
  std::vector<pollfd> poll_set_;  // reused by wait()
  bool closed_ = false;
};

}  // namespace weft::detail
