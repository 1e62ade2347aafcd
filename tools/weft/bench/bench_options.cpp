#include "bench/bench_options.hpp"

#include <algorithm>
#include <utility>

namespace weft::cli::bench {

std::string_view name_of(System system) noexcept {
  switch (system) {
    case System::kZmq:
      return "zmq";
    case System::kWeft:
      return "weft";
    case System::kNats:
      return "nats";
  }
  return "?";
}

bool nats_available() noexcept {
#ifdef WEFT_BENCH_NATS
  return true;
#else
  return false;
#endif
}

namespace {

constexpr std::pair<Pattern, std::string_view> kPatternNames[] = {
    {Pattern::kPubSub, "pubsub"}, {Pattern::kRtt, "rtt"},       {Pattern::kReliable, "reliable"},
    {Pattern::kQueue, "queue"},   {Pattern::kReqRep, "reqrep"}, {Pattern::kPersist, "persist"},
    {Pattern::kReplay, "replay"},
};

}  // namespace

std::string_view name_of(Pattern pattern) noexcept {
  for (const auto& [p, name] : kPatternNames) {
    if (p == pattern) return name;
  }
  return "?";
}

std::string_view name_of(Fsync fsync) noexcept {
  switch (fsync) {
    case Fsync::kAlways:
      return "always";
    case Fsync::kInterval:
      return "interval";
    case Fsync::kOs:
      return "os";
  }
  return "?";
}

std::optional<Fsync> fsync_named(std::string_view text) noexcept {
  if (text == "always") return Fsync::kAlways;
  if (text == "interval") return Fsync::kInterval;
  if (text == "os") return Fsync::kOs;
  return std::nullopt;
}

bool is_throughput(Pattern pattern) noexcept {
  return pattern == Pattern::kPubSub || pattern == Pattern::kReliable || pattern == Pattern::kQueue ||
         pattern == Pattern::kPersist || pattern == Pattern::kReplay;
}

bool has_latency(Pattern pattern) noexcept {
  return pattern == Pattern::kRtt || pattern == Pattern::kReliable || pattern == Pattern::kReqRep ||
         pattern == Pattern::kPersist;
}

std::vector<std::size_t> sizes_for(const BenchOptions& options, Pattern pattern) {
  if (options.sizes_given || pattern == Pattern::kPubSub || pattern == Pattern::kRtt) return options.sizes;
  if (pattern == Pattern::kQueue || pattern == Pattern::kReqRep) return {128};
  return {128, 1024};
}

std::vector<Transport> transports_for(const BenchOptions& options, Pattern pattern) {
  if (pattern == Pattern::kPersist || pattern == Pattern::kReplay) return {Transport::kIpc};
  if (options.transports_given || pattern == Pattern::kPubSub || pattern == Pattern::kRtt) return options.transports;
  return {Transport::kTcp};
}

std::string_view name_of(Transport transport) noexcept {
  return transport == Transport::kTcp ? "tcp" : "ipc";
}

std::optional<System> system_named(std::string_view text) noexcept {
  if (text == "zmq") return System::kZmq;
  if (text == "weft") return System::kWeft;
  if (text == "nats") return System::kNats;
  return std::nullopt;
}

std::optional<Pattern> pattern_named(std::string_view text) noexcept {
  for (const auto& [pattern, name] : kPatternNames) {
    if (name == text && pattern != Pattern::kReplay) return pattern;
  }
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

std::uint64_t reliable_messages_for(const BenchOptions& options, std::size_t size) noexcept {
  if (options.count) return *options.count;
  return std::max<std::uint64_t>(2'000, messages_for(options, size) / 10);
}

}  // namespace weft::cli::bench
