// The control channel: point-to-point messages between nodes, on the I/O thread. It owns the control
// transport, decodes what arrives (counting and dropping what is malformed) and hands each message to the
// part that handles its kind; the parts send through it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "control/control_messages.hpp"
#include "node/io_agent.hpp"
#include "node/node_context.hpp"
#include "transport/control_transport.hpp"

namespace weft::detail {

// Something on the I/O thread that takes control messages and has timers: the at-least-once publisher and
// subscriber engines, the request tracker.
class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // True if it took the message (the channel then stops offering it to others).
  virtual bool handle(const PeerRef& from, control::Message& message, zmq::message_t& body, bool has_body,
                      Clock::TimePoint now) = 0;
  // Timers and queued work; returns how much it did.
  virtual std::size_t do_work(Clock::TimePoint now) = 0;
  [[nodiscard]] virtual Clock::TimePoint next_deadline() = 0;
  // The node is stopping (on the I/O thread, before the control sockets close).
  virtual void stop() {}
};

class ControlChannel final : public IoAgent {
 public:
  ControlChannel(NodeContext& context, std::unique_ptr<ControlTransport> transport);

  // Binds the listener (before the I/O thread starts). Returns the resolved endpoint.
  Result<std::string> bind(const std::string& endpoint) { return transport_->bind(endpoint); }

  void add_handler(ControlHandler* handler) { handlers_.push_back(handler); }

  // Sends a message (and an optional body frame). kFull and kFailed leave the caller to try again later.
  SendResult send(const PeerRef& to, const control::Message& message, zmq::message_t* body = nullptr);
  // Opens an outgoing link to a peer's control endpoint (idempotent).
  Status connect(const std::string& endpoint) { return transport_->connect(endpoint); }
  void disconnect(const std::string& endpoint) { transport_->disconnect(endpoint); }

  std::size_t do_work(Clock::TimePoint now, Transport& transport) override;
  void pollable(std::vector<int>& fds) override { transport_->pollable(fds); }
  void on_readable(int fd) override { transport_->on_readable(fd); }
  [[nodiscard]] Clock::TimePoint next_deadline() override;
  void stop(Transport&) override;

 private:
  NodeContext& context_;
  std::unique_ptr<ControlTransport> transport_;
  std::vector<ControlHandler*> handlers_;
  ControlInbound inbound_;
};

}  // namespace weft::detail
