#include "reliable/subscriber_engine.hpp"

#include <algorithm>

namespace weft::detail {

namespace {

constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
// Registration is repeated this often until the publisher is heard from, and again whenever it falls silent
// for kPublisherSilence (it may have restarted and forgotten us).
constexpr auto kRegisterRetry = std::chrono::milliseconds(250);
constexpr auto kPublisherSilence = std::chrono::seconds(3);
// A gap or a lost tail is asked for again at most this often.
constexpr auto kResendInterval = std::chrono::milliseconds(200);
// Acknowledgements the control channel refused (full) are offered again this soon.
constexpr auto kUnsentRetry = std::chrono::milliseconds(1);

// Appends dseq to a list of ranges, extending the last range when it continues it.
void add_to_ranges(std::vector<control::AckRange>& ranges, std::uint64_t dseq, std::uint32_t attempt) {
  if (!ranges.empty()) {
    auto& last = ranges.back();
    if (last.attempt == attempt && last.first + last.count == dseq) {
      ++last.count;
      return;
    }
  }
  ranges.push_back({dseq, 1, attempt});
}

}  // namespace

SubscriberEngine::SubscriberEngine(NodeContext& context, ControlChannel& channel)
    : context_(context), channel_(channel) {}

void SubscriberEngine::add(LocalConsumer consumer, Clock::TimePoint now) {
  Consumer& c = consumers_[consumer.subscription_id];
  c.spec = std::move(consumer);
  for (const auto& [endpoint, node_id] : publishers_) open_link(c, endpoint, now);
}

void SubscriberEngine::remove(std::uint64_t subscription_id) {
  auto it = consumers_.find(subscription_id);
  if (it == consumers_.end()) return;
  Consumer& c = it->second;
  for (auto& [endpoint, link] : c.links) {
    flush(c, link, context_.clock.now());
    (void)channel_.send(link.peer, control::Unconsume{c.spec.key, c.spec.session});
  }
  consumers_.erase(it);
}

void SubscriberEngine::open_link(Consumer& consumer, const std::string& endpoint, Clock::TimePoint now) {
  Link& link = consumer.links[endpoint];
  link.id = next_link_id_++;
  link.peer = {PeerRef::Via::kOutgoing, endpoint};
  link.next_register = now;  // registers at once
}

void SubscriberEngine::learn_publisher(const std::string& control_endpoint, std::uint64_t node_id,
                                       Clock::TimePoint now) {
  if (control_endpoint.empty()) return;
  bool known = publishers_.count(control_endpoint) != 0;
  publishers_[control_endpoint] = node_id;
  if (!known) {
    if (Status connected = channel_.connect(control_endpoint); !connected) {
      context_.limited_log.warn(kLogReliable, connected.message());
      publishers_.erase(control_endpoint);
      return;
    }
  }
  for (auto& [id, c] : consumers_) {
    if (c.links.count(control_endpoint) == 0) open_link(c, control_endpoint, now);
  }
}

void SubscriberEngine::forget_publisher(const std::string& control_endpoint) {
  publishers_.erase(control_endpoint);
  for (auto& [id, c] : consumers_) c.links.erase(control_endpoint);
  channel_.disconnect(control_endpoint);
}

void SubscriberEngine::forget_node(std::uint64_t node_id) {
  std::vector<std::string> endpoints;
  for (const auto& [endpoint, id] : publishers_) {
    if (id == node_id) endpoints.push_back(endpoint);
  }
  for (const std::string& endpoint : endpoints) forget_publisher(endpoint);
}

SubscriberEngine::Consumer* SubscriberEngine::find(const std::string& key, std::uint64_t session) {
  for (auto& [id, c] : consumers_) {
    if (c.spec.key == key && c.spec.session == session) return &c;
  }
  return nullptr;
}

bool SubscriberEngine::handle(const PeerRef& from, control::Message& message, zmq::message_t& body, bool,
                              Clock::TimePoint now) {
  if (auto* deliver = std::get_if<control::Deliver>(&message)) {
    on_deliver(from, *deliver, body, now);
    return true;
  }
  if (auto* heartbeat = std::get_if<control::Heartbeat>(&message)) {
    if (from.via != PeerRef::Via::kOutgoing) return false;  // a subscriber's heartbeat: the publisher's
    on_heartbeat(from, *heartbeat, now);
    return true;
  }
  if (auto* rejected = std::get_if<control::Rejected>(&message)) {
    on_rejected(*rejected);
    return true;
  }
  return false;
}

void SubscriberEngine::on_deliver(const PeerRef& from, const control::Deliver& deliver, zmq::message_t& body,
                                  Clock::TimePoint now) {
  Consumer* c = find(deliver.key, deliver.session);
  if (c == nullptr) {
    // For a session that is gone (unsubscribed, or this process restarted): the publisher hears of it by the
    // missing heartbeats and gives the deliveries to others.
    NodeCounters::add(context_.counters.control_unhandled);
    return;
  }
  auto link_it = c->links.find(from.key);
  if (link_it == c->links.end()) return;
  Link& link = link_it->second;
  link.last_heard = now;
  link.registered = true;

  // Split the body by the items' lengths, and check it adds up before trusting any of it.
  std::uint64_t total = 0;
  for (const auto& item : deliver.items) total += item.length;
  if (total != body.size() || deliver.items.empty()) {
    NodeCounters::add(context_.counters.control_malformed);
    return;
  }
  auto meta = std::make_unique<ReliableMeta>();
  meta->subscription_id = c->spec.subscription_id;
  meta->key = c->spec.key;
  meta->session = c->spec.session;
  meta->link = link.id;
  meta->max_deliver = c->spec.max_deliver;
  // The envelopes to hand over: the whole body as it came when none is a duplicate (no copy), else the fresh ones.
  ByteBuffer fresh;
  bool all_fresh = true;
  const auto* bytes = static_cast<const std::byte*>(body.data());
  std::size_t offset = 0;
  // At the first duplicate, everything before it was fresh: that prefix starts the rebuilt body.
  auto skip = [&](std::size_t item_start) {
    if (!all_fresh) return;
    all_fresh = false;
    assign_bytes(fresh, bytes, item_start);
  };
  for (const auto& item : deliver.items) {
    std::span<const std::byte> envelope(bytes + offset, item.length);
    offset += item.length;
    NodeCounters::add(context_.counters.reliable_received);
    if (c->spec.mode == control::ConsumerMode::kDurable && item.attempt <= 1 && item.dseq > link.highest + 1 &&
        link.highest != 0 && now >= link.next_resend) {
      // Deliveries to a durable subscriber come in order: a jump means some were lost in transit.
      link.next_resend = now + kResendInterval;
      NodeCounters::add(context_.counters.resend_requests);
      (void)channel_.send(link.peer, control::Resend{c->spec.key, c->spec.session, link.highest + 1});
    }
    link.highest = std::max(link.highest, item.dseq);
    if (auto held = link.held.find(item.dseq); held != link.held.end()) {
      // In a handler right now: its decision will name the newest attempt.
      held->second = std::max(held->second, item.attempt);
      NodeCounters::add(context_.counters.reliable_duplicates);
      skip(offset - item.length);
      continue;
    }
    if (link.done.contains(item.dseq)) {
      // Handled already; our acknowledgement was lost or late: acknowledge this attempt too.
      NodeCounters::add(context_.counters.reliable_duplicates);
      add_to_ranges(link.acks, item.dseq, item.attempt);
      skip(offset - item.length);
      continue;
    }
    link.held[item.dseq] = item.attempt;
    meta->items.push_back({item.dseq, item.attempt});
    if (!all_fresh) {
      append_bytes(fresh, envelope.data(), envelope.size());
    }
  }
  if (meta->items.empty()) return;
  DispatchItem item;
  if (all_fresh) {
    item.frames.body = std::move(body);
  } else {
    item.frames.body = zmq::message_t(fresh.data(), fresh.size());
  }
  item.reliable = std::move(meta);
  if (!waiting_.empty() || !context_.inbound.try_push(item)) {
    // The dispatcher is busy; hold it (bounded by the credit this node grants its publishers).
    waiting_.push_back(std::move(item));
    return;
  }
  context_.wake_dispatcher();
}

std::size_t SubscriberEngine::push_waiting() {
  std::size_t pushed = 0;
  while (!waiting_.empty() && context_.inbound.try_push(waiting_.front())) {
    waiting_.erase(waiting_.begin());
    ++pushed;
  }
  if (pushed > 0) context_.wake_dispatcher();
  return pushed;
}

void SubscriberEngine::on_heartbeat(const PeerRef& from, const control::Heartbeat& heartbeat, Clock::TimePoint now) {
  Consumer* c = find(heartbeat.key, heartbeat.session);
  if (c == nullptr) return;
  auto link_it = c->links.find(from.key);
  if (link_it == c->links.end()) return;
  Link& link = link_it->second;
  link.last_heard = now;
  link.registered = true;
  // The publisher sent up to last_dseq; if that one never came, the tail was lost on the way.
  bool missing = heartbeat.last_dseq != 0 && link.held.count(heartbeat.last_dseq) == 0 &&
                 !link.done.contains(heartbeat.last_dseq);
  if (missing && now >= link.next_resend) {
    link.next_resend = now + kResendInterval;
    NodeCounters::add(context_.counters.resend_requests);
    // A durable subscriber knows where its stream broke; a queue member asks for all it holds to be resent.
    std::uint64_t from_dseq = c->spec.mode == control::ConsumerMode::kDurable ? link.highest + 1 : 0;
    if (c->spec.mode == control::ConsumerMode::kDurable && heartbeat.last_dseq <= link.highest) from_dseq = 0;
    (void)channel_.send(link.peer, control::Resend{c->spec.key, c->spec.session, from_dseq});
  }
}

void SubscriberEngine::on_rejected(const control::Rejected& rejected) {
  std::uint64_t count = 0;
  for (const auto& range : rejected.ranges) count += range.count;
  NodeCounters::add(context_.counters.acks_rejected, count);
  context_.limited_log.warn(kLogReliable, "a publisher refused " + std::to_string(count) + " acknowledgement(s) for '" +
                                              rejected.key + "': " + rejected.reason);
}

void SubscriberEngine::note_done(Link& link, std::uint64_t dseq) { link.done.mark(dseq); }

std::size_t SubscriberEngine::apply_decisions() {
  context_.acks.take(decisions_);
  for (const AckDecision& d : decisions_) {
    auto c = consumers_.find(d.subscription_id);
    if (c == consumers_.end() || c->second.spec.session != d.session) continue;
    // The link it came by (a consumer has one per publisher: a short walk); gone, the publisher redelivers.
    Link* found = nullptr;
    for (auto& [endpoint, candidate] : c->second.links) {
      if (candidate.id == d.link) {
        found = &candidate;
        break;
      }
    }
    if (found == nullptr) continue;
    Link& link = *found;
    auto held = link.held.find(d.dseq);
    // Name the newest attempt the publisher made: an older one would be refused as stale.
    std::uint32_t attempt = held != link.held.end() ? std::max(held->second, d.attempt) : d.attempt;
    switch (d.kind) {
      case AckDecision::Kind::kAck:
        add_to_ranges(link.acks, d.dseq, attempt);
        if (held != link.held.end()) link.held.erase(held);
        note_done(link, d.dseq);
        break;
      case AckDecision::Kind::kNak:
        link.naks.push_back({d.dseq, attempt, d.delay_ms});
        if (link.nak_reason.empty()) link.nak_reason = d.reason;
        if (held != link.held.end()) link.held.erase(held);
        break;
      case AckDecision::Kind::kProgress:
        add_to_ranges(link.progress, d.dseq, attempt);
        break;
    }
  }
  return decisions_.size();
}

std::size_t SubscriberEngine::flush(Consumer& c, Link& link, Clock::TimePoint) {
  std::size_t sent = 0;
  if (!link.acks.empty()) {
    std::uint64_t n = 0;
    for (const auto& r : link.acks) n += r.count;
    if (channel_.send(link.peer, control::Ack{c.spec.key, c.spec.session, link.acks}) == SendResult::kSent) {
      NodeCounters::add(context_.counters.acks_sent, n);
      link.acks.clear();
      ++sent;
    }
  }
  if (!link.naks.empty()) {
    if (channel_.send(link.peer, control::Nak{c.spec.key, c.spec.session, link.naks, link.nak_reason}) ==
        SendResult::kSent) {
      NodeCounters::add(context_.counters.naks_sent, link.naks.size());
      link.naks.clear();
      link.nak_reason.clear();
      ++sent;
    }
  }
  if (!link.progress.empty()) {
    if (channel_.send(link.peer, control::Progress{c.spec.key, c.spec.session, link.progress}) == SendResult::kSent) {
      link.progress.clear();
      ++sent;
    }
  }
  return sent;
}

std::size_t SubscriberEngine::do_work(Clock::TimePoint now) {
  std::size_t work = push_waiting();
  if (!context_.acks.empty()) work += apply_decisions();
  for (auto& [id, c] : consumers_) {
    for (auto& [endpoint, link] : c.links) {
      work += flush(c, link, now);
      // (Re)register until the publisher answers, and again when it falls silent.
      if (link.registered && now - link.last_heard > kPublisherSilence) link.registered = false;
      if (!link.registered && now >= link.next_register) {
        link.next_register = now + kRegisterRetry;
        control::Consume consume;
        consume.key = c.spec.key;
        consume.mode = static_cast<std::uint8_t>(c.spec.mode);
        consume.pattern = c.spec.pattern;
        consume.node_id = context_.id;
        consume.session = c.spec.session;
        consume.ack_wait_ms = static_cast<std::uint32_t>(c.spec.ack_wait.count());
        consume.max_deliver = c.spec.max_deliver;
        consume.credit = c.spec.credit;
        if (channel_.send(link.peer, consume) == SendResult::kSent) {
          if (link.last_heard == Clock::TimePoint{}) link.last_heard = now;  // the silence clock starts now
        }
      }
      if (now >= link.next_heartbeat) {
        link.next_heartbeat = now + kHeartbeatInterval;
        // The credit granted, not what is free of it: the publisher counts what it has in flight itself.
        (void)channel_.send(link.peer, control::Heartbeat{c.spec.key, c.spec.session, link.highest, c.spec.credit});
      }
    }
  }
  return work;
}

Clock::TimePoint SubscriberEngine::next_deadline() {
  // Decisions queued by the handlers go out at once (the I/O loop also looks at the queue before it sleeps).
  if (!waiting_.empty() || !context_.acks.empty()) return context_.clock.now();
  auto deadline = Clock::TimePoint::max();
  bool unsent = false;
  for (auto& [id, c] : consumers_) {
    for (auto& [endpoint, link] : c.links) {
      deadline = std::min(deadline, link.next_heartbeat);
      if (!link.registered) deadline = std::min(deadline, link.next_register);
      unsent = unsent || !link.acks.empty() || !link.naks.empty() || !link.progress.empty();
    }
  }
  // A decision the channel could not take (its queue to that publisher full) is tried again shortly, not at
  // the next heartbeat.
  if (unsent) deadline = std::min(deadline, context_.clock.now() + kUnsentRetry);
  return deadline;
}

}  // namespace weft::detail
