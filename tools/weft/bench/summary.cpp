#include "bench/summary.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

namespace weft::cli::bench {

namespace {

auto order_key(const Case& c) {
  return std::make_tuple(static_cast<int>(c.pattern), c.slow, static_cast<int>(c.transport), c.size, c.workers,
                         static_cast<int>(c.fsync), static_cast<int>(c.system));
}

const Sample* find_sample(const std::vector<Sample>& samples, const Case& what, int repeat) {
  for (const auto& s : samples) {
    if (s.what == what && s.repeat == repeat && s.status.is_ok()) return &s;
  }
  return nullptr;
}

template <typename Get>
Spread spread_over(const std::vector<const Sample*>& ok, Get get) {
  std::vector<double> values;
  for (const Sample* s : ok) values.push_back(get(*s));
  return spread_of(std::move(values));
}

}  // namespace

std::vector<Row> summarize(const std::vector<Sample>& samples, const BenchOptions& /*options*/) {
  std::vector<Case> cases;
  for (const auto& s : samples) {
    if (std::find(cases.begin(), cases.end(), s.what) == cases.end()) cases.push_back(s.what);
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return order_key(a) < order_key(b); });

  std::vector<Row> rows;
  for (const Case& what : cases) {
    Row row;
    row.what = what;
    std::vector<const Sample*> ok;
    for (const auto& s : samples) {
      if (!(s.what == what)) continue;
      row.lost += s.lost;
      row.drops += s.drops;
      row.redelivered += s.redelivered;
      row.resend_requests += s.resend_requests;
      if (s.status.is_ok()) {
        ok.push_back(&s);
      } else {
        ++row.failures;
        row.errors.push_back("repeat " + std::to_string(s.repeat) + ": " + s.status.to_string());
      }
    }
    row.runs = ok.size();
    const bool round_trips = what.pattern == Pattern::kRtt || what.pattern == Pattern::kReqRep;
    // What was done, rather than asked for: --duration may have cut a repeat short.
    for (const Sample* s : ok) {
      std::uint64_t done = round_trips ? s->round_trips : s->sent;
      row.count = s == ok.front() ? done : std::min(row.count, done);
      row.outbox_max_messages = s->outbox_max_messages;
      row.batch = s->batch;
      row.window = s->window;
    }
    if (is_throughput(what.pattern)) {
      row.msgs_per_s = spread_over(ok, [](const Sample& s) { return s.msgs_per_s; });
      row.mb_per_s = spread_over(ok, [](const Sample& s) { return s.mb_per_s; });
    }
    if (what.pattern == Pattern::kPubSub && what.system == System::kWeft) {
      row.mean_batch = spread_over(ok, [](const Sample& s) { return s.mean_batch; });
    }
    if (has_latency(what.pattern) && (what.system != System::kZmq || round_trips)) {
      row.p50_us = spread_over(ok, [](const Sample& s) { return s.p50_us; });
      row.p99_us = spread_over(ok, [](const Sample& s) { return s.p99_us; });
      row.p999_us = spread_over(ok, [](const Sample& s) { return s.p999_us; });
    }
    const bool at_least_once = what.pattern == Pattern::kReliable || what.pattern == Pattern::kQueue;
    if (at_least_once && what.system == System::kWeft) {
      row.peak_rss_kib = spread_over(ok, [](const Sample& s) { return static_cast<double>(s.peak_rss_kib); });
      row.rss_start_kib = spread_over(ok, [](const Sample& s) { return static_cast<double>(s.rss_start_kib); });
    }

    // The baseline: raw libzmq at the same pattern, transport, size and workers; for replay, the persisted
    // publish that wrote the stream.
    std::optional<Case> base;
    if (what.pattern == Pattern::kReplay) {
      base = what;
      base->pattern = Pattern::kPersist;
    } else if (what.pattern == Pattern::kPersist && what.system == System::kWeft) {
      // NATS JetStream, when the build has it: its one row per size (tcp, fsync os).
      base = Case{System::kNats, Pattern::kPersist, Transport::kTcp, what.size, 0, Fsync::kOs, false};
    } else if (what.system == System::kWeft && what.pattern != Pattern::kPersist && !what.slow) {
      base = what;
      base->system = System::kZmq;
    }
    if (base) {
      std::vector<double> ratios;
      std::vector<double> p99_ratios;
      for (const Sample* s : ok) {
        const Sample* other = find_sample(samples, *base, s->repeat);
        if (other == nullptr) continue;
        if (!round_trips) {
          if (other->msgs_per_s > 0) ratios.push_back(s->msgs_per_s / other->msgs_per_s);
        } else {
          if (other->p50_us > 0) ratios.push_back(s->p50_us / other->p50_us);
          if (other->p99_us > 0) p99_ratios.push_back(s->p99_us / other->p99_us);
        }
      }
      row.ratio = spread_of(std::move(ratios));
      row.p99_ratio = spread_of(std::move(p99_ratios));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

bool all_clean(const std::vector<Row>& rows) noexcept {
  return std::all_of(rows.begin(), rows.end(),
                     [](const Row& r) { return r.failures == 0 && r.lost == 0 && r.drops == 0; });
}

}  // namespace weft::cli::bench
