// weft sub --stream NAME: reads a persistent stream from weftd instead of subscribing on the network: replay
// from the first offset, the last, a given offset or a time, then follow new messages. Ephemeral by default;
// --durable NAME (or --group NAME) keeps the position in weftd across runs. Every message printed is
// acknowledged (unless --reject matches it, which naks it: a way to see redelivery and dead letters).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include "cli_common.hpp"
#include "codec/envelope.hpp"
#include "commands.hpp"
#include "message_format.hpp"
#include "sidecar_cli.hpp"
#include "weft/subject.hpp"

namespace weft::cli {

namespace {

namespace sc = detail::sidecar;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kVerb = "sub";
// Records that do not decode are each named on stderr up to this many times; the summary counts them all.
constexpr std::uint64_t kUndecodableWarnings = 10;
constexpr std::chrono::milliseconds kFlushInterval{100};
// Deliveries in flight at most, unless --credit says otherwise. Replay of 1,000,000 x 128 B over ipc, medians of
// 3 on a loaded 2-core machine: 347k msgs/s at 1,024, 478k at 4,096, 606k at 16,384, 588k at 65,536. Credit
// counts messages, not bytes: 4,096 keeps most of the gain and bounds what large messages can hold in memory.
constexpr std::uint32_t kDefaultCredit = 4096;

constexpr const char* kHelpIntro = R"(usage: weft sub --stream NAME [OPTIONS] [PATTERN]

Prints the messages of a persistent stream kept by weftd, from where --from says, then new ones as they come,
until interrupted, --count messages were printed, --until-end reached the end the stream had at the start,
or --timeout passed. PATTERN (default '>') filters by subject; the rest are acknowledged unprinted.

)";

constexpr const char* kHelpOutro = R"(
Examples:
  weft sub --stream orders --from first --until-end          # replay everything stored, then exit
  weft sub --stream orders --from time:2024-05-01T12:00:00Z  # from a moment on, then follow
  weft sub --stream orders --from time:-15m --json           # the last 15 minutes
  weft sub --stream orders --durable billing                 # resumes where the last run acknowledged

Exit status: 0 on success (also when interrupted, unless --until-end had not received everything yet), 1 when
weftd refused, when --timeout passed before --count messages came, or when --until-end stopped before it had
received every message up to the end (it says how many it got of how many), 2 on bad usage.
)";

// What an --until-end run received of the offsets [first, end) it aims for: a floor below which it has them
// all, and the offsets it has above the floor (deliveries come in offset order, redeliveries aside).
class EndTracker {
 public:
  // compacted: offsets may be passed over (compaction removed their messages), so the run is complete once
  // the last offset before the end came, not once every offset did.
  void aim(std::uint64_t first, std::uint64_t end, bool compacted) {
    first_ = floor_ = first;
    end_ = std::max(first, end);
    aimed_ = true;
    compacted_ = compacted;
  }
  void saw(std::uint64_t offset) {
    if (!aimed_) return;
    if (offset + 1 >= end_) past_end_ = true;
    if (offset < floor_ || offset >= end_) return;
    above_.insert(offset);
    while (!above_.empty() && *above_.begin() == floor_) {
      above_.erase(above_.begin());
      ++floor_;
    }
  }
  [[nodiscard]] bool aimed() const noexcept { return aimed_; }
  [[nodiscard]] std::uint64_t first() const noexcept { return first_; }
  [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
  [[nodiscard]] std::uint64_t received() const noexcept { return floor_ - first_ + above_.size(); }
  [[nodiscard]] std::uint64_t expected() const noexcept { return end_ - first_; }
  [[nodiscard]] bool complete() const noexcept { return aimed_ && (floor_ >= end_ || (compacted_ && past_end_)); }
  // weftd sent the last offset before the end (or one after it): it has nothing more to send up to the end.
  [[nodiscard]] bool reached() const noexcept { return complete() || past_end_; }

 private:
  std::uint64_t first_ = 0, end_ = 0, floor_ = 0;
  std::set<std::uint64_t> above_;
  bool aimed_ = false, past_end_ = false, compacted_ = false;
};

struct StreamSubSettings {
  SidecarFlags sidecar;
  sc::ConsumeFields consume = [] {
    sc::ConsumeFields f;
    f.credit = kDefaultCredit;
    return f;
  }();
  std::string from = "first";
  std::string pattern = ">";
  std::int64_t count = 0;
  double timeout_seconds = 0;
  double ack_wait_seconds = 30;
  bool until_end = false;
  bool no_ack = false;
  std::string reject;
  bool raw = false, json = false, full = false, quiet = false;
  FormatOptions format;
};

po::options_description visible_options(StreamSubSettings& s) {
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("stream", po::value(&s.consume.stream)->value_name("NAME"), "the stream to read (required)")
      ("from", po::value(&s.from)->value_name("WHERE"),
       "where a new consumer starts: first (default), last, new, offset:N, time:ISO8601 (or time:-15m)")
      ("durable", po::value(&s.consume.durable)->value_name("NAME"),
       "a durable consumer: weftd keeps its acknowledged offset, a later run resumes there")
      ("group", po::value(&s.consume.group)->value_name("NAME"),
       "a consumer group: every member running with this NAME gets a share of the messages")
      ("ack-wait", po::value(&s.ack_wait_seconds)->value_name("SECONDS"),
       "redeliver a message not acknowledged within SECONDS (default 30)")
      ("max-deliver", po::value(&s.consume.max_deliver)->value_name("N"),
       "after N deliveries, move the message to the stream's dead letters (default 5; 0: no limit)")
      ("credit", po::value(&s.consume.credit)->value_name("N"),
       "messages in flight at most (default 4096; more replays faster, up to 65536)")
      ("no-ack", po::bool_switch(&s.no_ack), "ephemeral only: take messages without acknowledging them")
      ("reject", po::value(&s.reject)->value_name("TEXT"),
       "nak (instead of acknowledging) every message whose payload contains TEXT")
      ("count", po::value(&s.count)->value_name("N"), "exit after N messages")
      ("until-end", po::bool_switch(&s.until_end), "exit once the stream's end at the start was reached")
      ("timeout", po::value(&s.timeout_seconds)->value_name("SECONDS"), "exit after SECONDS (default 0: no limit)")
      ("raw", po::bool_switch(&s.raw), "print only each payload")
      ("json", po::bool_switch(&s.json), "one JSON object per message, with its offset and attempt")
      ("full", po::bool_switch(&s.full), "print long payloads whole")
      ("sidecar", po::value(&s.sidecar.endpoint)->value_name("ENDPOINT"), "weftd's endpoint (default: its socket)")
      ("quiet,q", po::bool_switch(&s.quiet), "print no summary at exit");
  // clang-format on
  return options;
}

void finish(StreamSubSettings& s, const po::variables_map& values) {
  if (s.consume.stream.empty()) throw UsageError("give --stream NAME");
  if (Status v = validate_pattern(s.pattern); !v) throw UsageError(v.message());
  parse_from(s.from, s.consume);
  if (s.count < 0) throw UsageError("--count must be 0 (no limit) or more");
  if (!s.consume.durable.empty() && !s.consume.group.empty()) throw UsageError("give --durable or --group, not both");
  if (s.no_ack && (!s.consume.durable.empty() || !s.consume.group.empty())) {
    throw UsageError("--no-ack is for ephemeral consumers (a durable one acknowledges)");
  }
  if (s.no_ack && !s.reject.empty()) throw UsageError("--reject needs acknowledgements (drop --no-ack)");
  if (s.consume.credit == 0 || s.consume.credit > sc::kMaxCredit) {
    throw UsageError("--credit must lie in [1, " + std::to_string(sc::kMaxCredit) + "]");
  }
  s.consume.ack = !s.no_ack;
  const auto ack_wait = seconds_flag("--ack-wait", s.ack_wait_seconds);
  if (ack_wait.count() < 1) throw UsageError("--ack-wait must be at least 1 ms");
  s.consume.ack_wait_ms = static_cast<std::uint32_t>(std::min<std::int64_t>(ack_wait.count(), UINT32_MAX));
  (void)seconds_flag("--timeout", s.timeout_seconds);
  if (s.raw && s.json) throw UsageError("give --raw or --json, not both");
  s.format.format = s.json ? OutputFormat::kJson : s.raw ? OutputFormat::kRaw : OutputFormat::kHuman;
  s.format.full = s.full;
  (void)values;
}

int run(StreamSubSettings& s) {
  StopSignals stop;
  auto client = connect_sidecar(s.sidecar);
  std::uint64_t printed = 0, bytes = 0, rejected = 0, undecodable = 0;
  EndTracker end;  // the stream's end when the consumer started, and what came of it
  Status ended;
  std::string text;
  int write_errno = 0;
  std::uint64_t consumer = 0;

  sc::ConsumerHandlers handlers;
  handlers.on_ready = [&](const sc::ConsumingFields& ready) {
    if (!end.aimed()) end.aim(ready.start_offset, ready.end_offset, ready.compacted);
    if (!s.quiet) {
      std::fprintf(stderr, "reading stream %s from offset %llu%s (end %llu)\n", ready.stream.c_str(),
                   static_cast<unsigned long long>(ready.start_offset),
                   ready.resumed ? (", resuming " + ready.name).c_str() : "",
                   static_cast<unsigned long long>(ready.end_offset));
    }
    // Nothing to replay: --until-end is done at once.
    if (s.until_end && end.reached()) stop.request_stop();
  };
  handlers.on_end = [&](const Status& why) {
    ended = why;
    stop.request_stop();
  };
  handlers.on_message = [&](const sc::Delivery& d) {
    end.saw(d.offset);
    const bool limit_reached = s.count > 0 && printed >= static_cast<std::uint64_t>(s.count);
    std::vector<HeaderRef> scratch;
    detail::EnvelopeView view;
    std::size_t at = 0;
    const detail::DecodeResult result = detail::decode_envelope(d.envelope, at, view, scratch);
    if (!result.ok()) {
      // weftd checks every envelope it appends, so this is a record another writer put in the log. Never
      // skipped in silence: said, counted, and (when acknowledging) refused, so that it ends in the stream's
      // dead-letter queue after max_deliver rather than being marked consumed.
      if (++undecodable <= kUndecodableWarnings) {
        std::fprintf(stderr, "weft sub: offset %llu does not decode as a Weft envelope (%s)%s\n",
                     static_cast<unsigned long long>(d.offset), result.detail.c_str(),
                     s.consume.ack ? ": not acknowledged (weftd delivers it again, then dead-letters it)" : "");
      }
      if (s.consume.ack) {
        (void)client->nak(d.consumer, d.offset, d.attempt, std::chrono::milliseconds(0),
                          "does not decode as a Weft envelope: " + result.detail);
      }
      if (s.until_end && end.reached()) stop.request_stop();
      return;
    }
    const bool matches = subject_matches(s.pattern, view.subject);
    const std::string_view payload(reinterpret_cast<const char*>(view.payload.data()), view.payload.size());
    if (!s.reject.empty() && matches && payload.find(s.reject) != std::string_view::npos) {
      ++rejected;
      (void)client->nak(d.consumer, d.offset, d.attempt, std::chrono::milliseconds(0), "rejected by weft sub --reject");
      return;
    }
    if (matches && !limit_reached && write_errno == 0) {
      text.clear();
      append_message(text, view.as_message(), s.format);
      if (s.format.format == OutputFormat::kJson) {
        text.insert(1, "\"offset\":" + std::to_string(d.offset) + ",\"attempt\":" + std::to_string(d.attempt) + ",");
      } else if (s.format.format == OutputFormat::kHuman) {
        text.insert(0, "@" + std::to_string(d.offset) + (d.attempt > 1 ? " (attempt " + std::to_string(d.attempt) + ")" : "") + "  ");
      }
      if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
        write_errno = errno != 0 ? errno : EIO;
        stop.request_stop();
        return;  // not acknowledged: it is delivered again to the next run
      }
      ++printed;
      bytes += view.payload.size();
    }
    if (s.consume.ack && !(limit_reached && matches)) (void)client->ack(d.consumer, d.offset, d.attempt);
    if (s.count > 0 && printed >= static_cast<std::uint64_t>(s.count)) stop.request_stop();
    if (s.until_end && end.reached()) stop.request_stop();
  };
  auto started = client->consume(s.consume, handlers);
  if (!started) return report_failure(kVerb, started.status().message());
  consumer = *started;

  const auto start = Clock::now();
  const auto deadline = s.timeout_seconds > 0 ? start + seconds_flag("--timeout", s.timeout_seconds)
                                              : Clock::time_point::max();
  auto next_flush = start + kFlushInterval;
  bool timed_out = false;
  while (!stop.stop_requested()) {
    client->do_work(detail::SystemClock::instance().now());
    if (stop.stop_requested()) break;
    const auto now = Clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (now >= next_flush) {
      std::fflush(stdout);
      next_flush = now + kFlushInterval;
    }
    auto wake = std::min({deadline, next_flush, Clock::now() + std::chrono::milliseconds(50)});
    client->transport().wait_readable(std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()));
  }
  // The last acknowledgements go out before leaving (a durable consumer resumes after them).
  if (ended.is_ok()) {
    client->do_work(detail::SystemClock::instance().now());
    (void)client->unconsume(consumer);
    client->run_until([&] { return false; }, std::chrono::milliseconds(50));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const bool flushed = std::fflush(stdout) == 0;
  if (!s.quiet) {
    std::fprintf(stderr, "received %s message%s (%s) in %.2f s%s%s\n", format_count(printed).c_str(),
                 printed == 1 ? "" : "s", format_bytes(bytes).c_str(), seconds,
                 rejected > 0 ? (", " + format_count(rejected) + " rejected").c_str() : "",
                 undecodable > 0 ? (", " + format_count(undecodable) + " undecodable").c_str() : "");
  }
  if (!ended.is_ok()) return report_failure(kVerb, ended.message());
  if (write_errno != 0 || !flushed) {
    return report_failure(kVerb, std::string("writing standard output: ") + std::strerror(write_errno ? write_errno : errno));
  }
  const bool count_reached = s.count > 0 && printed >= static_cast<std::uint64_t>(s.count);
  // Never a success for a replay that stopped short: say how far it got and why it stopped. (A group member
  // gets only its share of the messages: it cannot tell.)
  if (s.until_end && s.consume.group.empty() && !count_reached && !end.complete()) {
    if (!end.aimed()) return report_failure(kVerb, "--until-end: weftd never started the consumer");
    const std::string why = timed_out       ? "--timeout passed"
                            : end.reached() ? "weftd sent nothing more up to the end: the others were lost to "
                                              "retention or damage, or were acknowledged before (see weft stream info)"
                                            : "interrupted";
    return report_failure(kVerb, "--until-end stopped short: received " + format_count(end.received()) + " of the " +
                                     format_count(end.expected()) + " messages in offsets [" +
                                     std::to_string(end.first()) + ", " + std::to_string(end.end()) + ") (" + why +
                                     ")");
  }
  if (timed_out && s.count > 0 && !count_reached) {
    return report_failure(kVerb, "timed out after " + format_count(printed) + " messages");
  }
  return kExitOk;
}

}  // namespace

int run_sub_stream(int argc, char** argv) {
  StreamSubSettings s;
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
      std::cout << kHelpIntro << visible << kHelpOutro;
      return kExitOk;
    }
    finish(s, values);
    return run(s);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  }
}

}  // namespace weft::cli
