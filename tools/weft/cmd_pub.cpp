// weft pub: publishes DATA, a generated payload, or each line of standard input on a subject. A thin layer
// over weft::Node: the flags fill NodeOptions, and the node does the rest.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "discovery_cli.hpp"
#include "reliable_cli.hpp"
#include "weft/node.hpp"
#include "weft/subject.hpp"

namespace weft::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kVerb = "pub";
// How long pub waits, after the last message, for the node to hand everything to ZeroMQ.
constexpr std::chrono::seconds kFlushTimeout{30};
// The node's wait for subscribers cannot be interrupted, so pub waits in slices and looks for a signal between.
constexpr std::chrono::milliseconds kWaitSlice{100};
// When --rate falls behind by more than this (slow input, back-pressure), the schedule restarts instead of
// bursting to catch up.
constexpr std::chrono::milliseconds kMaxCatchUp{100};
// publish() cannot be interrupted, so pub lets it wait for room this long at a time and looks for a signal
// between tries.
constexpr std::chrono::milliseconds kBlockSlice{200};
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::string_view kSizePattern = "abcdefghijklmnopqrstuvwxyz0123456789";

constexpr const char* kHelpIntro = R"(usage: weft pub [OPTIONS] SUBJECT [DATA]

Publishes DATA on SUBJECT; without DATA (and without --size), publishes each line of standard input as one
message, so that `tail -f app.log | weft pub --connect ... logs.app` works. It never drops a message: when
subscribers are slow, it waits for them.

Before the first message it waits up to --wait seconds for a subscriber, since ZeroMQ discards what is
published before a subscription arrives. After the last, it waits for the messages to leave and prints a
summary on stderr.

)";

constexpr const char* kHelpOutro = R"(
Endpoints: a publisher and a subscriber meet when one binds and the other connects.
  weft pub --bind E      pairs with   weft sub --connect E
  weft pub --connect E   pairs with   weft sub --bind E
E is tcp://HOST:PORT or ipc:///path. With a wildcard port (tcp://127.0.0.1:*) the port chosen is printed
on stderr as "listening on tcp://127.0.0.1:PORT".

Examples:
  weft sub --bind tcp://127.0.0.1:7400 'demo.>'                  # in one shell
  weft pub --connect tcp://127.0.0.1:7400 demo.hello 'hi there'  # in another
  weft pub --bind ipc:///tmp/weft-demo.sock --count 1000 --size 256 --rate 500 --header run=7 demo.load
  tail -f app.log | weft pub --connect tcp://10.0.0.5:7400 logs.app

Exit status: 0 when every message was published, 1 when one was not, 2 on bad usage.
)";

struct PubSettings {
  NodeOptions node;
  std::string subject;
  std::optional<std::string> data;
  std::int64_t count = 0;  // 0: once for DATA/--size, every line for standard input
  std::int64_t size = -1;  // -1: not given
  double rate = 0;         // 0: as fast as possible
  double wait_seconds = 2;
  double linger_seconds = 5;
  std::vector<std::string> header_items;
  bool quiet = false;

  Headers headers;
  std::chrono::milliseconds wait{0};

  // --reliable: at least once (reliable_cli.hpp).
  ReliablePubFlags reliable;
  DiscoveryFlags discovery;  // discovery_cli.hpp
  PublishOptions publish_options;
};

po::options_description visible_options(PubSettings& s) {
  po::options_description options("options", 100, 50);
  // One option to a paragraph reads better than the formatter's chain of calls.
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("bind", po::value(&s.node.bind)->value_name("ENDPOINT"),
       "listen for subscribers on ENDPOINT; they `weft sub --connect` to it (repeatable)")
      ("connect", po::value(&s.node.publish_to)->value_name("ENDPOINT"),
       "publish to a subscriber listening with `weft sub --bind ENDPOINT` (repeatable)")
      ("count", po::value(&s.count)->value_name("N"),
       "publish DATA (or the --size payload) N times (default 1); with standard input, stop after N lines "
       "(default: at its end)")
      ("size", po::value(&s.size)->value_name("BYTES"),
       "without DATA: publish a generated text payload of BYTES bytes instead of reading standard input")
      ("rate", po::value(&s.rate)->value_name("PER_SECOND"),
       "publish at most PER_SECOND messages a second, on a steady schedule (default 0: as fast as possible)")
      ("header", po::value(&s.header_items)->value_name("KEY=VALUE"), "attach a header to every message (repeatable)")
      ("wait", po::value(&s.wait_seconds)->value_name("SECONDS"),
       "wait up to SECONDS for a first subscriber before publishing (default 2; 0: do not wait)")
      ("linger", po::value(&s.linger_seconds)->value_name("SECONDS"),
       "at exit, give ZeroMQ up to SECONDS to deliver what it still holds (default 5)")
      ("name", po::value(&s.node.name)->value_name("NAME"), "the node's name for peers and logs (default HOST-PID)")
      ("quiet,q", po::bool_switch(&s.quiet), "print no summary");
  // clang-format on
  add_reliable_pub_options(options, s.reliable, s.node);
  add_discovery_options(options, s.discovery);
  return options;
}

// Fills and checks the settings the parser could not; throws UsageError.
void finish_settings(PubSettings& s, const po::variables_map& values) {
  if (values.count("subject") == 0) throw UsageError("give the SUBJECT to publish on");
  if (Status valid = validate_subject(s.subject); !valid) throw UsageError(valid.message());
  if (values.count("data") != 0) s.data = values["data"].as<std::string>();
  if (values.count("count") != 0 && s.count < 1) throw UsageError("--count must be at least 1");
  if (values.count("size") != 0) {
    // The node refuses anything larger; checked here so that a typo does not allocate gigabytes first.
    if (s.size < 0 || static_cast<std::uint64_t>(s.size) > s.node.max_frame_size) {
      throw UsageError("--size must be from 0 to " + std::to_string(s.node.max_frame_size) + " bytes");
    }
    if (s.data) throw UsageError("give DATA or --size, not both");
  }
  if (!(s.rate >= 0) || s.rate > 1e9) throw UsageError("--rate must be from 0 (no limit) to 1e9 messages a second");
  s.wait = seconds_flag("--wait", s.wait_seconds);
  s.node.linger = seconds_flag("--linger", s.linger_seconds);
  s.headers = parse_headers(s.header_items);
  finish_discovery(s.discovery, s.node);
  require_endpoint(s.node);
  // The CLI promises not to drop: publish() waits for room, and the node waits for slow subscribers.
  s.node.overflow = OverflowPolicy::kBlock;
  s.node.block_timeout = kBlockSlice;
  finish_reliable_pub(s.reliable, s.node, kBlockSlice);
}

// Spaces messages on a fixed schedule (start + n / rate), so that the time each publish takes does not add up
// to drift the way a sleep after every message would.
class Pacer {
 public:
  explicit Pacer(double per_second)
      : period_(per_second > 0
                    ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_second))
                    : Clock::duration::zero()) {}

  // Waits for the next slot; false when a stop was requested.
  bool wait_turn(const StopSignals& stop) {
    if (period_ == Clock::duration::zero()) return !stop.stop_requested();
    auto now = Clock::now();
    if (!started_ || now - next_ > std::max<Clock::duration>(period_, kMaxCatchUp)) next_ = now;
    started_ = true;
    bool go_on = stop.wait_until(next_) != StopSignals::Wake::kStop;
    next_ += period_;
    return go_on;
  }

 private:
  Clock::duration period_;
  Clock::time_point next_;
  bool started_ = false;
};

// Splits standard input into lines. It polls stdin together with the stop pipe, so that a signal ends a wait
// for input that may never come (`tail -f`).
class LineReader {
 public:
  enum class Next { kLine, kEnd, kStop, kError };

  Next next(const StopSignals& stop, std::string& line) {
    while (true) {
      auto newline = buffer_.find('\n', scanned_);
      if (newline != std::string::npos) {
        line.assign(buffer_, start_, newline - start_);
        start_ = scanned_ = newline + 1;
        return Next::kLine;
      }
      scanned_ = buffer_.size();
      if (end_) {
        if (start_ == buffer_.size()) return Next::kEnd;
        line.assign(buffer_, start_);  // a last line without a newline is a message too
        start_ = scanned_ = buffer_.size();
        return Next::kLine;
      }
      buffer_.erase(0, start_);
      scanned_ -= start_;
      start_ = 0;
      if (stop.wait_readable(STDIN_FILENO, StopSignals::Deadline::max()) == StopSignals::Wake::kStop) {
        return Next::kStop;
      }
      char chunk[kReadChunk];
      ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0) {
        end_ = true;
      } else if (errno != EINTR && errno != EAGAIN) {
        error_ = std::strerror(errno);
        return Next::kError;
      }
    }
  }

  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;    // where the next line begins
  std::size_t scanned_ = 0;  // no newline before here, past start_
  bool end_ = false;
  std::string error_;
};

struct Tally {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::string failure;  // why publishing stopped early, if it failed
};

// Publishes one message, waiting as long as it takes for room (kBlock times out every kBlockSlice, and pub
// tries again unless a stop came). False when publishing should end: a stop, or a failure noted in the tally.
bool publish_one(Node& node, const PubSettings& s, const StopSignals& stop, std::string_view payload, Tally& tally) {
  auto publish = [&] {
    return s.reliable.reliable ? node.publish(s.subject, as_bytes(payload), s.headers, s.publish_options)
                               : node.publish(s.subject, payload, s.headers);
  };
  Status published = publish();
  while (published.code() == ErrorCode::kTimeout && !stop.stop_requested()) published = publish();
  if (published.code() == ErrorCode::kTimeout) return false;  // stopped while waiting for room
  if (!published) {
    tally.failure = "message " + format_count(tally.messages + 1) + " was not published: " + published.to_string();
    return false;
  }
  ++tally.messages;
  tally.bytes += payload.size();
  return true;
}

void publish_repeated(Node& node, const PubSettings& s, const StopSignals& stop, Tally& tally) {
  std::string payload;
  if (s.data) {
    payload = *s.data;
  } else {
    payload.resize(static_cast<std::size_t>(s.size));
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = kSizePattern[i % kSizePattern.size()];
  }
  Pacer pacer(s.rate);
  const std::int64_t count = s.count > 0 ? s.count : 1;
  for (std::int64_t i = 0; i < count; ++i) {
    if (!pacer.wait_turn(stop) || !publish_one(node, s, stop, payload, tally)) break;
  }
}

void publish_lines(Node& node, const PubSettings& s, const StopSignals& stop, Tally& tally) {
  if (::isatty(STDIN_FILENO) && !s.quiet) {
    std::fprintf(stderr, "weft pub: reading standard input, one message per line (Ctrl-D ends)\n");
  }
  LineReader reader;
  Pacer pacer(s.rate);
  std::string line;
  while (s.count == 0 || tally.messages < static_cast<std::uint64_t>(s.count)) {
    LineReader::Next next = reader.next(stop, line);
    if (next == LineReader::Next::kError) tally.failure = "reading standard input: " + reader.error();
    if (next != LineReader::Next::kLine || !pacer.wait_turn(stop) || !publish_one(node, s, stop, line, tally)) break;
  }
}

// Waits for a first subscriber, in slices so that a signal is not ignored for the whole --wait.
void wait_for_subscriber(Node& node, const PubSettings& s, const StopSignals& stop) {
  if (s.wait.count() == 0) return;
  auto deadline = Clock::now() + s.wait;
  while (!stop.stop_requested()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    if (node.wait_for_subscribers(s.subject, 1, std::min(left, kWaitSlice))) return;
  }
  if (stop.stop_requested()) return;
  std::fprintf(stderr, "weft pub: no subscriber after %g s; publishing anyway\n", s.wait_seconds);
}

// Waits until the node has handed every accepted message to ZeroMQ, for up to kFlushTimeout or until a stop
// (a subscriber that stalls must not hold up Ctrl-C): then the node's destructor has --linger for the rest.
Status flush_until_stopped(Node& node, const StopSignals& stop) {
  const auto deadline = Clock::now() + kFlushTimeout;
  while (true) {
    Status flushed = node.flush(kBlockSlice);
    if (flushed || stop.stop_requested() || Clock::now() >= deadline) return flushed;
  }
}

int run(PubSettings& s) {
  StopSignals stop;
  AckTally acks;  // before the node: its completions may run until the node is gone
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  print_listening(node->endpoints());
  print_discovery(s.node);
  wait_for_subscriber(*node, s, stop);
  if (s.reliable.reliable) {
    s.publish_options = acks.options(s.reliable.timeout);
    wait_for_reliable_consumers(*node, s.reliable, Clock::now() + s.wait, stop);
  }

  Tally tally;
  const auto start = Clock::now();
  if (s.data || s.size >= 0) {
    publish_repeated(*node, s, stop, tally);
  } else {
    publish_lines(*node, s, stop, tally);
  }
  Status flushed = flush_until_stopped(*node, stop);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const NodeStats stats = node->stats();

  if (!s.quiet) {
    std::string rate;  // a rate of one message says nothing
    if (tally.messages > 1 && seconds > 0) {
      rate = ", " + format_count(static_cast<std::uint64_t>(static_cast<double>(tally.messages) / seconds)) + " msg/s";
    }
    std::fprintf(stderr, "published %s message%s (%s) in %.2f s%s\n", format_count(tally.messages).c_str(),
                 tally.messages == 1 ? "" : "s", format_bytes(tally.bytes).c_str(), seconds, rate.c_str());
  }
  int exit_code = kExitOk;
  if (!tally.failure.empty()) exit_code = report_failure(kVerb, tally.failure);
  if (!flushed && stop.stop_requested()) {
    // Asked to stop, so not a failure; the node reports any message it discards at close.
    std::fprintf(stderr, "weft pub: stopping with messages still queued; they have --linger (%g s) to leave\n",
                 s.linger_seconds);
  } else if (!flushed) {
    exit_code = report_failure(kVerb, "not every message left: " + flushed.to_string());
  }
  if (s.reliable.reliable) {
    // Settles every message, prints what became of them and says whether all were acknowledged.
    int code = settle_reliable(*node, s.reliable, acks, tally.messages, start, stop);
    if (code != kExitOk) exit_code = code;
  } else if (std::uint64_t lost = stats.dropped_hwm + stats.send_errors; lost > 0) {
    exit_code = report_failure(kVerb, format_count(lost) + " message(s) were lost in the transport (" +
                                          format_count(stats.send_errors) + " send errors, " +
                                          format_count(stats.dropped_hwm) + " dropped at a high-water mark)");
  }
  return exit_code;
}

}  // namespace

int run_pub(int argc, char** argv) {
  PubSettings s;
  po::options_description visible = visible_options(s);
  po::options_description hidden;
  hidden.add_options()("subject", po::value(&s.subject))("data", po::value<std::string>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("subject", 1).add("data", 1);
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
