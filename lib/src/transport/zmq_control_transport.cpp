#include "transport/zmq_control_transport.hpp"

namespace weft::detail {

ZmqControlTransport::ZmqControlTransport(zmq::context_t& context, ControlTransportOptions options)
    : context_(context), options_(std::move(options)) {}

ZmqControlTransport::~ZmqControlTransport() { close(); }

void ZmqControlTransport::configure(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::sndhwm, options_.send_hwm);
  socket.set(zmq::sockopt::rcvhwm, options_.recv_hwm);
  socket.set(zmq::sockopt::linger, 0);
  if (options_.max_message_bytes > 0) socket.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
}

Result<std::string> ZmqControlTransport::bind(const std::string& endpoint) {
  try {
    if (!listener_) {
      zmq::socket_t router(context_, zmq::socket_type::router);
      configure(router);
      router.set(zmq::sockopt::router_mandatory, 1);  // a peer that is gone is an error, not a silent drop
      router.set(zmq::sockopt::router_handover, 1);   // a peer that reconnects with its id takes its place
      listener_ = std::make_unique<Socket>(Socket{std::move(router), -1, true});
      listener_->fd = listener_->socket.get(zmq::sockopt::fd);
    }
    listener_->socket.bind(endpoint);
    return listener_->socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::io_error("cannot bind the control endpoint " + endpoint + ": " + e.what());
  }
}

Status ZmqControlTransport::connect(const std::string& endpoint) {
  if (links_.count(endpoint) != 0) return Status::ok();
  try {
    zmq::socket_t dealer(context_, zmq::socket_type::dealer);
    configure(dealer);
    if (!options_.routing_id.empty()) {
      dealer.set(zmq::sockopt::routing_id, zmq::buffer(options_.routing_id.data(), options_.routing_id.size()));
    }
    // Queue nothing for a peer not yet connected: a send then says kFull, and the sender keeps the message.
    dealer.set(zmq::sockopt::immediate, 1);
    dealer.connect(endpoint);
    auto link = std::make_unique<Socket>(Socket{std::move(dealer), -1, true});
    link->fd = link->socket.get(zmq::sockopt::fd);
    links_.emplace(endpoint, std::move(link));
    return Status::ok();
  } catch (const zmq::error_t& e) {
    return Status::invalid_argument("cannot connect the control link to " + endpoint + ": " + e.what());
  }
}

void ZmqControlTransport::disconnect(const std::string& endpoint) { links_.erase(endpoint); }

SendResult ZmqControlTransport::send(const PeerRef& to, zmq::message_t& header, zmq::message_t* body) {
  Socket* target = nullptr;
  if (to.via == PeerRef::Via::kIncoming) {
    target = listener_.get();
  } else if (auto it = links_.find(to.key); it != links_.end()) {
    target = it->second.get();
  }
  if (target == nullptr || closed_) return SendResult::kFailed;
  zmq::socket_t& socket = target->socket;
  target->pending = true;
  try {
    auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
    auto last = zmq::send_flags::dontwait;
    if (to.via == PeerRef::Via::kIncoming) {
      zmq::message_t id(to.key.data(), to.key.size());
      // With ROUTER_MANDATORY the routing frame decides: EAGAIN if full, EHOSTUNREACH (thrown) if gone.
      if (!socket.send(id, more)) return SendResult::kFull;
      // Accepted, so the rest of the message fits too; block rather than split it.
      more = zmq::send_flags::sndmore;
      last = zmq::send_flags::none;
    }
    if (!socket.send(header, body ? more : last)) return SendResult::kFull;
    if (body && !socket.send(*body, zmq::send_flags::none)) return SendResult::kFailed;
    return SendResult::kSent;
  } catch (const zmq::error_t&) {
    return SendResult::kFailed;
  }
}

bool ZmqControlTransport::receive_from(Socket& s, bool listener, const std::string& endpoint, ControlInbound& out) {
  if (!s.pending) return false;
  try {
    zmq::message_t first;
    if (!s.socket.recv(first, zmq::recv_flags::dontwait)) {
      s.pending = false;
      return false;
    }
    if (listener) {
      out.from = {PeerRef::Via::kIncoming, first.to_string()};
      if (!first.more()) return false;  // a routing id alone: nothing to deliver
      (void)s.socket.recv(out.header, zmq::recv_flags::none);
    } else {
      out.from = {PeerRef::Via::kOutgoing, endpoint};
      out.header = std::move(first);
    }
    out.has_body = out.header.more();
    if (out.has_body) (void)s.socket.recv(out.body, zmq::recv_flags::none);
    // Anything further is not ours to interpret: drop the rest of the message whole.
    bool more = out.has_body ? out.body.more() : false;
    while (more) {
      zmq::message_t extra;
      (void)s.socket.recv(extra, zmq::recv_flags::none);
      more = extra.more();
    }
    return true;
  } catch (const zmq::error_t&) {
    s.pending = false;
    return false;
  }
}

bool ZmqControlTransport::receive(ControlInbound& out) {
  if (closed_) return false;
  if (listener_ && receive_from(*listener_, true, {}, out)) return true;
  for (auto& [endpoint, link] : links_) {
    if (receive_from(*link, false, endpoint, out)) return true;
  }
  return false;
}

void ZmqControlTransport::pollable(std::vector<int>& fds) {
  if (closed_) return;
  if (listener_) fds.push_back(listener_->fd);
  for (auto& [endpoint, link] : links_) fds.push_back(link->fd);
}

void ZmqControlTransport::on_readable(int fd) {
  if (listener_ && listener_->fd == fd) listener_->pending = true;
  for (auto& [endpoint, link] : links_) {
    if (link->fd == fd) link->pending = true;
  }
}

void ZmqControlTransport::close() {
  if (closed_) return;
  closed_ = true;
  links_.clear();
  listener_.reset();
}

}  // namespace weft::detail
