#include "transport/zmq_transport.hpp"

#include "transport/zmq_control_transport.hpp"

#include <poll.h>

#include <vector>

namespace weft::detail {

namespace {

// Subscription messages are a byte and a prefix of at most a subject's length; anything far larger is abuse.
constexpr std::int64_t kMaxSubscriptionMessage = 64 * 1024;

Status zmq_failure(std::string_view what, const std::string& endpoint, const zmq::error_t& e) {
  std::string message(what);
  message += " ";
  message += endpoint;
  message += ": ";
  message += e.what();
  return e.num() == EINVAL || e.num() == EPROTONOSUPPORT || e.num() == ENOENT ? Status::invalid_argument(message)
                                                                                : Status::io_error(message);
}

void apply_buffers(zmq::socket_t& socket, const TransportOptions& options) {
  if (options.tcp_send_buffer > 0) socket.set(zmq::sockopt::sndbuf, options.tcp_send_buffer);
  if (options.tcp_receive_buffer > 0) socket.set(zmq::sockopt::rcvbuf, options.tcp_receive_buffer);
}

}  // namespace

ZmqTransport::ZmqTransport(const TransportOptions& options) try
    : context_(1), publisher_(context_, zmq::socket_type::xpub), subscriber_(context_, zmq::socket_type::sub) {
  // NODROP: a full high-water mark becomes a visible EAGAIN instead of ZeroMQ's silent drop, so the node can
  // count the drop (or wait) itself. VERBOSER: every subscribe and unsubscribe reaches the node, so it can count
  // subscribers for wait_for_subscribers().
  publisher_.set(zmq::sockopt::xpub_nodrop, 1);
  publisher_.set(zmq::sockopt::xpub_verboser, 1);
  publisher_.set(zmq::sockopt::sndhwm, options.send_hwm);
  publisher_.set(zmq::sockopt::maxmsgsize, kMaxSubscriptionMessage);
  publisher_.set(zmq::sockopt::linger, 0);
  apply_buffers(publisher_, options);

  subscriber_.set(zmq::sockopt::rcvhwm, options.recv_hwm);
  subscriber_.set(zmq::sockopt::maxmsgsize, options.hard_frame_limit);
  subscriber_.set(zmq::sockopt::linger, 0);
  apply_buffers(subscriber_, options);
  publisher_fd_ = publisher_.get(zmq::sockopt::fd);
  subscriber_fd_ = subscriber_.get(zmq::sockopt::fd);
} catch (const zmq::error_t& e) {
  throw Error(Status::io_error(std::string("creating ZeroMQ sockets: ") + e.what()));
}

ZmqTransport::~ZmqTransport() { close(std::chrono::milliseconds(0)); }

Result<std::string> ZmqTransport::bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
    return socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return zmq_failure("cannot bind", endpoint, e);
  }
}

Result<std::string> ZmqTransport::bind_publisher(const std::string& endpoint) { return bind(publisher_, endpoint); }

Result<std::string> ZmqTransport::bind_subscriber(const std::string& endpoint) {
  return bind(subscriber_, endpoint);
}

Status ZmqTransport::connect_publisher(const std::string& endpoint) {
  try {
    publisher_.connect(endpoint);
    return Status::ok();
  } catch (const zmq::error_t& e) {
    return zmq_failure("cannot connect to", endpoint, e);
  }
}

Status ZmqTransport::connect_subscriber(const std::string& endpoint) {
  try {
    subscriber_.connect(endpoint);
    return Status::ok();
  } catch (const zmq::error_t& e) {
    return zmq_failure("cannot connect to", endpoint, e);
  }
}

Status ZmqTransport::disconnect_subscriber(const std::string& endpoint) {
  try {
    subscriber_.disconnect(endpoint);
    return Status::ok();
  } catch (const zmq::error_t& e) {
    if (e.num() == ENOENT) return Status::not_found("not connected to " + endpoint);
    return zmq_failure("cannot disconnect from", endpoint, e);
  }
}

void ZmqTransport::add_filter(std::string_view prefix) {
  subscriber_.set(zmq::sockopt::subscribe, zmq::buffer(prefix.data(), prefix.size()));
}

void ZmqTransport::remove_filter(std::string_view prefix) {
  subscriber_.set(zmq::sockopt::unsubscribe, zmq::buffer(prefix.data(), prefix.size()));
}

void ZmqTransport::set_send_timeout(std::chrono::milliseconds wait) {
  int ms = static_cast<int>(wait.count());
  if (ms == send_timeout_ms_) return;
  publisher_.set(zmq::sockopt::sndtimeo, ms);
  send_timeout_ms_ = ms;
}

SendResult ZmqTransport::send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds wait) {
  try {
    zmq::send_flags flags = zmq::send_flags::sndmore;
    if (wait.count() <= 0) {
      flags = flags | zmq::send_flags::dontwait;
    } else {
      set_send_timeout(wait);
    }
    zmq::message_t subject_frame(subject.data(), subject.size());
    // With XPUB_NODROP the first frame decides: refused, and nothing was queued anywhere.
    if (!publisher_.send(subject_frame, flags)) return SendResult::kFull;
    // Accepted, so the high-water marks that let it in let the rest of the same message in too; a blocking
    // send keeps the two frames together in any case.
    set_send_timeout(std::chrono::milliseconds(-1));
    if (!publisher_.send(body, zmq::send_flags::none)) return SendResult::kFailed;
    return SendResult::kSent;
  } catch (const zmq::error_t&) {
    return SendResult::kFailed;
  }
}

ReceiveResult ZmqTransport::receive(InboundMessage& out) {
  try {
    if (!subscriber_.recv(out.subject, zmq::recv_flags::dontwait)) return ReceiveResult::kNone;
    if (!out.subject.more()) return ReceiveResult::kBadFraming;
    // The rest of a multipart message is already here: ZeroMQ delivers messages whole.
    if (!subscriber_.recv(out.body, zmq::recv_flags::none)) return ReceiveResult::kFailed;
    if (!out.body.more()) return ReceiveResult::kMessage;
    zmq::message_t extra;
    do {
      if (!subscriber_.recv(extra, zmq::recv_flags::none)) return ReceiveResult::kFailed;
    } while (extra.more());
    return ReceiveResult::kBadFraming;
  } catch (const zmq::error_t&) {
    return ReceiveResult::kFailed;
  }
}

bool ZmqTransport::next_filter_event(FilterEvent& out) {
  try {
    zmq::message_t message;
    if (!publisher_.recv(message, zmq::recv_flags::dontwait)) return false;
    bool whole = !message.more();
    while (message.more()) {
      zmq::message_t extra;
      if (!publisher_.recv(extra, zmq::recv_flags::none) || !extra.more()) break;
    }
    const auto* bytes = static_cast<const unsigned char*>(message.data());
    if (!whole || message.size() == 0 || (bytes[0] != 0 && bytes[0] != 1)) {
      out.kind = FilterEvent::Kind::kMalformed;
      out.prefix.clear();
      return true;
    }
    out.kind = bytes[0] == 1 ? FilterEvent::Kind::kSubscribe : FilterEvent::Kind::kUnsubscribe;
    out.prefix.assign(reinterpret_cast<const char*>(bytes + 1), message.size() - 1);
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

Readiness ZmqTransport::wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound,
                             std::span<pollfd> extra) {
  // poll(2) on ZeroMQ's own descriptors rather than zmq_poll(): zmq_poll asks every socket for its events
  // before and after sleeping, a system call each, on every wake-up. Its descriptors signal new commands
  // (such as "a pipe has messages again"), which is all the caller needs once it has drained a socket.
  poll_set_.clear();
  poll_set_.push_back({wake_fd, POLLIN, 0});
  poll_set_.push_back({publisher_fd_, POLLIN, 0});
  poll_set_.push_back({want_inbound ? subscriber_fd_ : -1, POLLIN, 0});  // a negative fd is skipped
  for (const pollfd& p : extra) poll_set_.push_back({p.fd, p.events, 0});
  int timeout_ms = -1;
  if (timeout.count() >= 0) timeout_ms = static_cast<int>((timeout.count() + 999) / 1000);
  Readiness ready;
  int n = ::poll(poll_set_.data(), poll_set_.size(), timeout_ms);
  if (n <= 0) return ready;  // timeout, or EINTR: the caller looks again
  ready.woken = poll_set_[0].revents != 0;
  ready.filter_events = poll_set_[1].revents != 0;
  ready.inbound = want_inbound && poll_set_[2].revents != 0;
  for (std::size_t i = 0; i < extra.size(); ++i) extra[i].revents = poll_set_[3 + i].revents;
  return ready;
}

std::unique_ptr<ControlTransport> ZmqTransport::make_control_transport(const ControlTransportOptions& options) {
  return std::make_unique<ZmqControlTransport>(context_, options);
}

void ZmqTransport::close(std::chrono::milliseconds linger) {
  if (closed_) return;
  closed_ = true;
  try {
    publisher_.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
    publisher_.close();
    subscriber_.close();
    context_.close();
  } catch (const zmq::error_t&) {
    // Closing cannot be refused meaningfully; the sockets are gone either way.
  }
}

}  // namespace weft::detail
