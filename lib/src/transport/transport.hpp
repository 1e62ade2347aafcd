// The transport seam: the node's I/O thread moves Weft messages through this interface only. ZmqTransport is
// the real one; tests/support has an in-memory one for tests that want to inject or observe exact frames.
//
// A transport has a publishing side (ZeroMQ XPUB: fans messages out to subscribers, and reports the
// subscription filters they send) and a subscribing side (ZeroMQ SUB: receives what matches its filters). All
// calls come from the one thread that owns the transport.
#pragma once

#include <poll.h>
#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "transport/control_transport.hpp"
#include "transport/send_result.hpp"
#include "weft/status.hpp"

namespace weft::detail {

struct TransportOptions {
  int send_hwm = 1000;
  int recv_hwm = 1000;
  // Frames over this are refused by ZeroMQ itself, which then drops the connection: a hard ceiling on memory
  // well above the node's own max_frame_size check.
  std::int64_t hard_frame_limit = -1;
  int tcp_send_buffer = 0;
  int tcp_receive_buffer = 0;
};

// One received Weft message: [subject, envelopes].
struct InboundMessage {
  zmq::message_t subject;
  zmq::message_t body;
};

enum class ReceiveResult { kMessage, kNone, kBadFraming, kFailed };

struct FilterEvent {
  enum class Kind { kSubscribe, kUnsubscribe, kMalformed };
  Kind kind = Kind::kMalformed;
  std::string prefix;
};

// What wait() saw. The socket flags mean "may have input": the caller drains until receive() says kNone.
struct Readiness {
  bool inbound = false;        // the subscribing side may have messages
  bool filter_events = false;  // the publishing side may have subscription events
  bool woken = false;          // the wake descriptor is readable
  [[nodiscard]] bool any() const noexcept { return inbound || filter_events || woken; }
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Publishing side. bind returns the endpoint with any wildcard port resolved.
  virtual Result<std::string> bind_publisher(const std::string& endpoint) = 0;
  virtual Status connect_publisher(const std::string& endpoint) = 0;
  // Subscribing side.
  virtual Result<std::string> bind_subscriber(const std::string& endpoint) = 0;
  virtual Status connect_subscriber(const std::string& endpoint) = 0;
  virtual Status disconnect_subscriber(const std::string& endpoint) = 0;

  // Subscription filters of the subscribing side (prefixes; counted, so add twice needs remove twice).
  virtual void add_filter(std::string_view prefix) = 0;
  virtual void remove_filter(std::string_view prefix) = 0;

  // Sends [subject, body] to every subscriber whose filter matches. kFull when a matching subscriber's
  // high-water mark refuses it: then nobody got it, and `body` is still intact. `wait` is how long a full
  // high-water mark may hold the call before kFull (zero: not at all).
  virtual SendResult send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds wait) = 0;

  // Takes the next received message without blocking. kBadFraming: a message of other than two frames arrived
  // and was discarded whole.
  virtual ReceiveResult receive(InboundMessage& out) = 0;

  // Takes the next subscription event from the publishing side without blocking; false when there is none.
  virtual bool next_filter_event(FilterEvent& out) = 0;

  // Blocks until there may be input (inbound only when `want_inbound`), `wake_fd` or one of `extra` is
  // readable, or `timeout` passes (zero: just look; negative: no limit). Only safe to sleep on a side after
  // draining it to kNone: the readiness signals new input, not input already waiting. The `revents` of each
  // `extra` entry are filled in.
  virtual Readiness wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound,
                         std::span<pollfd> extra) = 0;

  // The control seam on the same underlying transport (it shares the ZeroMQ context); null when unsupported.
  [[nodiscard]] virtual std::unique_ptr<ControlTransport> make_control_transport(const ControlTransportOptions&) {
    return nullptr;
  }

  // The ZeroMQ context under this transport, for the node's other ZeroMQ sockets (its connection to weftd),
  // so that a node runs one set of ZeroMQ threads; null when there is none. It lives as long as the transport,
  // and close() waits for every socket made in it to be closed first.
  [[nodiscard]] virtual zmq::context_t* zmq_context() noexcept { return nullptr; }

  // A descriptor that becomes readable when the subscribing side may have new input, for another thread to
  // watch (never to read); -1 when the transport has none.
  [[nodiscard]] virtual int inbound_signal_fd() const noexcept { return -1; }

  // Sets how long unsent messages may hold up close, then closes the sockets. Further calls fail.
  virtual void close(std::chrono::milliseconds linger) = 0;
};

}  // namespace weft::detail
