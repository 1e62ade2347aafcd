// weft sub: prints the messages whose subjects match a pattern, for people (message_format.hpp) or programs
// (--raw, --json). A thin layer over weft::Node: the flags fill NodeOptions, the node delivers.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "discovery_cli.hpp"
#include "message_format.hpp"
#include "reliable_cli.hpp"
#include "sidecar_cli.hpp"
#include "weft/node.hpp"
#include "weft/subject.hpp"

namespace weft::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kVerb = "sub";
// When stdout is a pipe or a file it is fully buffered (one write per few KB, not per message); the main
// thread flushes it this often so that a reader downstream still sees messages promptly.
constexpr std::chrono::milliseconds kFlushInterval{100};

constexpr const char* kHelpIntro = R"(usage: weft sub [OPTIONS] PATTERN

Prints every message whose subject matches PATTERN until interrupted (Ctrl-C), --count messages have
come, or --timeout has passed; then a summary on stderr. A pattern is a subject in which a token may be
'*' (any one token) or, last, '>' (one or more tokens): 'demo.*', 'telemetry.>'.

Each message prints as a line with its subject, sequence number, the publisher's time (local) and size,
then its headers, then the payload: text as text, anything else as a hex dump, both cut short unless --full:
  demo.hello  #5  14:03:07.123456  11 B
    trace: abc
  hello world

)";

constexpr const char* kHelpOutro = R"(
Endpoints: a subscriber and a publisher meet when one binds and the other connects.
  weft sub --bind E      pairs with   weft pub --connect E
  weft sub --connect E   pairs with   weft pub --bind E
E is tcp://HOST:PORT or ipc:///path. With a wildcard port (tcp://127.0.0.1:*) the port chosen is printed
on stderr as "listening on tcp://127.0.0.1:PORT".

Examples:
  weft sub --bind tcp://127.0.0.1:7400 'demo.>'         # then: weft pub --connect tcp://127.0.0.1:7400 demo.hi yo
  weft sub --connect ipc:///tmp/weft-demo.sock --count 10 --json 'demo.*' | jq .payload
  weft sub --bind 'tcp://127.0.0.1:*' --raw logs.app > app.log

Exit status: 0 on success (also when interrupted), 1 when --timeout passed before --count messages came or
output failed, 2 on bad usage.
)";

struct SubSettings {
  NodeOptions node;
  std::string pattern;
  std::int64_t count = 0;  // 0: no limit
  double timeout_seconds = 0;
  bool raw = false;
  bool json = false;
  bool full = false;
  bool quiet = false;

  FormatOptions format;
  std::chrono::milliseconds timeout{0};

  // --durable NAME / --queue GROUP: at least once (reliable_cli.hpp).
  ReliableSubFlags reliable_flags;
  SubscribeOptions subscribe;
  DiscoveryFlags discovery;  // discovery_cli.hpp
  [[nodiscard]] bool reliable() const noexcept { return !subscribe.durable.empty() || !subscribe.queue.empty(); }
};

po::options_description visible_options(SubSettings& s) {
  po::options_description options("options", 100, 50);
  // One option to a paragraph reads better than the formatter's chain of calls.
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("bind", po::value(&s.node.subscriber_bind)->value_name("ENDPOINT"),
       "listen for publishers on ENDPOINT; they `weft pub --connect` to it (repeatable)")
      ("connect", po::value(&s.node.connect)->value_name("ENDPOINT"),
       "subscribe to a publisher listening with `weft pub --bind ENDPOINT` (repeatable)")
      ("count", po::value(&s.count)->value_name("N"), "exit after N messages (default 0: no limit)")
      ("timeout", po::value(&s.timeout_seconds)->value_name("SECONDS"),
       "exit after SECONDS; with --count, exit 1 if fewer than N messages came (default 0: no limit)")
      ("raw", po::bool_switch(&s.raw), "print only each payload's bytes and a newline")
      ("json", po::bool_switch(&s.json),
       "print one JSON object per line: subject, stream, sequence, timestamp_ns, headers, payload, "
       "payload_encoding (\"utf8\", or \"base64\" for payloads that are not UTF-8), size")
      ("full", po::bool_switch(&s.full),
       "print long payloads whole (default: the first 1024 bytes of text, or 128 bytes as hex)")
      ("name", po::value(&s.node.name)->value_name("NAME"), "the node's name for peers and logs (default HOST-PID)")
      ("quiet,q", po::bool_switch(&s.quiet), "print no summary at exit");
  // clang-format on
  add_reliable_sub_options(options, s.reliable_flags, s.subscribe, s.node);
  add_discovery_options(options, s.discovery);
  return options;
}

// Fills and checks the settings the parser could not; throws UsageError.
void finish_settings(SubSettings& s, const po::variables_map& values) {
  if (values.count("pattern") == 0) throw UsageError("give the PATTERN of the subjects to print");
  if (Status valid = validate_pattern(s.pattern); !valid) throw UsageError(valid.message());
  if (s.count < 0) throw UsageError("--count must be 0 (no limit) or more");
  s.timeout = seconds_flag("--timeout", s.timeout_seconds);
  if (s.raw && s.json) throw UsageError("give --raw or --json, not both");
  s.format.format = s.json ? OutputFormat::kJson : s.raw ? OutputFormat::kRaw : OutputFormat::kHuman;
  s.format.full = s.full;
  finish_discovery(s.discovery, s.node);
  require_endpoint(s.node);
  finish_reliable_sub(s.reliable_flags, s.subscribe);
}

// Prints messages on the node's dispatcher thread, one at a time in arrival order. Each message leaves in one
// fwrite, so the main thread's periodic flush never splits one.
class Printer {
 public:
  Printer(const FormatOptions& format, std::uint64_t limit, StopSignals& stop)
      : format_(format), limit_(limit), stop_(stop) {}

  // True when the message was printed.
  bool print(const Message& message) {
    const std::uint64_t printed = printed_.load(std::memory_order_relaxed);
    // A batch may carry more than --count asks for, and output may have failed: print nothing more.
    if ((limit_ != 0 && printed >= limit_) || write_errno_.load(std::memory_order_relaxed) != 0) return false;
    text_.clear();
    append_message(text_, message, format_);
    if (std::fwrite(text_.data(), 1, text_.size(), stdout) != text_.size()) {
      write_errno_.store(errno != 0 ? errno : EIO, std::memory_order_relaxed);
      stop_.request_stop();
      return false;
    }
    bytes_.fetch_add(message.payload().size(), std::memory_order_relaxed);
    printed_.store(printed + 1, std::memory_order_relaxed);
    if (limit_ != 0 && printed + 1 == limit_) stop_.request_stop();
    return true;
  }

  [[nodiscard]] std::uint64_t printed() const noexcept { return printed_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_.load(std::memory_order_relaxed); }
  [[nodiscard]] int write_errno() const noexcept { return write_errno_.load(std::memory_order_relaxed); }

 private:
  const FormatOptions format_;
  const std::uint64_t limit_;
  StopSignals& stop_;
  std::string text_;
  std::atomic<std::uint64_t> printed_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<int> write_errno_{0};
};

// ", 3 malformed (2 bad envelope, 1 bad version)" for the kinds that occurred; empty when none did.
std::string describe_trouble(const NodeStats& stats) {
  const MalformedStats& m = stats.malformed;
  std::string out;
  if (m.total() > 0) {
    out += ", " + format_count(m.total()) + " malformed (";
    const std::pair<const char*, std::uint64_t> kinds[] = {
        {"bad framing", m.bad_framing},          {"oversized", m.oversized},
        {"bad subject", m.bad_subject},          {"bad envelope", m.bad_envelope},
        {"bad version", m.bad_version},          {"subject mismatch", m.subject_mismatch},
        {"bad subscription", m.bad_subscription}};
    bool first = true;
    for (const auto& [name, n] : kinds) {
      if (n == 0) continue;
      out += (first ? "" : ", ") + format_count(n) + " " + name;
      first = false;
    }
    out += ")";
  }
  if (stats.handler_exceptions > 0) out += ", " + format_count(stats.handler_exceptions) + " not printed (errors)";
  if (stats.undelivered_on_close > 0) out += ", " + format_count(stats.undelivered_on_close) + " undelivered";
  return out;
}

// Waits for a stop (a signal, --count reached, output failed) or the --timeout, flushing stdout as it goes.
// True when the timeout ended it.
bool wait_for_end(const StopSignals& stop, std::chrono::milliseconds timeout) {
  const auto deadline = timeout.count() > 0 ? Clock::now() + timeout : StopSignals::Deadline::max();
  while (true) {
    auto tick = std::min(deadline, Clock::now() + kFlushInterval);
    if (stop.wait_until(tick) == StopSignals::Wake::kStop) return false;
    std::fflush(stdout);
    if (Clock::now() >= deadline) return true;
  }
}

int run(SubSettings& s) {
  StopSignals stop;
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  Printer printer(s.format, static_cast<std::uint64_t>(s.count), stop);
  const bool reliable = s.reliable();
  auto subscription = node->subscribe(
      s.pattern,
      [&printer, reliable](const Message& message) {
        if (!printer.print(message)) {
          // Not printed (past --count, or output failed): another delivery, here or elsewhere, prints it.
          if (reliable) message.ack_handle().nak();
          return;
        }
        if (!reliable) return;
        // Acknowledged only once the line is out of this process: a crash after this loses nothing.
        if (std::fflush(stdout) == 0) {
          message.ack_handle().ack();
        } else {
          message.ack_handle().nak();
        }
      },
      s.subscribe);
  if (!subscription) return report_failure(kVerb, "cannot subscribe: " + subscription.status().to_string());
  // Only now: a script that waits for this line may start publishing at once.
  print_listening(node->subscriber_endpoints());
  print_discovery(s.node);

  const auto start = Clock::now();
  const bool timed_out = wait_for_end(stop, s.timeout);
  subscription->unsubscribe();  // the handler has returned and will not run again
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const bool flushed = std::fflush(stdout) == 0;
  const int write_errno = printer.write_errno() != 0 ? printer.write_errno() : flushed ? 0 : errno;

  if (!s.quiet) {
    std::fprintf(stderr, "received %s message%s (%s) in %.2f s%s\n", format_count(printer.printed()).c_str(),
                 printer.printed() == 1 ? "" : "s", format_bytes(printer.bytes()).c_str(), seconds,
                 describe_trouble(node->stats()).c_str());
    if (reliable) {
      const ReliableStats r = node->stats().reliable;
      std::fprintf(stderr, "acknowledged %s, %s duplicate(s) suppressed, %s acknowledgement(s) refused as late\n",
                   format_count(r.acks_sent).c_str(), format_count(r.duplicates + r.suppressed).c_str(),
                   format_count(r.acks_rejected).c_str());
    }
  }
  if (write_errno != 0)
    return report_failure(kVerb, std::string("writing standard output: ") + std::strerror(write_errno));
  if (timed_out && s.count > 0 && printer.printed() < static_cast<std::uint64_t>(s.count)) {
    char waited[32];
    std::snprintf(waited, sizeof waited, "%g", s.timeout_seconds);
    return report_failure(kVerb, "received " + format_count(printer.printed()) + " of " +
                                     format_count(static_cast<std::uint64_t>(s.count)) + " messages before the " +
                                     waited + " s timeout");
  }
  return kExitOk;
}

}  // namespace

int run_sub(int argc, char** argv) {
  if (sub_wants_stream(argc, argv)) return run_sub_stream(argc, argv);  // replay from weftd
  SubSettings s;
  po::options_description visible = visible_options(s);
  po::options_description hidden;
  hidden.add_options()("pattern", po::value(&s.pattern));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("pattern", 1);
  try {
    po::variables_map values = parse_arguments(argc, argv, all, positional);
    if (values.count("help") != 0) {
      std::cout << kHelpIntro << visible << kHelpOutro << kDiscoveryHelp;
      return kExitOk;
    }
    finish_settings(s, values);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  }
  return run(s);
}

}  // namespace weft::cli
