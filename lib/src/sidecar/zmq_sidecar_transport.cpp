#include "sidecar/zmq_sidecar_transport.hpp"

#include <limits>

namespace weft::detail::sidecar {

Result<std::unique_ptr<ZmqSidecarTransport>> ZmqSidecarTransport::connect(const std::string& endpoint,
                                                                           zmq::context_t* context) {
  std::unique_ptr<zmq::context_t> owned;
  if (context == nullptr) {
    owned = std::make_unique<zmq::context_t>(1);
    context = owned.get();
  }
  try {
    std::unique_ptr<ZmqSidecarTransport> transport(new ZmqSidecarTransport(std::move(owned), *context, endpoint));
    transport->socket_.connect(endpoint);
    return transport;
  } catch (const zmq::error_t& e) {
    return Status::invalid_argument("cannot connect to weftd at '" + endpoint + "': " + e.what());
  }
}

ZmqSidecarTransport::ZmqSidecarTransport(std::unique_ptr<zmq::context_t> owned, zmq::context_t& context,
                                         std::string endpoint)
    : owned_context_(std::move(owned)), socket_(context, zmq::socket_type::dealer), endpoint_(std::move(endpoint)) {
  socket_.set(zmq::sockopt::immediate, 1);
  socket_.set(zmq::sockopt::linger, 0);
  // Bounded by the client's own limits (outstanding requests, consumer credit), not by ZeroMQ's.
  socket_.set(zmq::sockopt::sndhwm, 0);
  socket_.set(zmq::sockopt::rcvhwm, 0);
}

SendResult ZmqSidecarTransport::send(Frames& frames) {
  try {
    for (std::size_t i = 0; i < frames.parts.size(); ++i) {
      const bool last = i + 1 == frames.parts.size();
      auto flags = zmq::send_flags::dontwait | (last ? zmq::send_flags::none : zmq::send_flags::sndmore);
      // A message of several frames is atomic: once the first is taken, the rest are too.
      if (!socket_.send(frames.parts[i], flags)) return SendResult::kFull;
    }
    return SendResult::kSent;
  } catch (const zmq::error_t&) {
    return SendResult::kFailed;
  }
}

std::optional<Frames> ZmqSidecarTransport::receive() {
  Frames frames;
  try {
    for (;;) {
      zmq::message_t part;
      if (!socket_.recv(part, zmq::recv_flags::dontwait)) {
        if (frames.parts.empty()) return std::nullopt;
        continue;  // the rest of a multipart message is always there once its first frame is
      }
      const bool more = part.more();
      frames.parts.push_back(std::move(part));
      if (!more) return frames;
    }
  } catch (const zmq::error_t&) {
    return std::nullopt;
  }
}

bool ZmqSidecarTransport::wait_readable(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  try {
    return zmq::poll(&item, 1, timeout) > 0;
  } catch (const zmq::error_t&) {
    return false;  // EINTR: the caller looks again
  }
}

int ZmqSidecarTransport::descriptor() const {
  return socket_.get(zmq::sockopt::fd);
}

}  // namespace weft::detail::sidecar
