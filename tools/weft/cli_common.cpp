#include "cli_common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "commands.hpp"

namespace weft::cli {

namespace {

constexpr double kMaxSeconds = 365.0 * 24 * 3600;
constexpr int kStopSignals[] = {SIGINT, SIGTERM};

// Process-wide because a signal handler can reach nothing else; StopSignals owns their lifetime.
std::atomic<int> g_wake_fd{-1};
std::atomic<int> g_signal{0};
std::atomic<bool> g_stop{false};
struct sigaction g_previous[std::size(kStopSignals)];

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

void wake_waiters() noexcept {
  int fd = g_wake_fd.load();
  if (fd < 0) return;
  char byte = 1;
  // The pipe is non-blocking: when it is full, the waiters have been woken already.
  [[maybe_unused]] ssize_t written = ::write(fd, &byte, 1);
}

extern "C" void on_stop_signal(int number) {
  int saved_errno = errno;
  g_signal.store(number);
  g_stop.store(true);
  wake_waiters();
  errno = saved_errno;
}

// ppoll's timeout for a deadline: null for "no deadline", else the time left (zero when it has passed).
const timespec* timeout_until(StopSignals::Deadline deadline, timespec& storage) {
  if (deadline == StopSignals::Deadline::max()) return nullptr;
  auto left = deadline - std::chrono::steady_clock::now();
  if (left < left.zero()) left = left.zero();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  storage.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  storage.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return &storage;
}

}  // namespace

int report_usage_error(std::string_view verb, std::string_view message) {
  std::fprintf(stderr, "weft %.*s: %.*s (see `weft %.*s --help`)\n", static_cast<int>(verb.size()), verb.data(),
               static_cast<int>(message.size()), message.data(), static_cast<int>(verb.size()), verb.data());
  return kExitUsage;
}

int report_failure(std::string_view verb, std::string_view message) {
  std::fprintf(stderr, "weft %.*s: %.*s\n", static_cast<int>(verb.size()), verb.data(),
               static_cast<int>(message.size()), message.data());
  return kExitFailure;
}

int report_node_error(std::string_view verb, const weft::Error& error) {
  if (error.status().code() == ErrorCode::kInvalidArgument) return report_usage_error(verb, error.what());
  return report_failure(verb, error.what());
}

po::variables_map parse_arguments(int argc, char** argv, const po::options_description& options,
                                  const po::positional_options_description& positional) {
  try {
    po::variables_map values;
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), values);
    po::notify(values);
    return values;
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
}

po::variables_map parse_command(int argc, char** argv, po::options_description& options,
                                const std::vector<std::string>& positional, bool& help) {
  options.add_options()("help,h", "print this help and exit");
  po::options_description hidden;
  po::positional_options_description layout;
  for (const std::string& name : positional) {
    hidden.add_options()(name.c_str(), po::value<std::string>());
    layout.add(name.c_str(), 1);
  }
  po::options_description all;
  all.add(options).add(hidden);
  po::variables_map values = parse_arguments(argc, argv, all, layout);
  help = values.count("help") != 0;
  return values;
}

void require_endpoint(const NodeOptions& options) {
  if (options.discovery.enabled) return;  // it finds the peers
  if (options.bind.empty() && options.connect.empty() && options.subscriber_bind.empty() &&
      options.publish_to.empty()) {
    throw UsageError("with --no-discovery, give --bind or --connect");
  }
}

Headers parse_headers(const std::vector<std::string>& items) {
  Headers headers;
  for (const auto& item : items) {
    auto equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw UsageError("--header '" + item + "' is not of the form key=value");
    }
    headers.set(std::string_view(item).substr(0, equals), std::string_view(item).substr(equals + 1));
  }
  return headers;
}

std::chrono::milliseconds seconds_flag(std::string_view flag, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
    char given[32];
    std::snprintf(given, sizeof given, "%g", seconds);
    throw UsageError(std::string(flag) + " takes a number of seconds from 0 to a year, not " + given);
  }
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

void print_listening(const std::vector<std::string>& endpoints) {
  for (const auto& endpoint : endpoints) std::fprintf(stderr, "listening on %s\n", endpoint.c_str());
  std::fflush(stderr);
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  constexpr const char* kUnits[] = {"KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1000;
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string format_count(std::uint64_t count) {
  std::string digits = std::to_string(count);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) noexcept {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range of the second byte, which rules out overlong forms
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;  // U+D800..U+DFFF are surrogates, not characters
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  if (byte(pos + 1) < low || byte(pos + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(pos + i) < 0x80 || byte(pos + i) > 0xbf) return 0;
  }
  return length;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c >= 0x80) {
      std::size_t length = utf8_sequence_length(text, pos);
      if (length == 0) {
        out += "\\ufffd";
        ++pos;
      } else {
        out.append(text.substr(pos, length));
        pos += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++pos;
  }
  out += '"';
}

StopSignals::StopSignals() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw weft::Error(Status::io_error(std::string("pipe: ") + std::strerror(errno)));
  }
  read_fd_ = fds[0];
  g_signal.store(0);
  g_stop.store(false);
  g_wake_fd.store(fds[1]);
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking call of the main thread returns EINTR and it looks at the flag. SA_RESETHAND:
  // the second signal takes the default action and ends the process.
  action.sa_flags = SA_RESETHAND;
  for (std::size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &action, &g_previous[i]);
}

StopSignals::~StopSignals() {
  for (std::size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &g_previous[i], nullptr);
  int write_fd = g_wake_fd.exchange(-1);
  if (write_fd >= 0) ::close(write_fd);
  ::close(read_fd_);
}

void StopSignals::request_stop() noexcept {
  g_stop.store(true);
  wake_waiters();
}

bool StopSignals::stop_requested() const noexcept {
  return g_stop.load(std::memory_order_relaxed);
}

int StopSignals::signal_number() const noexcept {
  return g_signal.load();
}

StopSignals::Wake StopSignals::wait_until(Deadline deadline) const {
  return wait_readable(-1, deadline);
}

StopSignals::Wake StopSignals::wait_readable(int fd, Deadline deadline) const {
  // The pipe is never drained: once a stop was requested, every later wait returns at once.
  pollfd fds[2] = {{read_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
  const nfds_t count = fd >= 0 ? 2 : 1;
  while (true) {
    if (stop_requested()) return Wake::kStop;
    timespec storage;
    const timespec* timeout = timeout_until(deadline, storage);
    int ready = ::ppoll(fds, count, timeout, nullptr);
    if (ready < 0 && errno != EINTR) {
      // poll cannot fail on two valid descriptors short of running out of memory; stopping is the safe answer.
      return Wake::kStop;
    }
    if (stop_requested()) return Wake::kStop;
    // Errors count as ready too: the caller's read() then reports them instead of this loop spinning.
    if (count == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) return Wake::kReady;
    if (timeout != nullptr && std::chrono::steady_clock::now() >= deadline) return Wake::kTimeout;
  }
}

}  // namespace weft::cli
