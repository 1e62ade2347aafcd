#include "reliable_cli.hpp"

#include <algorithm>
#include <cstdio>

#include "commands.hpp"

namespace weft::cli {

namespace {

using Clock = std::chrono::steady_clock;

// The node's waits cannot be interrupted, so the CLI waits in slices and looks for a signal between.
constexpr std::chrono::milliseconds kWaitSlice{100};
constexpr std::chrono::milliseconds kPollInterval{20};

std::size_t live_members(const Node& node) {
  std::size_t members = 0;
  for (const auto& consumer : node.stats().consumers) members += consumer.members;
  return members;
}

}  // namespace

void add_reliable_pub_options(po::options_description& options, ReliablePubFlags& flags, NodeOptions& node) {
  // clang-format off
  options.add_options()
      ("reliable", po::bool_switch(&flags.reliable),
       "publish at least once: keep each message in the outbox until every durable subscriber and queue group "
       "acknowledged it, resend on loss, and exit 1 if any is not acknowledged within --timeout")
      ("timeout", po::value(&flags.timeout_seconds)->value_name("SECONDS"),
       "with --reliable: how long each message may wait for its acknowledgements (default 30)")
      ("consumers", po::value(&flags.consumers)->value_name("N"),
       "with --reliable: before publishing, wait up to --wait seconds for N durable subscribers or queue "
       "members to register (default 1); what is published with none registered is not kept for anyone")
      ("data-dir", po::value(&node.data_dir)->value_name("DIR"),
       "with --reliable: keep the dead-letter queue (and, with --persist, the outbox) in DIR; read it with "
       "`weft dlq ls --data-dir DIR`")
      ("persist", po::bool_switch(&flags.persist),
       "with --reliable: keep the outbox on disk under --data-dir, so that a pub started again with the same "
       "--data-dir sends what was not acknowledged before it stopped or crashed")
      ("outbox-policy", po::value(&flags.policy)->value_name("POLICY"),
       "with --reliable, when the outbox is full (--outbox-max messages): block (wait for room; default), "
       "reject (fail the message) or drop-oldest (fail the oldest one)")
      ("outbox-max", po::value(&node.outbox.max_messages)->value_name("N"),
       "with --reliable: the outbox holds at most N unacknowledged messages (default 4096)")
      ("control-bind", po::value(&node.control_bind)->value_name("ENDPOINT"),
       "where subscribers send acknowledgements (default: beside the first --bind, another port; else "
       "tcp://127.0.0.1:*, so give a reachable address when subscribers are on other hosts)")
      ("json", po::bool_switch(&flags.json),
       "print the result as one JSON line on stdout: sent, acknowledged, failed, unacknowledged, unrouted");
  // clang-format on
}

void finish_reliable_pub(ReliablePubFlags& flags, NodeOptions& node, std::chrono::milliseconds block_slice) {
  flags.timeout = seconds_flag("--timeout", flags.timeout_seconds);
  if (!flags.reliable) {
    if (flags.persist || !node.data_dir.empty()) throw UsageError("--persist and --data-dir need --reliable");
    return;
  }
  if (flags.timeout.count() == 0) throw UsageError("--timeout must be more than 0 with --reliable");
  if (flags.persist && node.data_dir.empty()) throw UsageError("--persist needs --data-dir DIR");
  if (node.outbox.max_messages == 0) throw UsageError("--outbox-max must be at least 1");
  node.outbox.persist = flags.persist;
  if (flags.policy == "block") {
    node.outbox.policy = OutboxPolicy::kBlock;
  } else if (flags.policy == "reject") {
    node.outbox.policy = OutboxPolicy::kReject;
  } else if (flags.policy == "drop-oldest") {
    node.outbox.policy = OutboxPolicy::kDropOldest;
  } else {
    throw UsageError("--outbox-policy must be block, reject or drop-oldest, not '" + flags.policy + "'");
  }
  node.outbox.block_timeout = block_slice;
}

struct AckTally::State {
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> failed{0};
  mutable std::mutex mutex;
  std::string first_failure;
};

AckTally::AckTally() : state_(std::make_shared<State>()) {}

PublishOptions AckTally::options(std::chrono::milliseconds timeout) const {
  PublishOptions options;
  options.delivery = Delivery::kAtLeastOnce;
  options.timeout = timeout;
  options.on_complete = [state = state_](const Status& status) {
    if (status.is_ok()) {
      state->acknowledged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    {
      std::lock_guard lock(state->mutex);
      if (state->first_failure.empty()) state->first_failure = status.to_string();
    }
    state->failed.fetch_add(1, std::memory_order_relaxed);
  };
  return options;
}

std::uint64_t AckTally::acknowledged() const noexcept { return state_->acknowledged.load(std::memory_order_relaxed); }
std::uint64_t AckTally::failed() const noexcept { return state_->failed.load(std::memory_order_relaxed); }

std::string AckTally::first_failure() const {
  std::lock_guard lock(state_->mutex);
  return state_->first_failure;
}

namespace {

bool wait_for_consumers(const Node& node, std::size_t members, StopSignals::Deadline deadline,
                        const StopSignals& stop) {
  while (live_members(node) < members) {
    if (Clock::now() >= deadline) return false;
    if (stop.wait_until(std::min(deadline, Clock::now() + kPollInterval)) == StopSignals::Wake::kStop) return false;
  }
  return true;
}

bool wait_for_settled(Node& node, StopSignals::Deadline deadline, const StopSignals& stop) {
  while (!stop.stop_requested()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return node.wait_for_acknowledgements(std::chrono::milliseconds(0)).is_ok();
    if (node.wait_for_acknowledgements(std::min(left, kWaitSlice)).is_ok()) return true;
  }
  return false;
}

}  // namespace

void wait_for_reliable_consumers(const Node& node, const ReliablePubFlags& flags, StopSignals::Deadline deadline,
                                 const StopSignals& stop) {
  if (flags.consumers == 0 || wait_for_consumers(node, flags.consumers, deadline, stop) || stop.stop_requested()) {
    return;
  }
  std::fprintf(stderr,
               "weft pub: %zu of %zu durable subscriber(s) or queue member(s) registered; publishing anyway "
               "(a message with none is not kept for anyone)\n",
               live_members(node), flags.consumers);
}

int settle_reliable(Node& node, const ReliablePubFlags& flags, const AckTally& acks, std::uint64_t sent,
                    Clock::time_point start, const StopSignals& stop) {
  // Each message fails by itself after --timeout; the margin lets the last completions arrive. The outbox
  // empties a moment before the completions have all run (off the I/O thread), so wait for them too.
  const auto deadline = Clock::now() + flags.timeout + std::chrono::seconds(1);
  if (wait_for_settled(node, deadline, stop)) {
    while (acks.acknowledged() + acks.failed() < sent &&
           stop.wait_until(std::min(deadline, Clock::now() + kPollInterval)) != StopSignals::Wake::kStop &&
           Clock::now() < deadline) {
    }
  }
  const std::uint64_t acknowledged = acks.acknowledged();
  const std::uint64_t failed = acks.failed();
  const std::uint64_t settled = acknowledged + failed;
  const std::uint64_t unacknowledged = sent > settled ? sent - settled : 0;
  const ReliableStats stats = node.stats().reliable;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "acknowledged %s of %s message%s in %.2f s (%s failed, %s unacknowledged, %s redelivered, "
               "%s with no consumer, %s late acknowledgement%s refused)\n",
               format_count(acknowledged).c_str(), format_count(sent).c_str(), sent == 1 ? "" : "s", seconds,
               format_count(failed).c_str(), format_count(unacknowledged).c_str(),
               format_count(stats.redelivered).c_str(), format_count(stats.unrouted).c_str(),
               format_count(stats.stale_acks).c_str(), stats.stale_acks == 1 ? "" : "s");
  const bool restored_left = stats.restored > 0 && stats.outstanding > 0;
  if (stats.restored > 0) {
    std::fprintf(stderr, "sent again %s message(s) from the disk outbox; %s still unacknowledged\n",
                 format_count(stats.restored).c_str(), format_count(stats.outstanding).c_str());
  }
  if (flags.json) {
    std::printf("{\"sent\":%llu,\"acknowledged\":%llu,\"failed\":%llu,\"unacknowledged\":%llu,"
                "\"redelivered\":%llu,\"dead_lettered\":%llu,\"unrouted\":%llu,\"restored\":%llu,\"stale_acks\":%llu,"
                "\"seconds\":%.3f}\n",
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acknowledged),
                static_cast<unsigned long long>(failed), static_cast<unsigned long long>(unacknowledged),
                static_cast<unsigned long long>(stats.redelivered),
                static_cast<unsigned long long>(stats.dead_lettered), static_cast<unsigned long long>(stats.unrouted),
                static_cast<unsigned long long>(stats.restored), static_cast<unsigned long long>(stats.stale_acks),
                seconds);
    std::fflush(stdout);
  }
  if (failed == 0 && unacknowledged == 0 && !restored_left) return kExitOk;
  if (failed == 0 && unacknowledged == 0) {
    return report_failure("pub", format_count(stats.outstanding) +
                                     " message(s) from the disk outbox are still unacknowledged (kept for the next "
                                     "start with this --data-dir)");
  }
  std::string why = format_count(failed + unacknowledged) + " of " + format_count(sent) +
                    " message(s) were not acknowledged";
  if (failed > 0) why += "; the first failure: " + acks.first_failure();
  if (unacknowledged > 0) {
    why += stop.stop_requested() ? "; stopped before the rest were acknowledged"
                                 : "; the rest were still unacknowledged after --timeout";
    if (flags.persist) why += " (kept in the disk outbox: they are sent again when pub starts with this --data-dir)";
  }
  return report_failure("pub", why);
}

void add_reliable_sub_options(po::options_description& options, ReliableSubFlags& flags, SubscribeOptions& sub,
                              NodeOptions& node) {
  // clang-format off
  options.add_options()
      ("durable", po::value(&sub.durable)->value_name("NAME"),
       "a durable subscriber: receive at least once and acknowledge each message once printed; publishers "
       "keep what NAME has not acknowledged, so a sub started again with the same NAME gets what it missed")
      ("queue", po::value(&sub.queue)->value_name("GROUP"),
       "join work queue GROUP: each message goes to one member of the group, at least once, acknowledged "
       "once printed; what a member held when it died goes to the others after --ack-wait")
      ("ack-wait", po::value(&flags.ack_wait_seconds)->value_name("SECONDS"),
       "with --durable/--queue: a message not acknowledged within SECONDS is delivered again (default 30)")
      ("max-deliver", po::value(&flags.max_deliver)->value_name("N"),
       "with --durable/--queue: after N deliveries a message goes to the publisher's dead-letter queue "
       "(default 5)")
      ("max-in-flight", po::value(&flags.max_in_flight)->value_name("N"),
       "with --durable/--queue: hold at most N unacknowledged messages per publisher (default 2048)")
      ("control-bind", po::value(&node.control_bind)->value_name("ENDPOINT"),
       "where publishers reach this subscriber's control channel (default tcp://127.0.0.1:* or beside "
       "--bind; give a reachable address when publishers are on other hosts)");
  // clang-format on
}

void finish_reliable_sub(const ReliableSubFlags& flags, SubscribeOptions& sub) {
  sub.ack_wait = seconds_flag("--ack-wait", flags.ack_wait_seconds);
  const bool reliable = !sub.durable.empty() || !sub.queue.empty();
  if (!reliable) return;
  if (!sub.durable.empty() && !sub.queue.empty()) throw UsageError("give --durable or --queue, not both");
  if (sub.ack_wait.count() == 0) throw UsageError("--ack-wait must be more than 0");
  if (flags.max_deliver < 1) throw UsageError("--max-deliver must be at least 1");
  if (flags.max_in_flight < 1) throw UsageError("--max-in-flight must be at least 1");
  sub.max_deliver = flags.max_deliver;
  sub.max_in_flight = flags.max_in_flight;
  // Acknowledged by sub itself once the message is printed and flushed, not merely when the handler returns.
  sub.ack = AckPolicy::kManual;
}

}  // namespace weft::cli
