#include "bench/output.hpp"

#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "weft/version.hpp"

namespace weft::cli::bench {

namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string micros(double us) {
  return us >= 100 ? format("%.0f", us) : format("%.1f", us);
}
std::string megabytes(double mb) {
  return mb >= 100 ? format("%.0f", mb) : format("%.1f", mb);
}
std::string ratio(double r) {
  return format("%.2f", r);
}

// "median (min..max)", or the median alone when there was one repeat; "-" when there is no figure.
std::string spread_text(const Spread& s, const std::function<std::string(double)>& show) {
  if (s.count == 0) return "-";
  if (s.count == 1) return show(s.median);
  return show(s.median) + " (" + show(s.min) + ".." + show(s.max) + ")";
}

// Prints left-aligned columns, two spaces apart.
void print_columns(std::FILE* out, const std::vector<std::vector<std::string>>& lines) {
  std::vector<std::size_t> widths;
  for (const auto& line : lines) {
    if (widths.size() < line.size()) widths.resize(line.size(), 0);
    for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::fprintf(out, "%s\n", text.c_str());
  }
}

int cpu_count() {
  return static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
}

std::string zmq_version_text() {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

class JsonLine {
 public:
  JsonLine& text(const char* key, std::string_view value) {
    field(key);
    line_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') line_ += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) line_ += c;
    }
    line_ += '"';
    return *this;
  }
  JsonLine& number(const char* key, double value) {
    field(key);
    if (!std::isfinite(value)) {
      line_ += "null";
    } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
      line_ += format("%.0f", value);
    } else {
      line_ += format("%.4g", value);
    }
    return *this;
  }
  JsonLine& boolean(const char* key, bool value) {
    field(key);
    line_ += value ? "true" : "false";
    return *this;
  }
  JsonLine& null(const char* key) {
    field(key);
    line_ += "null";
    return *this;
  }
  JsonLine& spread(const char* key, const Spread& s, int decimals) {
    if (s.count == 0) return null(key);
    std::string k(key);
    auto rounded = [decimals](double v) {
      double scale = std::pow(10.0, decimals);
      return std::round(v * scale) / scale;
    };
    number(key, rounded(s.median));
    number((k + "_min").c_str(), rounded(s.min));
    number((k + "_max").c_str(), rounded(s.max));
    return *this;
  }
  [[nodiscard]] std::string str() const { return "{" + line_ + "}"; }

 private:
  void field(const char* key) {
    if (!line_.empty()) line_ += ',';
    line_ += '"';
    line_ += key;
    line_ += "\":";
  }
  std::string line_;
};

void print_errors(std::FILE* out, const std::vector<Row>& rows) {
  bool any = false;
  for (const auto& row : rows) {
    for (const auto& error : row.errors) {
      if (!any) std::fprintf(out, "\nFailed measurements:\n");
      any = true;
      std::fprintf(out, "  %s, %s\n", describe(row.what).c_str(), error.c_str());
    }
  }
  for (const auto& row : rows) {
    if (row.lost > 0 || row.drops > 0) {
      std::fprintf(out, "\nLOSS: %s lost %llu and dropped %llu message(s): the run was not lossless.\n",
                   describe(row.what).c_str(), static_cast<unsigned long long>(row.lost),
                   static_cast<unsigned long long>(row.drops));
    }
  }
}

std::string kib_as_mib(double kib) {
  return format("%.1f", kib / 1024.0);
}

bool any_of_pattern(const std::vector<Row>& rows, Pattern pattern, bool slow = false) {
  return std::any_of(rows.begin(), rows.end(),
                     [&](const Row& r) { return r.what.pattern == pattern && r.what.slow == slow; });
}

// The tables of the patterns beyond pubsub and rtt.
void print_more_tables(std::FILE* out, const std::vector<Row>& rows, const BenchOptions& options) {
  auto system_of = [](const Row& r) { return std::string(name_of(r.what.system)); };
  auto weft = [](const Row& r) { return r.what.system == System::kWeft; };
  if (any_of_pattern(rows, Pattern::kReliable)) {
    std::fprintf(out,
                 "\nAt least once, publisher -> durable subscriber (zmq: PUB/SUB, the same count, lossless). msgs/s:\n"
                 "  acknowledged at the publisher, first publish to last acknowledgement; p50/p99: publish() ->\n"
                 "  on_complete, under that load (the outbox as full as the publisher keeps it); peak RSS: the\n"
                 "  publisher's VmHWM.\n\n");
    std::vector<std::vector<std::string>> lines{{"transport", "size", "system", "msgs/s", "MB/s", "x raw", "p50 us",
                                                 "p99 us", "peak RSS MiB", "lost", "placement"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kReliable || r.what.slow) continue;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size), system_of(r),
                       spread_text(r.msgs_per_s, human_rate), spread_text(r.mb_per_s, megabytes),
                       weft(r) ? spread_text(r.ratio, ratio) : "", weft(r) ? spread_text(r.p50_us, micros) : "",
                       weft(r) ? spread_text(r.p99_us, micros) : "",
                       weft(r) ? spread_text(r.peak_rss_kib, kib_as_mib) : "", std::to_string(r.lost),
                       placement_of(options, Pattern::kReliable)});
    }
    print_columns(out, lines);
  }
  if (any_of_pattern(rows, Pattern::kReliable, true)) {
    std::fprintf(
        out,
        "\nBounded memory: the same publisher for %.1f s against a durable subscriber whose handler sleeps\n"
        "  %lld us per message; publish() blocks on the full outbox. RSS of the publisher, MiB.\n\n",
        std::chrono::duration<double>(std::min<std::chrono::milliseconds>(options.duration, kSlowRunDuration)).count(),
        static_cast<long long>(kSlowHandlerSleep.count()));
    std::vector<std::vector<std::string>> lines{
        {"transport", "size", "outbox limit", "published", "acknowledged/s", "RSS before", "peak RSS"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kReliable || !r.what.slow) continue;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size),
                       std::to_string(r.outbox_max_messages) + " msgs", human_rate(static_cast<double>(r.count)),
                       spread_text(r.msgs_per_s, human_rate), spread_text(r.rss_start_kib, kib_as_mib),
                       spread_text(r.peak_rss_kib, kib_as_mib)});
    }
    print_columns(out, lines);
  }
  if (any_of_pattern(rows, Pattern::kQueue)) {
    std::fprintf(out,
                 "\nWork queue, publisher -> queue group of N workers, at least once (zmq: PUSH to N PULL sockets).\n"
                 "  Weft: acknowledged msgs/s at the publisher; zmq: received msgs/s over all pullers.\n\n");
    std::vector<std::vector<std::string>> lines{
        {"transport", "size", "workers", "system", "msgs/s", "MB/s", "x raw", "peak RSS MiB", "lost", "placement"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kQueue) continue;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size), std::to_string(r.what.workers),
                       system_of(r), spread_text(r.msgs_per_s, human_rate), spread_text(r.mb_per_s, megabytes),
                       weft(r) ? spread_text(r.ratio, ratio) : "",
                       weft(r) ? spread_text(r.peak_rss_kib, kib_as_mib) : "", std::to_string(r.lost),
                       placement_of(options, Pattern::kQueue)});
    }
    print_columns(out, lines);
  }
  if (any_of_pattern(rows, Pattern::kReqRep)) {
    std::fprintf(out,
                 "\nRequest/reply, Node::request() -> handler's Node::reply(), one in flight (zmq: REQ/REP);\n"
                 "  microseconds. x raw below 1.00: Weft's round trip is shorter.\n\n");
    std::vector<std::vector<std::string>> lines{{"transport", "size", "system", "round trips", "p50 us", "p99 us",
                                                 "p99.9 us", "x raw p50", "x raw p99", "placement"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kReqRep) continue;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size), system_of(r),
                       human_rate(static_cast<double>(r.count)), spread_text(r.p50_us, micros),
                       spread_text(r.p99_us, micros), spread_text(r.p999_us, micros),
                       weft(r) ? spread_text(r.ratio, ratio) : "", weft(r) ? spread_text(r.p99_ratio, ratio) : "",
                       placement_of(options, Pattern::kReqRep)});
    }
    print_columns(out, lines);
  }
  if (any_of_pattern(rows, Pattern::kPersist)) {
    std::fprintf(out,
                 "\nPersisted publish through weftd (ipc), pipelined: APPENDs of %llu envelopes, %llu in flight;\n"
                 "  msgs/s acknowledged durable under the stream's fsync policy; p50/p99: APPEND -> APPENDED.\n"
                 "  Replay: an ephemeral consumer reads the stream back from its first offset (from the segment\n"
                 "  files itself, as any consumer on weftd's host does: docs/sidecar.md). nats: JetStream\n"
                 "  (file storage, acknowledged before its fsync, like os), the same messages in flight; its ack\n"
                 "  latency is per message, Weft's per APPEND.\n\n",
                 static_cast<unsigned long long>(options.append_batch),
                 static_cast<unsigned long long>(options.append_window));
    std::vector<std::vector<std::string>> lines{{"pattern", "size", "system", "fsync", "msgs/s", "MB/s", "ack p50 us",
                                                 "ack p99 us", "x persist", "x JetStream"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kPersist && r.what.pattern != Pattern::kReplay) continue;
      const bool replay = r.what.pattern == Pattern::kReplay;
      lines.push_back({std::string(name_of(r.what.pattern)), size_text(r.what.size), system_of(r),
                       std::string(name_of(r.what.fsync)), spread_text(r.msgs_per_s, human_rate),
                       spread_text(r.mb_per_s, megabytes), replay ? "" : spread_text(r.p50_us, micros),
                       replay ? "" : spread_text(r.p99_us, micros), replay ? spread_text(r.ratio, ratio) : "",
                       !replay && weft(r) ? spread_text(r.ratio, ratio) : ""});
    }
    print_columns(out, lines);
  }
}

}  // namespace


std::string placement_of(const BenchOptions& options, Pattern pattern) {
  if (!options.pin) return "os";
  const bool round_trips = pattern == Pattern::kRtt || pattern == Pattern::kReqRep;
  const char* sender = round_trips                                                   ? "req"
                       : pattern == Pattern::kPersist || pattern == Pattern::kReplay ? "client"
                                                                                     : "pub";
  const char* receiver = round_trips ? "rep" : pattern == Pattern::kQueue ? "workers" : "sub";
  return std::string(sender) + "=cpu" + std::to_string(kSenderCpu) + "," + receiver + "=cpu" +
         std::to_string(kReceiverCpu);
}

void print_table(std::FILE* out, const std::vector<Row>& rows, const BenchOptions& options) {
  std::fprintf(out, "weft bench: weft %s beside libzmq %s, %d CPUs, %d repeat(s), %s\n", weft::kVersionString,
               zmq_version_text().c_str(), cpu_count(), options.repeats,
               options.pin ? "pinned: publisher/requester on CPU 0, subscriber/responder on CPU 1"
                           : "unpinned: the kernel places the processes");
  std::fprintf(out,
               "Each figure is the median over the repeats (min..max). x raw = Weft's figure / raw libzmq's at the\n"
               "same transport and size, taken within each repeat, then the median over the repeats.\n");

  bool any_pubsub =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.what.pattern == Pattern::kPubSub; });
  if (any_pubsub) {
    std::fprintf(out,
                 "\nThroughput, publisher -> subscriber in two processes, lossless (Weft kBlock, zmq XPUB_NODROP).\n"
                 "  x raw above 1.00: Weft delivers more messages per second than raw libzmq; below, fewer.\n\n");
    std::vector<std::vector<std::string>> lines{
        {"transport", "size", "system", "msgs/s", "MB/s", "x raw", "lost", "drops", "batch", "placement"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kPubSub) continue;
      bool weft = r.what.system == System::kWeft;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size),
                       std::string(name_of(r.what.system)), spread_text(r.msgs_per_s, human_rate),
                       spread_text(r.mb_per_s, megabytes), weft ? spread_text(r.ratio, ratio) : "",
                       std::to_string(r.lost), weft ? std::to_string(r.drops) : "",
                       weft ? spread_text(r.mean_batch, [](double v) { return format("%.1f", v); }) : "",
                       placement_of(options, Pattern::kPubSub)});
    }
    print_columns(out, lines);
  }

  bool any_rtt = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.what.pattern == Pattern::kRtt; });
  if (any_rtt) {
    std::fprintf(out,
                 "\nRound trip, requester -> responder -> requester, one in flight, every round trip timed after %llu\n"
                 "warm-up ones; microseconds. x raw below 1.00: Weft's round trip is shorter than raw libzmq's.\n\n",
                 static_cast<unsigned long long>(options.warmup));
    std::vector<std::vector<std::string>> lines{{"transport", "size", "system", "round trips", "p50 us", "p99 us",
                                                 "p99.9 us", "x raw p50", "x raw p99", "placement"}};
    for (const auto& r : rows) {
      if (r.what.pattern != Pattern::kRtt) continue;
      bool weft = r.what.system == System::kWeft;
      lines.push_back({std::string(name_of(r.what.transport)), size_text(r.what.size),
                       std::string(name_of(r.what.system)), human_rate(static_cast<double>(r.count)),
                       spread_text(r.p50_us, micros), spread_text(r.p99_us, micros), spread_text(r.p999_us, micros),
                       weft ? spread_text(r.ratio, ratio) : "", weft ? spread_text(r.p99_ratio, ratio) : "",
                       placement_of(options, Pattern::kRtt)});
    }
    print_columns(out, lines);
  }
  print_more_tables(out, rows, options);
  print_errors(out, rows);
}

void print_json(std::FILE* out, const std::vector<Row>& rows, const BenchOptions& options) {
  for (const auto& r : rows) {
    JsonLine line;
    line.text("system", name_of(r.what.system))
        .text("pattern", name_of(r.what.pattern))
        .text("transport", name_of(r.what.transport))
        .number("size", static_cast<double>(r.what.size))
        .number("count", static_cast<double>(r.count))
        .number("repeats", options.repeats)
        .number("runs", static_cast<double>(r.runs))
        .number("failures", static_cast<double>(r.failures));
    const Pattern pattern = r.what.pattern;
    const bool weft = r.what.system == System::kWeft;
    if (pattern == Pattern::kQueue) line.number("workers", r.what.workers);
    if (pattern == Pattern::kPersist || pattern == Pattern::kReplay) {
      line.text("fsync", name_of(r.what.fsync))
          .number("batch", static_cast<double>(r.batch))
          .number("window", static_cast<double>(r.window));
    }
    if (pattern == Pattern::kReliable) line.boolean("slow_subscriber", r.what.slow);
    if (is_throughput(pattern)) {
      line.spread("msgs_per_s", r.msgs_per_s, 0)
          .spread("mb_per_s", r.mb_per_s, 1)
          .number("lost", static_cast<double>(r.lost));
    }
    if (r.p50_us.count > 0 || pattern == Pattern::kRtt || pattern == Pattern::kReqRep) {
      line.spread("p50_us", r.p50_us, 1).spread("p99_us", r.p99_us, 1).spread("p999_us", r.p999_us, 1);
    }
    line.number("drops", static_cast<double>(r.drops));
    if (pattern == Pattern::kPubSub && weft) line.spread("mean_batch", r.mean_batch, 1);
    if ((pattern == Pattern::kReliable || pattern == Pattern::kQueue) && weft) {
      line.spread("peak_rss_kib", r.peak_rss_kib, 0)
          .spread("rss_start_kib", r.rss_start_kib, 0)
          .number("outbox_max_messages", static_cast<double>(r.outbox_max_messages))
          .number("redelivered", static_cast<double>(r.redelivered))
          .number("resend_requests", static_cast<double>(r.resend_requests));
    }
    if (pattern == Pattern::kReplay) {
      line.spread("ratio_to_persist", r.ratio, 2).null("ratio_to_raw");
    } else if (pattern == Pattern::kPersist) {
      if (weft && r.ratio.count > 0) line.spread("ratio_to_jetstream", r.ratio, 2);
      line.null("ratio_to_raw");
    } else if (r.ratio.count > 0) {
      // Two decimals as before for pubsub and rtt; three for the new patterns, whose ratios can be small.
      line.spread("ratio_to_raw", r.ratio, pattern == Pattern::kPubSub || pattern == Pattern::kRtt ? 2 : 3);
      if (pattern == Pattern::kRtt || pattern == Pattern::kReqRep) line.spread("p99_ratio_to_raw", r.p99_ratio, 2);
    } else {
      line.null("ratio_to_raw");
    }
    line.boolean("pinned", options.pin).text("placement", placement_of(options, r.what.pattern));
    std::fprintf(out, "%s\n", line.str().c_str());
  }
  std::fflush(out);
  print_errors(stderr, rows);
}

}  // namespace weft::cli::bench
