// What `weft bench` measures and how: the verb's one options struct, which the command line fills, and the
// names of the things it measures.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weft::cli::bench {

enum class System { kZmq, kWeft };     // raw libzmq, the baseline; Weft over the same libzmq
enum class Pattern { kPubSub, kRtt };  // one-way throughput; round trips
enum class Transport { kTcp, kIpc };   // tcp://127.0.0.1, ipc:///tmp/...

std::string_view name_of(System system) noexcept;
std::string_view name_of(Pattern pattern) noexcept;
std::string_view name_of(Transport transport) noexcept;
std::optional<System> system_named(std::string_view text) noexcept;
std::optional<Pattern> pattern_named(std::string_view text) noexcept;
std::optional<Transport> transport_named(std::string_view text) noexcept;

// Node options the Weft peers use instead of the library's defaults, for experiments. Unset: the defaults,
// which is what the published figures use.
struct WeftTuning {
  std::optional<std::chrono::microseconds> spin;  // NodeOptions::io_spin and dispatch_spin
  std::optional<std::size_t> batch_max_bytes;     // NodeOptions::batch_max_bytes
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
};

// The defaults of --quick, applied before the explicit flags so that those still win.
inline constexpr int kQuickRepeats = 1;
inline constexpr std::uint64_t kQuickRoundTrips = 5'000;
inline constexpr std::uint64_t kQuickWarmup = 500;

// Messages per throughput measurement at this payload size: enough for about a second of Weft's rate on a
// small machine (a tenth of that with --quick), unless --count says otherwise.
std::uint64_t messages_for(const BenchOptions& options, std::size_t size) noexcept;

// The CPUs of --pin: the side that sends first (publisher, requester) and the side that answers.
inline constexpr int kSenderCpu = 0;
inline constexpr int kReceiverCpu = 1;

}  // namespace weft::cli::bench
