// One measurement: start the two peers of a case, hand the binding peer's endpoint to the other, collect
// their figures, and see both exit (or kill them by pid).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_options.hpp"
#include "weft/status.hpp"

namespace weft::cli::bench {

struct Case {
  System system = System::kWeft;
  Pattern pattern = Pattern::kPubSub;
  Transport transport = Transport::kTcp;
  std::size_t size = 0;
  int workers = 0;               // kQueue: workers (PULL sockets for raw libzmq); 0 otherwise
  Fsync fsync = Fsync::kAlways;  // kPersist, kReplay: the stream's policy
  bool slow = false;             // kReliable: the slow-subscriber run (peak RSS), Weft only

  friend bool operator==(const Case&, const Case&) = default;
};

// What one measurement found.
struct Sample {
  Case what;
  int repeat = 0;
  Status status;  // ok, or why there is no figure

  // pubsub
  std::uint64_t sent = 0;      // messages the publisher got accepted
  std::uint64_t received = 0;  // messages the subscriber counted
  std::uint64_t lost = 0;      // sent - received: must be 0
  std::uint64_t drops = 0;     // Weft's counters of dropped, refused or malformed messages, both sides
  double msgs_per_s = 0;       // at the subscriber, from its first message to the end marker
  double mb_per_s = 0;         // payload bytes only, 10^6 per MB
  double mean_batch = 0;       // Weft: envelopes per ZeroMQ message the publisher sent

  // rtt
  std::uint64_t round_trips = 0;  // timed, after the warm-up
  double p50_us = 0;
  double p99_us = 0;
  double p999_us = 0;

  // reliable, queue: the publisher's memory (KiB) and outbox limit; persist: the pipeline
  std::uint64_t peak_rss_kib = 0;
  std::uint64_t rss_start_kib = 0;
  std::uint64_t outbox_max_messages = 0;
  std::uint64_t batch = 0;
  std::uint64_t window = 0;
  // reliable, queue (Weft): deliveries the publisher made again, and gaps or lost tails the subscribers noticed
  std::uint64_t redelivered = 0;
  std::uint64_t resend_requests = 0;
};

// Takes the measurement. Never throws for the peers' failures: they end up in Sample::status. One sample,
// except for kPersist: the persisted publish and then its replay (a kReplay sample).
std::vector<Sample> measure(const Case& what, const BenchOptions& options, int repeat);

// "tcp 128 B weft pubsub", for progress lines and errors.
std::string describe(const Case& what);
// "16 B", "1 KiB", "64 KiB".
std::string size_text(std::size_t bytes);

}  // namespace weft::cli::bench
