#include "node/io_loop.hpp"

#include <cstring>
#include <string>
#include <thread>

#include "subject/reserved.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

namespace {

// Bounds on one pass, so that sending, receiving and commands take turns under load.
constexpr std::size_t kMaxBatchesPerPass = 64;
constexpr std::size_t kMaxInboundPerPass = 256;
// kBlock: how long one send may wait on a full high-water mark before the loop services everything else.
constexpr std::chrono::milliseconds kBlockedSendWait{2};
// A message at least this large, alone in its batch, is handed to ZeroMQ without a copy.
constexpr std::size_t kZeroCopyBytes = 8 * 1024;

}  // namespace

IoLoop::IoLoop(NodeContext& context, std::unique_ptr<Transport> transport)
    : context_(context), transport_(std::move(transport)) {}

bool IoLoop::post(Command command) {
  {
    std::lock_guard lock(commands_mutex_);
    if (!accepting_commands_) return false;
    commands_.push_back(std::move(command));
    has_commands_.store(true, std::memory_order_release);
  }
  context_.io_wake.force_notify();
  return true;
}

bool IoLoop::add_filter(std::string prefix) {
  return post([this, prefix = std::move(prefix)](Transport& transport) {
    if (++filter_refs_[prefix] == 1) transport.add_filter(prefix);
  });
}

bool IoLoop::remove_filter(std::string prefix) {
  return post([this, prefix = std::move(prefix)](Transport& transport) {
    auto it = filter_refs_.find(prefix);
    if (it == filter_refs_.end()) return;
    if (--it->second == 0) {
      filter_refs_.erase(it);
      transport.remove_filter(prefix);
    }
  });
}

std::size_t IoLoop::do_work() {
  std::size_t work = run_commands();
  work += send_publications();
  work += take_filter_events();
  work += take_inbound();
  work += step_agents();
  return work;
}

std::size_t IoLoop::step_agents() {
  if (agents_.empty()) return 0;
  std::size_t work = 0;
  const auto now = context_.clock.now();
  for (auto& agent : agents_) work += agent->do_work(now, *transport_);
  return work;
}

std::span<pollfd> IoLoop::agent_pollfds() {
  agent_pollfds_.clear();
  agent_of_fd_.clear();
  for (std::size_t a = 0; a < agents_.size(); ++a) {
    agent_fds_.clear();
    agents_[a]->pollable(agent_fds_);
    for (int fd : agent_fds_) {
      agent_pollfds_.push_back({fd, POLLIN, 0});
      agent_of_fd_.push_back(a);
    }
  }
  return agent_pollfds_;
}

bool IoLoop::report_readable(std::span<const pollfd> fds) {
  bool any = false;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    agents_[agent_of_fd_[i]]->on_readable(fds[i].fd);
    any = true;
  }
  return any;
}

std::chrono::microseconds IoLoop::agent_timeout(std::chrono::microseconds timeout) {
  if (agents_.empty()) return timeout;
  auto deadline = Clock::TimePoint::max();
  for (auto& agent : agents_) deadline = std::min(deadline, agent->next_deadline());
  if (deadline == Clock::TimePoint::max()) return timeout;
  // Compared before subtracting: an agent may answer with any past time point (TimePoint::min() included), and
  // min() - now overflows.
  const auto now = context_.clock.now();
  if (deadline <= now) return std::chrono::microseconds(0);
  auto until = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
  return timeout.count() < 0 ? until : std::min(timeout, until);
}

std::size_t IoLoop::run_commands() {
  if (!has_commands_.load(std::memory_order_acquire)) return 0;
  std::vector<Command> batch;
  {
    std::lock_guard lock(commands_mutex_);
    batch.swap(commands_);
    has_commands_.store(false, std::memory_order_relaxed);
  }
  for (auto& command : batch) command(*transport_);
  // A command may have changed what the sockets hold (a new connection, a new filter): look again.
  inbound_pending_ = true;
  filters_pending_ = true;
  return batch.size();
}

std::size_t IoLoop::send_publications() {
  std::size_t work = 0;
  PublishQueue& queue = context_.publish_queue;
  if (pending_) {
    if (!send_batch(pending_->subject, pending_->body, pending_->count)) return 0;
    finish_publications(pending_->count);
    pending_.reset();
    ++work;
  }
  const std::size_t batch_limit = context_.options.batch_max_bytes;
  for (std::size_t batches = 0; batches < kMaxBatchesPerPass; ++batches) {
    PublishItem* first = queue.front();
    if (first == nullptr) break;
    if (first->persistent()) {
      // To weftd only; NodeCore::publish() refuses persistent messages when there is no sidecar agent.
      std::size_t taken = 1;
      if (sidecar_ != nullptr) {
        taken = sidecar_->take(queue);
      } else {
        fail_persistent(context_, *first, Status::unavailable("no sidecar configured (NodeOptions::sidecar)"));
      }
      finish_publications(taken);
      ++work;
      continue;
    }
    // Gather the run of queued messages for the same subject that fits in one batch.
    std::string_view subject = first->subject();
    std::size_t bytes = first->envelope_bytes();
    std::size_t count = 1;
    while (batch_limit > 0) {
      PublishItem* next = queue.peek(count);
      if (next == nullptr || next->persistent() || next->subject() != subject ||
          bytes + next->envelope_bytes() > batch_limit) {
        break;
      }
      bytes += next->envelope_bytes();
      ++count;
    }
    if (to_consumers_only(subject, count)) {
      // At-least-once messages no plain subscriber's filter lets through: into the outbox, for the consumers it
      // delivers to over the control channel, and not copied into a publish/subscribe batch that ZeroMQ would
      // drop. (That copy and its send were a tenth of the I/O thread's time per at-least-once message.)
      keep_all(count);
      finish_publications(count);
      ++work;
      continue;
    }
    // The subject must outlive the slot if the batch waits (kBlock) or the slot's bytes move into the batch.
    std::string subject_copy(subject);
    zmq::message_t body = build_batch(count, bytes);
    ++work;
    if (!send_batch(subject_copy, body, count)) {
      pending_ = PendingBatch{std::move(subject_copy), std::move(body), count};  // still queued: back-pressure
      break;
    }
    finish_publications(count);
  }
  return work;
}

// One ZeroMQ message holding the next `count` queued envelopes, sequences stamped. A large message alone
// hands its buffer to ZeroMQ instead of being copied: ZeroMQ frees it once sent.
zmq::message_t IoLoop::build_batch(std::size_t count, std::size_t bytes) {
  PublishQueue& queue = context_.publish_queue;
  // One clock read for the batch (at-least-once messages arm their publish timeout with it), not one per message.
  const Clock::TimePoint now = reliable_ != nullptr ? context_.clock.now() : Clock::TimePoint{};
  if (count == 1 && bytes >= kZeroCopyBytes) {
    PublishItem* item = queue.front();
    keep(*item, stamp(*item), now, /*hand_over=*/false);  // a copy: the buffer goes to ZeroMQ
    auto* owned = new ByteBuffer(std::move(item->bytes));  // NOLINT: ownership passes to ZeroMQ's free callback
    item->bytes = ByteBuffer();
    return zmq::message_t(owned->data() + item->subject_bytes, bytes,
                          [](void*, void* hint) { delete static_cast<ByteBuffer*>(hint); }, owned);
  }
  zmq::message_t body(bytes);
  auto* out = static_cast<std::byte*>(body.data());
  for (std::size_t i = 0; i < count; ++i) {
    PublishItem* item = queue.peek(i);
    const std::uint64_t sequence = stamp(*item);
    std::memcpy(out, item->envelope(), item->envelope_bytes());
    out += item->envelope_bytes();
    keep(*item, sequence, now, /*hand_over=*/true);  // after the copy: the slot's buffer may go to the outbox
  }
  return body;
}

// Whether the next `count` queued messages (all on `subject`) are at-least-once ones that no plain subscriber
// wants: no filter a peer's subscribing socket holds here is a prefix of the subject. The filters ZeroMQ has
// taken in are read first: this view is then as current as the one ZeroMQ would match the batch against.
bool IoLoop::to_consumers_only(std::string_view subject, std::size_t count) {
  if (reliable_ == nullptr) return false;
  PublishQueue& queue = context_.publish_queue;
  for (std::size_t i = 0; i < count; ++i) {
    if (!queue.peek(i)->reliable()) return false;
  }
  filters_pending_ = true;
  (void)take_filter_events();
  return !context_.remote_filters.any_filter_for(subject);
}

// Stamps the next `count` queued at-least-once messages and hands their buffers to the outbox.
void IoLoop::keep_all(std::size_t count) {
  PublishQueue& queue = context_.publish_queue;
  const Clock::TimePoint now = context_.clock.now();
  for (std::size_t i = 0; i < count; ++i) {
    PublishItem* item = queue.peek(i);
    keep(*item, stamp(*item), now, /*hand_over=*/true);
  }
}

// Gives a message its stream and sequence as it leaves. An at-least-once message takes the outbox's stream
// and sequence; returns that sequence (0 for the others).
std::uint64_t IoLoop::stamp(PublishItem& item) {
  if (!item.reliable() || reliable_ == nullptr) {
    stamp_sequence(item.envelope(), next_sequence_++);
    return 0;
  }
  std::uint64_t sequence = reliable_->take_sequence();
  stamp_stream(item.envelope(), reliable_->stream_id());
  stamp_sequence(item.envelope(), sequence);
  return sequence;
}

// An at-least-once message (stamped with `sequence`) goes into the outbox. `hand_over`: the outbox takes the
// slot's buffer instead of a copy (one cold buffer less written per message); the slot is done with it, since
// its envelope was copied into the publish/subscribe batch already, and gets an empty buffer in exchange.
void IoLoop::keep(PublishItem& item, std::uint64_t sequence, Clock::TimePoint now, bool hand_over) {
  if (sequence == 0) return;
  // The subject is copied by add() before it takes the buffer the view points into.
  reliable_->add(sequence, item.subject(), item.envelope(), item.envelope_bytes(), item.timeout,
                 std::move(*item.on_complete), item.request(), now, hand_over ? &item.bytes : nullptr);
}

// True when the batch is dealt with (sent, or dropped and counted); false when it must wait (kBlock).
bool IoLoop::send_batch(std::string_view subject, zmq::message_t& body, std::size_t count) {
  const bool block = context_.options.overflow == OverflowPolicy::kBlock;
  SendResult result = transport_->send(subject, body, block ? kBlockedSendWait : std::chrono::milliseconds(0));
  NodeCounters& counters = context_.counters;
  switch (result) {
    case SendResult::kSent:
      NodeCounters::add(counters.sent, count);
      NodeCounters::add(counters.batches_sent);
      // Sending lets ZeroMQ process the socket's pending commands (at most about once a millisecond), which
      // can consume the signal that subscription messages arrived: look for them again at that pace.
      if (auto now = std::chrono::steady_clock::now(); now - last_filter_look_ > std::chrono::milliseconds(1)) {
        filters_pending_ = true;
        last_filter_look_ = now;
      }
      return true;
    case SendResult::kFull:
      // kBlock never drops here: a batch still refused when the node stops is discarded with the rest of the
      // queue and counted as discarded_on_close.
      if (block) return false;
      NodeCounters::add(counters.dropped_hwm, count);
      context_.limited_log.warn(kLogDroppedHwm, "dropped " + std::to_string(count) + " message(s) on '" +
                                                    std::string(subject) +
                                                    "': a subscriber's high-water mark is full (send_hwm)");
      return true;
    case SendResult::kFailed:
      NodeCounters::add(counters.send_errors, count);
      context_.limited_log.warn(kLogTransportFailure, "the transport failed to send " + std::to_string(count) +
                                                          " message(s) on '" + std::string(subject) + "'");
      return true;
  }
  return true;
}

void IoLoop::finish_publications(std::size_t count) {
  PublishQueue& queue = context_.publish_queue;
  queue.pop(count);
  queue.notify_room();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (context_.flush_waiters.load(std::memory_order_relaxed) > 0) {
    std::lock_guard lock(context_.flush_mutex);
    context_.flush_cv.notify_all();
  }
}

std::size_t IoLoop::take_filter_events() {
  if (!filters_pending_) return 0;
  std::size_t work = 0;
  FilterEvent event;
  while (true) {
    if (!transport_->next_filter_event(event)) {
      filters_pending_ = false;
      break;
    }
    ++work;
    if (event.kind == FilterEvent::Kind::kMalformed) {
      NodeCounters::add(context_.counters.bad_subscription);
      context_.limited_log.warn(kLogBadSubscription,
                                "discarded a message on the publishing socket that is not a subscription");
      continue;
    }
    context_.remote_filters.apply(event);
  }
  return work;
}

bool IoLoop::inbound_has_room() {
  if (!context_.inbound.full()) return true;
  // Tell the dispatcher to wake this thread when it makes room, then look again in case it just did.
  context_.inbound_blocked.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!context_.inbound.full()) {
    context_.inbound_blocked.store(false, std::memory_order_relaxed);
    return true;
  }
  return false;
}

std::size_t IoLoop::take_inbound() {
  if (!inbound_pending_) return 0;
  std::size_t work = 0;
  NodeCounters& counters = context_.counters;
  const std::size_t max_frame = context_.options.max_frame_size;
  while (work < kMaxInboundPerPass && inbound_has_room()) {
    ReceiveResult result = transport_->receive(receiving_);
    if (result == ReceiveResult::kNone || result == ReceiveResult::kFailed) {
      inbound_pending_ = false;
      break;
    }
    ++work;
    if (result == ReceiveResult::kBadFraming) {
      NodeCounters::add(counters.bad_framing);
      context_.limited_log.warn(kLogBadFraming, "discarded a received message that is not [subject, envelopes]");
      continue;
    }
    if (receiving_.body.size() > max_frame || receiving_.subject.size() > max_frame) {
      NodeCounters::add(counters.oversized);
      context_.limited_log.warn(kLogOversized, "discarded a received frame of " +
                                                   std::to_string(receiving_.body.size()) +
                                                   " bytes, over max_frame_size " + std::to_string(max_frame));
      continue;
    }
    // Weft's own announcements are counted apart, so that the application's counts are its messages only.
    NodeCounters::add(is_internal_subject(receiving_.subject.to_string_view()) ? counters.announcements
                                                                               : counters.batches_received);
    DispatchItem item{std::move(receiving_), nullptr};
    bool pushed = context_.inbound.try_push(item);
    (void)pushed;  // inbound_has_room() said there was room, and this is the only producer
    receiving_ = InboundMessage{};
  }
  if (work > 0) notify_dispatcher();
  return work;
}

void IoLoop::notify_dispatcher() { context_.wake_dispatcher(); }

bool IoLoop::publications_waiting() const noexcept {
  return !pending_ && context_.publish_queue.front() != nullptr;
}

// Whether the next pass of do_work() has something to do. A socket that may still hold input counts as soon
// as the dispatcher has room for it: the socket will not signal again for input it already announced.
// Decisions about at-least-once deliveries count too: their producers' io_wake.notify() writes the eventfd
// only while this thread sleeps, so one queued while it spins or works must be seen here, or it would wait
// for the next timer (the subscriber's 1 s heartbeat) before the subscriber engine sends the acknowledgement.
bool IoLoop::work_waiting() {
  return has_commands_.load(std::memory_order_relaxed) || publications_waiting() || !context_.acks.empty() ||
         context_.stopping.load(std::memory_order_relaxed) || filters_pending_ ||
         (inbound_pending_ && inbound_has_room());
}

void IoLoop::note(const Readiness& ready) noexcept {
  inbound_pending_ = inbound_pending_ || ready.inbound;
  filters_pending_ = filters_pending_ || ready.filter_events;
}

// Keeps looking for work for io_spin before sleeping: a sleeping thread takes several microseconds to wake,
// which in a request/reply exchange is paid on every hop. The queues are checked with plain loads; the
// sockets with a zero-timeout poll(2) every few rounds, the only system call while spinning.
bool IoLoop::spin_for_work() {
  const auto spin = context_.options.io_spin;
  if (spin.count() <= 0 || pending_) return false;
  const auto deadline = std::chrono::steady_clock::now() + spin;
  for (unsigned round = 1;; ++round) {
    if (work_waiting()) return true;
    if (round % 8 == 0) {
      auto extra = agent_pollfds();
      Readiness ready =
          transport_->wait(std::chrono::microseconds(0), context_.io_wake.fd(), !inbound_pending_, extra);
      note(ready);
      if (report_readable(extra) || ready.inbound || ready.filter_events) return true;
      if (ready.woken) {
        // Someone handed this thread work the queues above do not show (acknowledgements, commands).
        context_.io_wake.clear();
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
    // Yield rather than pause: on a machine with more runnable threads than cores, the thread that will
    // produce the work (a ZeroMQ I/O thread, the dispatcher) may need this core.
    std::this_thread::yield();
  }
}

void IoLoop::sleep_until_work() {
  WakeSignal& wake = context_.io_wake;
  wake.prepare_sleep();
  // The last look before sleeping. If the subscribing side still holds input and the dispatcher is full,
  // inbound_has_room() (inside work_waiting()) has asked the dispatcher to wake this thread when it pops.
  if (work_waiting()) {
    wake.cancel_sleep();
    return;
  }
  // A refused batch (kBlock) is retried at once; otherwise sleep until a socket or the wake signal stirs. The
  // subscribing socket is watched only once drained: it signals new input, not input already announced.
  auto timeout = pending_ ? std::chrono::microseconds(0) : std::chrono::microseconds(-1);
  auto extra = agent_pollfds();
  note(transport_->wait(agent_timeout(timeout), wake.fd(), !inbound_pending_, extra));
  report_readable(extra);
  wake.clear();
}

void IoLoop::run() {
  while (!context_.stopping.load(std::memory_order_acquire)) {
    if (do_work() > 0) continue;
    if (work_waiting()) continue;
    if (spin_for_work()) continue;
    sleep_until_work();
  }
  // Stopping: the node already waited (up to its linger) for the publish queue to drain.
  {
    std::lock_guard lock(commands_mutex_);
    accepting_commands_ = false;
  }
  run_commands();
  for (auto& agent : agents_) agent->stop(*transport_);
  discard_remaining();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(linger_deadline_ -
                                                                    std::chrono::steady_clock::now());
  transport_->close(left.count() > 0 ? left : std::chrono::milliseconds(0));
}

void IoLoop::discard_remaining() {
  PublishQueue& queue = context_.publish_queue;
  std::size_t discarded = 0;
  pending_.reset();
  while (PublishItem* item = queue.front()) {
    if (item->persistent()) fail_persistent(context_, *item, Status::closed("the node stopped before the message reached weftd"));
    queue.pop();
    ++discarded;
  }
  if (discarded > 0) {
    NodeCounters::add(context_.counters.discarded_on_close, discarded);
    context_.logger.warn("discarded " + std::to_string(discarded) +
                         " queued message(s) at close: the linger ran out before they could be sent");
  }
  finish_publications(0);
}

}  // namespace weft::detail
