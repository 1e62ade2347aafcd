// The messages of the control channel (docs/wire-protocol.md, "Control channel"): registrations of durable
// subscribers and queue members, deliveries of at-least-once messages, acknowledgements, heartbeats and
// replies. A control message is a header frame (a msgpack array [version, kind, fields]) and, for deliveries
// and replies, a body frame of envelopes exactly as they travel on the publish/subscribe path.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "weft/status.hpp"

namespace weft::detail::control {

inline constexpr std::uint64_t kVersion = 1;

enum class Kind : std::uint8_t {
  kConsume = 1,     // subscriber -> publisher: a durable subscription or a queue member, and its credit
  kUnconsume = 2,   // subscriber -> publisher: it is gone (a durable one forgets its state only if asked)
  kDeliver = 3,     // publisher -> subscriber: a batch of at-least-once messages
  kAck = 4,         // subscriber -> publisher: handled
  kNak = 5,         // subscriber -> publisher: not handled, deliver again (after a delay)
  kProgress = 6,    // subscriber -> publisher: still working, extend the ack wait
  kHeartbeat = 7,   // both ways: the session is alive; the publisher says how far it has sent
  kResend = 8,      // subscriber -> publisher: deliveries from here on were missed
  kReply = 9,       // responder -> requester: the reply to a request
  kRejected = 10,   // publisher -> subscriber: these acknowledgements came too late (redelivered meanwhile)
};

enum class ConsumerMode : std::uint8_t { kDurable = 0, kQueue = 1 };

// Consecutive deliveries acknowledged (or progressing) together: dseq first .. first+count-1, all of attempt.
struct AckRange {
  std::uint64_t first = 0;
  std::uint32_t count = 0;
  std::uint32_t attempt = 0;
  MSGPACK_DEFINE_ARRAY(first, count, attempt)
};

struct Consume {
  std::string key;  // the durable name, or the queue group
  std::uint8_t mode = 0;
  std::string pattern;
  std::uint64_t node_id = 0;
  std::uint64_t session = 0;  // new for every subscription instance: a restart is a new session
  std::uint32_t ack_wait_ms = 30000;
  std::uint32_t max_deliver = 5;
  std::uint32_t credit = 0;      // how many unacknowledged deliveries it takes at once
  std::string dead_letter;       // optional: where exhausted messages go (empty: the publisher's default)
  MSGPACK_DEFINE_ARRAY(key, mode, pattern, node_id, session, ack_wait_ms, max_deliver, credit, dead_letter)
};

struct Unconsume {
  std::string key;
  std::uint64_t session = 0;
  MSGPACK_DEFINE_ARRAY(key, session)
};

struct DeliveryItem {
  std::uint64_t dseq = 0;      // the delivery's number within the consumer (durable: 1, 2, 3, ... in order)
  std::uint32_t attempt = 0;   // 1 on the first delivery
  std::uint32_t length = 0;    // bytes of its envelope in the body
  MSGPACK_DEFINE_ARRAY(dseq, attempt, length)
};

struct Deliver {
  std::string key;
  std::uint64_t session = 0;
  std::vector<DeliveryItem> items;
  MSGPACK_DEFINE_ARRAY(key, session, items)
};

struct Ack {
  std::string key;
  std::uint64_t session = 0;
  std::vector<AckRange> ranges;
  MSGPACK_DEFINE_ARRAY(key, session, ranges)
};

struct NakItem {
  std::uint64_t dseq = 0;
  std::uint32_t attempt = 0;
  std::uint32_t delay_ms = 0;
  MSGPACK_DEFINE_ARRAY(dseq, attempt, delay_ms)
};

struct Nak {
  std::string key;
  std::uint64_t session = 0;
  std::vector<NakItem> items;
  std::string reason;
  MSGPACK_DEFINE_ARRAY(key, session, items, reason)
};

struct Progress {
  std::string key;
  std::uint64_t session = 0;
  std::vector<AckRange> ranges;
  MSGPACK_DEFINE_ARRAY(key, session, ranges)
};

struct Heartbeat {
  std::string key;
  std::uint64_t session = 0;
  std::uint64_t last_dseq = 0;  // publisher: the last delivery sent to this session; subscriber: the last received
  std::uint32_t credit = 0;     // subscriber: the credit it grants (as in Consume), not what is free of it
  MSGPACK_DEFINE_ARRAY(key, session, last_dseq, credit)
};

struct Resend {
  std::string key;
  std::uint64_t session = 0;
  std::uint64_t from_dseq = 0;
  MSGPACK_DEFINE_ARRAY(key, session, from_dseq)
};

struct Reply {
  std::uint64_t request_id = 0;
  MSGPACK_DEFINE_ARRAY(request_id)
};

struct Rejected {
  std::string key;
  std::uint64_t session = 0;
  std::vector<AckRange> ranges;
  std::string reason;
  MSGPACK_DEFINE_ARRAY(key, session, ranges, reason)
};

using Message = std::variant<Consume, Unconsume, Deliver, Ack, Nak, Progress, Heartbeat, Resend, Reply, Rejected>;

// The header frame of a message.
std::string encode(const Message& message);

// Decodes a header frame; invalid-argument for anything malformed (bounded: no huge allocations).
Result<Message> decode(const void* data, std::size_t size);

[[nodiscard]] const char* kind_name(const Message& message) noexcept;

}  // namespace weft::detail::control
