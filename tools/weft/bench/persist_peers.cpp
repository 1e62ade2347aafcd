// The bench's producer and reader of a weftd stream, through SidecarClient as `weft stream pub` and
// `weft sub --stream` use it.
//
// The appender pipelines as a real producer would: APPENDs of `batch` envelopes each, up to `window` of them
// in flight; every envelope is encoded as a node would send it. One untimed APPEND first makes sure weftd and
// the stream answer. Throughput is acknowledged messages from the first timed APPEND to the last
// acknowledgement; latency is each APPEND's send -> APPENDED (durable under the stream's fsync policy).
//
// The replayer pings weftd once (untimed), then starts an ephemeral consumer at the stream's first offset and
// acknowledges every delivery (the client batches the acknowledgements into ranges), counting until `count`
// messages arrived: the read-back rate of a stored stream. Over ipc the client reads the records from the
// segment files itself (DELIVER_FILE), as every consumer on weftd's host does by default. Credit 16,384: replay is paced by credit round trips below that (1,024 gave ~60% of its rate),
// and no faster above it; the bench's messages are small, so what it holds in flight stays small.
#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/peers.hpp"
#include "bench/process.hpp"
#include "bench/statistics.hpp"
#include "sidecar/sidecar_client.hpp"
#include "sidecar_cli.hpp"

namespace weft::cli::bench {

namespace {

namespace sc = detail::sidecar;
using std::chrono::duration;

constexpr std::uint32_t kReplayCredit = 16384;

Result<std::unique_ptr<sc::SidecarClient>> connect_to(const PeerSpec& spec) {
  if (spec.connect.size() != 1) return Status::invalid_argument("connect: expected weftd's endpoint");
  sc::SidecarClientOptions options;
  options.endpoint = spec.connect.front();
  options.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kSetupTimeout);
  return sc::SidecarClient::connect(options);
}

}  // namespace

Status run_weft_appender(const PeerSpec& spec) {
  auto connected = connect_to(spec);
  if (!connected) return connected.status().with_context("connecting to weftd");
  sc::SidecarClient& client = **connected;
  const std::vector<std::byte> payload(spec.size, std::byte{'x'});
  std::uint64_t sequence = 0;

  {
    const auto envelope = make_envelope(kPersistSubject, payload, {}, ++sequence);
    const std::span<const std::byte> one[] = {envelope};
    auto warm = client.append_wait(kPersistSubject, one, kSetupTimeout);
    if (!warm) return warm.status().with_context("the first (untimed) append");
  }

  std::vector<double> latencies_us;
  std::uint64_t queued = 0;        // messages handed to append()
  std::uint64_t acknowledged = 0;  // messages weftd said are durable
  std::uint64_t in_flight = 0;     // APPENDs waiting for their answer
  std::optional<Status> failure;
  BenchClock::time_point last_ack;
  std::vector<std::vector<std::byte>> batch;
  std::vector<std::span<const std::byte>> spans;
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  while (acknowledged < queued || queued < spec.count) {
    const bool may_send = queued < spec.count && BenchClock::now() < deadline;
    while (may_send && in_flight < spec.window && queued < spec.count && !failure) {
      const std::uint64_t n = std::min<std::uint64_t>(spec.batch, spec.count - queued);
      batch.clear();
      spans.clear();
      for (std::uint64_t i = 0; i < n; ++i) batch.push_back(make_envelope(kPersistSubject, payload, {}, ++sequence));
      for (const auto& envelope : batch) spans.emplace_back(envelope);
      const auto sent_at = BenchClock::now();
      // Counted first: an append that fails at once runs its callback inside the call.
      queued += n;
      ++in_flight;
      Status status = client.append(kPersistSubject, spans, [&, n, sent_at](const Status& s, const sc::AppendAck&) {
        const auto now = BenchClock::now();
        --in_flight;
        if (!s) {
          if (!failure) failure = s;
          return;
        }
        acknowledged += n;
        last_ack = now;
        latencies_us.push_back(duration<double, std::micro>(now - sent_at).count());
      });
      if (!status) return status.with_context("appending");
    }
    if (failure) return failure->with_context("an append failed");
    if (!may_send && in_flight == 0) break;  // past the duration: what was sent is all answered
    const std::uint64_t before = in_flight;
    if (!client.run_until([&] { return in_flight < before || failure.has_value(); }, kQuietTimeout)) {
      return Status::timeout("weftd answered no append for " + std::to_string(kQuietTimeout.count()) + " ms (" +
                             std::to_string(in_flight) + " in flight)");
    }
  }
  Percentiles p = percentiles(latencies_us);
  Report result("result");
  result.add("appended", acknowledged)
      .add("appends", std::uint64_t{latencies_us.size()})
      .add("seconds", acknowledged > 0 ? duration<double>(last_ack - start).count() : 0.0)
      .add("p50_us", p.p50)
      .add("p99_us", p.p99)
      .add("p999_us", p.p999)
      .add("batch", spec.batch)
      .add("window", spec.window);
  ParentLink::say(result.line());
  return Status::ok();
}

Status run_weft_replayer(const PeerSpec& spec) {
  auto connected = connect_to(spec);
  if (!connected) return connected.status().with_context("connecting to weftd");
  sc::SidecarClient& client = **connected;
  sc::ConsumeFields fields;
  fields.stream = std::string(kPersistStream);
  fields.start = std::string(sc::kStartFirst);
  fields.ack = true;
  fields.credit = kReplayCredit;
  std::uint64_t received = 0;
  std::uint64_t bytes = 0;
  std::optional<Status> ended;
  sc::ConsumerHandlers handlers;
  // No clock read per message (at millions a second it shows): the last one arrived in the do_work() after
  // which run_until() below returns, and the time is taken then.
  handlers.on_message = [&](const sc::Delivery& delivery) {
    (void)client.ack(delivery.consumer, delivery.offset, delivery.attempt);
    ++received;
    bytes += delivery.envelope.size();
  };
  handlers.on_end = [&](const Status& status) { ended = status; };
  // One untimed PING first, as the appender's untimed APPEND: the DEALER connects in the background, and a
  // CONSUME sent before it has would wait for the client's send retry (5 ms), a startup cost, not reading.
  auto pong = client.call<sc::PongFields>(sc::Kind::kPing, sc::NoFields{}, kSetupTimeout);
  if (!pong) return pong.status().with_context("the first (untimed) ping");
  const auto start = BenchClock::now();
  auto consumer = client.consume(fields, handlers);
  if (!consumer) return consumer.status().with_context("starting the consumer");
  std::uint64_t seen = 0;
  while (received < spec.count) {
    (void)client.run_until([&] { return received >= spec.count || received != seen || ended.has_value(); },
                           kQuietTimeout);
    if (ended) return ended->with_context("weftd ended the consumer");
    if (received == seen) {
      return Status::timeout("replay stalled at " + std::to_string(received) + " of " + std::to_string(spec.count) +
                             " messages");
    }
    seen = received;
  }
  const auto last = BenchClock::now();
  (void)client.unconsume(*consumer);
  Report result("result");
  result.add("received", received).add("envelope_bytes", bytes).add("seconds", duration<double>(last - start).count());
  ParentLink::say(result.line());
  return Status::ok();
}

}  // namespace weft::cli::bench
