// What the weft verbs that talk to weftd or read its files share (`weft stream`, `weft dlq`, `weft log`,
// `weft sub --stream`): the --sidecar and --timeout flags, connecting, start positions and times, envelopes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli_common.hpp"
#include "sidecar/sidecar_client.hpp"
#include "weft/message.hpp"

namespace weft::cli {

// The verbs (main.cpp's table), and the hook cmd_sub.cpp calls first.
int run_stream(int argc, char** argv);
int run_log(int argc, char** argv);
int run_dlq(int argc, char** argv);
// `weft sub --stream NAME ...`: replay from weftd instead of subscribing on the network.
int run_sub_stream(int argc, char** argv);
// True when the arguments of `weft sub` ask for a stream (--stream).
bool sub_wants_stream(int argc, char** argv) noexcept;

struct SidecarFlags {
  std::string endpoint;  // empty: the default (sidecar_endpoint.hpp)
  double timeout_seconds = 5;
};
// Adds --sidecar ENDPOINT and --timeout SECONDS.
void add_sidecar_flags(po::options_description& options, SidecarFlags& flags);
// A client for those flags; throws UsageError for a bad endpoint or timeout.
std::unique_ptr<detail::sidecar::SidecarClient> connect_sidecar(const SidecarFlags& flags);
std::chrono::milliseconds request_timeout(const SidecarFlags& flags);

// "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.250+02:00", "2024-05-01" (UTC midnight), or a time relative
// to now: "-15m", "-2h", "-1d". Nanoseconds since the epoch; throws UsageError.
std::int64_t parse_time(std::string_view text);
// "2024-05-01T12:00:00.250Z".
std::string format_time(std::int64_t ns);

// --from first|last|new|offset:N|time:TIME into the consume request's start fields; throws UsageError.
void parse_from(std::string_view text, detail::sidecar::ConsumeFields& fields);

// An envelope for `subject` as a Weft node would send it (stream id random per process, sequence from 1).
std::vector<std::byte> make_envelope(std::string_view subject, std::span<const std::byte> payload,
                                     const Headers& headers, std::uint64_t sequence);
// A random non-zero stream id for this process's envelopes.
std::uint64_t process_stream_id();

}  // namespace weft::cli
