// From the samples of every repeat to one row per case: medians and ranges over the repeats, and Weft's
// ratio to raw libzmq, taken within each repeat and then the median.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_options.hpp"
#include "bench/measure.hpp"
#include "bench/statistics.hpp"

namespace weft::cli::bench {

struct Row {
  Case what;
  std::uint64_t count = 0;   // messages sent (pubsub) or round trips timed (rtt): the fewest over the repeats
  std::size_t runs = 0;      // repeats that produced a figure
  std::size_t failures = 0;  // repeats that did not
  std::uint64_t lost = 0;    // over every repeat
  std::uint64_t drops = 0;   // over every repeat
  Spread msgs_per_s, mb_per_s, mean_batch;             // pubsub
  Spread p50_us, p99_us, p999_us;                      // rtt, reqrep; reliable and persist (acknowledgement latency)
  Spread peak_rss_kib, rss_start_kib;                  // Weft reliable and queue: the publisher's memory
  std::uint64_t outbox_max_messages = 0;               // Weft reliable and queue: the publisher's outbox limit
  std::uint64_t batch = 0, window = 0;                 // persist: envelopes per append, appends in flight
  std::uint64_t redelivered = 0, resend_requests = 0;  // Weft reliable and queue: over every repeat
  // Weft rows: Weft / raw libzmq in the same repeat (msgs/s for pubsub, reliable and queue; p50 for rtt and
  // reqrep), over the repeats in which both produced a figure. Empty (count 0) on raw libzmq's rows, on the
  // slow-subscriber run. On replay rows: replay msgs/s / persisted publish msgs/s. On Weft's persist rows:
  // Weft / NATS JetStream (when measured) at the same size.
  Spread ratio;
  Spread p99_ratio;                 // rtt: the same for p99
  std::vector<std::string> errors;  // one per failed repeat
};

// Rows in the order pattern, transport, size, then raw libzmq before Weft.
std::vector<Row> summarize(const std::vector<Sample>& samples, const BenchOptions& options);

// True when every repeat of every row produced a figure and nothing was lost or dropped.
bool all_clean(const std::vector<Row>& rows) noexcept;

}  // namespace weft::cli::bench
