// The real client transport: a ZeroMQ DEALER connected to weftd's ROUTER.
//
// ZMQ_IMMEDIATE is set, so a message is never queued for a weftd that is not connected: send() says kFull
// instead, and the client can tell "never sent" (safe to retry) from "sent, no answer" (unknown outcome).
#pragma once

#include <zmq.hpp>

#include <memory>
#include <string>

#include "sidecar/sidecar_transport.hpp"

namespace weft::detail::sidecar {

class ZmqSidecarTransport final : public SidecarTransport {
 public:
  // Connects to `endpoint` (connecting never fails for a missing weftd: ZeroMQ keeps trying). kInvalidArgument
  // for a malformed endpoint. With no context given, the transport makes its own.
  static Result<std::unique_ptr<ZmqSidecarTransport>> connect(const std::string& endpoint,
                                                               zmq::context_t* context = nullptr);

  SendResult send(Frames& frames) override;
  std::optional<Frames> receive() override;
  bool wait_readable(std::chrono::milliseconds timeout) override;
  [[nodiscard]] int descriptor() const override;
  [[nodiscard]] const std::string& endpoint() const noexcept override { return endpoint_; }

 private:
  ZmqSidecarTransport(std::unique_ptr<zmq::context_t> owned, zmq::context_t& context, std::string endpoint);

  std::unique_ptr<zmq::context_t> owned_context_;
  zmq::socket_t socket_;
  std::string endpoint_;
};

}  // namespace weft::detail::sidecar
