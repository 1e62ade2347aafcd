// What the bench tells a peer process to do (PeerSpec, passed as the arguments of the hidden verb
// `weft bench-peer`), and the lines a peer prints back (Report). The bench itself only spawns, reads and
// waits; every message is sent and received in the peers.
//
// A peer prints on its standard output, one line each:
//   endpoint ep=tcp://127.0.0.1:41237 [ep2=...]   a peer that binds: where the other peer should connect
//   result key=value key=value ...                  its figures, once its part is done
//   error free text                                 why it gave up (it then exits with 1)
// Its standard input is a pipe that the bench closes to release it: a peer that must outlive its last
// send (a publisher whose subscriber is still reading, a responder) waits for that.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/status.hpp"

namespace weft::cli::bench {

enum class Role {
  kWeftPublisher,   // binds; Weft node, kBlock; publishes `count` messages, then an empty end marker
  kWeftSubscriber,  // connects; counts, and times from the first message to the end marker
  kWeftRequester,   // binds (publisher and subscriber side); pings, times every round trip
  kWeftResponder,   // connects to both; its handler publishes each ping back as a pong
  kZmqPublisher,    // connects; XPUB with ZMQ_XPUB_NODROP, waits for the subscription, sends, end marker
  kZmqSubscriber,   // binds; SUB, counts and times like the Weft subscriber
  kZmqRequester,    // binds; REQ, times every round trip
  kZmqResponder,    // connects; REP, echoes
  // At least once (reliable_peers.cpp).
  kWeftReliablePublisher,  // binds; waits for `workers` durable/queue members; publishes kAtLeastOnce, times
                           // each publish -> on_complete, and the first publish -> the last acknowledgement
  kWeftDurableSubscriber,  // connects; a durable subscriber (or, with `queue`, a queue_subscribe member)
  kWeftRequestSender,      // binds; Node::request() in a loop, every one timed after the warm-up
  kWeftReplier,            // connects; its handler answers every request with Node::reply()
  kZmqPusher,              // connects to every puller; PUSH, then one empty end marker per puller
  kZmqPuller,              // binds; PULL, counts and stamps its first and last message
  // Through weftd (persist_peers.cpp).
  kWeftAppender,  // connects to weftd; pipelined APPENDs of `batch` envelopes, `window` in flight
  kWeftReplayer,  // connects to weftd; an ephemeral consumer from the first offset until `count` arrived
  // NATS JetStream (nats_peers.cpp, WEFT_BENCH_NATS builds only).
  kNatsJetStream,  // connects to nats-server; async publishes to a file-storage stream, then reads it back
};

std::string_view name_of(Role role) noexcept;
std::optional<Role> role_named(std::string_view text) noexcept;

// Weft's subjects in the bench.
inline constexpr std::string_view kThroughputSubject = "bench.thr";
inline constexpr std::string_view kPingSubject = "bench.ping";
inline constexpr std::string_view kPongSubject = "bench.pong";
inline constexpr std::string_view kReliableSubject = "bench.rel";
inline constexpr std::string_view kRequestSubject = "bench.req";
inline constexpr std::string_view kPersistSubject = "bench.persist";
inline constexpr std::string_view kPersistStream = "bench";
inline constexpr std::string_view kConsumerName = "bench";  // the durable name or queue group

// How long the peers wait for each other. Every wait has a bound, so a run always ends by itself.
inline constexpr std::chrono::seconds kSetupTimeout{10};         // for the other peer to connect
inline constexpr std::chrono::milliseconds kQuietTimeout{2000};  // a stream that stalls this long has ended

struct PeerSpec {
  Role role = Role::kWeftPublisher;
  pid_t parent = 0;                            // the bench's pid: a peer whose parent is gone exits at once
  std::vector<std::string> bind;               // what a binding peer binds (tcp://127.0.0.1:*, ipc:///tmp/...)
  std::vector<std::string> connect;            // the endpoints the binding peer printed
  std::size_t size = 0;                        // payload bytes
  std::uint64_t count = 0;                     // messages to send, or round trips to time
  std::uint64_t warmup = 0;                    // untimed round trips first
  std::chrono::milliseconds duration{10'000};  // stop sending after this, even short of `count`
  int cpu = -1;                                // the CPU to run on, or -1 to let the kernel choose
  std::optional<std::int64_t> spin_us;         // Weft tuning (WeftTuning)
  std::optional<std::int64_t> batch_max_bytes;
  // At least once, through weftd.
  std::uint64_t workers = 1;          // members the reliable publisher waits for; pullers the pusher feeds
  bool queue = false;                 // a queue_subscribe member instead of a durable subscriber
  std::int64_t slow_us = 0;           // the subscriber's handler sleeps this long per message
  std::uint64_t outbox_messages = 0;  // 0: OutboxOptions' default
  std::uint64_t batch = 1;            // envelopes per APPEND
  std::uint64_t window = 1;           // APPENDs in flight at most
};

// The arguments after `weft bench-peer`, and back.
std::vector<std::string> to_arguments(const PeerSpec& spec);
Result<PeerSpec> parse_peer_spec(int argc, char** argv);

// One line of a peer's output: a kind, then key=value fields (or, for "error", free text).
class Report {
 public:
  explicit Report(std::string kind) : kind_(std::move(kind)) {}
  static Report parse(std::string_view line);

  Report& add(std::string_view key, std::string_view value);
  Report& add(std::string_view key, double value);
  Report& add(std::string_view key, std::uint64_t value);

  [[nodiscard]] const std::string& kind() const noexcept { return kind_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }  // an error's message
  [[nodiscard]] std::optional<std::string_view> field(std::string_view key) const noexcept;
  // The field as a number; `otherwise` when it is missing or not a number.
  [[nodiscard]] double number(std::string_view key, double otherwise = 0) const noexcept;
  [[nodiscard]] std::string line() const;

 private:
  std::string kind_;
  std::string text_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace weft::cli::bench
