// weft bench: Weft's throughput and round trips beside raw libzmq's, measured in the same run on this
// machine. The verb only plans, starts peer processes and summarizes; bench/ holds the parts.
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_options.hpp"
#include "bench/measure.hpp"
#include "bench/output.hpp"
#include "bench/server_process.hpp"
#include "bench/summary.hpp"
#include "commands.hpp"

namespace weft::cli {

namespace {

namespace po = boost::program_options;
using bench::BenchOptions;

constexpr const char* kUsage = "usage: weft bench [OPTIONS]\n";

constexpr const char* kAbout = R"(
Measures Weft beside raw libzmq on this machine, in one run: publish/subscribe throughput (messages/s
and MB/s) and round-trip latency (p50, p99, p99.9 in microseconds) for each payload size, over tcp
loopback and ipc, with the two sides in separate processes. Within each repeat the two systems take
turns; every figure is the median over the repeats, with its range, and Weft's figure is divided by raw
libzmq's from the same repeat ("x raw"), whose median is shown. By default it runs pubsub and rtt; the
other patterns run when --patterns names them (e.g. --patterns reliable,queue,reqrep,persist).

What runs:
  pubsub  weft: a publisher node with OverflowPolicy::kBlock (lossless) waits for its subscriber
          (wait_for_subscribers), publishes COUNT messages on one subject, then an empty end marker.
          The subscriber times from its first message to the marker. Sent - received ("lost") and
          the nodes' drop counters ("drops") must both be 0. zmq: an XPUB with ZMQ_XPUB_NODROP at
          libzmq's default high-water mark sends to a SUB, timed the same way.
  rtt     weft: the requester publishes a ping, the responder's handler publishes it back, the
          requester's handler times it and publishes the next: one in flight, every round trip
          timed after a warm-up. zmq: REQ/REP, the same way.
  reliable  weft: at least once (Delivery::kAtLeastOnce) to one durable subscriber that acknowledges
          as its handler returns. msgs/s: acknowledged messages at the publisher, from the first publish
          to the last acknowledgement; p50/p99: publish() -> on_complete for each message, under that
          load; the publisher's peak RSS (VmHWM). zmq: PUB/SUB as in pubsub, with the same count.
          Then one bounded-memory run, Weft only: the subscriber's handler sleeps 1 ms per message, the
          publisher publishes for 3 s (or --duration) with a --slow-outbox limit, and its peak RSS shows
          that memory stays bounded by the outbox. Default sizes 128 B and 1 KiB, tcp.
  queue   weft: at least once to a queue_subscribe group of N worker processes (--workers, default
          1,3); acknowledged msgs/s at the publisher. zmq: one PUSH to N PULL sockets; msgs/s over all
          pullers, from the first message any got to the last. Default size 128 B, tcp.
  reqrep  weft: Node::request() in a loop, one in flight, answered by a handler with Node::reply();
          every round trip timed after a warm-up. zmq: REQ/REP. Default size 128 B, tcp.
  persist weft: starts weftd (next to this binary, or --weftd) with a fresh data directory and
          one stream at each --fsync policy (default always,interval,os; always: acknowledged after an
          fsync, one fsync covering every append waiting; interval: acknowledged once written, fsynced
          every 5 ms; os: acknowledged once written). A client appends pipelined (--append-batch
          envelopes per APPEND, --append-window APPENDs in flight): msgs/s acknowledged, p50/p99 APPEND ->
          APPENDED. Then "replay": a consumer reads the stream back from its first offset; "x persist"
          is replay msgs/s / persist msgs/s. Over ipc; default sizes 128 B and 1 KiB. In a build with
          -DWEFT_BENCH_NATS=ON, also NATS JetStream (system nats: nats-server -js from $PATH, file
          storage, async publish with as many messages in flight, then a pull consumer reading back):
          "x JetStream" is Weft / JetStream at the same size.

Reading the table: "x raw" is Weft / raw libzmq. For throughput above 1 means Weft is faster; for
latency below 1 means Weft's round trip is shorter. Compare ratios taken in one run: on a shared or
small machine the absolute figures move from run to run (raw libzmq by up to 2x with placement), which
--pin and --repeats tame.
)";

constexpr const char* kExamples = R"(
Examples:
  weft bench --quick                         a first look (1 repeat, small counts)
  weft bench --pin --repeats 5               the run behind docs/performance.md
  weft bench --patterns rtt --sizes 16 --transports tcp
  weft bench --json > bench.jsonl            one JSON object per row (docs/performance.md)
  weft bench --patterns reliable,queue,reqrep --repeats 3
  weft bench --patterns persist --fsync always,os --repeats 3

Every measurement is bounded: no side sends for longer than --duration, each wait for a peer has a
deadline, and a peer process that overstays is killed by its pid. Only tcp://127.0.0.1 (on ports the
kernel picks) and sockets under /tmp are used.
Exit status: 0 when every measurement ran and nothing was lost or dropped; 1 otherwise; 2 bad usage.
)";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  for (char c : text + ",") {
    if (c == ',') {
      if (!item.empty()) items.push_back(item);
      item.clear();
    } else if (c != ' ') {
      item += c;
    }
  }
  if (items.empty()) throw UsageError("an empty list");
  return items;
}

// "16", "1k", "1KiB", "64K", "1M": bytes.
std::size_t parse_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) throw UsageError("bad size '" + text + "'");
  std::size_t value = std::stoul(text.substr(0, digits));
  std::string unit = text.substr(digits);
  if (unit == "k" || unit == "K" || unit == "KiB") {
    value *= 1024;
  } else if (unit == "m" || unit == "M" || unit == "MiB") {
    value *= 1024 * 1024;
  } else if (!unit.empty() && unit != "B") {
    throw UsageError("bad size '" + text + "' (use bytes, or a k/KiB or M/MiB suffix)");
  }
  constexpr std::size_t kMaxSize = 4 * 1024 * 1024;  // well inside Weft's default max_frame_size
  if (value < 1 || value > kMaxSize) throw UsageError("size '" + text + "' is outside 1 B..4 MiB");
  return value;
}

template <typename T, typename Parse>
std::vector<T> parse_list(const std::string& text, const char* flag, Parse parse) {
  std::vector<T> values;
  for (const auto& item : split_list(text)) {
    auto value = parse(item);
    if (!value) throw UsageError(std::string("unknown value '") + item + "' for " + flag);
    values.push_back(*value);
  }
  return values;
}

std::uint64_t positive(const po::variables_map& vm, const char* flag, std::int64_t minimum) {
  std::int64_t value = vm[flag].as<std::int64_t>();
  if (value < minimum) throw UsageError(std::string("--") + flag + " must be at least " + std::to_string(minimum));
  return static_cast<std::uint64_t>(value);
}

po::options_description describe_flags() {
  po::options_description flags("Options", 100, 50);
  // One option per line reads better than the formatter's layout of this chain.
  // clang-format off
  flags.add_options()
      ("help,h", "print this help")
      ("sizes", po::value<std::string>()->value_name("LIST"),
       "payload sizes, comma-separated; k/KiB and M/MiB suffixes (default 16,128,1k,64k for pubsub and rtt; "
       "128,1k for reliable and persist; 128 for queue and reqrep)")
      ("transports", po::value<std::string>()->value_name("LIST"),
       "tcp, ipc or both (default tcp,ipc for pubsub and rtt, tcp for reliable, queue and reqrep; persist "
       "always talks to weftd over ipc)")
      ("patterns", po::value<std::string>()->value_name("LIST"),
       "any of pubsub, rtt, reliable, queue, reqrep, persist (default pubsub,rtt); persist also gives replay")
      ("systems", po::value<std::string>()->value_name("LIST"),
       "zmq, weft, nats (default zmq,weft, and nats in a WEFT_BENCH_NATS build; ratios need the baseline); "
       "nats is NATS JetStream beside persist only")
      ("repeats", po::value<std::int64_t>()->value_name("N"),
       "take each measurement N times; figures are medians (default 3, --quick 1)")
      ("count", po::value<std::int64_t>()->value_name("N"),
       "messages per throughput measurement (default by size: 1M up to 128 B, 500k up to 1 KiB, 100k up to "
       "16 KiB, 20k above; a fifth of that with --quick; reliable, queue and persist a tenth of that, at "
       "least 2000)")
      ("round-trips", po::value<std::int64_t>()->value_name("N"),
       "timed round trips per latency measurement (default 20000, --quick 5000)")
      ("warmup", po::value<std::int64_t>()->value_name("N"),
       "untimed round trips before those (default 1000, --quick 500)")
      ("duration", po::value<double>()->value_name("SECONDS"),
       "no measurement sends for longer than this, whatever the counts (default 10)")
      ("quick", po::bool_switch(), "smaller counts and one repeat: a first look in well under a minute")
      ("pin", po::bool_switch(),
       "run the publisher/requester process on CPU 0 and the subscriber/responder on CPU 1, for both "
       "systems (default: the kernel places them)")
      ("json", po::bool_switch(), "print one JSON object per row instead of the table")
      ("workers", po::value<std::string>()->value_name("LIST"),
       "queue: worker counts, one measurement each (default 1,3; at most 16)")
      ("slow-outbox", po::value<std::int64_t>()->value_name("N"),
       "reliable: the outbox limit (messages) of the bounded-memory run; 0 skips that run (default 10000)")
      ("fsync", po::value<std::string>()->value_name("LIST"),
       "persist: weftd's fsync policies, any of always, interval, os (default all three)")
      ("append-batch", po::value<std::int64_t>()->value_name("N"),
       "persist: envelopes per APPEND (default 64, at most 4096)")
      ("append-window", po::value<std::int64_t>()->value_name("N"),
       "persist: APPENDs in flight at once (default 16, at most 1024)")
      ("weftd", po::value<std::string>()->value_name("PATH"),
       "persist: the weftd binary (default: beside this weft binary, in ../daemon/, or on $PATH)")
      ("data-dir", po::value<std::string>()->value_name("DIR"),
       "persist: where weftd's temporary data directories go; the disk under test (default $TMPDIR or /tmp)")
      ("spin-us", po::value<std::int64_t>()->value_name("US"),
       "experiment: Weft's io_spin and dispatch_spin, microseconds (default: the library's)")
      ("batch-max-bytes", po::value<std::int64_t>()->value_name("BYTES"),
       "experiment: Weft's batch_max_bytes and ipc_batch_max_bytes, 0 turns batching off (default: the "
       "library's)");
  // clang-format on
  return flags;
}

BenchOptions to_options(const po::variables_map& vm) {
  BenchOptions options;
  options.quick = vm["quick"].as<bool>();
  options.pin = vm["pin"].as<bool>();
  options.json = vm["json"].as<bool>();
  if (options.quick) {
    options.repeats = bench::kQuickRepeats;
    options.round_trips = bench::kQuickRoundTrips;
    options.warmup = bench::kQuickWarmup;
  }
  if (vm.count("sizes")) {
    options.sizes_given = true;
    options.sizes.clear();
    for (const auto& item : split_list(vm["sizes"].as<std::string>())) options.sizes.push_back(parse_size(item));
  }
  if (vm.count("transports")) {
    options.transports_given = true;
    options.transports =
        parse_list<bench::Transport>(vm["transports"].as<std::string>(), "--transports", bench::transport_named);
  }
  if (vm.count("patterns")) {
    options.patterns = parse_list<bench::Pattern>(vm["patterns"].as<std::string>(), "--patterns", bench::pattern_named);
  }
  if (vm.count("systems")) {
    options.systems = parse_list<bench::System>(vm["systems"].as<std::string>(), "--systems", bench::system_named);
  } else if (bench::nats_available()) {
    options.systems.push_back(bench::System::kNats);  // used by persist only
  }
  if (std::find(options.systems.begin(), options.systems.end(), bench::System::kNats) != options.systems.end() &&
      !bench::nats_available()) {
    throw UsageError("--systems nats needs a weft built with -DWEFT_BENCH_NATS=ON (libnats-dev)");
  }
  if (vm.count("repeats")) {
    std::uint64_t repeats = positive(vm, "repeats", 1);
    if (repeats > 1000) throw UsageError("--repeats must be at most 1000");
    options.repeats = static_cast<int>(repeats);
  }
  if (vm.count("count")) options.count = positive(vm, "count", 2);
  if (vm.count("round-trips")) options.round_trips = positive(vm, "round-trips", 1);
  if (vm.count("warmup")) options.warmup = positive(vm, "warmup", 0);
  if (vm.count("duration")) {
    double seconds = vm["duration"].as<double>();
    if (!(seconds > 0 && seconds <= 3600)) throw UsageError("--duration must be above 0 and at most 3600 seconds");
    options.duration = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000 + 0.5));
  }
  if (vm.count("workers")) {
    options.workers.clear();
    for (const auto& item : split_list(vm["workers"].as<std::string>())) {
      if (item.empty() || item.size() > 2 || item.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(item) < 1 || std::stoi(item) > 16) {
        throw UsageError("bad worker count '" + item + "' for --workers (1..16)");
      }
      options.workers.push_back(std::stoi(item));
    }
  }
  if (vm.count("slow-outbox")) {
    options.slow_outbox_messages = positive(vm, "slow-outbox", 0);
    options.slow_run = options.slow_outbox_messages > 0;
  }
  if (vm.count("fsync")) {
    options.fsyncs = parse_list<bench::Fsync>(vm["fsync"].as<std::string>(), "--fsync", bench::fsync_named);
  }
  if (vm.count("append-batch")) {
    options.append_batch = positive(vm, "append-batch", 1);
    if (options.append_batch > 4096) throw UsageError("--append-batch must be at most 4096");
  }
  if (vm.count("append-window")) {
    options.append_window = positive(vm, "append-window", 1);
    if (options.append_window > 1024) throw UsageError("--append-window must be at most 1024");
  }
  if (vm.count("data-dir")) {
    options.data_parent = vm["data-dir"].as<std::string>();
    struct stat info {};
    if (::stat(options.data_parent.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      throw UsageError("--data-dir " + options.data_parent + " is not a directory");
    }
  }
  const bool persist =
      std::find(options.patterns.begin(), options.patterns.end(), bench::Pattern::kPersist) != options.patterns.end();
  if (vm.count("weftd") || persist) {
    auto weftd = bench::find_weftd(vm.count("weftd") ? vm["weftd"].as<std::string>() : std::string());
    if (!weftd) throw UsageError(weftd.status().message());
    options.weftd = *weftd;
  }
  if (vm.count("spin-us")) options.tuning.spin = std::chrono::microseconds(positive(vm, "spin-us", 0));
  if (vm.count("batch-max-bytes")) options.tuning.batch_max_bytes = positive(vm, "batch-max-bytes", 0);
  if (options.pin) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(bench::kSenderCpu, &allowed) ||
        !CPU_ISSET(bench::kReceiverCpu, &allowed)) {
      throw UsageError("--pin needs CPUs 0 and 1, and this process may not use both");
    }
  }
  return options;
}

std::string progress_figure(const bench::Sample& s) {
  if (!s.status) return "FAILED: " + s.status.to_string();
  std::string text;
  if (bench::is_throughput(s.what.pattern)) {
    text = bench::human_rate(s.msgs_per_s) + " msgs/s";
    if (s.lost > 0 || s.drops > 0) text += ", lost " + std::to_string(s.lost) + ", drops " + std::to_string(s.drops);
  }
  if (bench::has_latency(s.what.pattern) && s.p50_us > 0) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "p50 %.1f us, p99 %.1f us", s.p50_us, s.p99_us);
    text += (text.empty() ? "" : ", ") + std::string(buffer);
  }
  if (s.peak_rss_kib > 0) text += ", peak RSS " + std::to_string(s.peak_rss_kib / 1024) + " MiB";
  if (s.redelivered > 0 || s.resend_requests > 0) {
    text += ", redelivered " + std::to_string(s.redelivered) + ", resend requests " + std::to_string(s.resend_requests);
  }
  return text;
}

// Every measurement of the run: pattern by pattern, at the pattern's transports and sizes (and worker counts,
// fsync policies); the system is filled in per repeat.
std::vector<bench::Case> plan(const BenchOptions& options) {
  using bench::Pattern;
  std::vector<bench::Case> cases;
  for (auto pattern : options.patterns) {
    for (auto transport : bench::transports_for(options, pattern)) {
      for (auto size : bench::sizes_for(options, pattern)) {
        bench::Case what{bench::System::kWeft, pattern, transport, size};
        if (pattern == Pattern::kQueue) {
          for (int workers : options.workers) {
            what.workers = workers;
            cases.push_back(what);
          }
        } else if (pattern == Pattern::kPersist) {
          for (auto fsync : options.fsyncs) {
            what.fsync = fsync;
            cases.push_back(what);
          }
        } else {
          cases.push_back(what);
        }
      }
    }
    // The bounded-memory run: once, at the largest reliable size, on the first transport.
    if (pattern == Pattern::kReliable && options.slow_run) {
      const auto sizes = bench::sizes_for(options, pattern);
      cases.push_back({bench::System::kWeft, pattern, bench::transports_for(options, pattern).front(),
                       *std::max_element(sizes.begin(), sizes.end()), 0, bench::Fsync::kAlways, true});
    }
  }
  return cases;
}

// The systems a case runs on: raw libzmq everywhere but persist and the bounded-memory run; NATS JetStream
// only beside persist, once per size (with the first fsync policy's case).
std::vector<bench::System> systems_for(const bench::Case& what, const std::vector<bench::System>& order,
                                       const BenchOptions& options) {
  using bench::System;
  std::vector<System> systems;
  for (System system : order) {
    if (what.pattern == bench::Pattern::kPersist) {
      if (system == System::kWeft || (system == System::kNats && what.fsync == options.fsyncs.front())) {
        systems.push_back(system);
      }
    } else if (system == System::kWeft || (system == System::kZmq && !what.slow)) {
      systems.push_back(system);
    }
  }
  return systems;
}

}  // namespace

int run_bench(int argc, char** argv) {
  po::options_description flags = describe_flags();
  BenchOptions options;
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(flags).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("%s%s\n", kUsage, kAbout);
      std::cout << flags;
      std::printf("%s", kExamples);
      return kExitOk;
    }
    options = to_options(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "weft bench: %s (see `weft bench --help`)\n", e.what());
    return kExitUsage;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "weft bench: %s (see `weft bench --help`)\n", e.what());
    return kExitUsage;
  }

  const std::vector<bench::Case> cases = plan(options);
  std::vector<bench::Sample> samples;
  std::size_t per_repeat = 0;
  for (const auto& what : cases) per_repeat += systems_for(what, options.systems, options).size();
  const std::size_t total = per_repeat * static_cast<std::size_t>(options.repeats);
  std::size_t done = 0;
  for (int repeat = 1; repeat <= options.repeats; ++repeat) {
    // The systems take turns, and swap who goes first every repeat, so neither always runs on a warmer or a
    // busier machine.
    std::vector<bench::System> order = options.systems;
    if (repeat % 2 == 0) std::reverse(order.begin(), order.end());
    for (bench::Case what : cases) {
      for (auto system : systems_for(what, order, options)) {
        what.system = system;
        std::vector<bench::Sample> taken = bench::measure(what, options, repeat);
        ++done;
        for (auto& sample : taken) {
          std::fprintf(stderr, "[%zu/%zu] repeat %d, %s: %s\n", done, total, repeat,
                       bench::describe(sample.what).c_str(), progress_figure(sample).c_str());
          samples.push_back(std::move(sample));
        }
      }
    }
  }

  std::vector<bench::Row> rows = bench::summarize(samples, options);
  if (options.json) {
    bench::print_json(stdout, rows, options);
  } else {
    std::printf("\n");
    bench::print_table(stdout, rows, options);
  }
  return bench::all_clean(rows) ? kExitOk : kExitFailure;
}

}  // namespace weft::cli
