// What the bench's Weft and raw-libzmq peer roles share: the node options a PeerSpec asks for, checking the
// endpoints a peer was given, elapsed seconds, and the drop counters every Weft row reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/peer_spec.hpp"
#include "bench/process.hpp"
#include "bench/statistics.hpp"
#include "weft/weft.hpp"

namespace weft::cli::bench {

// A node named after the role, with the spin and batch limits the spec overrides (the library's otherwise).
weft::NodeOptions node_options(const PeerSpec& spec);

// invalid-argument unless `endpoints` holds exactly `count`; `what` names them in the message.
Status expect_endpoints(const std::vector<std::string>& endpoints, std::size_t count, std::string_view what);

double seconds_between(BenchClock::time_point from, BenchClock::time_point to);

// The node's counted drops and refusals; each must be 0 for a lossless run.
void add_drop_counters(Report& report, const weft::NodeStats& stats);

// Times one round trip at a time, as the blocking requester roles do: `round_trip(i)` makes the i-th and
// returns its Status (an error ends the run with it). The first spec.warmup are not kept; spec.duration counts
// from the first reply. The samples are in microseconds.
template <typename RoundTrip>
Result<std::vector<double>> time_round_trips(const PeerSpec& spec, RoundTrip&& round_trip) {
  std::vector<double> samples_us;
  samples_us.reserve(spec.count);
  auto deadline = BenchClock::time_point::max();
  for (std::uint64_t i = 0; samples_us.size() < spec.count; ++i) {
    const auto start = BenchClock::now();
    if (start >= deadline) break;
    if (Status s = round_trip(i); !s) return s;
    const auto end = BenchClock::now();
    if (i >= spec.warmup) samples_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    if (i == 0) deadline = end + spec.duration;
  }
  return samples_us;
}

// A requester's result line: how many round trips, and their percentiles (sorts `samples_us`).
Report round_trip_result(std::vector<double>& samples_us);

}  // namespace weft::cli::bench
