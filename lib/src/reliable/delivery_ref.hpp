// What a Message of an at-least-once delivery points to: enough to settle it (AckHandle) from any thread,
// at any time, even after the node is gone (then settling does nothing).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "reliable/ack_queue.hpp"
#include <algorithm>

#include "weft/message.hpp"

namespace weft::detail {

struct NodeContext;

struct DeliveryRef {
  std::weak_ptr<NodeContext> node;
  AckDecision decision;  // the delivery's identity; kind and reason filled in when it is settled
  // Set by the first ack or nak (by hand or by the dispatcher), so that a delivery is settled once. Made only
  // when the application takes an AckHandle (Message::ack_handle(), inside the handler, on the dispatcher's
  // thread): until then the dispatcher alone can settle it, and most deliveries never need one.
  mutable std::shared_ptr<std::atomic<bool>> settled;

  // Sends the decision to the I/O thread unless the delivery was settled already; true if it was sent.
  bool settle(AckDecision::Kind kind, std::uint32_t delay_ms = 0, std::string reason = {}) const;
  // Extends the ack wait (never settles).
  void progress() const;
};

}  // namespace weft::detail

struct weft::AckHandle::State {
  weft::detail::DeliveryRef delivery;
};
