#include "node/node_context.hpp"

#include "subject/reserved.hpp"
#include "weft/subject.hpp"

namespace weft::detail {

NodeStats NodeCounters::snapshot() const {
  auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
  NodeStats s;
  s.published = get(published);
  s.rejected = get(rejected);
  s.sent = get(sent);
  s.dropped_hwm = get(dropped_hwm);
  s.send_errors = get(send_errors);
  s.discarded_on_close = get(discarded_on_close);
  s.batches_sent = get(batches_sent);
  s.batches_received = get(batches_received);
  s.received = get(received);
  s.unmatched = get(unmatched);
  s.delivered = get(delivered);
  s.handler_exceptions = get(handler_exceptions);
  s.undelivered_on_close = get(undelivered_on_close);
  s.malformed.bad_framing = get(bad_framing);
  s.malformed.oversized = get(oversized);
  s.malformed.bad_subject = get(bad_subject);
  s.malformed.bad_envelope = get(bad_envelope);
  s.malformed.bad_version = get(bad_version);
  s.malformed.subject_mismatch = get(subject_mismatch);
  s.malformed.bad_subscription = get(bad_subscription);
  PersistentStats& p = s.persistent;
  p.published = get(persistent_published);
  p.rejected = get(persistent_rejected);
  p.persisted = get(persisted);
  p.failed = get(persist_failed);
  p.unavailable = get(persist_unavailable);
  p.appends = get(persist_appends);
  ReliableStats& r = s.reliable;
  r.published = get(reliable_published);
  r.acknowledged = get(reliable_acknowledged);
  r.failed = get(reliable_failed);
  r.expired = get(reliable_expired);
  r.unrouted = get(reliable_unrouted);
  r.restored = get(reliable_restored);
  r.outbox_rejected = get(outbox_rejected);
  r.outbox_dropped = get(outbox_dropped);
  r.deliveries = get(reliable_deliveries);
  r.redelivered = get(reliable_redelivered);
  r.naks = get(reliable_naks);
  r.ack_timeouts = get(ack_timeouts);
  r.stale_acks = get(stale_acks);
  r.dead_lettered = get(dead_lettered);
  r.dead_letter_failures = get(dead_letter_failures);
  r.received = get(reliable_received);
  r.duplicates = get(reliable_duplicates);
  r.suppressed = get(reliable_suppressed);
  r.acks_sent = get(acks_sent);
  r.naks_sent = get(naks_sent);
  r.acks_rejected = get(acks_rejected);
  r.resend_requests = get(resend_requests);
  r.requests = get(requests);
  r.replies = get(replies);
  r.request_timeouts = get(request_timeouts);
  r.no_responders = get(no_responders);
  r.control_sent = get(control_sent);
  r.control_received = get(control_received);
  r.control_malformed = get(control_malformed);
  r.announcements = get(announcements);
  return s;
}

void RemoteFilters::apply(const FilterEvent& event) {
  changes_.fetch_add(1, std::memory_order_relaxed);
  // Filters on Weft's own subjects (announcements) are not subscribers of the application's messages.
  if (is_internal_subject(event.prefix)) return;
  std::lock_guard lock(mutex_);
  if (event.kind == FilterEvent::Kind::kSubscribe) {
    ++counts_[event.prefix];
    ++total_;
  } else if (event.kind == FilterEvent::Kind::kUnsubscribe) {
    auto it = counts_.find(event.prefix);
    if (it == counts_.end()) return;  // ZeroMQ reports each unsubscribe once per subscribe; be safe anyway
    if (--it->second == 0) counts_.erase(it);
    --total_;
  }
  changed_.notify_all();
}

void RemoteFilters::set_consumers(std::vector<ConsumerInfo> consumers) {
  std::lock_guard lock(mutex_);
  consumers_ = std::move(consumers);
  changed_.notify_all();
}

std::vector<ConsumerInfo> RemoteFilters::consumers() const {
  std::lock_guard lock(mutex_);
  return consumers_;
}

std::size_t RemoteFilters::count_locked(std::string_view pattern) const {
  // A filter F lets a subject through when F is a prefix of it. For a plain subject that is all; a pattern
  // with wildcards reaches F's subscriber when either of F and the pattern's literal prefix extends the other.
  std::string_view literal = literal_prefix(pattern);
  bool plain = literal.size() == pattern.size();
  std::size_t count = 0;
  for (const auto& [filter, n] : counts_) {
    bool reaches = literal.starts_with(filter) || (!plain && std::string_view(filter).starts_with(literal));
    if (reaches) count += n;
  }
  for (const ConsumerInfo& consumer : consumers_) {
    if (consumer.members > 0 && patterns_overlap(consumer.pattern, pattern)) count += 1;
  }
  return count;
}

std::size_t RemoteFilters::count_overlapping(std::string_view pattern) const {
  std::lock_guard lock(mutex_);
  return count_locked(pattern);
}

bool RemoteFilters::any_filter_for(std::string_view subject) const {
  std::lock_guard lock(mutex_);
  for (const auto& [filter, n] : counts_) {
    if (subject.starts_with(filter)) return true;
  }
  return false;
}

std::uint64_t RemoteFilters::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

std::size_t RemoteFilters::wait_for(std::string_view pattern, std::size_t count,
                                    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  std::size_t seen = 0;
  changed_.wait_until(lock, deadline, [&] {
    seen = count_locked(pattern);
    return seen >= count || closed_;
  });
  return seen;
}

void RemoteFilters::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  changed_.notify_all();
}

NodeContext::NodeContext(NodeOptions node_options, const Clock& node_clock, std::uint64_t node_id)
    : options(std::move(node_options)),
      clock(node_clock),
      id(node_id),
      logger(options.log, options.name + ": "),
      limited_log(logger, clock, options.malformed_log_interval),
      publish_queue(options.publish_queue_messages, options.publish_queue_bytes),
      inbound(options.dispatch_queue_batches) {}

}  // namespace weft::detail
