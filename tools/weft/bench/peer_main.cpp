// `weft bench-peer`: one side of one measurement, in its own process.
#include <zmq.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "bench/peers.hpp"
#include "bench/process.hpp"
#include "commands.hpp"

namespace weft::cli {

namespace {

Status run_role(const bench::PeerSpec& spec) {
  using bench::Role;
  switch (spec.role) {
    case Role::kWeftPublisher:
      return bench::run_weft_publisher(spec);
    case Role::kWeftSubscriber:
      return bench::run_weft_subscriber(spec);
    case Role::kWeftRequester:
      return bench::run_weft_requester(spec);
    case Role::kWeftResponder:
      return bench::run_weft_responder(spec);
    case Role::kZmqPublisher:
      return bench::run_zmq_publisher(spec);
    case Role::kZmqSubscriber:
      return bench::run_zmq_subscriber(spec);
    case Role::kZmqRequester:
      return bench::run_zmq_requester(spec);
    case Role::kZmqResponder:
      return bench::run_zmq_responder(spec);
    case Role::kWeftReliablePublisher:
      return bench::run_weft_reliable_publisher(spec);
    case Role::kWeftDurableSubscriber:
      return bench::run_weft_durable_subscriber(spec);
    case Role::kWeftRequestSender:
      return bench::run_weft_request(spec);
    case Role::kWeftReplier:
      return bench::run_weft_replier(spec);
    case Role::kZmqPusher:
      return bench::run_zmq_pusher(spec);
    case Role::kZmqPuller:
      return bench::run_zmq_puller(spec);
    case Role::kWeftAppender:
      return bench::run_weft_appender(spec);
    case Role::kWeftReplayer:
      return bench::run_weft_replayer(spec);
    case Role::kNatsJetStream:
      return bench::run_nats_jetstream(spec);
  }
  return Status::internal("unhandled role");
}

int fail(std::string_view role, const std::string& message) {
  std::fprintf(stderr, "weft bench-peer %.*s: %s\n", static_cast<int>(role.size()), role.data(), message.c_str());
  bench::ParentLink::say(bench::Report("error").add("", message).line());
  return kExitFailure;
}

}  // namespace

int run_bench_peer(int argc, char** argv) {
  auto spec = bench::parse_peer_spec(argc, argv);
  if (!spec) {
    std::fprintf(stderr, "weft bench-peer: %s (this verb is started by `weft bench`)\n",
                 spec.status().to_string().c_str());
    return kExitUsage;
  }
  std::string_view role = bench::name_of(spec->role);
  if (Status attached = bench::ParentLink::attach(spec->parent, spec->cpu, role); !attached) {
    return fail(role, attached.to_string());
  }
  try {
    Status status = run_role(*spec);
    return status ? kExitOk : fail(role, status.to_string());
  } catch (const zmq::error_t& e) {
    return fail(role, std::string("ZeroMQ: ") + e.what());
  } catch (const std::exception& e) {
    return fail(role, e.what());
  }
}

}  // namespace weft::cli
