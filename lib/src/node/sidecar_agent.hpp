// Persistent publishing inside the node (docs/sidecar.md, "Publishing from a node"): the SidecarClient that talks
// to weftd, stepped on the node's I/O thread like the node's other sockets.
//
// The I/O loop hands it each run of persistent messages at the head of the publish queue; consecutive messages
// of one subject leave in one APPEND (up to the protocol's 4096 envelopes and 64 MiB). weftd's answer completes
// them: the callbacks go to the dispatcher, never run here. A probe ping at start, and after any append weftd
// did not answer, tells whether weftd is there; while it is known to be down, publish() fails persistent
// messages at once (NodeContext::sidecar_down) instead of letting each wait out the request timeout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "node/io_agent.hpp"
#include "node/node_context.hpp"
#include "node/publish_queue.hpp"
#include "reliable/dead_letter.hpp"
#include "sidecar/sidecar_client.hpp"

namespace weft::detail {

// What a persistent message's publisher asked to hear about its outcome.
struct PersistentCompletion {
  std::function<void(const Status&)> on_complete;
  std::function<void(const Status&, const PersistedAt&)> on_persisted;
};

class SidecarAgent final : public IoAgent {
 public:
  // `stream` is the envelope stream id the node stamps on its persistent messages (their own sequence space,
  // apart from its best-effort stream, so that subscribers of that stream never see a gap).
  SidecarAgent(NodeContext& context, std::unique_ptr<sidecar::SidecarClient> client, std::uint64_t stream);
  ~SidecarAgent() override;

  // Takes the run of persistent messages at the head of `queue` that can share one APPEND and hands it to weftd;
  // returns how many it took (at least 1). The caller pops them.
  std::size_t take(PublishQueue& queue);

  // Hands a dead letter to weftd's dead letters of nodes (DEAD_LETTER, docs/sidecar.md section 13). `done` runs
  // once on the I/O thread: ok once weftd stored it durably (with its offset there), else why not (refused,
  // not reachable, or the node stopped first). An error returned here means `done` will not run.
  using DeadLetterDone = std::function<void(const Status&, std::uint64_t offset)>;
  Status dead_letter(const DeadLetter& letter, DeadLetterDone done);

  std::size_t do_work(Clock::TimePoint now, Transport& transport) override;
  void pollable(std::vector<int>& fds) override;
  [[nodiscard]] Clock::TimePoint next_deadline() override;
  // Waits up to the node's linger for weftd's answers to what was handed over, fails the rest (closed) and
  // closes the socket.
  void stop(Transport& transport) override;

 private:
  // One APPEND: its envelopes (kept, so that a batch weftd refuses for one envelope's sake can be split) and
  // the completions of its messages, in order.
  struct Batch {
    std::string subject;
    ByteBuffer bytes;
    std::vector<std::size_t> ends;  // envelope i is bytes[ends[i-1] .. ends[i])
    std::vector<PersistentCompletion> completions;
  };

  void submit(Batch batch);
  // `replied`: the status came back through the client (weftd's answer, or the client giving up on one), not
  // from a local refusal to send.
  void answered(std::uint64_t id, const Status& status, const sidecar::AppendAck& ack, bool replied);
  void complete(Batch& batch, const Status& status, const sidecar::AppendAck& ack);
  void probe(Clock::TimePoint now);
  // What a request's outcome says of weftd: no answer (unavailable, timeout) marks it down;
  // any answer, weftd's refusals included, marks it up.
  void note_outcome(const Status& status);
  void mark_up();
  void mark_down(const Status& why);

  NodeContext& context_;
  std::unique_ptr<sidecar::SidecarClient> client_;
  const std::uint64_t stream_;
  const int descriptor_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t next_batch_ = 1;
  std::map<std::uint64_t, Batch> pending_;  // handed to the client, not yet answered
  std::uint64_t next_letter_ = 1;
  std::map<std::uint64_t, DeadLetterDone> letters_;  // dead letters handed to the client, not yet answered
  bool probing_ = false;                    // a ping waits for its pong
  Clock::TimePoint next_probe_{};           // TimePoint{}: probe at the next do_work()
  bool logged_down_ = false;
};

// Completes a persistent message that never reached the sidecar agent (the node stopped with it still queued).
void fail_persistent(NodeContext& context, PublishItem& item, const Status& why);

}  // namespace weft::detail
