// The peer processes of `weft bench`: the hidden verb `weft bench-peer ROLE ...` that the bench starts, and
// the roles it plays (peer_spec.hpp lists them). Each role prints its lines through ParentLink and returns
// ok, or why it failed; the verb turns a failure into an "error" line and exit status 1.
#pragma once

#include <cstdint>

#include "bench/peer_spec.hpp"
#include "weft/status.hpp"

namespace weft::cli {

// `weft bench-peer ROLE --flag value ...`: not for people; `weft bench` starts it.
int run_bench_peer(int argc, char** argv);

}  // namespace weft::cli

namespace weft::cli::bench {

// Weft (weft_peers.cpp).
Status run_weft_publisher(const PeerSpec& spec);
Status run_weft_subscriber(const PeerSpec& spec);
Status run_weft_requester(const PeerSpec& spec);
Status run_weft_responder(const PeerSpec& spec);

// Raw libzmq, the baseline (zmq_peers.cpp).
Status run_zmq_publisher(const PeerSpec& spec);
Status run_zmq_subscriber(const PeerSpec& spec);
Status run_zmq_requester(const PeerSpec& spec);
Status run_zmq_responder(const PeerSpec& spec);
Status run_zmq_pusher(const PeerSpec& spec);
Status run_zmq_puller(const PeerSpec& spec);

// At least once and request/reply (reliable_peers.cpp).
Status run_weft_reliable_publisher(const PeerSpec& spec);
Status run_weft_durable_subscriber(const PeerSpec& spec);
Status run_weft_request(const PeerSpec& spec);
Status run_weft_replier(const PeerSpec& spec);

// Through weftd (persist_peers.cpp).
Status run_weft_appender(const PeerSpec& spec);
Status run_weft_replayer(const PeerSpec& spec);

// NATS JetStream (nats_peers.cpp; without WEFT_BENCH_NATS, a stub that says so).
Status run_nats_jetstream(const PeerSpec& spec);

// Peak and current resident set of this process (VmHWM, VmRSS in /proc/self/status), KiB; 0 when unknown.
std::uint64_t peak_rss_kib();
std::uint64_t current_rss_kib();

}  // namespace weft::cli::bench
