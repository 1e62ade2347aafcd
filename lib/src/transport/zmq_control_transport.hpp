// The control seam over ZeroMQ: a ROUTER that peers reach (ROUTER_MANDATORY, so a message for a peer that is
// gone fails instead of vanishing) and one DEALER per peer endpoint this node reaches.
#pragma once

#include <zmq.hpp>

#include <map>
#include <memory>
#include <string>

#include "transport/control_transport.hpp"

namespace weft::detail {

class ZmqControlTransport final : public ControlTransport {
 public:
  ZmqControlTransport(zmq::context_t& context, ControlTransportOptions options);
  ~ZmqControlTransport() override;

  Result<std::string> bind(const std::string& endpoint) override;
  Status connect(const std::string& endpoint) override;
  void disconnect(const std::string& endpoint) override;
  SendResult send(const PeerRef& to, zmq::message_t& header, zmq::message_t* body) override;
  bool receive(ControlInbound& out) override;
  void pollable(std::vector<int>& fds) override;
  void on_readable(int fd) override;
  void close() override;

 private:
  struct Socket {
    zmq::socket_t socket;
    int fd = -1;
    // May hold input: set when its descriptor fires and after every send (sending lets ZeroMQ consume the
    // signal of waiting input), cleared when a receive finds nothing.
    bool pending = true;
  };
  bool receive_from(Socket& s, bool listener, const std::string& endpoint, ControlInbound& out);
  void configure(zmq::socket_t& socket);

  zmq::context_t& context_;
  ControlTransportOptions options_;
  std::unique_ptr<Socket> listener_;               // ROUTER, made on the first bind
  std::map<std::string, std::unique_ptr<Socket>> links_;  // DEALER per peer endpoint
  bool closed_ = false;
};

}  // namespace weft::detail
