// How `weft bench` shows its rows: a table for people, or one JSON object per line for scripts.
//
// JSON fields (a field that does not apply to the row's pattern is left out):
//   system "weft"|"zmq", pattern "pubsub"|"rtt", transport "tcp"|"ipc", size (payload bytes),
//   count (messages sent or round trips timed: the fewest over the repeats), repeats (of the run), runs
//   (repeats that produced the figure), failures,
//   pubsub: msgs_per_s, mb_per_s (10^6 payload bytes), each with _min and _max over the repeats; lost
//           (sent - received, over every repeat), drops (Weft's counters of dropped or refused messages),
//           mean_batch (Weft: envelopes per ZeroMQ message),
//   rtt:    p50_us, p99_us, p999_us, each with _min and _max,
//   reliable, queue, persist, replay: msgs_per_s, mb_per_s as for pubsub (reliable and queue: acknowledged
//           messages per second at the publisher; persist: appends acknowledged by weftd; replay: messages
//           read back), lost; reliable and persist: p50_us, p99_us, p999_us (publish -> on_complete;
//           APPEND -> APPENDED); Weft reliable and queue: peak_rss_kib, rss_start_kib, outbox_max_messages;
//           redelivered, resend_requests (over every repeat); queue: workers; persist and replay: fsync
//           ("always"|"interval"|"os"), batch, window; reliable: slow_subscriber (true on the bounded-memory run, which
//           has no ratio),
//   reqrep: as rtt (Node::request() round trips vs raw REQ/REP),
//   ratio_to_raw (+ _min, _max): Weft / raw libzmq within a repeat, the median over the repeats: msgs/s for
//           pubsub, reliable and queue (above 1: Weft is faster), p50 for rtt and reqrep (below 1: Weft is
//           faster); null where there is no raw baseline (zmq rows, persist, replay, the slow run);
//           p99_ratio_to_raw for rtt and reqrep; replay rows: ratio_to_persist (replay / persisted publish),
//   pinned (bool), placement ("pub=cpu0,sub=cpu1", "req=cpu0,rep=cpu1" or "os").
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_options.hpp"
#include "bench/human_rate.hpp"
#include "bench/summary.hpp"

namespace weft::cli::bench {

// Where the two processes of a pattern ran: "pub=cpu0,sub=cpu1", or "os" when the kernel chose.
std::string placement_of(const BenchOptions& options, Pattern pattern);

void print_table(std::FILE* out, const std::vector<Row>& rows, const BenchOptions& options);
void print_json(std::FILE* out, const std::vector<Row>& rows, const BenchOptions& options);


}  // namespace weft::cli::bench
