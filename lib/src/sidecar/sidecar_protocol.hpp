// Every constant of the sidecar protocol, in one place: what producers, consumers and admin tools say to weftd
// over ZeroMQ (a DEALER talking to weftd's ROUTER). docs/sidecar.md is the specification; keep the two in step.
//
// A message is a header frame and zero or more body frames:
//
//   frame 0   msgpack array [version, kind, request_id, fields]     fields: a map from str keys to values
//   frame 1.. raw bytes: one Weft envelope per frame (docs/wire-protocol.md), for APPEND, DEAD_LETTER, DELIVER,
//             ADMIN_REPLY (DELIVER_FILE has none: it names where the client reads the envelopes itself)
//
// Unknown keys in `fields` and elements after the fourth are ignored; a missing key takes its default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/status.hpp"

namespace weft::detail::sidecar {

inline constexpr std::uint64_t kProtocolVersion = 1;

// Positions in the header array.
inline constexpr std::size_t kHeaderVersion = 0;
inline constexpr std::size_t kHeaderKind = 1;
inline constexpr std::size_t kHeaderRequestId = 2;
inline constexpr std::size_t kHeaderFields = 3;
inline constexpr std::size_t kHeaderMinElements = 4;

enum class Kind : std::uint8_t {
  // client -> weftd
  kPing = 1,       // liveness both ways; answered with kPong when request_id != 0
  kAppend = 2,     // body: envelopes of one subject; answered with kAppended once durable, or kError
  kConsume = 3,    // start (or join) a consumer; answered with kConsuming or kError
  kUnconsume = 4,  // leave a consumer; answered with kOk when request_id != 0
  kAck = 5,        // deliveries handled
  kNak = 6,        // deliveries not handled: deliver again after delay_ms
  kProgress = 7,   // still working: restart the ack wait
  kCredit = 8,     // take this many more deliveries
  kAdmin = 9,      // stream and dead-letter administration; answered with kAdminReply or kError
  kDeadLetter = 10,  // body: one envelope a node gave up on; kept in kNodeDeadLetters, answered with kAppended
  kReadFailed = 11,  // a DELIVER_FILE the client could not read (from first_offset on): send those again
  // weftd -> client
  kPong = 64,
  kAppended = 65,
  kConsuming = 66,
  kDeliver = 67,       // unsolicited (request_id 0); body: one envelope per item, or one packed frame
  kAckReply = 68,      // what an ack/nak/progress did: always when request_id != 0, else only if one was rejected
  kConsumerEnd = 69,   // unsolicited: weftd ended this consumer (stream removed, taken over, member timed out)
  kAdminReply = 70,    // body: envelopes, for dlq.show
  kError = 71,
  kOk = 72,
  kDeliverFile = 73,   // unsolicited: first deliveries for the client to read from a segment file itself
};

[[nodiscard]] bool is_known_kind(std::uint64_t kind) noexcept;
[[nodiscard]] std::string_view kind_name(Kind kind) noexcept;

// The `code` of a kError reply (and of kConsumerEnd).
enum class ErrorKind : std::uint8_t {
  kMalformed = 1,     // the header frame is not a header, a field has the wrong type, a body is missing
  kBadVersion = 2,    // a protocol version weftd does not speak
  kUnknownKind = 3,   // a kind weftd does not know
  kNoStream = 4,      // no stream takes the subject, or the named stream does not exist
  kStreamFailed = 5,  // the stream's log failed (an fsync failed): it acknowledges nothing more until restarted
  kTooLarge = 6,      // an envelope or an append over the limits
  kInvalid = 7,       // well-formed but refused: a bad value, an envelope whose subject differs from the header's
  kNotFound = 8,      // no such consumer, dead letter or offset
  kConflict = 9,      // already exists, or subjects that overlap another stream's
  kStopping = 10,     // weftd is shutting down and takes no new work
  kBackPressure = 11, // too much waiting already: try again later
  kInternal = 12,
  kIoError = 13,      // the disk failed an administrative operation
};

[[nodiscard]] std::string_view error_kind_name(ErrorKind kind) noexcept;
// The weft::ErrorCode a client reports for a sidecar error.
[[nodiscard]] ErrorCode to_error_code(ErrorKind kind) noexcept;
// And back: the ErrorKind weftd sends for a Status from its own parts.
[[nodiscard]] ErrorKind from_status(const Status& status) noexcept;

// Limits weftd enforces (and a client should respect).
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
inline constexpr std::size_t kMaxBodyFrames = 4096;                    // envelopes in one append or delivery
// A DELIVER's items take at most this many header bytes, so that its header stays within kMaxHeaderBytes: 4096
// items of offsets 65,536 and up take 16 bytes each, 65,536 in all, and would not fit with the rest.
// kDeliverHeaderOverhead bounds the rest: [1, 67, 0, {consumer: u64, items: array32 header}].
inline constexpr std::size_t kDeliverHeaderOverhead = 1 + 1 + 1 + 1 + 1 + (1 + 8) + 9 + (1 + 5) + 5;
inline constexpr std::size_t kMaxDeliverItemsBytes = kMaxHeaderBytes - kDeliverHeaderOverhead;
// Items in one ACK, NAK or PROGRESS at most: 4096 of the widest ([u64, u32]: 15 bytes) and the rest of the
// header fit in kMaxHeaderBytes whatever the offsets. A client splits larger answers.
inline constexpr std::size_t kMaxAnswerItems = 4096;
inline constexpr std::size_t kMaxAnswerItemBytes = 1 + 9 + 5;
static_assert(kMaxAnswerItems * kMaxAnswerItemBytes + 128 <= kMaxHeaderBytes);
// The same answer as ranges (`ranges`, [first_offset u64, count u32, attempt u32]: 20 bytes at most): at most
// this many of them, covering at most kMaxAnswerItems offsets with the items, per message.
inline constexpr std::size_t kMaxAnswerRanges = 2048;
inline constexpr std::size_t kMaxAnswerRangeBytes = 1 + 9 + 5 + 5;
static_assert(kMaxAnswerRanges * kMaxAnswerRangeBytes + 128 <= kMaxHeaderBytes);
inline constexpr std::size_t kMaxAppendBytes = 64ULL * 1024 * 1024;    // all envelopes of one append
inline constexpr std::uint32_t kMaxCredit = 65536;
inline constexpr std::uint32_t kDefaultCredit = 256;
inline constexpr std::uint32_t kDefaultAckWaitMs = 30000;
inline constexpr std::uint32_t kDefaultMaxDeliver = 5;
inline constexpr std::uint32_t kDefaultHeartbeatMs = 2000;
// weftd drops a consumer member it has not heard from for this many heartbeat intervals.
inline constexpr std::uint32_t kMissedHeartbeats = 3;
// Bounds on what one header may make a decoder allocate.
inline constexpr std::size_t kMaxArrayElements = 65536;
inline constexpr std::size_t kMaxMapEntries = 256;
inline constexpr std::size_t kMaxStringBytes = 64 * 1024;
inline constexpr std::size_t kMaxDepth = 8;

// Stream and consumer names: 1 to 64 bytes of [A-Za-z0-9_-]. They name directories and files.
inline constexpr std::size_t kMaxNameBytes = 64;
[[nodiscard]] Status validate_name(std::string_view what, std::string_view name);

// Admin operations (the `op` field of kAdmin).
inline constexpr std::string_view kOpStatus = "status";
inline constexpr std::string_view kOpStreamAdd = "stream.add";
inline constexpr std::string_view kOpStreamList = "stream.ls";
inline constexpr std::string_view kOpStreamInfo = "stream.info";
inline constexpr std::string_view kOpStreamRemove = "stream.rm";
inline constexpr std::string_view kOpDlqList = "dlq.ls";
inline constexpr std::string_view kOpDlqShow = "dlq.show";
inline constexpr std::string_view kOpDlqReplay = "dlq.replay";
inline constexpr std::string_view kOpDlqPurge = "dlq.purge";

// Envelope headers weftd reads on append (docs/sidecar.md, section 11): the record's key, which compaction
// keeps the newest message of, and a tombstone ("true" or "1"), which deletes its key.
inline constexpr std::string_view kKeyHeader = "weft-key";
inline constexpr std::string_view kTombstoneHeader = "weft-tombstone";

// The dead-letter queue of nodes' dead letters (kDeadLetter): <data-dir>/dead-letters/_node/ in weftd, named so
// by the dlq.* ops. No stream may take this name.
inline constexpr std::string_view kNodeDeadLetters = "_node";

}  // namespace weft::detail::sidecar
