#include "bench/bench_options.hpp"

namespace weft::cli::bench {

std::string_view name_of(System system) noexcept {
  return system == System::kZmq ? "zmq" : "weft";
}

std::string_view name_of(Pattern pattern) noexcept {
  return pattern == Pattern::kPubSub ? "pubsub" : "rtt";
}

std::string_view name_of(Transport transport) noexcept {
  return transport == Transport::kTcp ? "tcp" : "ipc";
}

std::optional<System> system_named(std::string_view text) noexcept {
  if (text == "zmq") return System::kZmq;
  if (text == "weft") return System::kWeft;
  return std::nullopt;
}

std::optional<Pattern> pattern_named(std::string_view text) noexcept {
  if (text == "pubsub") return Pattern::kPubSub;
  if (text == "rtt") return Pattern::kRtt;
  return std::nullopt;
}

std::optional<Transport> transport_named(std::string_view text) noexcept {
  if (text == "tcp") return Transport::kTcp;
  if (text == "ipc") return Transport::kIpc;
  return std::nullopt;
}

std::uint64_t messages_for(const BenchOptions& options, std::size_t size) noexcept {
  if (options.count) return *options.count;
  std::uint64_t full = size <= 128 ? 1'000'000 : size <= 1024 ? 500'000 : size <= 16 * 1024 ? 100'000 : 20'000;
  return options.quick ? full / 5 : full;
}

}  // namespace weft::cli::bench
