#include "bench/measure.hpp"

#include <unistd.h>

#include <utility>
#include <vector>

#include "bench/peer_spec.hpp"
#include "bench/process.hpp"

namespace weft::cli::bench {

namespace {

// On top of the run's own bounds (setup, duration, quiet periods): time for process start and teardown.
constexpr std::chrono::seconds kReportSlack{10};

struct Peer {
  PeerSpec spec;
  bool reports_before_release = true;  // false: prints its result only once released (a responder)
};

struct Reports {
  Report binder{"none"};
  Report connector{"none"};
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

// Starts the binding peer, hands its endpoints to the connecting one, and collects both results.
Result<Reports> run_pair(Peer binder, Peer connector, BenchClock::time_point deadline) {
  const std::string binder_name(name_of(binder.spec.role));
  const std::string connector_name(name_of(connector.spec.role));
  auto first = PeerProcess::spawn(to_arguments(binder.spec));
  if (!first) return first.status().with_context("starting " + binder_name);
  auto endpoints = read_report(*first, "endpoint", BenchClock::now() + kSetupTimeout, binder_name);
  if (!endpoints) return endpoints.status();
  for (std::string_view key : {"ep", "ep2"}) {
    if (auto endpoint = endpoints->field(key)) connector.spec.connect.emplace_back(*endpoint);
  }
  auto second = PeerProcess::spawn(to_arguments(connector.spec));
  if (!second) return second.status().with_context("starting " + connector_name);

  Reports reports;
  auto collect = [&](PeerProcess& peer, Report& into, const std::string& who, BenchClock::time_point until) -> Status {
    auto report = read_report(peer, "result", until, who);
    if (!report) return report.status();
    into = std::move(*report);
    return Status::ok();
  };
  if (connector.reports_before_release) {
    if (Status s = collect(*second, reports.connector, connector_name, deadline); !s) return s;
  }
  if (binder.reports_before_release) {
    if (Status s = collect(*first, reports.binder, binder_name, deadline); !s) return s;
  }
  first->release();
  second->release();
  const auto after_release = BenchClock::now() + kExitGrace;
  if (!connector.reports_before_release) {
    if (Status s = collect(*second, reports.connector, connector_name, after_release); !s) return s;
  }
  if (!binder.reports_before_release) {
    if (Status s = collect(*first, reports.binder, binder_name, after_release); !s) return s;
  }
  if (Status s = first->finish(kExitGrace); !s) return s.with_context(binder_name);
  if (Status s = second->finish(kExitGrace); !s) return s.with_context(connector_name);
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

// A unique socket path under /tmp for each ipc endpoint of a measurement, removed afterwards.
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
    for (const auto& path : paths_) ::unlink(path.c_str());
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
  if (what.pattern == Pattern::kPubSub) {
    spec.count = messages_for(options, what.size);
  } else {
    spec.count = options.round_trips;
    spec.warmup = options.warmup;
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

void fill_rtt(Sample& sample, const Report& requester, const Report& responder) {
  sample.round_trips = count_of(requester, "round_trips");
  sample.p50_us = requester.number("p50_us");
  sample.p99_us = requester.number("p99_us");
  sample.p999_us = requester.number("p999_us");
  sample.drops = weft_drops(requester) + weft_drops(responder);
  if (sample.round_trips == 0) sample.status = Status::internal("no round trip was timed");
}

}  // namespace

Sample measure(const Case& what, const BenchOptions& options, int repeat) {
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
    auto reports = run_pair(weft ? publisher : subscriber, weft ? subscriber : publisher, deadline);
    if (!reports) {
      sample.status = reports.status();
      return sample;
    }
    fill_pubsub(sample, weft ? reports->binder : reports->connector, weft ? reports->connector : reports->binder);
    return sample;
  }

  Peer requester{base_spec(what, options, weft ? Role::kWeftRequester : Role::kZmqRequester, kSenderCpu)};
  Peer responder{base_spec(what, options, weft ? Role::kWeftResponder : Role::kZmqResponder, kReceiverCpu), false};
  requester.spec.bind = {ipc.endpoint(what.transport)};
  if (weft) requester.spec.bind.push_back(ipc.endpoint(what.transport));  // its subscriber side
  auto reports = run_pair(requester, responder, deadline);
  if (!reports) {
    sample.status = reports.status();
    return sample;
  }
  fill_rtt(sample, reports->binder, reports->connector);
  return sample;
}

std::string describe(const Case& what) {
  return std::string(name_of(what.system)) + " " + std::string(name_of(what.pattern)) + " " +
         std::string(name_of(what.transport)) + " " + size_text(what.size);
}

std::string size_text(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace weft::cli::bench
