// What the bench's Weft and raw-libzmq peer roles share: the node options a PeerSpec asks for, checking the
// endpoints a peer was given, elapsed seconds, and the drop counters every Weft row reports.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench/peer_spec.hpp"
#include "bench/process.hpp"
#include "weft/weft.hpp"

namespace weft::cli::bench {

// A node named after the role, with the spin and batch limits the spec overrides (the library's otherwise).
weft::NodeOptions node_options(const PeerSpec& spec);

// invalid-argument unless `endpoints` holds exactly `count`; `what` names them in the message.
Status expect_endpoints(const std::vector<std::string>& endpoints, std::size_t count, std::string_view what);

double seconds_between(BenchClock::time_point from, BenchClock::time_point to);

// The node's counted drops and refusals; each must be 0 for a lossless run.
void add_drop_counters(Report& report, const weft::NodeStats& stats);

}  // namespace weft::cli::bench
