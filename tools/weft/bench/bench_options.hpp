// What `weft bench` measures and how: the verb's one options struct, which the command line fills, and the
// names of the things it measures.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::cli::bench {

// Raw libzmq, the baseline; Weft over the same libzmq; NATS JetStream, persist's comparison (only in a build
// with WEFT_BENCH_NATS=ON, see nats_available()).
enum class System { kZmq, kWeft, kNats };
enum class Pattern {
  kPubSub,    // best-effort one-way throughput
  kRtt,       // best-effort round trips (publish a ping, publish the pong back)
  kReliable,  // at least once to a durable subscriber: acknowledged msgs/s, publish -> on_complete latency
  kQueue,     // at least once to a work-queue group of N workers: acknowledged msgs/s
  kReqRep,    // Node::request() / Node::reply() round trips
  kPersist,   // appends to a weftd stream, pipelined: acknowledged msgs/s and acknowledgement latency
  kReplay,    // a row only: reading the persisted stream back from its first offset (measured with kPersist)
};
enum class Transport { kTcp, kIpc };           // tcp://127.0.0.1, ipc:///tmp/...
enum class Fsync { kAlways, kInterval, kOs };  // weftd's stream fsync policies (docs/sidecar.md, section 10)

std::string_view name_of(System system) noexcept;
std::string_view name_of(Pattern pattern) noexcept;
std::string_view name_of(Transport transport) noexcept;
std::string_view name_of(Fsync fsync) noexcept;
std::optional<System> system_named(std::string_view text) noexcept;
// The patterns --patterns takes (every one but kReplay, which comes with kPersist).
std::optional<Pattern> pattern_named(std::string_view text) noexcept;
std::optional<Transport> transport_named(std::string_view text) noexcept;
std::optional<Fsync> fsync_named(std::string_view text) noexcept;
// True in a build with WEFT_BENCH_NATS=ON (libnats linked): persist can run NATS JetStream beside weftd.
[[nodiscard]] bool nats_available() noexcept;

// Patterns measured at least once (kReliable, kQueue), through requests (kReqRep) or through weftd.
[[nodiscard]] bool is_throughput(Pattern pattern) noexcept;  // rows with msgs/s
[[nodiscard]] bool has_latency(Pattern pattern) noexcept;    // rows with p50/p99

// Node options the Weft peers use instead of the library's defaults, for experiments. Unset: the defaults,
// which is what the published figures use.
struct WeftTuning {
  std::optional<std::chrono::microseconds> spin;  // NodeOptions::io_spin and dispatch_spin
  std::optional<std::size_t> batch_max_bytes;     // NodeOptions::batch_max_bytes and ipc_batch_max_bytes
};

struct BenchOptions {
  std::vector<std::size_t> sizes{16, 128, 1024, 65536};  // payload bytes
  std::vector<Transport> transports{Transport::kTcp, Transport::kIpc};
  std::vector<Pattern> patterns{Pattern::kPubSub, Pattern::kRtt};
  std::vector<System> systems{System::kZmq, System::kWeft};

  // Each measurement is taken this many times; the systems take turns within a repeat, and every figure is
  // the median over the repeats.
  int repeats = 3;
  // Messages per throughput measurement; unset: by size (messages_for()).
  std::optional<std::uint64_t> count;
  // Timed round trips per latency measurement, after `warmup` untimed ones.
  std::uint64_t round_trips = 20'000;
  std::uint64_t warmup = 1'000;
  // No measurement sends for longer than this, whatever the counts say.
  std::chrono::milliseconds duration{10'000};

  bool quick = false;  // smaller counts and one repeat, for a first look
  bool pin = false;    // publisher/requester on CPU 0, subscriber/responder on CPU 1
  bool json = false;   // one JSON object per line instead of the table

  WeftTuning tuning;

  // The patterns beyond pubsub and rtt use these when --sizes or --transports was not given (sizes_for(),
  // transports_for()); kPersist always talks to weftd over ipc.
  bool sizes_given = false;
  bool transports_given = false;
  // kQueue: one measurement per worker count, Weft queue_subscribe members and raw PULL sockets alike.
  std::vector<int> workers{1, 3};
  // kPersist: one weftd per policy and repeat, with a fresh data directory under `data_parent`.
  std::vector<Fsync> fsyncs{Fsync::kAlways, Fsync::kInterval, Fsync::kOs};
  std::string data_parent;  // empty: $TMPDIR or /tmp
  std::string weftd;        // the weftd binary; empty: beside this weft binary, then $PATH
  // kPersist: envelopes per APPEND and APPENDs in flight at once.
  std::uint64_t append_batch = 64;
  std::uint64_t append_window = 16;
  // kReliable: also one short run against a subscriber whose handler sleeps, to show that the publisher's
  // memory stays bounded by its outbox limit (the figure is its peak RSS, VmHWM).
  bool slow_run = true;
  std::uint64_t slow_outbox_messages = 10'000;
};

// Payload sizes and transports a pattern runs at: the flags when given, else the pattern's own defaults.
std::vector<std::size_t> sizes_for(const BenchOptions& options, Pattern pattern);
std::vector<Transport> transports_for(const BenchOptions& options, Pattern pattern);

// kReliable's slow-subscriber run: the subscriber's handler sleeps this long per message, and the publisher
// publishes for this long (or --duration, if shorter) whatever the count.
inline constexpr std::chrono::microseconds kSlowHandlerSleep{1000};
inline constexpr std::chrono::milliseconds kSlowRunDuration{3000};

// The defaults of --quick, applied before the explicit flags so that those still win.
inline constexpr int kQuickRepeats = 1;
inline constexpr std::uint64_t kQuickRoundTrips = 5'000;
inline constexpr std::uint64_t kQuickWarmup = 500;

// Messages per throughput measurement at this payload size: enough for about a second of Weft's rate on a
// small machine (a tenth of that with --quick), unless --count says otherwise.
std::uint64_t messages_for(const BenchOptions& options, std::size_t size) noexcept;
// The same for the at-least-once and persisted patterns, which are slower: a tenth of messages_for() by
// default (at least 2,000).
std::uint64_t reliable_messages_for(const BenchOptions& options, std::size_t size) noexcept;

// The CPUs of --pin: the side that sends first (publisher, requester) and the side that answers.
inline constexpr int kSenderCpu = 0;
inline constexpr int kReceiverCpu = 1;

}  // namespace weft::cli::bench
