// Counters a node keeps. Every message a node drops or refuses is counted in one of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

// Received input that broke the wire protocol and was discarded (docs/wire-protocol.md, "Receiving").
struct MalformedStats {
  std::uint64_t bad_framing = 0;       // not exactly two frames
  std::uint64_t oversized = 0;         // a frame over max_frame_size
  std::uint64_t bad_subject = 0;       // frame 0 is not a valid subject
  std::uint64_t bad_envelope = 0;      // truncated or not the envelope's msgpack shape
  std::uint64_t bad_version = 0;       // an envelope of a protocol version this node does not speak
  std::uint64_t subject_mismatch = 0;  // an envelope whose subject differs from frame 0
  std::uint64_t bad_subscription = 0;  // a subscription message that is neither subscribe nor unsubscribe

  [[nodiscard]] std::uint64_t total() const noexcept {
    return bad_framing + oversized + bad_subject + bad_envelope + bad_version + subject_mismatch + bad_subscription;
  }
};

struct SubscriptionStats {
  std::uint64_t id = 0;
  std::string pattern;
  std::uint64_t delivered = 0;           // handler calls
  std::uint64_t handler_exceptions = 0;  // handler calls that threw (the message counts as delivered)
};

struct NodeStats {
  // Publishing side.
  std::uint64_t published = 0;    // accepted by publish()
  std::uint64_t rejected = 0;     // refused by publish() because the publish queue was full
  std::uint64_t sent = 0;         // handed to ZeroMQ
  std::uint64_t dropped_hwm = 0;  // refused by a subscriber's high-water mark (kDrop) and discarded
  std::uint64_t send_errors = 0;  // discarded because the transport failed (the node is shutting down)
  std::uint64_t discarded_on_close = 0;  // still queued when the linger ran out
  std::uint64_t batches_sent = 0;        // ZeroMQ messages sent; sent / batches_sent is the mean batch
  std::uint64_t remote_subscriptions = 0;  // subscription filters peers hold on this node's publications

  // Receiving side.
  std::uint64_t batches_received = 0;  // ZeroMQ messages received
  std::uint64_t received = 0;          // envelopes decoded
  std::uint64_t unmatched = 0;         // decoded envelopes no subscription matched (filters are prefixes)
  std::uint64_t delivered = 0;         // handler calls, over every subscription
  std::uint64_t handler_exceptions = 0;  // handler calls that threw, over every subscription
  std::uint64_t undelivered_on_close = 0;  // received but not yet dispatched when the node closed
  MalformedStats malformed;

  std::vector<SubscriptionStats> subscriptions;
};

}  // namespace weft
