// The `fields` map of each kind of sidecar message (docs/sidecar.md, section 4). Each struct packs as a msgpack
// map keyed by its field names; decoding ignores keys it does not know and leaves missing ones at their
// defaults, so both sides can add optional fields without a new protocol version.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "sidecar/sidecar_protocol.hpp"

namespace weft::detail::sidecar {

// kPing (client) and kOk: no fields.
struct NoFields {
  template <typename Packer>
  void msgpack_pack(Packer& packer) const {
    packer.pack_map(0);
  }
  void msgpack_unpack(const msgpack::object& o) {
    if (o.type != msgpack::type::MAP) throw msgpack::type_error();
  }
};

struct PongFields {
  std::string server_id;  // random, new each time weftd starts: a change means weftd restarted
  std::string version;
  std::uint64_t pid = 0;
  MSGPACK_DEFINE_MAP(server_id, version, pid)
};

struct AppendFields {
  std::string subject;  // every envelope in the body has this subject
  MSGPACK_DEFINE_MAP(subject)
};

struct AppendedFields {
  std::string stream;
  std::uint64_t first_offset = 0;  // the body's envelopes got first_offset .. last_offset, in order
  std::uint64_t last_offset = 0;
  MSGPACK_DEFINE_MAP(stream, first_offset, last_offset)
};

// kDeadLetter: a node's dead letter; the body is its envelope (whose subject is `subject`). weftd keeps it in
// kNodeDeadLetters and answers with kAppended {stream: "_node", first_offset = last_offset = its offset}.
struct DeadLetterFields {
  std::string subject;
  std::string consumer;         // the durable name or queue group that gave up on it
  std::uint32_t deliveries = 0;
  std::string last_error;
  std::int64_t time_ns = 0;     // when the node dead-lettered it (wall clock, ns since the Unix epoch)
  MSGPACK_DEFINE_MAP(subject, consumer, deliveries, last_error, time_ns)
};

struct ErrorFields {
  std::uint8_t code = static_cast<std::uint8_t>(ErrorKind::kInternal);  // an ErrorKind
  std::string message;
  MSGPACK_DEFINE_MAP(code, message)
};

// Where a new consumer starts (`start`): "first" (the oldest stored offset), "last" (the newest message, then
// everything after it), "new" (only what is appended from now on), "offset" (`offset`), "time" (the first
// message weftd stored at or after `time_ns`).
inline constexpr std::string_view kStartFirst = "first";
inline constexpr std::string_view kStartLast = "last";
inline constexpr std::string_view kStartNew = "new";
inline constexpr std::string_view kStartOffset = "offset";
inline constexpr std::string_view kStartTime = "time";

struct ConsumeFields {
  std::string stream;
  std::string start{kStartFirst};
  std::uint64_t offset = 0;
  std::int64_t time_ns = 0;
  std::string durable;  // a named consumer whose acknowledged offset weftd keeps; one member at a time
  std::string group;    // a named consumer whose members compete for the messages; kept like a durable one
  bool ack = true;      // false: no acknowledgements (ephemeral only); credit comes back with kCredit
  std::uint32_t ack_wait_ms = kDefaultAckWaitMs;
  std::uint32_t max_deliver = kDefaultMaxDeliver;  // 0: no limit
  std::uint32_t credit = kDefaultCredit;           // deliveries outstanding at most
  std::uint32_t heartbeat_ms = kDefaultHeartbeatMs;
  // The client reads packed DELIVERs (packed_deliveries.hpp) and may answer with ranges; weftd says in
  // CONSUMING whether it will use them.
  bool packed = false;
  // The client runs on weftd's host and can open its segment files: weftd may send DELIVER_FILE (first
  // deliveries the client reads from the file itself, no copy through weftd) and says in CONSUMING whether it
  // will. Only with ack = true: a range the client cannot read comes back with READ_FAILED.
  bool local_read = false;
  MSGPACK_DEFINE_MAP(stream, start, offset, time_ns, durable, group, ack, ack_wait_ms, max_deliver, credit,
                     heartbeat_ms, packed, local_read)
};

struct ConsumingFields {
  std::uint64_t consumer = 0;      // names this membership in every later message
  std::string stream;
  std::string name;                // the durable or group name; empty for an ephemeral consumer
  std::uint64_t start_offset = 0;  // the first offset it will be sent (a durable resumes past its acks)
  std::uint64_t end_offset = 0;    // the stream's end when it started
  bool resumed = false;            // the durable or group existed: `start` was not used
  std::string server_id;
  bool packed = false;  // the client asked for packed DELIVERs and weftd sends them, and reads ACK ranges
  bool local_read = false;  // the client asked for DELIVER_FILE and weftd may send it
  // The stream is compacted: offsets whose message compaction removed are passed over, never delivered.
  bool compacted = false;
  MSGPACK_DEFINE_MAP(consumer, stream, name, start_offset, end_offset, resumed, server_id, packed, local_read,
                     compacted)
};

struct ConsumerRef {
  std::uint64_t consumer = 0;
  MSGPACK_DEFINE_MAP(consumer)
};

struct DeliveryItem {
  std::uint64_t offset = 0;
  std::uint32_t attempt = 0;      // 1 the first time
  std::int64_t timestamp_ns = 0;  // when weftd stored it
  MSGPACK_DEFINE_ARRAY(offset, attempt, timestamp_ns)
};

// The bytes msgpack-c's packer gives an integer: its smallest encoding.
constexpr std::size_t packed_size(std::uint64_t v) noexcept {
  return v < 0x80 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}
constexpr std::size_t packed_size(std::int64_t v) noexcept {
  if (v >= 0) return packed_size(static_cast<std::uint64_t>(v));
  return v >= -32 ? 1 : v >= INT8_MIN ? 2 : v >= INT16_MIN ? 3 : v >= INT32_MIN ? 5 : 9;
}
// The bytes one item takes in a DELIVER header (at most kMaxDeliverItemsBytes for all of them).
constexpr std::size_t packed_size(const DeliveryItem& item) noexcept {
  return 1 + packed_size(item.offset) + packed_size(std::uint64_t{item.attempt}) + packed_size(item.timestamp_ns);
}

struct DeliverFields {
  std::uint64_t consumer = 0;
  std::vector<DeliveryItem> items;  // item i's envelope is body frame i
  std::uint32_t packed = 0;         // > 0: no items; the one body frame packs this many (packed_deliveries.hpp)
  MSGPACK_DEFINE_MAP(consumer, items, packed)
};

// What weftd sends as a packed DELIVER's fields (the client decodes DeliverFields, whose items stay empty).
struct PackedDeliverFields {
  std::uint64_t consumer = 0;
  std::uint32_t packed = 0;
  MSGPACK_DEFINE_MAP(consumer, packed)
};

// kDeliverFile: the records first_offset .. end_offset - 1, every one a first delivery (attempt 1), lie in the
// segment file `path` between start_position (an index point at or before first_offset's record: the client
// steps over the records before it) and end_position. The client reads them with the log format's checks
// (docs/log-format.md) and hands each record's value over as the envelope.
struct DeliverFileFields {
  std::uint64_t consumer = 0;
  std::string path;
  std::uint64_t start_position = 0;
  std::uint64_t end_position = 0;
  std::uint64_t first_offset = 0;
  std::uint64_t end_offset = 0;
  MSGPACK_DEFINE_MAP(consumer, path, start_position, end_position, first_offset, end_offset)
};

// kReadFailed: the client could not read a DELIVER_FILE from first_offset on (and handed nothing of it over
// from there): weftd sends first_offset .. end_offset - 1 again, as copies, and no more DELIVER_FILE to this
// member.
struct ReadFailedFields {
  std::uint64_t consumer = 0;
  std::uint64_t first_offset = 0;
  std::uint64_t end_offset = 0;
  std::string reason;
  MSGPACK_DEFINE_MAP(consumer, first_offset, end_offset, reason)
};

struct AckItem {
  std::uint64_t offset = 0;
  std::uint32_t attempt = 0;  // the attempt being answered: an answer to an earlier attempt is stale
  MSGPACK_DEFINE_ARRAY(offset, attempt)
};

// Offsets first_offset .. first_offset + count - 1, each answered at `attempt`: a consumer reading in order
// answers thousands of deliveries with one of these.
struct AckRange {
  std::uint64_t first_offset = 0;
  std::uint32_t count = 0;
  std::uint32_t attempt = 0;
  MSGPACK_DEFINE_ARRAY(first_offset, count, attempt)
};

// kAck, kNak and kProgress. `ranges` only to a weftd whose CONSUMING said `packed`; an older one ignores it.
struct AckFields {
  std::uint64_t consumer = 0;
  std::vector<AckItem> items;
  std::uint32_t delay_ms = 0;  // kNak: wait this long before delivering again
  std::string reason;          // kNak: kept as the dead letter's last error if it is the last attempt
  std::vector<AckRange> ranges;
  MSGPACK_DEFINE_MAP(consumer, items, delay_ms, reason, ranges)
};

struct Rejection {
  std::uint64_t offset = 0;
  std::uint32_t attempt = 0;
  std::string reason;
  MSGPACK_DEFINE_ARRAY(offset, attempt, reason)
};

struct AckReplyFields {
  std::uint64_t consumer = 0;
  std::uint32_t accepted = 0;
  std::vector<Rejection> rejected;
  MSGPACK_DEFINE_MAP(consumer, accepted, rejected)
};

struct CreditFields {
  std::uint64_t consumer = 0;
  std::uint32_t credit = 0;  // added to the consumer's credit (at most kMaxCredit outstanding)
  MSGPACK_DEFINE_MAP(consumer, credit)
};

struct ConsumerEndFields {
  std::uint64_t consumer = 0;
  std::uint8_t code = 0;  // an ErrorKind
  std::string message;
  MSGPACK_DEFINE_MAP(consumer, code, message)
};

// kAdmin: `op` and the op's own keys, side by side in one map (sidecar_admin.hpp).
struct AdminOpField {
  std::string op;
  MSGPACK_DEFINE_MAP(op)
};

}  // namespace weft::detail::sidecar
