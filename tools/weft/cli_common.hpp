// What the verbs of the weft CLI share: parsing the command line into weft::NodeOptions, reading `k=v`
// headers, reporting errors with the right exit code, formatting sizes and rates, JSON string escaping, and
// stopping cleanly on SIGINT/SIGTERM.
#pragma once

#include <boost/program_options.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "weft/message.hpp"
#include "weft/options.hpp"
#include "weft/status.hpp"

namespace weft::cli {

namespace po = boost::program_options;

// A mistake on the command line. The verb prints it on one line and exits with kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Prints "weft VERB: message (see `weft VERB --help`)" on stderr; returns kExitUsage.
int report_usage_error(std::string_view verb, std::string_view message);
// Prints "weft VERB: message" on stderr; returns kExitFailure.
int report_failure(std::string_view verb, std::string_view message);
// A weft::Error from building a Node: a malformed endpoint is the user's mistake (kExitUsage), anything
// else (an address in use, a missing directory) a failure at run time (kExitFailure).
int report_node_error(std::string_view verb, const weft::Error& error);

// Parses the arguments after the verb name. Throws UsageError for an unknown option, a missing value, a
// value of the wrong type or too many positional arguments.
po::variables_map parse_arguments(int argc, char** argv, const po::options_description& options,
                                  const po::positional_options_description& positional);

// The arguments of a subcommand (`weft stream add`, `weft log dump`): adds --help to `options`, takes the
// positional arguments `positional` names (one string each, in order) and sets `help` when --help was given.
// Throws UsageError as parse_arguments() does.
po::variables_map parse_command(int argc, char** argv, po::options_description& options,
                                const std::vector<std::string>& positional, bool& help);

// Throws UsageError unless the options name at least one endpoint: without discovery, a node that neither
// binds nor connects can never reach a peer.
void require_endpoint(const NodeOptions& options);

// Parses repeated `--header key=value` flags (split at the first '='; the value may be empty). Throws
// UsageError on an item without '=' or with an empty key.
Headers parse_headers(const std::vector<std::string>& items);

// A `--flag SECONDS` value as a duration. Throws UsageError unless it is finite, not negative and at most
// a year (so that deadlines computed from it cannot overflow).
std::chrono::milliseconds seconds_flag(std::string_view flag, double seconds);

// Prints "listening on ENDPOINT" on stderr for each endpoint, the resolved ones a wildcard bind chose.
void print_listening(const std::vector<std::string>& endpoints);

// "999 B", "12.3 KB", "4.5 MB", "1.2 GB" (decimal units).
std::string format_bytes(std::uint64_t bytes);
// "4,762": digits grouped by thousands.
std::string format_count(std::uint64_t count);

// The length of the well-formed UTF-8 sequence that starts at text[pos], or 0 when the bytes there are not
// one (a stray continuation byte, an overlong form, a surrogate, a truncated sequence).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) noexcept;

// Appends text as a quoted JSON string. Control characters are escaped; bytes that are not UTF-8 become
// U+FFFD, so the output is always valid JSON (header values and subjects are bytes on the wire).
void append_json_string(std::string& out, std::string_view text);

// Turns SIGINT and SIGTERM into a request to stop that the main thread waits on, along with stops other
// threads ask for (sub's handler after --count messages). The kernel delivers a signal to any thread,
// the node's own included, so the handler only sets a flag and writes a byte to a pipe that the main thread
// polls; the state is process-wide because a signal handler can reach nothing else. A second signal kills
// the process as usual, for when a clean stop hangs. One instance at a time.
class StopSignals {
 public:
  using Deadline = std::chrono::steady_clock::time_point;

  // Installs the handlers. Throws weft::Error when the pipe cannot be made.
  StopSignals();
  // Restores the previous handlers.
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Safe from any thread.
  void request_stop() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept;
  // The signal that asked to stop, or 0.
  [[nodiscard]] int signal_number() const noexcept;

  enum class Wake { kStop, kReady, kTimeout };
  // Waits until a stop is requested (kStop) or the deadline passes (kTimeout). Deadline::max() waits
  // without end.
  Wake wait_until(Deadline deadline) const;
  // The same, and also returns kReady as soon as `fd` is readable (or at its end of file).
  Wake wait_readable(int fd, Deadline deadline) const;

 private:
  int read_fd_ = -1;
};

}  // namespace weft::cli
