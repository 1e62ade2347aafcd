#include "node/sidecar_dead_letters.hpp"

namespace weft::detail {

SidecarDeadLetters::SidecarDeadLetters(NodeContext& context, SidecarAgent& agent, DeadLetterSink* local)
    : context_(context), agent_(agent), local_(local) {}

Status SidecarDeadLetters::put(const DeadLetter& letter) {
  if (context_.sidecar_down.load(std::memory_order_relaxed)) {
    return fall_back(letter, Status::unavailable("weftd is not answering"));
  }
  Status queued = agent_.dead_letter(letter, [this, letter](const Status& s, std::uint64_t offset) {
    if (s) {
      context_.logger.log(LogLevel::kInfo, "dead letter on '" + letter.subject + "' for '" + letter.consumer +
                                               "' stored by weftd (dead letters of nodes, offset " +
                                               std::to_string(offset) + ")");
      return;
    }
    // Already counted as dead-lettered, and put() said it was on its way: a loss here is counted here.
    if (!fall_back(letter, s)) NodeCounters::add(context_.counters.dead_letter_failures);
  });
  if (!queued) return fall_back(letter, queued);
  return Status::ok();
}

Status SidecarDeadLetters::fall_back(const DeadLetter& letter, const Status& why) {
  const std::string what = "the dead letter on '" + letter.subject + "' for '" + letter.consumer + "'";
  if (local_ != nullptr) {
    Status kept = local_->put(letter);
    if (kept) {
      context_.logger.warn("weftd did not take " + what + " (" + why.message() +
                           "): kept in the node's own queue instead (" + context_.options.data_dir + "/dlq)");
      return kept;
    }
    context_.logger.error("LOST " + what + ": weftd did not take it (" + why.message() +
                          ") and the node's own queue failed too: " + kept.message());
    return kept;
  }
  context_.logger.error("LOST " + what + ": weftd did not take it (" + why.message() +
                        ") and the node has no queue of its own (set NodeOptions::data_dir to keep one)");
  return Status::unavailable("weftd did not take the dead letter (" + why.message() +
                             ") and there is no local dead-letter queue");
}

void SidecarDeadLetters::do_work(Clock::TimePoint now) {
  if (local_ != nullptr) local_->do_work(now);
}

}  // namespace weft::detail
