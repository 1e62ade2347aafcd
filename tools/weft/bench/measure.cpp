#include "bench/measure.hpp"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "bench/peer_spec.hpp"
#include "bench/process.hpp"
#include "bench/server_process.hpp"

namespace weft::cli::bench {

namespace {

// On top of the run's own bounds (setup, duration, quiet periods): time for process start and teardown.
constexpr std::chrono::seconds kReportSlack{10};

struct Peer {
  PeerSpec spec;
  bool reports_before_release = true;  // false: prints its result only once released (a responder)
};

Result<Report> read_report(PeerProcess& peer, std::string_view kind, BenchClock::time_point deadline,
                           std::string_view who) {
  while (true) {
    auto line = peer.read_line(deadline);
    if (!line) return line.status().with_context("waiting for the " + std::string(who));
    Report report = Report::parse(*line);
    if (report.kind() == kind) return report;
    if (report.kind() == "error") return Status::internal(std::string(who) + " failed: " + report.text());
  }
}

// Starts the binding peers, hands all their endpoints (in order) to each connecting peer, and collects every
// result: one Report per peer, binders' first, then connectors', in the order given.
Result<std::vector<Report>> run_group(const std::vector<Peer>& binders, std::vector<Peer> connectors,
                                      BenchClock::time_point deadline) {
  std::vector<PeerProcess> processes;
  std::vector<std::string> names;
  std::vector<bool> early;
  std::vector<std::string> endpoints;
  processes.reserve(binders.size() + connectors.size());
  for (const Peer& binder : binders) {
    names.emplace_back(name_of(binder.spec.role));
    early.push_back(binder.reports_before_release);
    auto process = PeerProcess::spawn(to_arguments(binder.spec));
    if (!process) return process.status().with_context("starting " + names.back());
    processes.push_back(std::move(*process));
    auto said = read_report(processes.back(), "endpoint", BenchClock::now() + kSetupTimeout, names.back());
    if (!said) return said.status();
    for (std::string_view key : {"ep", "ep2"}) {
      if (auto endpoint = said->field(key)) endpoints.emplace_back(*endpoint);
    }
  }
  for (Peer& connector : connectors) {
    names.emplace_back(name_of(connector.spec.role));
    early.push_back(connector.reports_before_release);
    connector.spec.connect.insert(connector.spec.connect.end(), endpoints.begin(), endpoints.end());
    auto process = PeerProcess::spawn(to_arguments(connector.spec));
    if (!process) return process.status().with_context("starting " + names.back());
    processes.push_back(std::move(*process));
  }

  std::vector<Report> reports(processes.size(), Report("none"));
  auto collect = [&](std::size_t i, BenchClock::time_point until) -> Status {
    auto report = read_report(processes[i], "result", until, names[i]);
    if (!report) return report.status();
    reports[i] = std::move(*report);
    return Status::ok();
  };
  // Connectors first: a binding publisher waits for its subscribers, never the other way round.
  std::vector<std::size_t> order;
  for (std::size_t i = binders.size(); i < processes.size(); ++i) order.push_back(i);
  for (std::size_t i = 0; i < binders.size(); ++i) order.push_back(i);
  for (std::size_t i : order) {
    if (!early[i]) continue;
    if (Status s = collect(i, deadline); !s) return s;
  }
  for (auto& process : processes) process.release();
  const auto after_release = BenchClock::now() + kExitGrace;
  for (std::size_t i : order) {
    if (early[i]) continue;
    if (Status s = collect(i, after_release); !s) return s;
  }
  for (std::size_t i = 0; i < processes.size(); ++i) {
    if (Status s = processes[i].finish(kExitGrace); !s) return s.with_context(names[i]);
  }
  return reports;
}

std::uint64_t count_of(const Report& report, std::string_view key) {
  double value = report.number(key);
  return value > 0 ? static_cast<std::uint64_t>(value) : 0;
}

std::uint64_t weft_drops(const Report& report) {
  std::uint64_t drops = 0;
  for (std::string_view key : {"dropped_hwm", "send_errors", "malformed", "handler_exceptions"}) {
    drops += count_of(report, key);
  }
  return drops;
}

// A unique socket path under /tmp for each ipc endpoint of a measurement, removed afterwards (with the
// ".ctl" control socket a Weft node derives from it).
class IpcPaths {
 public:
  IpcPaths(const Case& what, int repeat) {
    prefix_ = "/tmp/weft-bench-" + std::to_string(::getpid()) + "-" + std::to_string(repeat) + "-" +
              std::string(name_of(what.system)) + "-" + std::string(name_of(what.pattern)) + "-" +
              std::to_string(what.size);
  }
  IpcPaths(const IpcPaths&) = delete;
  IpcPaths& operator=(const IpcPaths&) = delete;
  ~IpcPaths() {
    for (const auto& path : paths_) {
      ::unlink(path.c_str());
      ::unlink((path + ".ctl").c_str());
    }
  }

  std::string endpoint(Transport transport) {
    if (transport == Transport::kTcp) return "tcp://127.0.0.1:*";
    paths_.push_back(prefix_ + "-" + std::to_string(paths_.size()) + ".sock");
    ::unlink(paths_.back().c_str());
    return "ipc://" + paths_.back();
  }

 private:
  std::string prefix_;
  std::vector<std::string> paths_;
};

PeerSpec base_spec(const Case& what, const BenchOptions& options, Role role, int cpu) {
  PeerSpec spec;
  spec.role = role;
  spec.parent = ::getpid();
  spec.size = what.size;
  spec.duration = options.duration;
  spec.cpu = options.pin ? cpu : -1;
  switch (what.pattern) {
    case Pattern::kPubSub:
      spec.count = messages_for(options, what.size);
      break;
    case Pattern::kRtt:
    case Pattern::kReqRep:
      spec.count = options.round_trips;
      spec.warmup = options.warmup;
      break;
    case Pattern::kReliable:
    case Pattern::kQueue:
    case Pattern::kPersist:
    case Pattern::kReplay:
      spec.count = reliable_messages_for(options, what.size);
      break;
  }
  if (what.system == System::kWeft) {
    if (options.tuning.spin) spec.spin_us = options.tuning.spin->count();
    if (options.tuning.batch_max_bytes)
      spec.batch_max_bytes = static_cast<std::int64_t>(*options.tuning.batch_max_bytes);
  }
  return spec;
}

void fill_pubsub(Sample& sample, const Report& publisher, const Report& subscriber) {
  sample.sent = count_of(publisher, "sent");
  sample.received = count_of(subscriber, "received");
  sample.lost = sample.sent > sample.received ? sample.sent - sample.received : 0;
  sample.drops = weft_drops(publisher) + weft_drops(subscriber);
  sample.mean_batch = publisher.number("mean_batch");
  double seconds = subscriber.number("seconds");
  if (sample.received > 1 && seconds > 0) {
    sample.msgs_per_s = static_cast<double>(sample.received - 1) / seconds;
    sample.mb_per_s = sample.msgs_per_s * static_cast<double>(sample.what.size) / 1e6;
  }
  if (subscriber.number("complete") != 1) {
    sample.status = Status::timeout("the end marker never came: " + std::to_string(sample.received) + " of " +
                                    std::to_string(sample.sent) + " messages arrived");
  } else if (sample.received < 2) {
    sample.status = Status::internal("too few messages arrived to time (" + std::to_string(sample.received) + ")");
  }
}

// The latency percentiles a peer reported (p50_us, p99_us, p999_us).
void set_latency(Sample& sample, const Report& report) {
  sample.p50_us = report.number("p50_us");
  sample.p99_us = report.number("p99_us");
  sample.p999_us = report.number("p999_us");
}

void fill_rtt(Sample& sample, const Report& requester, const Report& responder) {
  sample.round_trips = count_of(requester, "round_trips");
  set_latency(sample, requester);
  sample.drops = weft_drops(requester) + weft_drops(responder);
  if (sample.round_trips == 0) sample.status = Status::internal("no round trip was timed");
}

void set_rate(Sample& sample, std::uint64_t messages, double seconds) {
  if (messages == 0 || seconds <= 0) return;
  sample.msgs_per_s = static_cast<double>(messages) / seconds;
  sample.mb_per_s = sample.msgs_per_s * static_cast<double>(sample.what.size) / 1e6;
}

// reports[0] is the reliable publisher, the rest its subscribers or queue members.
void fill_reliable(Sample& sample, const std::vector<Report>& reports) {
  const Report& publisher = reports.front();
  sample.sent = count_of(publisher, "sent");
  sample.received = count_of(publisher, "acknowledged");
  for (const auto& report : reports) {
    sample.drops += weft_drops(report);
    sample.resend_requests += count_of(report, "resend_requests");
  }
  sample.redelivered = count_of(publisher, "redelivered");
  set_latency(sample, publisher);
  sample.peak_rss_kib = count_of(publisher, "peak_rss_kib");
  sample.rss_start_kib = count_of(publisher, "rss_start_kib");
  sample.outbox_max_messages = count_of(publisher, "outbox_max_messages");
  if (sample.what.slow) {
    // Publishing blocks on the full outbox; most messages are still unacknowledged when the run ends.
    set_rate(sample, sample.received, publisher.number("publish_seconds"));
    return;
  }
  sample.lost = sample.sent > sample.received ? sample.sent - sample.received : 0;
  set_rate(sample, sample.received, publisher.number("seconds"));
  if (count_of(publisher, "failed") > 0) {
    sample.status = Status::internal(std::to_string(count_of(publisher, "failed")) + " message(s) failed, the first: " +
                                     std::string(publisher.field("first_failure").value_or("?")));
  } else if (sample.received == 0) {
    sample.status = Status::internal("no message was acknowledged");
  }
}

// reports[0..n) are the pullers, reports[n] the pusher.
void fill_push_pull(Sample& sample, const std::vector<Report>& reports) {
  const Report& pusher = reports.back();
  sample.sent = count_of(pusher, "sent");
  std::uint64_t first = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t last = 0;
  for (std::size_t i = 0; i + 1 < reports.size(); ++i) {
    const std::uint64_t received = count_of(reports[i], "received");
    if (received == 0) continue;
    sample.received += received;
    first = std::min(first, count_of(reports[i], "first_ns"));
    last = std::max(last, count_of(reports[i], "last_ns"));
  }
  sample.lost = sample.sent > sample.received ? sample.sent - sample.received : 0;
  if (sample.received > 1 && last > first) {
    set_rate(sample, sample.received - 1, static_cast<double>(last - first) / 1e9);
  } else {
    sample.status = Status::internal("too few messages arrived to time (" + std::to_string(sample.received) + ")");
  }
}

std::chrono::milliseconds slow_duration(const BenchOptions& options) {
  return std::min<std::chrono::milliseconds>(options.duration, kSlowRunDuration);
}

Sample measure_reliable(const Case& what, const BenchOptions& options, int repeat) {
  Sample sample;
  sample.what = what;
  sample.repeat = repeat;
  IpcPaths ipc(what, repeat);
  const auto deadline = BenchClock::now() + 3 * kSetupTimeout + options.duration + 2 * kQuietTimeout + kReportSlack;
  const bool weft = what.system == System::kWeft;
  const int members = what.pattern == Pattern::kQueue ? what.workers : 1;

  if (!weft) {
    // Raw libzmq: PUB/SUB for reliable (the pubsub peers), PUSH/PULL with `members` pullers for queue.
    if (what.pattern == Pattern::kReliable) {
      Peer publisher{base_spec(what, options, Role::kZmqPublisher, kSenderCpu)};
      Peer subscriber{base_spec(what, options, Role::kZmqSubscriber, kReceiverCpu)};
      subscriber.spec.bind = {ipc.endpoint(what.transport)};
      auto reports = run_group({subscriber}, {publisher}, deadline);
      if (!reports) {
        sample.status = reports.status();
      } else {
        fill_pubsub(sample, (*reports)[1], (*reports)[0]);
      }
      return sample;
    }
    std::vector<Peer> pullers;
    for (int i = 0; i < members; ++i) {
      Peer puller{base_spec(what, options, Role::kZmqPuller, kReceiverCpu)};
      puller.spec.bind = {ipc.endpoint(what.transport)};
      pullers.push_back(std::move(puller));
    }
    Peer pusher{base_spec(what, options, Role::kZmqPusher, kSenderCpu)};
    auto reports = run_group(pullers, {pusher}, deadline);
    if (!reports) {
      sample.status = reports.status();
    } else {
      fill_push_pull(sample, *reports);
    }
    return sample;
  }

  Peer publisher{base_spec(what, options, Role::kWeftReliablePublisher, kSenderCpu)};
  publisher.spec.bind = {ipc.endpoint(what.transport)};
  publisher.spec.workers = static_cast<std::uint64_t>(members);
  std::vector<Peer> subscribers;
  for (int i = 0; i < members; ++i) {
    Peer subscriber{base_spec(what, options, Role::kWeftDurableSubscriber, kReceiverCpu), false};
    subscriber.spec.queue = what.pattern == Pattern::kQueue;
    subscribers.push_back(std::move(subscriber));
  }
  if (what.slow) {
    publisher.spec.count = std::numeric_limits<std::uint32_t>::max();  // the duration ends it
    publisher.spec.duration = slow_duration(options);
    publisher.spec.outbox_messages = options.slow_outbox_messages;
    publisher.spec.slow_us = kSlowHandlerSleep.count();
    subscribers.front().spec.slow_us = kSlowHandlerSleep.count();
  }
  auto reports = run_group({publisher}, std::move(subscribers), deadline);
  if (!reports) {
    sample.status = reports.status();
    return sample;
  }
  fill_reliable(sample, *reports);
  return sample;
}

Sample measure_reqrep(const Case& what, const BenchOptions& options, int repeat) {
  Sample sample;
  sample.what = what;
  sample.repeat = repeat;
  IpcPaths ipc(what, repeat);
  const auto deadline = BenchClock::now() + 2 * kSetupTimeout + options.duration + 2 * kQuietTimeout + kReportSlack;
  const bool weft = what.system == System::kWeft;
  Peer requester{base_spec(what, options, weft ? Role::kWeftRequestSender : Role::kZmqRequester, kSenderCpu)};
  Peer responder{base_spec(what, options, weft ? Role::kWeftReplier : Role::kZmqResponder, kReceiverCpu), false};
  requester.spec.bind = {ipc.endpoint(what.transport)};
  auto reports = run_group({requester}, {responder}, deadline);
  if (!reports) {
    sample.status = reports.status();
    return sample;
  }
  fill_rtt(sample, (*reports)[0], (*reports)[1]);
  return sample;
}

// NATS JetStream's persist and replay in one peer, against a nats-server started for it. Its case is tcp
// (the client's loopback connection) and fsync "os" (nats-server 2.9 acknowledges before it syncs).
std::vector<Sample> measure_nats(const Case& what, const BenchOptions& options, int repeat) {
  Sample persist;
  persist.what = what;
  persist.what.transport = Transport::kTcp;
  persist.what.fsync = Fsync::kOs;
  persist.repeat = repeat;
  persist.batch = options.append_batch;
  persist.window = options.append_window;
  Sample replay = persist;
  replay.what.pattern = Pattern::kReplay;
  auto fail = [&](const Status& status) {
    persist.status = status;
    replay.status = status;
    return std::vector<Sample>{persist, replay};
  };
  auto server = ServerProcess::start_nats(options.data_parent);
  if (!server) return fail(server.status().with_context("starting nats-server"));
  Peer peer{base_spec(what, options, Role::kNatsJetStream, kSenderCpu)};
  peer.spec.connect = {server->endpoint()};
  peer.spec.batch = options.append_batch;
  peer.spec.window = options.append_window;
  auto reports = run_group({}, {peer}, BenchClock::now() + 3 * kSetupTimeout + 2 * options.duration + kReportSlack);
  if (!reports) return fail(reports.status());
  const Report& r = reports->front();
  persist.sent = count_of(r, "appended");
  persist.received = persist.sent;
  set_latency(persist, r);
  set_rate(persist, persist.sent, r.number("seconds"));
  replay.received = count_of(r, "received");
  replay.sent = replay.received;
  replay.lost = persist.sent > replay.received ? persist.sent - replay.received : 0;
  set_rate(replay, replay.received, r.number("replay_seconds"));
  if (count_of(r, "failed") > 0) persist.status = Status::internal(std::to_string(count_of(r, "failed")) + " failed");
  if (persist.sent == 0) return fail(Status::internal("nothing was acknowledged"));
  (void)server->stop();
  return {persist, replay};
}

std::vector<Sample> measure_persist(const Case& what, const BenchOptions& options, int repeat) {
  if (what.system == System::kNats) return measure_nats(what, options, repeat);
  Sample persist;
  persist.what = what;
  persist.repeat = repeat;
  persist.batch = options.append_batch;
  persist.window = options.append_window;
  Sample replay = persist;
  replay.what.pattern = Pattern::kReplay;
  auto fail = [&](const Status& status) {
    if (persist.status) persist.status = status;
    if (replay.status) replay.status = status;
    return std::vector<Sample>{persist, replay};
  };
  auto weftd = ServerProcess::start_weftd(options.weftd, options.data_parent, what.fsync);
  if (!weftd) return fail(weftd.status().with_context("starting weftd"));
  const auto deadline = BenchClock::now() + 2 * kSetupTimeout + options.duration + 2 * kQuietTimeout + kReportSlack;

  Peer appender{base_spec(what, options, Role::kWeftAppender, kSenderCpu)};
  appender.spec.connect = {weftd->endpoint()};
  appender.spec.batch = options.append_batch;
  appender.spec.window = options.append_window;
  auto appended = run_group({}, {appender}, deadline);
  if (!appended) return fail(appended.status());
  const Report& a = appended->front();
  persist.sent = count_of(a, "appended");
  persist.received = persist.sent;
  set_latency(persist, a);
  set_rate(persist, persist.sent, a.number("seconds"));
  if (persist.sent == 0) return fail(Status::internal("nothing was appended"));

  Peer replayer{base_spec(what, options, Role::kWeftReplayer, kReceiverCpu)};
  replayer.spec.connect = {weftd->endpoint()};
  replayer.spec.count = persist.sent + 1;  // and the appender's untimed first append
  auto replayed = run_group({}, {replayer},
                            BenchClock::now() + kSetupTimeout + 2 * kQuietTimeout + kReportSlack + options.duration);
  if (!replayed) {
    replay.status = replayed.status();
  } else {
    replay.received = count_of(replayed->front(), "received");
    replay.sent = replay.received;
    set_rate(replay, replay.received, replayed->front().number("seconds"));
  }
  if (Status stopped = weftd->stop(); !stopped) return fail(stopped);
  return {persist, replay};
}

}  // namespace

std::vector<Sample> measure(const Case& what, const BenchOptions& options, int repeat) {
  switch (what.pattern) {
    case Pattern::kReliable:
    case Pattern::kQueue:
      return {measure_reliable(what, options, repeat)};
    case Pattern::kReqRep:
      return {measure_reqrep(what, options, repeat)};
    case Pattern::kPersist:
    case Pattern::kReplay:
      return measure_persist(what, options, repeat);
    case Pattern::kPubSub:
    case Pattern::kRtt:
      break;
  }
  Sample sample;
  sample.what = what;
  sample.repeat = repeat;
  IpcPaths ipc(what, repeat);
  const bool weft = what.system == System::kWeft;
  const auto deadline = BenchClock::now() + 2 * kSetupTimeout + options.duration + 2 * kQuietTimeout + kReportSlack;

  if (what.pattern == Pattern::kPubSub) {
    Peer publisher{base_spec(what, options, weft ? Role::kWeftPublisher : Role::kZmqPublisher, kSenderCpu)};
    Peer subscriber{base_spec(what, options, weft ? Role::kWeftSubscriber : Role::kZmqSubscriber, kReceiverCpu)};
    // Weft's publisher binds, as a Weft application's would; raw libzmq's subscriber binds, as in shared/bench.
    Peer& binder = weft ? publisher : subscriber;
    binder.spec.bind = {ipc.endpoint(what.transport)};
    auto reports = run_group({weft ? publisher : subscriber}, {weft ? subscriber : publisher}, deadline);
    if (!reports) {
      sample.status = reports.status();
      return {sample};
    }
    const Report& binder_report = (*reports)[0];
    const Report& connector_report = (*reports)[1];
    fill_pubsub(sample, weft ? binder_report : connector_report, weft ? connector_report : binder_report);
    return {sample};
  }

  Peer requester{base_spec(what, options, weft ? Role::kWeftRequester : Role::kZmqRequester, kSenderCpu)};
  Peer responder{base_spec(what, options, weft ? Role::kWeftResponder : Role::kZmqResponder, kReceiverCpu), false};
  requester.spec.bind = {ipc.endpoint(what.transport)};
  if (weft) requester.spec.bind.push_back(ipc.endpoint(what.transport));  // its subscriber side
  auto reports = run_group({requester}, {responder}, deadline);
  if (!reports) {
    sample.status = reports.status();
    return {sample};
  }
  fill_rtt(sample, (*reports)[0], (*reports)[1]);
  return {sample};
}

std::string describe(const Case& what) {
  std::string text = std::string(name_of(what.system)) + " " + std::string(name_of(what.pattern)) + " " +
                     std::string(name_of(what.transport)) + " " + size_text(what.size);
  if (what.pattern == Pattern::kQueue) text += ", " + std::to_string(what.workers) + " worker(s)";
  if (what.pattern == Pattern::kPersist || what.pattern == Pattern::kReplay) {
    text += ", fsync " + std::string(name_of(what.fsync));
  }
  if (what.slow) text += ", slow subscriber";
  return text;
}

std::string size_text(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace weft::cli::bench
