// NATS JetStream, persist's comparison (WEFT_BENCH_NATS=ON builds, linked with Debian's libnats): the same
// work as the weftd appender and replayer, done as shared/bench/nats_bench does it.
//
// Publish: js_PublishAsync to a file-storage stream with at most `batch` x `window` acknowledgements pending
// (the same number of messages in flight as the weftd appender), timed from the first publish to the last
// acknowledgement; each message's publish -> acknowledgement is timed too (JetStream acknowledges one
// publisher's messages in order). Replay: a pull consumer (AckAll, fetches of 1,000, the last of each acked)
// reads the stream back from its start. Note that nats-server 2.9 acknowledges before any fsync (its file
// store syncs on a timer, not per message): the counterpart of weftd's `os` policy, not of `always`.
#include "bench/peers.hpp"

#ifdef WEFT_BENCH_NATS

#include <nats/nats.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "bench/process.hpp"
#include "bench/statistics.hpp"

namespace weft::cli::bench {

namespace {

using std::chrono::duration;

constexpr int kFetchBatch = 1000;

Status check(natsStatus status, std::string_view what) {
  if (status == NATS_OK) return Status::ok();
  return Status::io_error(std::string(what) + ": " + natsStatus_GetText(status));
}

// What the acknowledgement handler (a libnats thread) records.
struct Acks {
  std::vector<BenchClock::time_point> sent;  // by publish order, sized up front
  std::vector<double> latencies_us;          // by acknowledgement order
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> failed{0};
  BenchClock::time_point last{};
};

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* acks = static_cast<Acks*>(closure);
  const auto now = BenchClock::now();
  if (ack != nullptr) {
    const std::uint64_t n = acks->acknowledged.load(std::memory_order_relaxed);
    if (n < acks->sent.size()) acks->latencies_us[n] = duration<double, std::micro>(now - acks->sent[n]).count();
    acks->last = now;
    acks->acknowledged.store(n + 1, std::memory_order_release);
  } else if (error != nullptr) {
    acks->failed.fetch_add(1, std::memory_order_relaxed);
  }
  natsMsg_Destroy(msg);
}

}  // namespace

Status run_nats_jetstream(const PeerSpec& spec) {
  if (spec.connect.size() != 1) return Status::invalid_argument("connect: expected nats-server's URL");
  natsConnection* raw_connection = nullptr;
  if (Status s = check(natsConnection_ConnectTo(&raw_connection, spec.connect.front().c_str()), "connecting"); !s) {
    return s;
  }
  std::unique_ptr<natsConnection, decltype(&natsConnection_Destroy)> connection(raw_connection, natsConnection_Destroy);

  auto acks = std::make_unique<Acks>();
  acks->sent.resize(spec.count);
  acks->latencies_us.resize(spec.count);
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = static_cast<int64_t>(spec.batch * spec.window);
  options.PublishAsync.AckHandler = on_ack;
  options.PublishAsync.AckHandlerClosure = acks.get();
  jsCtx* raw_js = nullptr;
  if (Status s = check(natsConnection_JetStream(&raw_js, connection.get(), &options), "JetStream context"); !s) {
    return s;
  }
  std::unique_ptr<jsCtx, decltype(&jsCtx_Destroy)> js(raw_js, jsCtx_Destroy);

  const std::string stream = "BENCH";
  const std::string subject(kPersistSubject);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  if (Status s = check(js_AddStream(&info, js.get(), &config, nullptr, &code), "adding the stream"); !s) return s;
  jsStreamInfo_Destroy(info);

  const std::vector<char> payload(spec.size, 'x');
  const auto start = BenchClock::now();
  const auto deadline = start + spec.duration;
  std::uint64_t sent = 0;
  while (sent < spec.count) {
    if ((sent & 0xff) == 0 && BenchClock::now() >= deadline) break;
    acks->sent[sent] = BenchClock::now();
    natsStatus status =
        js_PublishAsync(js.get(), subject.c_str(), payload.data(), static_cast<int>(payload.size()), nullptr);
    if (status == NATS_TIMEOUT) continue;  // stalled at MaxPending for longer than its wait: this one again
    if (Status s = check(status, "publishing"); !s) return s;
    ++sent;
  }
  jsPubOptions publish_options;
  jsPubOptions_Init(&publish_options);
  publish_options.MaxWait = static_cast<int64_t>(kSetupTimeout.count() * 1000);
  if (Status s = check(js_PublishAsyncComplete(js.get(), &publish_options), "waiting for the acknowledgements"); !s) {
    return s;
  }
  const std::uint64_t acknowledged = acks->acknowledged.load(std::memory_order_acquire);
  std::vector<double> latencies(acks->latencies_us.begin(),
                                acks->latencies_us.begin() + static_cast<std::ptrdiff_t>(acknowledged));
  Percentiles p = percentiles(latencies);
  const double publish_seconds = acknowledged > 0 ? duration<double>(acks->last - start).count() : 0.0;

  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Config.AckPolicy = js_AckAll;
  sub_options.Config.MaxAckPending = 4 * kFetchBatch;
  natsSubscription* raw_sub = nullptr;
  const auto read_start = BenchClock::now();
  if (Status s = check(js_PullSubscribe(&raw_sub, js.get(), subject.c_str(), "reader", &options, &sub_options, &code),
                       "subscribing");
      !s) {
    return s;
  }
  std::unique_ptr<natsSubscription, decltype(&natsSubscription_Destroy)> sub(raw_sub, natsSubscription_Destroy);
  std::uint64_t read = 0;
  auto last_read = read_start;
  while (read < acknowledged) {
    natsMsgList list{};
    natsStatus status =
        natsSubscription_Fetch(&list, sub.get(), kFetchBatch, static_cast<int64_t>(kQuietTimeout.count()), &code);
    if (status != NATS_OK) break;
    read += static_cast<std::uint64_t>(list.Count);
    last_read = BenchClock::now();
    if (list.Count > 0) natsMsg_Ack(list.Msgs[list.Count - 1], &options);
    natsMsgList_Destroy(&list);
  }
  (void)natsSubscription_Unsubscribe(sub.get());
  (void)js_DeleteStream(js.get(), stream.c_str(), nullptr, &code);

  Report result("result");
  result.add("appended", acknowledged)
      .add("failed", acks->failed.load())
      .add("seconds", publish_seconds)
      .add("p50_us", p.p50)
      .add("p99_us", p.p99)
      .add("p999_us", p.p999)
      .add("received", read)
      .add("replay_seconds", duration<double>(last_read - read_start).count());
  ParentLink::say(result.line());
  return Status::ok();
}

}  // namespace weft::cli::bench

#else  // WEFT_BENCH_NATS

namespace weft::cli::bench {

Status run_nats_jetstream(const PeerSpec&) {
  return Status::invalid_argument("this weft was built without WEFT_BENCH_NATS=ON (libnats)");
}

}  // namespace weft::cli::bench

#endif  // WEFT_BENCH_NATS
