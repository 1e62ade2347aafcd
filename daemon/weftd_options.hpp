// weftd's one options struct, filled alike by the command line and the config file (Boost.Program_options maps
// both onto it: a flag wins over the same setting in the file). Streams are defined in the file as sections:
//
//   data-dir = /var/lib/weft
//   endpoint = ipc:///run/weft/weftd.sock
//   tcp = tcp://127.0.0.1:4250
//
//   [stream.orders]
//   subjects = orders.>
//   subjects = refunds.*
//   retention-age = 7d
//   retention-bytes = 10G
//   fsync = always
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/stream_config.hpp"
#include "weft/options.hpp"
#include "weft/status.hpp"

namespace weft::detail::weftd {

struct WeftdOptions {
  // Where the streams live (required): <data-dir>/streams/<name>/, consumers/, dead-letters/, streams.state.
  std::string data_dir;
  // The local endpoint. Empty: the well-known ipc socket (sidecar_endpoint.hpp; $WEFT_SIDECAR overrides it).
  std::string endpoint;
  // More endpoints to listen on, e.g. tcp://127.0.0.1:4250 (no authentication: bind to loopback).
  std::vector<std::string> tcp;
  // The config file it was read from, if any.
  std::string config_file;
  // Streams defined in the config file.
  std::vector<sidecar::StreamConfig> streams;
  // How often retention runs over every stream.
  std::chrono::milliseconds retention_interval{60'000};
  // How long acknowledgements may wait before durable consumers' offsets are written (a crash forgets at
  // most this much: those messages are delivered again).
  std::chrono::milliseconds consumer_flush_interval{100};
  // Lines below this level are not printed.
  LogLevel log_level = LogLevel::kInfo;
};

// What parsing decided: run with these options, or exit at once (help, version) with this code.
struct ParsedOptions {
  WeftdOptions options;
  std::optional<int> exit_code;
};

// Parses the command line (and the config file it names); writes help to `out`. kInvalidArgument for any
// mistake, naming the flag, or the file and the setting.
Result<ParsedOptions> parse_weftd_options(int argc, const char* const* argv, std::ostream& out);

// The streams and settings of a config file alone (for tests, and for `weftd --check-config`).
Status read_config_file(const std::string& path, WeftdOptions& options);

}  // namespace weft::detail::weftd
