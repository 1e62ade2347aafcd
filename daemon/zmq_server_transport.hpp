// The real server transport: a ZeroMQ ROUTER bound to weftd's endpoints. ZMQ_ROUTER_MANDATORY is set, so a send
// to a client that has gone fails (kFailed) instead of vanishing, and weftd ends that client's memberships.
#pragma once

#include <zmq.hpp>

#include <memory>
#include <string>
#include <vector>

#include "server_transport.hpp"

namespace weft::detail::weftd {

class ZmqServerTransport final : public ServerTransport {
 public:
  // Binds every endpoint (an ipc socket's directory is created first). A tcp wildcard port is resolved in
  // endpoints(). kIoError naming the endpoint when a bind fails.
  static Result<std::unique_ptr<ZmqServerTransport>> bind(const std::vector<std::string>& endpoints);

  SendResult send(const std::string& peer, sidecar::Frames& frames) override;
  std::optional<Routed> receive() override;
  bool wait(std::chrono::milliseconds timeout, int wake_fd) override;

  [[nodiscard]] const std::vector<std::string>& endpoints() const noexcept { return endpoints_; }
  // Stops listening (clients get no new connections); what is queued still goes.
  void unbind_all();
  // How long closing waits for queued messages to leave (0 by default).
  void linger(std::chrono::milliseconds how_long);

 private:
  ZmqServerTransport();

  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::vector<std::string> endpoints_;
};

}  // namespace weft::detail::weftd
