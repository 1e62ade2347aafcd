// What the at-least-once verbs of the weft CLI share: `weft pub --reliable` (its flags and the tally of
// acknowledgements), `weft sub --durable/--queue` (its flags), and the request/reply verbs `weft req` and
// `weft reply`. The flags fill the library's own options structs (PublishOptions, SubscribeOptions,
// NodeOptions::outbox); nothing here decides delivery, the node does.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "cli_common.hpp"
#include "weft/node.hpp"

namespace weft::cli {

// The verbs (main.cpp's table).
int run_req(int argc, char** argv);
int run_reply(int argc, char** argv);

// `weft pub --reliable` and the flags that go with it.
struct ReliablePubFlags {
  bool reliable = false;
  double timeout_seconds = 30;
  std::size_t consumers = 1;
  bool persist = false;
  std::string policy = "block";
  bool json = false;

  std::chrono::milliseconds timeout{30000};
};

// Adds --reliable, --timeout, --consumers, --data-dir, --persist, --outbox-policy, --control-bind and --json.
void add_reliable_pub_options(po::options_description& options, ReliablePubFlags& flags, NodeOptions& node);
// Checks them and fills NodeOptions::outbox; throws UsageError. `block_slice` is how long one publish() may
// wait for room in a full outbox before pub looks for a signal and tries again.
void finish_reliable_pub(ReliablePubFlags& flags, NodeOptions& node, std::chrono::milliseconds block_slice);

// Counts how the at-least-once publishes of one run ended. Shared with the node's completion callbacks,
// which may run until the node is destroyed, so it lives behind a shared_ptr.
class AckTally {
 public:
  AckTally();
  // Options for one at-least-once publish whose completion this tally counts.
  [[nodiscard]] PublishOptions options(std::chrono::milliseconds timeout) const;
  [[nodiscard]] std::uint64_t acknowledged() const noexcept;
  [[nodiscard]] std::uint64_t failed() const noexcept;
  // The first failure's status, as text; empty when none failed.
  [[nodiscard]] std::string first_failure() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Before the first --reliable publish: waits until `flags.consumers` durable subscribers or queue members
// registered with the node (NodeStats::consumers), the deadline passes or a stop is requested; warns on
// stderr when they did not come.
void wait_for_reliable_consumers(const Node& node, const ReliablePubFlags& flags, StopSignals::Deadline deadline,
                                 const StopSignals& stop);

// After the last --reliable publish: waits up to --timeout for every message to be settled, prints what
// became of the `sent` messages (stderr, and a JSON line on stdout with --json) and returns the exit code:
// kExitOk when every one was acknowledged, kExitFailure otherwise.
// `start` is when publishing began: the summary says how long it took until everything was settled.
int settle_reliable(Node& node, const ReliablePubFlags& flags, const AckTally& acks, std::uint64_t sent,
                    std::chrono::steady_clock::time_point start, const StopSignals& stop);

// `weft sub --durable NAME` / `--queue GROUP` and the flags that go with them.
struct ReliableSubFlags {
  double ack_wait_seconds = 30;
  std::uint32_t max_deliver = 5;
  std::uint32_t max_in_flight = 2048;  // SubscribeOptions::max_in_flight's default
};

// Adds --durable, --queue, --ack-wait, --max-deliver, --max-in-flight and --control-bind.
void add_reliable_sub_options(po::options_description& options, ReliableSubFlags& flags, SubscribeOptions& sub,
                              NodeOptions& node);
// Checks them and fills the rest of SubscribeOptions; throws UsageError.
void finish_reliable_sub(const ReliableSubFlags& flags, SubscribeOptions& sub);

}  // namespace weft::cli
