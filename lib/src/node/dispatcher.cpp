#include "node/dispatcher.hpp"

#include <poll.h>

#include <exception>
#include <string>
#include <thread>

#include "subject/reserved.hpp"
#include "util/cpu_affinity.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

namespace {

constexpr std::size_t kMaxMessagesPerPass = 64;

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    auto byte = static_cast<unsigned char>(c);
    out += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  if (text.size() > 64) out += "...";
  return out;
}

}  // namespace

void deliver(NodeContext& context, const DecodedBatch& batch, SubscriptionState& subscription);

Dispatcher::Dispatcher(std::shared_ptr<NodeContext> context) : context_(std::move(context)) {}

std::size_t Dispatcher::do_work() {
  std::size_t done = 0;
  NodeContext& context = *context_;
  done += run_tasks();
  while (done < kMaxMessagesPerPass) {
    DispatchItem* item = context.inbound.front();
    if (item == nullptr) break;
    if (item->reliable) {
      dispatch_reliable(*item);
    } else {
      dispatch(item->frames);
    }
    context.inbound.pop();
    ++done;
    // The I/O thread stops reading when the ring is full; let it know there is room again.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (context.inbound_blocked.load(std::memory_order_relaxed) &&
        context.inbound_blocked.exchange(false, std::memory_order_relaxed)) {
      context.io_wake.force_notify();
    }
  }
  return done;
}

void Dispatcher::dispatch(InboundMessage& message) {
  NodeContext& context = *context_;
  const bool executor = context.executor != nullptr;
  std::shared_ptr<DecodedBatch> shared;
  DecodedBatch* batch = &batch_;
  if (executor) {
    shared = std::make_shared<DecodedBatch>();
    batch = shared.get();
  }
  batch->frames = std::move(message);
  if (!decode(*batch)) return;

  std::string_view subject = batch->frames.subject.to_string_view();
  const SubscriptionList& subscriptions = matching(subject);
  if (subscriptions.empty()) {
    if (!is_internal_subject(subject)) NodeCounters::add(context.counters.unmatched, batch->envelopes.size());
    return;
  }
  if (executor) {
    deliver_through_executor(std::move(shared), subscriptions);
    return;
  }
  for (const auto& subscription : subscriptions) deliver(context, *batch, *subscription);
}

bool Dispatcher::decode(DecodedBatch& batch) {
  NodeContext& context = *context_;
  NodeCounters& counters = context.counters;
  std::string_view subject = batch.frames.subject.to_string_view();
  if (Status valid = validate_subject(subject); !valid) {
    NodeCounters::add(counters.bad_subject);
    context.limited_log.warn(kLogBadSubject, "discarded a message: frame 0 is not a valid subject: " +
                                                 valid.message());
    return false;
  }
  std::span<const std::byte> body(static_cast<const std::byte*>(batch.frames.body.data()), batch.frames.body.size());
  batch.envelopes.clear();
  batch.headers.clear();
  header_ranges_.clear();
  std::size_t offset = 0;
  if (body.empty()) {
    NodeCounters::add(counters.bad_envelope);
    context.limited_log.warn(kLogBadEnvelope, "discarded a message on '" + printable(subject) +
                                                  "': frame 1 is empty");
    return false;
  }
  while (offset < body.size()) {
    EnvelopeView view;
    DecodeResult result = decode_envelope(body, offset, view, header_scratch_);
    if (!result.ok()) {
      // The rest of the frame cannot be trusted: it is discarded and counted once.
      bool version = result.error == DecodeError::kBadVersion;
      NodeCounters::add(version ? counters.bad_version : counters.bad_envelope);
      context.limited_log.warn(version ? kLogBadVersion : kLogBadEnvelope,
                               "discarded the rest of a message on '" + printable(subject) + "': " + result.detail);
      break;
    }
    if (view.subject != subject) {
      NodeCounters::add(counters.subject_mismatch);
      context.limited_log.warn(kLogSubjectMismatch, "discarded the rest of a message: an envelope for '" +
                                                        printable(view.subject) + "' came in a frame for '" +
                                                        printable(subject) + "'");
      break;
    }
    header_ranges_.emplace_back(batch.headers.size(), header_scratch_.size());
    batch.headers.insert(batch.headers.end(), header_scratch_.begin(), header_scratch_.end());
    batch.envelopes.push_back(view);
  }
  // The header vector is complete now, so the views into it are stable.
  for (std::size_t i = 0; i < batch.envelopes.size(); ++i) {
    batch.envelopes[i].headers = std::span<const HeaderRef>(batch.headers.data() + header_ranges_[i].first,
                                                            header_ranges_[i].second);
  }
  if (!is_internal_subject(subject)) NodeCounters::add(counters.received, batch.envelopes.size());
  return !batch.envelopes.empty();
}

const SubscriptionList& Dispatcher::matching(std::string_view subject) {
  std::uint64_t version = context_->registry.version();
  if (version != snapshot_version_) {
    snapshot_ = context_->registry.snapshot();
    snapshot_version_ = version;
    cache_valid_ = false;
  }
  if (cache_valid_ && subject == cached_subject_) return cached_matches_;
  cached_matches_.clear();
  const bool internal_subject = is_internal_subject(subject);
  for (const auto& subscription : *snapshot_) {
    if (subscription->reliable()) continue;  // at-least-once subscriptions get deliveries, not fan-out
    if (internal_subject && !is_internal_subject(subscription->pattern())) continue;
    if (subject_matches(subscription->pattern(), subject)) cached_matches_.push_back(subscription);
  }
  cached_subject_.assign(subject);
  cache_valid_ = true;
  return cached_matches_;
}

// Runs the handler for every envelope of the batch. A free function, because with an executor it runs on the
// executor's threads and may outlive the dispatcher (the task keeps the context alive).
void deliver(NodeContext& context, const DecodedBatch& batch, SubscriptionState& subscription) {
  std::size_t delivered = 0;
  subscription.with_handler([&](Handler& handler) {
    for (const EnvelopeView& envelope : batch.envelopes) {
      if (!subscription.active()) break;  // unsubscribed from inside the handler
      ++delivered;
      try {
        handler(envelope.as_message());
      } catch (const std::exception& e) {
        subscription.count_exception();
        NodeCounters::add(context.counters.handler_exceptions);
        context.limited_log.warn(kLogHandlerException, "a handler for '" + subscription.pattern() +
                                                           "' threw: " + e.what());
      } catch (...) {
        subscription.count_exception();
        NodeCounters::add(context.counters.handler_exceptions);
        context.limited_log.warn(kLogHandlerException,
                                 "a handler for '" + subscription.pattern() + "' threw a non-standard exception");
      }
    }
  });
  subscription.count_delivered(delivered);
  if (!subscription.internal()) NodeCounters::add(context.counters.delivered, delivered);
}

void Dispatcher::deliver_through_executor(std::shared_ptr<DecodedBatch> batch,
                                          const SubscriptionList& subscriptions) {
  NodeContext& context = *context_;
  for (const auto& subscription : subscriptions) {
    // Bounded: at most dispatch_queue_batches tasks in the executor at once; past that, wait (back-pressure).
    {
      std::unique_lock lock(context.executor_mutex);
      context.executor_cv.wait(lock, [&] {
        return context.executor_inflight < context.options.dispatch_queue_batches ||
               context.stopping.load(std::memory_order_relaxed);
      });
      ++context.executor_inflight;
    }
    context.executor->execute([this_context = context_, batch, subscription] {
      deliver(*this_context, *batch, *subscription);
      std::lock_guard lock(this_context->executor_mutex);
      --this_context->executor_inflight;
      this_context->executor_cv.notify_all();
    });
  }
}

bool Dispatcher::spin_for_input() {
  NodeContext& context = *context_;
  // Spin first: the next message often follows within microseconds, and waking from sleep costs more.
  auto spin_until = std::chrono::steady_clock::now() + spin_;
  for (unsigned round = 1; spin_.count() > 0; ++round) {
    if (context.inbound.front() != nullptr || has_tasks() || context.stopping.load(std::memory_order_relaxed)) {
      return true;
    }
    if (round % 8 == 0 && std::chrono::steady_clock::now() >= spin_until) break;
    // Yield, not pause: with more runnable threads than cores the I/O thread may need this core to deliver.
    std::this_thread::yield();
  }
  return false;
}

void Dispatcher::wait_for_input() {
  NodeContext& context = *context_;
  if (spin_for_input()) return;
  // The spin after a wake-up by the socket found nothing: that signal was not a message for us (or the I/O
  // thread is busy). Stop watching the socket until something is dispatched again, or we would spin on it.
  if (woken_by_socket_) watch_socket_ = false;
  woken_by_socket_ = false;
  WakeSignal& wake = context.dispatch_wake;
  wake.prepare_sleep();
  if (context.inbound.front() != nullptr || has_tasks() || context.stopping.load(std::memory_order_relaxed)) {
    wake.cancel_sleep();
    return;
  }
  const bool watch = watch_socket_ && context.inbound_signal_fd >= 0 && spin_.count() > 0;
  pollfd fds[2] = {{wake.fd(), POLLIN, 0}, {watch ? context.inbound_signal_fd : -1, POLLIN, 0}};
  ::poll(fds, 2, -1);
  woken_by_socket_ = watch && fds[1].revents != 0 && fds[0].revents == 0;
  wake.clear();
}

bool Dispatcher::has_tasks() {
  std::lock_guard lock(context_->tasks_mutex);
  return !context_->tasks.empty();
}

std::size_t Dispatcher::run_tasks() {
  if (!has_tasks()) return 0;
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(context_->tasks_mutex);
    tasks.swap(context_->tasks);
  }
  for (auto& task : tasks) {
    try {
      task();
    } catch (const std::exception& e) {
      NodeCounters::add(context_->counters.handler_exceptions);
      context_->limited_log.warn(kLogHandlerException, std::string("a completion callback threw: ") + e.what());
    } catch (...) {
      NodeCounters::add(context_->counters.handler_exceptions);
    }
  }
  return tasks.size();
}

void Dispatcher::run() {
  NodeContext& context = *context_;
  spin_ = cpus_this_thread_may_use() > 1 ? context.options.dispatch_spin : std::chrono::microseconds(0);
  while (true) {
    if (do_work() > 0) {
      watch_socket_ = true;
      woken_by_socket_ = false;
      continue;
    }
    if (context.stopping.load(std::memory_order_acquire)) break;
    wait_for_input();
  }
  count_undelivered();
}

void Dispatcher::count_undelivered() {
  NodeContext& context = *context_;
  std::uint64_t undelivered = 0;
  while (DispatchItem* item = context.inbound.front()) {
    InboundMessage* message = &item->frames;
    std::span<const std::byte> body(static_cast<const std::byte*>(message->body.data()), message->body.size());
    std::size_t offset = 0;
    EnvelopeView view;
    while (offset < body.size() && decode_envelope(body, offset, view, header_scratch_).ok()) ++undelivered;
    context.inbound.pop();
  }
  NodeCounters::add(context.counters.undelivered_on_close, undelivered);
}

}  // namespace weft::detail
