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

// At-least-once delivery, request/reply and the control channel.
struct ReliableStats {
  // Publishing side (this node's outbox).
  std::uint64_t published = 0;      // at-least-once messages taken into the outbox
  std::uint64_t acknowledged = 0;   // ... settled by every consumer that matched them
  std::uint64_t failed = 0;         // ... that failed: timed out, dead-lettered, dropped, abandoned
  std::uint64_t expired = 0;        // of those, not acknowledged within their timeout
  std::uint64_t unrouted = 0;       // published with no consumer registered (complete at once)
  std::uint64_t outbox_rejected = 0;  // refused by publish() because the outbox was full
  std::uint64_t outbox_dropped = 0;   // failed to make room (OutboxPolicy::kDropOldest)
  std::uint64_t outstanding = 0;      // in the outbox now
  std::uint64_t restored = 0;         // taken back from the disk outbox at start (OutboxOptions::persist)
  std::uint64_t deliveries = 0;     // deliveries sent to consumers (first ones and redeliveries)
  std::uint64_t redelivered = 0;    // deliveries made again: ack wait ran out, nak, holder gone
  std::uint64_t naks = 0;
  std::uint64_t ack_timeouts = 0;
  std::uint64_t stale_acks = 0;     // acknowledgements refused: the message had been redelivered meanwhile
  std::uint64_t dead_lettered = 0;
  std::uint64_t dead_letter_failures = 0;  // dead letters that could not be stored (counted and logged)

  // Subscribing side.
  std::uint64_t received = 0;           // deliveries received
  std::uint64_t duplicates = 0;         // deliveries received twice in transit, not handed to a handler again
  std::uint64_t suppressed = 0;         // duplicates by stream sequence or idempotency key, acknowledged unseen
  std::uint64_t acks_sent = 0;
  std::uint64_t naks_sent = 0;
  std::uint64_t acks_rejected = 0;      // our acknowledgements a publisher refused as stale
  std::uint64_t resend_requests = 0;    // gaps or lost tails noticed

  // Requests and the control channel.
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t request_timeouts = 0;
  std::uint64_t no_responders = 0;
  std::uint64_t control_sent = 0;
  std::uint64_t control_received = 0;
  std::uint64_t control_malformed = 0;  // control messages discarded as malformed
  std::uint64_t announcements = 0;      // other nodes' "_weft.hello" messages received (not in `received`)
};

// Persistent publishing through the sidecar (NodeOptions::sidecar); all zero when nothing was published so.
struct PersistentStats {
  std::uint64_t published = 0;    // persistent messages accepted by publish()
  std::uint64_t rejected = 0;     // refused by publish(): no sidecar configured, weftd down, too many in flight
  std::uint64_t persisted = 0;    // acknowledged durable by weftd
  std::uint64_t failed = 0;       // completed with an error (weftd's, unavailable, timeout, node stopped)
  std::uint64_t unavailable = 0;  // of those, because weftd could not be reached
  std::uint64_t appends = 0;      // APPEND requests sent: persisted / appends is the mean batch
  std::uint64_t in_flight = 0;    // handed over and not yet answered, now
  bool sidecar_up = false;        // weftd answered last time it was asked
};

// A durable subscriber or queue group that peers registered with this node's publishing side.
struct ConsumerStats {
  std::string key;  // the durable name or queue group
  bool queue = false;
  std::string pattern;
  std::size_t members = 0;  // live sessions (a durable one has at most one)
};

// Peer discovery (NodeOptions::discovery); all zero when it is off.
struct DiscoveryStats {
  bool enabled = false;
  bool multicast_active = false;  // joined the multicast group: multicast beacons can arrive
  std::uint64_t peers = 0;        // alive now
  std::uint64_t beacons_sent = 0;
  std::uint64_t beacons_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t malformed = 0;        // oversized, not Weft's, wrong version, unknown type, or broken: dropped
  std::uint64_t foreign_cluster = 0;  // another cluster's datagrams: dropped
  std::uint64_t dropped = 0;          // every dropped datagram, for any reason (own loopback included)
  std::uint64_t peers_joined = 0;
  std::uint64_t peers_expired = 0;    // missed their beacons
  std::uint64_t peers_departed = 0;   // said goodbye
  std::uint64_t peers_restarted = 0;  // replaced by a newer incarnation
  std::uint64_t connects = 0;         // subscribing-side connections made to peers
  std::uint64_t connect_errors = 0;   // ... refused by the transport (logged)
  std::uint64_t send_errors = 0;      // datagrams the system refused
  std::uint16_t unicast_port = 0;     // this node's own discovery socket: a seed "host:port" for other nodes
};

struct NodeStats {
  // Publishing side.
  std::uint64_t published = 0;    // accepted by publish()
  std::uint64_t rejected = 0;     // refused by publish() because the publish queue was full
  std::uint64_t sent = 0;         // handed to ZeroMQ (at least once: only when a peer subscribes plainly)
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

  ReliableStats reliable;
  PersistentStats persistent;
  std::vector<ConsumerStats> consumers;
  DiscoveryStats discovery;

  std::vector<SubscriptionStats> subscriptions;
};

}  // namespace weft
