#include "zmq_server_transport.hpp"

#include "sidecar/sidecar_endpoint.hpp"

namespace weft::detail::weftd {

ZmqServerTransport::ZmqServerTransport() : socket_(context_, zmq::socket_type::router) {
  socket_.set(zmq::sockopt::router_mandatory, 1);
  socket_.set(zmq::sockopt::linger, 0);
  // Replies and deliveries are bounded by the clients' own windows and credit; a client that stops reading
  // long enough to fill this is refused sends (kFull) rather than growing weftd without bound.
  socket_.set(zmq::sockopt::sndhwm, 100000);
  socket_.set(zmq::sockopt::rcvhwm, 100000);
  // A frame larger than this is refused by ZeroMQ (the connection is dropped): the largest append is
  // kMaxAppendBytes over all its frames, and no one frame may be larger.
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(sidecar::kMaxAppendBytes));
}

Result<std::unique_ptr<ZmqServerTransport>> ZmqServerTransport::bind(const std::vector<std::string>& endpoints) {
  std::unique_ptr<ZmqServerTransport> transport(new ZmqServerTransport());
  for (const std::string& endpoint : endpoints) {
    if (Status s = sidecar::prepare_ipc_directory(endpoint); !s) return s;
    try {
      transport->socket_.bind(endpoint);
      std::string resolved = transport->socket_.get(zmq::sockopt::last_endpoint);
      transport->endpoints_.push_back(resolved.empty() ? endpoint : resolved);
    } catch (const zmq::error_t& e) {
      return Status::io_error("cannot listen on " + endpoint + ": " + e.what());
    }
  }
  return transport;
}

SendResult ZmqServerTransport::send(const std::string& peer, sidecar::Frames& frames) {
  try {
    zmq::message_t id(peer.data(), peer.size());
    if (!socket_.send(id, zmq::send_flags::dontwait | zmq::send_flags::sndmore)) return SendResult::kFull;
    for (std::size_t i = 0; i < frames.parts.size(); ++i) {
      const bool last = i + 1 == frames.parts.size();
      socket_.send(frames.parts[i], last ? zmq::send_flags::dontwait : zmq::send_flags::dontwait | zmq::send_flags::sndmore);
    }
    return SendResult::kSent;
  } catch (const zmq::error_t& e) {
    return e.num() == EHOSTUNREACH ? SendResult::kFailed : SendResult::kFull;
  }
}

std::optional<Routed> ZmqServerTransport::receive() {
  Routed routed;
  try {
    zmq::message_t id;
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) return std::nullopt;
    routed.peer.assign(static_cast<const char*>(id.data()), id.size());
    bool more = id.more();
    while (more) {
      zmq::message_t part;
      if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
      more = part.more();
      routed.frames.parts.push_back(std::move(part));
    }
    return routed;
  } catch (const zmq::error_t&) {
    return std::nullopt;
  }
}

bool ZmqServerTransport::wait(std::chrono::milliseconds timeout, int wake_fd) {
  zmq::pollitem_t items[2] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd, ZMQ_POLLIN, 0}};
  try {
    return zmq::poll(items, wake_fd >= 0 ? 2 : 1, timeout) > 0;
  } catch (const zmq::error_t&) {
    return false;  // EINTR: a signal; the loop looks at its flags
  }
}

void ZmqServerTransport::unbind_all() {
  for (const std::string& endpoint : endpoints_) {
    try {
      socket_.unbind(endpoint);
    } catch (const zmq::error_t&) {
    }
  }
}

}  // namespace weft::detail::weftd

namespace weft::detail::weftd {

void ZmqServerTransport::linger(std::chrono::milliseconds how_long) {
  socket_.set(zmq::sockopt::linger, static_cast<int>(how_long.count()));
}

}  // namespace weft::detail::weftd
