#include "node/sidecar_agent.hpp"

#include <exception>

#include "sidecar/sidecar_protocol.hpp"

namespace weft::detail {

namespace {

// While weftd is down, pings follow one another at least this far apart (a ping to a weftd that is not there
// waits out the request timeout on its own; this only bounds a transport that fails at once).
constexpr std::chrono::milliseconds kProbeInterval{100};

// No answer came from weftd: it was not reachable, or did not reply in time.
bool no_answer(const Status& status) {
  return status.code() == ErrorCode::kUnavailable || status.code() == ErrorCode::kTimeout;
}

// Runs on the dispatcher: every message's callbacks, each guarded, so that one that throws does not cost the
// others their completion.
void run_completions(NodeContext& context, std::vector<PersistentCompletion>& completions, const Status& status,
                     const std::string& stream, std::uint64_t first_offset) {
  for (std::size_t i = 0; i < completions.size(); ++i) {
    PersistentCompletion& c = completions[i];
    try {
      if (c.on_persisted) c.on_persisted(status, PersistedAt{stream, status.is_ok() ? first_offset + i : 0});
      if (c.on_complete) c.on_complete(status);
    } catch (const std::exception& e) {
      NodeCounters::add(context.counters.handler_exceptions);
      context.limited_log.warn(kLogHandlerException, std::string("a persistent publish's completion threw: ") + e.what());
    } catch (...) {
      NodeCounters::add(context.counters.handler_exceptions);
    }
  }
}

// Counts the outcome of `count` persistent messages, has their callbacks run on the dispatcher, and frees
// their room once they ran: when wait_for_acknowledgements() returns, every completion has run.
void settle(NodeContext& context, std::vector<PersistentCompletion> completions, const Status& status,
            std::string stream, std::uint64_t first_offset) {
  const std::size_t count = completions.size();
  if (status.is_ok()) {
    NodeCounters::add(context.counters.persisted, count);
  } else {
    NodeCounters::add(context.counters.persist_failed, count);
    if (status.code() == ErrorCode::kUnavailable) NodeCounters::add(context.counters.persist_unavailable, count);
  }
  bool any = false;
  for (const PersistentCompletion& c : completions) any = any || c.on_complete || c.on_persisted;
  if (!any) {
    context.release_persistent(count);
    return;
  }
  context.post_to_dispatcher([&context, completions = std::move(completions), status, stream = std::move(stream),
                              first_offset]() mutable {
    run_completions(context, completions, status, stream, first_offset);
    context.release_persistent(completions.size());
  });
}

}  // namespace

SidecarAgent::SidecarAgent(NodeContext& context, std::unique_ptr<sidecar::SidecarClient> client, std::uint64_t stream)
    : context_(context), client_(std::move(client)), stream_(stream), descriptor_(client_->transport().descriptor()) {}

SidecarAgent::~SidecarAgent() = default;

std::size_t SidecarAgent::take(PublishQueue& queue) {
  PublishItem* first = queue.front();
  Batch batch;
  batch.subject = std::string(first->subject());
  std::size_t count = 0;
  while (count < sidecar::kMaxBodyFrames) {
    PublishItem* item = queue.peek(count);
    if (item == nullptr || !item->persistent() || item->subject() != batch.subject) break;
    if (count > 0 && batch.bytes.size() + item->envelope_bytes() > sidecar::kMaxAppendBytes) break;
    stamp_stream(item->envelope(), stream_);
    stamp_sequence(item->envelope(), next_sequence_++);
    batch.bytes.insert(batch.bytes.end(), item->envelope(), item->envelope() + item->envelope_bytes());
    batch.ends.push_back(batch.bytes.size());
    batch.completions.push_back({std::move(*item->on_complete), std::move(queue.on_persisted(*item))});
    ++count;
  }
  submit(std::move(batch));
  return count;
}

void SidecarAgent::submit(Batch batch) {
  const std::uint64_t id = next_batch_++;
  Batch& stored = pending_.emplace(id, std::move(batch)).first->second;
  std::vector<std::span<const std::byte>> envelopes;
  envelopes.reserve(stored.ends.size());
  std::size_t begin = 0;
  for (std::size_t end : stored.ends) {
    envelopes.emplace_back(stored.bytes.data() + begin, end - begin);
    begin = end;
  }
  NodeCounters::add(context_.counters.persist_appends);
  // The callback may run inside append() (a transport that failed at once): answered() finds the batch then.
  Status queued = client_->append(stored.subject, envelopes, [this, id](const Status& s, const sidecar::AppendAck& a) {
    answered(id, s, a, true);
  });
  if (!queued) answered(id, queued, {}, false);
}

void SidecarAgent::answered(std::uint64_t id, const Status& status, const sidecar::AppendAck& ack, bool replied) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Batch batch = std::move(it->second);
  pending_.erase(it);
  if (replied) {
    note_outcome(status);
  } else if (no_answer(status)) {
    mark_down(status);
  }
  // weftd refuses a whole append for one envelope over the stream's max-message-bytes (or otherwise invalid):
  // send each alone, so that only that message fails.
  if (status.code() == ErrorCode::kInvalidArgument && batch.ends.size() > 1) {
    std::size_t begin = 0;
    for (std::size_t i = 0; i < batch.ends.size(); ++i) {
      Batch one;
      one.subject = batch.subject;
      one.bytes.assign(batch.bytes.begin() + static_cast<std::ptrdiff_t>(begin),
                       batch.bytes.begin() + static_cast<std::ptrdiff_t>(batch.ends[i]));
      one.ends.push_back(one.bytes.size());
      one.completions.push_back(std::move(batch.completions[i]));
      begin = batch.ends[i];
      submit(std::move(one));
    }
    return;
  }
  complete(batch, status, ack);
}

void SidecarAgent::complete(Batch& batch, const Status& status, const sidecar::AppendAck& ack) {
  settle(context_, std::move(batch.completions), status, ack.stream, ack.first_offset);
}

Status SidecarAgent::dead_letter(const DeadLetter& letter, DeadLetterDone done) {
  if (!client_) return Status::closed("the node's sidecar agent has stopped");
  if (!letter.envelope) return Status::invalid_argument("a dead letter without its envelope");
  const std::uint64_t id = next_letter_++;
  letters_.emplace(id, std::move(done));
  const sidecar::DeadLetterFields fields{letter.subject, letter.consumer, letter.deliveries, letter.last_error,
                                         letter.time_ns};
  const std::span<const std::byte> body(letter.envelope->data(), letter.envelope->size());
  auto answered = [this, id](const Status& s, sidecar::Reply& reply) {
    auto it = letters_.find(id);
    if (it == letters_.end()) return;
    DeadLetterDone finish = std::move(it->second);
    letters_.erase(it);
    note_outcome(s);
    if (!s) return finish(s, 0);
    auto stored = reply.as<sidecar::AppendedFields>();
    if (!stored) return finish(stored.status(), 0);
    finish(Status::ok(), stored->first_offset);
  };
  // The callback may run inside request() (a transport that failed at once): then the letter is answered.
  Status queued = client_->request(sidecar::Kind::kDeadLetter, fields, std::span(&body, 1), answered);
  if (!queued && letters_.erase(id) == 0) return Status::ok();
  return queued;
}

void SidecarAgent::probe(Clock::TimePoint now) {
  if (probing_ || now < next_probe_) return;
  probing_ = true;
  Status queued = client_->request(sidecar::Kind::kPing, sidecar::NoFields{}, [this](const Status& s, sidecar::Reply&) {
    probing_ = false;
    next_probe_ = context_.clock.now() + kProbeInterval;
    if (s) {
      mark_up();
    } else {
      mark_down(s);  // a ping's only answer is a PONG
    }
  });
  if (!queued) {
    probing_ = false;
    next_probe_ = now + kProbeInterval;
  }
}

void SidecarAgent::note_outcome(const Status& status) {
  if (no_answer(status)) return mark_down(status);
  // weftd answered, if only to refuse (no stream takes the subject, a message too large): it is up. Without
  // this, a refusal that overtook the probe's PONG left the node calling weftd down.
  mark_up();
}

void SidecarAgent::mark_up() {
  context_.sidecar_up.store(true, std::memory_order_relaxed);
  context_.sidecar_down.store(false, std::memory_order_relaxed);
  if (logged_down_) {
    logged_down_ = false;
    context_.logger.log(LogLevel::kInfo, "weftd at " + client_->transport().endpoint() +
                                             " answers again: persistent publishes go to it");
  }
}

void SidecarAgent::mark_down(const Status& why) {
  context_.sidecar_up.store(false, std::memory_order_relaxed);
  context_.sidecar_down.store(true, std::memory_order_relaxed);
  if (!logged_down_) {
    logged_down_ = true;
    context_.logger.warn("persistent publishes fail until weftd answers again: " + why.message());
  }
}

std::size_t SidecarAgent::do_work(Clock::TimePoint now, Transport&) {
  if (!client_) return 0;
  // Not known to be up (at start, or after weftd did not answer): ask it.
  if (!context_.sidecar_up.load(std::memory_order_relaxed)) probe(now);
  std::size_t work = client_->do_work(now);
  // Sending lets ZeroMQ take in the socket's pending commands, which can consume the descriptor's edge for a
  // reply already waiting: look again before the loop sleeps on the descriptor.
  if (work > 0 && client_->requests_waiting() > 0 && client_->transport().wait_readable(std::chrono::milliseconds(0))) {
    ++work;
  }
  return work;
}

void SidecarAgent::pollable(std::vector<int>& fds) {
  if (client_ && descriptor_ >= 0) fds.push_back(descriptor_);
}

Clock::TimePoint SidecarAgent::next_deadline() {
  if (!client_) return Clock::TimePoint::max();
  Clock::TimePoint next = client_->next_deadline();
  if (!probing_ && !context_.sidecar_up.load(std::memory_order_relaxed)) next = std::min(next, next_probe_);
  return next;
}

void SidecarAgent::stop(Transport&) {
  if (!client_) return;
  auto settled = [this] { return pending_.empty() && letters_.empty(); };
  if (!settled()) (void)client_->run_until(settled, context_.options.linger);
  const Status closed = Status::closed("the node stopped before weftd acknowledged the message");
  auto left = std::move(pending_);
  pending_.clear();
  for (auto& [id, batch] : left) complete(batch, closed, {});
  auto letters = std::move(letters_);
  letters_.clear();
  const Status unanswered = Status::closed("the node stopped before weftd acknowledged the dead letter");
  for (auto& [id, done] : letters) done(unanswered, 0);
  client_.reset();
}

void fail_persistent(NodeContext& context, PublishItem& item, const Status& why) {
  std::vector<PersistentCompletion> one;
  one.push_back({std::move(*item.on_complete), std::move(context.publish_queue.on_persisted(item))});
  settle(context, std::move(one), why, {}, 0);
}

}  // namespace weft::detail
