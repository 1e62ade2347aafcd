// The control seam: point-to-point messages between two nodes (acknowledgements, deliveries of at-least-once
// messages, requests' replies), beside the publish/subscribe fan-out. ZmqControlTransport is the real one (a
// ROUTER that peers reach and one DEALER per peer this node reaches); tests/support has an in-memory one that
// loses, duplicates and partitions on demand.
//
// A node reaches a peer in one of two ways: through the peer's control endpoint (an outgoing link, keyed by
// that endpoint), or back along a link the peer opened to it (keyed by the peer's routing id on this node's
// listener). A PeerRef names either. All calls come from the I/O thread.
#pragma once

#include <zmq.hpp>

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/send_result.hpp"
#include "weft/status.hpp"

namespace weft::detail {

struct PeerRef {
  enum class Via : std::uint8_t { kOutgoing, kIncoming };
  Via via = Via::kOutgoing;
  std::string key;  // kOutgoing: the peer's control endpoint; kIncoming: its routing id on our listener

  friend bool operator==(const PeerRef&, const PeerRef&) = default;
  friend auto operator<=>(const PeerRef&, const PeerRef&) = default;
};

// One received control message: a header frame (msgpack) and an optional body frame (raw bytes, e.g. the
// envelopes of a delivery, passed through without re-encoding).
struct ControlInbound {
  PeerRef from;
  zmq::message_t header;
  zmq::message_t body;
  bool has_body = false;
};

struct ControlTransportOptions {
  int send_hwm = 10000;
  int recv_hwm = 10000;
  std::int64_t max_message_bytes = -1;
  std::string routing_id;  // how this node's outgoing links identify it to peers
};

class ControlTransport {
 public:
  virtual ~ControlTransport() = default;

  // The listener peers reach; returns the endpoint with any wildcard resolved.
  virtual Result<std::string> bind(const std::string& endpoint) = 0;
  // Opens (once) an outgoing link to a peer's control endpoint. Idempotent.
  virtual Status connect(const std::string& endpoint) = 0;
  virtual void disconnect(const std::string& endpoint) = 0;

  // Sends [header, body?] to a peer. kFull: a high-water mark is full, try later; kFailed: the peer is not
  // connected (an incoming link that is gone, or an outgoing one not yet up).
  virtual SendResult send(const PeerRef& to, zmq::message_t& header, zmq::message_t* body) = 0;

  // Takes the next received message without blocking; false when there is none (then the descriptors from
  // pollable() signal the next).
  virtual bool receive(ControlInbound& out) = 0;

  // The descriptors to watch, and the news that one of them became readable.
  virtual void pollable(std::vector<int>& fds) = 0;
  virtual void on_readable(int fd) = 0;

  // Closes every socket (the I/O thread, before the transport's context closes).
  virtual void close() = 0;
};

}  // namespace weft::detail
