// The node's dead letters when it has a sidecar (docs/sidecar.md section 13): they go to weftd's dead letters of
// nodes (DEAD_LETTER) instead of the node's own queue. If weftd refuses one or cannot be reached, it goes to
// the node's own queue (<data_dir>/dlq) when there is one; otherwise it is lost, and that is counted
// (NodeStats::reliable.dead_letter_failures) and logged at error level, never silent.
//
// Owned with the sidecar agent by the I/O thread: put(), the answers and the fallback all run there.
#pragma once

#include "node/node_context.hpp"
#include "node/sidecar_agent.hpp"
#include "reliable/dead_letter.hpp"

namespace weft::detail {

class SidecarDeadLetters final : public DeadLetterSink {
 public:
  // `agent` must outlive it; `local` (the node's own queue, or nullptr) too.
  SidecarDeadLetters(NodeContext& context, SidecarAgent& agent, DeadLetterSink* local);

  // Hands the letter to weftd (or at once to the fallback while weftd is known to be down). Its outcome comes
  // later: ok here means it is on its way, an error that it is lost (counted by the caller).
  Status put(const DeadLetter& letter) override;
  void do_work(Clock::TimePoint now) override;

 private:
  // weftd did not take `letter`: the node's own queue, or a loud loss.
  Status fall_back(const DeadLetter& letter, const Status& why);

  NodeContext& context_;
  SidecarAgent& agent_;
  DeadLetterSink* local_;
};

}  // namespace weft::detail
