// The administrative requests of the sidecar protocol (kind ADMIN) and their replies (ADMIN_REPLY), as msgpack
// maps (docs/sidecar.md, section 6). A request's map holds `op` and the op's own keys side by side.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/sidecar_protocol.hpp"
#include "sidecar/stream_config.hpp"

namespace weft::detail::sidecar {

// status: weftd itself.
struct StatusArgs {
  std::string op{kOpStatus};
  MSGPACK_DEFINE_MAP(op)
};

struct Counter {
  std::string name;
  std::uint64_t value = 0;
  MSGPACK_DEFINE_ARRAY(name, value)
};

struct ServerStatus {
  std::string server_id;
  std::string version;
  std::uint64_t pid = 0;
  std::string data_dir;
  std::vector<std::string> endpoints;
  std::uint64_t uptime_ms = 0;
  std::uint32_t streams = 0;
  std::uint32_t failed_streams = 0;
  std::vector<Counter> counters;  // requests, appends, malformed input by kind, ...
  MSGPACK_DEFINE_MAP(server_id, version, pid, data_dir, endpoints, uptime_ms, streams, failed_streams, counters)
};

// stream.add: `config`; the reply is the new stream's StreamInfo.
struct StreamAddArgs {
  std::string op{kOpStreamAdd};
  StreamConfig config;
  MSGPACK_DEFINE_MAP(op, config)
};

// stream.info, stream.rm, dlq.purge: one stream by name.
struct StreamArgs {
  std::string op;
  std::string stream;
  MSGPACK_DEFINE_MAP(op, stream)
};

struct StreamListArgs {
  std::string op{kOpStreamList};
  MSGPACK_DEFINE_MAP(op)
};

struct ConsumerInfo {
  std::string name;  // empty for an ephemeral consumer
  std::string kind;  // "durable", "group" or "ephemeral"
  std::uint64_t ack_floor = 0;    // every offset below it is acknowledged (or dead-lettered)
  std::uint64_t next_offset = 0;  // the next offset it will be sent for the first time
  std::uint64_t pending = 0;      // delivered and not yet acknowledged, or waiting to be delivered again
  std::uint64_t lag = 0;          // the stream's end minus ack_floor
  std::uint32_t members = 0;      // connected members
  std::uint32_t ack_wait_ms = 0;
  std::uint32_t max_deliver = 0;
  std::uint64_t redelivered = 0;    // since weftd started
  std::uint64_t dead_lettered = 0;  // since weftd started
  std::uint64_t skipped = 0;        // offsets retention deleted before it read them, since weftd started
  std::uint64_t read_by_members = 0;       // first deliveries members read from the segment files themselves
  std::uint64_t member_read_failures = 0;  // DELIVER_FILEs a member could not read (sent again as copies)
  MSGPACK_DEFINE_MAP(name, kind, ack_floor, next_offset, pending, lag, members, ack_wait_ms, max_deliver,
                     redelivered, dead_lettered, skipped, read_by_members, member_read_failures)
};

struct StreamInfo {
  StreamConfig config;
  std::string origin;  // "config" (weftd's config file) or "added" (stream.add)
  std::uint64_t first_offset = 0;
  std::uint64_t end_offset = 0;             // one past the last acknowledged message
  std::optional<std::uint64_t> last_offset;  // nil when the stream is empty
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;  // of its segment files
  std::uint32_t segments = 0;
  std::string health;  // "ok", or why the stream acknowledges nothing more
  std::vector<std::string> recovery;  // what recovery found when weftd opened it (empty: clean)
  std::uint64_t dead_letters = 0;
  std::vector<ConsumerInfo> consumers;
  MSGPACK_DEFINE_MAP(config, origin, first_offset, end_offset, last_offset, messages, bytes, segments, health,
                     recovery, dead_letters, consumers)
};

struct StreamList {
  std::vector<StreamInfo> streams;
  MSGPACK_DEFINE_MAP(streams)
};

struct Removed {
  std::string stream;
  MSGPACK_DEFINE_MAP(stream)
};

// dlq.ls
struct DlqListArgs {
  std::string op{kOpDlqList};
  MSGPACK_DEFINE_MAP(op)
};

struct DlqSummary {
  std::string stream;
  std::uint64_t count = 0;
  std::uint64_t first_offset = 0;
  std::uint64_t end_offset = 0;
  std::uint64_t bytes = 0;
  MSGPACK_DEFINE_MAP(stream, count, first_offset, end_offset, bytes)
};

struct DlqList {
  std::vector<DlqSummary> queues;
  MSGPACK_DEFINE_MAP(queues)
};

// dlq.show: up to `max` dead letters of `stream` from offset `from`; the reply's body holds each one's envelope.
struct DlqShowArgs {
  std::string op{kOpDlqShow};
  std::string stream;
  std::uint64_t from = 0;
  std::uint32_t max = 100;
  MSGPACK_DEFINE_MAP(op, stream, from, max)
};

struct DeadLetterInfo {
  std::uint64_t offset = 0;         // in the dead-letter stream
  std::string subject;
  std::string consumer;             // the consumer that gave up on it
  std::uint32_t deliveries = 0;
  std::string last_error;
  std::int64_t time_ns = 0;         // when it was dead-lettered
  std::uint64_t source_offset = 0;  // its offset in the source stream
  MSGPACK_DEFINE_MAP(offset, subject, consumer, deliveries, last_error, time_ns, source_offset)
};

struct DlqShowReply {
  std::string stream;
  std::vector<DeadLetterInfo> letters;  // letter i's envelope is body frame i
  std::uint64_t next_offset = 0;        // where the next dlq.show should start
  MSGPACK_DEFINE_MAP(stream, letters, next_offset)
};

// dlq.replay: appends the dead letters at `offsets` (all of them when empty) back to the stream that takes
// their subject; the reply comes once they are durable there.
struct DlqReplayArgs {
  std::string op{kOpDlqReplay};
  std::string stream;
  std::vector<std::uint64_t> offsets;
  MSGPACK_DEFINE_MAP(op, stream, offsets)
};

struct DlqReplayReply {
  std::string stream;
  std::uint64_t replayed = 0;
  std::vector<std::uint64_t> new_offsets;  // where each landed, in the order of the dead letters
  MSGPACK_DEFINE_MAP(stream, replayed, new_offsets)
};

struct DlqPurgeReply {
  std::string stream;
  std::uint64_t purged = 0;
  MSGPACK_DEFINE_MAP(stream, purged)
};

}  // namespace weft::detail::sidecar
