#include "bench/peer_support.hpp"

#include <chrono>

namespace weft::cli::bench {

weft::NodeOptions node_options(const PeerSpec& spec) {
  weft::NodeOptions options;
  options.name = "bench-" + std::string(name_of(spec.role));
  if (spec.spin_us) {
    options.io_spin = std::chrono::microseconds(*spec.spin_us);
    options.dispatch_spin = options.io_spin;
  }
  if (spec.batch_max_bytes) {  // over every transport: the experiment replaces the ipc limit too
    options.batch_max_bytes = static_cast<std::size_t>(*spec.batch_max_bytes);
    options.ipc_batch_max_bytes = options.batch_max_bytes;
  }
  return options;
}

Status expect_endpoints(const std::vector<std::string>& endpoints, std::size_t count, std::string_view what) {
  if (endpoints.size() == count) return Status::ok();
  return Status::invalid_argument(std::string(what) + ": expected " + std::to_string(count) + " endpoint(s), got " +
                                  std::to_string(endpoints.size()));
}

double seconds_between(BenchClock::time_point from, BenchClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

void add_drop_counters(Report& report, const weft::NodeStats& stats) {
  report.add("dropped_hwm", stats.dropped_hwm)
      .add("send_errors", stats.send_errors)
      .add("rejected", stats.rejected)
      .add("malformed", stats.malformed.total())
      .add("handler_exceptions", stats.handler_exceptions);
}

Report round_trip_result(std::vector<double>& samples_us) {
  const Percentiles p = percentiles(samples_us);
  Report result("result");
  result.add("round_trips", std::uint64_t{samples_us.size()})
      .add("p50_us", p.p50)
      .add("p99_us", p.p99)
      .add("p999_us", p.p999)
      .add("mean_us", p.mean)
      .add("max_us", p.max);
  return result;
}

}  // namespace weft::cli::bench
