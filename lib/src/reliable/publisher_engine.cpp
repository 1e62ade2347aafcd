#include "reliable/publisher_engine.hpp"

#include <algorithm>
#include <cstring>

#include "weft/subject.hpp"

namespace weft::detail {

namespace {

// A batch of deliveries to one member: at most this many messages and bytes in one control message.
constexpr std::size_t kMaxBatchMessages = 256;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;
// A member not heard from (heartbeat, acknowledgement, registration) for this long is considered gone: what it
// holds goes to others (queue) or waits for it to come back (durable).
constexpr auto kMemberSilence = std::chrono::seconds(3);
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);
// How long a message taken back from the disk outbox after a restart waits for its consumers.
constexpr auto kRestoredTimeout = std::chrono::minutes(10);
// How often timers (ack waits, publish timeouts, silent members) are checked.
constexpr auto kSweepInterval = std::chrono::milliseconds(50);

std::string member_id(std::uint64_t node_id, std::uint64_t session) {
  return std::to_string(node_id) + ":" + std::to_string(session);
}

}  // namespace

PublisherEngine::PublisherEngine(NodeContext& context, ControlChannel& channel, std::uint64_t stream_id,
                                 DeadLetterSink* dead_letters)
    : context_(context), channel_(channel), stream_id_(stream_id), dead_letters_(dead_letters) {}

void PublisherEngine::add(std::uint64_t sequence, std::string_view subject, const std::byte* envelope,
                          std::size_t bytes, std::chrono::milliseconds timeout, Completion on_complete,
                          bool to_queues_only) {
  Entry entry;
  entry.subject = std::string(subject);
  entry.envelope = std::make_shared<const ByteBuffer>(envelope, envelope + bytes);
  entry.expires = context_.clock.now() + timeout;
  entry.on_complete = std::move(on_complete);
  std::vector<std::string> owed_by;
  for (auto& [key, target] : targets_) {
    if (to_queues_only && target.mode != control::ConsumerMode::kQueue) continue;
    if (!subject_matches(target.pattern, subject)) continue;
    std::uint64_t dseq = target.next_dseq++;
    target.deliveries.emplace(dseq, Delivery{sequence, 0, false, {}, {}, {}, {}, {}});
    target.ready.push_back(dseq);
    ++entry.owed;
    if (store_) owed_by.push_back(key);
  }
  if (store_ && entry.owed > 0) {
    if (Status kept = store_->add_entry({sequence, entry.subject, entry.envelope, owed_by}); !kept) {
      context_.limited_log.warn(kLogReliable, "the disk outbox could not keep a message: " + kept.message());
    }
  }
  NodeCounters::add(context_.counters.reliable_published);
  if (entry.owed == 0) {
    // Nobody registered interest: there is nobody to wait for.
    NodeCounters::add(context_.counters.reliable_unrouted);
    complete(sequence, entry);
    return;
  }
  entries_.emplace(sequence, std::move(entry));
  // kDropOldest lets publish() run past the bound; the oldest messages make room, each failed and counted.
  while (entries_.size() > context_.options.outbox.max_messages && entries_.size() > 1) {
    auto oldest = entries_.begin();
    for (auto& [key, target] : targets_) {
      for (auto d = target.deliveries.begin(); d != target.deliveries.end();) {
        if (d->second.sequence != oldest->first) {
          ++d;
          continue;
        }
        if (d->second.in_flight) {
          if (auto m = target.members.find(d->second.member); m != target.members.end() && m->second.in_flight > 0) {
            --m->second.in_flight;
          }
        }
        d = target.deliveries.erase(d);
      }
    }
    NodeCounters::add(context_.counters.outbox_dropped);
    oldest->second.failure = "dropped: the outbox was full (OutboxPolicy::kDropOldest)";
    complete(oldest->first, oldest->second);
    entries_.erase(oldest);
  }
}

bool PublisherEngine::handle(const PeerRef& from, control::Message& message, zmq::message_t&, bool,
                             Clock::TimePoint now) {
  return std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, control::Consume>) {
          on_consume(from, m, now);
        } else if constexpr (std::is_same_v<T, control::Unconsume>) {
          on_unconsume(m, now);
        } else if constexpr (std::is_same_v<T, control::Ack>) {
          on_ack(from, m, now);
        } else if constexpr (std::is_same_v<T, control::Nak>) {
          on_nak(m, now);
        } else if constexpr (std::is_same_v<T, control::Progress>) {
          on_progress(m, now);
        } else if constexpr (std::is_same_v<T, control::Resend>) {
          on_resend(m, now);
        } else if constexpr (std::is_same_v<T, control::Heartbeat>) {
          // Heartbeats come both ways; only a subscriber's (received on our listener) is ours.
          if (from.via != PeerRef::Via::kIncoming) return false;
          on_heartbeat(m, now);
        } else {
          return false;
        }
        return true;
      },
      message);
}

PublisherEngine::Member* PublisherEngine::member_for(Target& target, std::uint64_t session, std::string* id) {
  for (auto& [member_key, member] : target.members) {
    if (member.session == session) {
      if (id) *id = member_key;
      return &member;
    }
  }
  return nullptr;
}

void PublisherEngine::on_consume(const PeerRef& from, const control::Consume& consume, Clock::TimePoint now) {
  if (!validate_pattern(consume.pattern) || consume.key.empty() || consume.mode > 1) {
    NodeCounters::add(context_.counters.control_malformed);
    return;
  }
  {
    Target& target = targets_[consume.key];
    bool created = target.key.empty();
    target.key = consume.key;
    target.mode = static_cast<control::ConsumerMode>(consume.mode);
    target.pattern = consume.pattern;
    target.ack_wait = std::chrono::milliseconds(std::max<std::uint32_t>(consume.ack_wait_ms, 10));
    target.max_deliver = std::max<std::uint32_t>(consume.max_deliver, 1);
    std::string id = member_id(consume.node_id, consume.session);
    if (target.mode == control::ConsumerMode::kDurable) {
      // One holder at a time: a new session (a restart, a reconnection) takes over what the old one held.
      std::vector<std::string> old;
      for (auto& [member_key, member] : target.members) {
        if (member_key != id) old.push_back(member_key);
      }
      for (const auto& member_key : old) drop_member(target, member_key, "replaced by a new session");
    }
    Member& member = target.members[id];
    member.peer = from;
    member.session = consume.session;
    member.node_id = consume.node_id;
    member.credit = std::max<std::uint32_t>(consume.credit, 1);
    member.last_heard = now;
    if (created) {
      context_.logger.log(LogLevel::kInfo, "at-least-once consumer '" + consume.key + "' registered for '" +
                                               consume.pattern + "'");
      if (store_) {
        (void)store_->add_target({target.key, consume.mode, target.pattern,
                                  static_cast<std::uint32_t>(target.ack_wait.count()), target.max_deliver});
      }
    }
    publish_targets();
  }
}

void PublisherEngine::on_unconsume(const control::Unconsume& unconsume, Clock::TimePoint) {
  auto it = targets_.find(unconsume.key);
  if (it == targets_.end()) return;
  std::string id;
  if (member_for(it->second, unconsume.session, &id) != nullptr) drop_member(it->second, id, "it unsubscribed");
  publish_targets();
}

void PublisherEngine::drop_member(Target& target, const std::string& id, const std::string& why) {
  std::vector<std::uint64_t> held;  // collected first: requeue() may settle (erase) a delivery
  for (auto& [dseq, delivery] : target.deliveries) {
    if (delivery.in_flight && delivery.member == id) held.push_back(dseq);
  }
  for (std::uint64_t dseq : held) {
    auto d = target.deliveries.find(dseq);
    if (d != target.deliveries.end()) requeue(target, dseq, d->second, "its holder " + why);
  }
  target.members.erase(id);
}

void PublisherEngine::requeue(Target& target, std::uint64_t dseq, Delivery& delivery, const std::string& why,
                              bool ack_wait_expired) {
  delivery.in_flight = false;
  if (delivery.last_error.empty()) delivery.last_error = why;
  if (auto member = target.members.find(delivery.member); member != target.members.end()) {
    if (ack_wait_expired) {
      ++member->second.expired_held;
      delivery.expired_at = delivery.member;
    } else if (member->second.in_flight > 0) {
      --member->second.in_flight;
    }
  }
  if (delivery.attempt >= target.max_deliver) {
    settle(target, dseq, delivery.last_error);
    return;
  }
  NodeCounters::add(context_.counters.reliable_redelivered);
  // Durable subscribers get redeliveries first, in order; queue members in any order.
  if (target.mode == control::ConsumerMode::kDurable) {
    auto pos = std::lower_bound(target.ready.begin(), target.ready.end(), dseq);
    target.ready.insert(pos, dseq);
  } else {
    target.ready.push_back(dseq);
  }
}

void PublisherEngine::heard_from(Member& member, Clock::TimePoint now) {
  member.last_heard = now;
  member.in_flight -= std::min(member.in_flight, member.expired_held);
  member.expired_held = 0;
}

void PublisherEngine::settle(Target& target, std::uint64_t dseq, std::string dead_letter_reason) {
  auto it = target.deliveries.find(dseq);
  if (it == target.deliveries.end()) return;
  std::uint64_t sequence = it->second.sequence;
  std::uint32_t attempts = it->second.attempt;
  target.deliveries.erase(it);
  auto entry = entries_.find(sequence);
  if (entry == entries_.end()) return;
  if (!dead_letter_reason.empty()) {
    DeadLetter letter;
    letter.subject = entry->second.subject;
    letter.consumer = target.key;
    letter.deliveries = attempts;
    letter.last_error = dead_letter_reason;
    letter.time_ns = context_.clock.wall_ns();
    letter.envelope = entry->second.envelope;
    Status stored = dead_letters_ ? dead_letters_->put(letter) : Status::unavailable("no dead-letter queue");
    NodeCounters::add(context_.counters.dead_lettered);
    if (!stored) NodeCounters::add(context_.counters.dead_letter_failures);
    context_.limited_log.warn(kLogReliable, "dead-lettered a message on '" + entry->second.subject + "' for '" +
                                                target.key + "' after " + std::to_string(attempts) +
                                                " deliveries: " + dead_letter_reason +
                                                (stored ? "" : " (and could not store it: " + stored.message() + ")"));
    entry->second.failure = "dead-lettered by '" + target.key + "' after " + std::to_string(attempts) +
                            " deliveries: " + dead_letter_reason;
  }
  if (--entry->second.owed == 0) {
    complete(sequence, entry->second);
    entries_.erase(entry);
  }
}

void PublisherEngine::complete(std::uint64_t sequence, Entry& entry, bool settled_for_good) {
  // Abandoned at a stop, a message stays unsettled on disk: the next start sends it again.
  if (store_ && settled_for_good) (void)store_->settled(sequence);
  Status status = entry.failure.empty() ? Status::ok() : Status::unavailable(entry.failure);
  if (status) {
    NodeCounters::add(context_.counters.reliable_acknowledged);
  } else {
    NodeCounters::add(context_.counters.reliable_failed);
  }
  ++released_messages_;
  released_bytes_ += entry.envelope ? entry.envelope->size() : 0;
  if (entry.on_complete) {
    completions_.push_back([callback = std::move(entry.on_complete), status] { callback(status); });
  }
}

void PublisherEngine::flush_completions() {
  context_.release_outbox(released_messages_, released_bytes_);
  released_messages_ = 0;
  released_bytes_ = 0;
  context_.post_to_dispatcher(completions_);
}

void PublisherEngine::on_ack(const PeerRef& from, const control::Ack& ack, Clock::TimePoint now) {
  auto it = targets_.find(ack.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  std::string id;
  Member* member = member_for(target, ack.session, &id);
  if (member) heard_from(*member, now);
  std::vector<control::AckRange> stale;
  for (const auto& range : ack.ranges) {
    for (std::uint32_t i = 0; i < range.count && i < 1'000'000; ++i) {
      std::uint64_t dseq = range.first + i;
      auto d = target.deliveries.find(dseq);
      // Only the current holder's acknowledgement of the current attempt counts: one from a member whose ack
      // wait expired (the message went to another) is stale, and must not settle what the other may fail.
      if (d == target.deliveries.end() || !d->second.in_flight || d->second.attempt != range.attempt ||
          d->second.member != id) {
        // Tell the subscriber, so its application hears that this work was (or will be) done elsewhere.
        stale.push_back({dseq, 1, range.attempt});
        NodeCounters::add(context_.counters.stale_acks);
        continue;
      }
      if (member && member->in_flight > 0) --member->in_flight;
      settle(target, dseq, {});
    }
  }
  if (!stale.empty()) {
    (void)channel_.send(from, control::Rejected{ack.key, ack.session, std::move(stale), "redelivered meanwhile"});
  }
}

void PublisherEngine::on_nak(const control::Nak& nak, Clock::TimePoint now) {
  auto it = targets_.find(nak.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  std::string id;
  Member* member = member_for(target, nak.session, &id);
  if (member) heard_from(*member, now);
  for (const auto& item : nak.items) {
    auto d = target.deliveries.find(item.dseq);
    if (d == target.deliveries.end() || !d->second.in_flight || d->second.attempt != item.attempt ||
        d->second.member != id) {
      NodeCounters::add(context_.counters.stale_acks);
      continue;
    }
    NodeCounters::add(context_.counters.reliable_naks);
    d->second.last_error = nak.reason.empty() ? "nak" : nak.reason;
    d->second.not_before = now + std::chrono::milliseconds(item.delay_ms);
    requeue(target, item.dseq, d->second, d->second.last_error);
  }
}

void PublisherEngine::on_progress(const control::Progress& progress, Clock::TimePoint now) {
  auto it = targets_.find(progress.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  std::string id;
  if (Member* member = member_for(target, progress.session, &id)) heard_from(*member, now);
  for (const auto& range : progress.ranges) {
    for (std::uint32_t i = 0; i < range.count && i < 1'000'000; ++i) {
      auto d = target.deliveries.find(range.first + i);
      if (d != target.deliveries.end() && d->second.in_flight && d->second.member == id &&
          d->second.attempt == range.attempt) {
        d->second.ack_deadline = now + target.ack_wait;
      }
    }
  }
}

void PublisherEngine::on_heartbeat(const control::Heartbeat& heartbeat, Clock::TimePoint now) {
  auto it = targets_.find(heartbeat.key);
  if (it == targets_.end()) return;
  if (Member* member = member_for(it->second, heartbeat.session)) {
    heard_from(*member, now);
    // The credit the subscriber grants, as in its registration: what it may hold unacknowledged, of which
    // member->in_flight is in use. (Subscribers before this change sent their free credit here, which taken
    // as the grant throttled the stream to whatever happened to be free at the heartbeat, for a second.)
    member->credit = std::max<std::uint32_t>(heartbeat.credit, 1);
  }
}

void PublisherEngine::on_resend(const control::Resend& resend, Clock::TimePoint now) {
  auto it = targets_.find(resend.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  std::string id;
  Member* member = member_for(target, resend.session, &id);
  if (!member) return;
  heard_from(*member, now);
  // The subscriber missed deliveries from from_dseq on (a connection dropped what was queued): send them again.
  std::vector<std::uint64_t> lost;
  for (auto d = target.deliveries.lower_bound(resend.from_dseq); d != target.deliveries.end(); ++d) {
    if (d->second.in_flight && d->second.member == id) lost.push_back(d->first);
  }
  for (std::uint64_t dseq : lost) {
    auto d = target.deliveries.find(dseq);
    if (d == target.deliveries.end()) continue;
    // Lost in transit is not the consumer's failure: this delivery does not count against max_deliver.
    --d->second.attempt;
    requeue(target, dseq, d->second, "lost in transit");
  }
}

std::size_t PublisherEngine::send_ready(Target& target, Clock::TimePoint now) {
  if (target.ready.empty() || target.members.empty()) return 0;
  std::size_t sent = 0;
  // Members take turns by batch; each takes up to its free credit.
  std::vector<std::string> order;
  for (auto& [id, member] : target.members) order.push_back(id);
  for (std::size_t turn = 0; turn < order.size() && !target.ready.empty(); ++turn) {
    const std::string& id = order[(target.round_robin + turn) % order.size()];
    Member& member = target.members[id];
    if (member.in_flight >= member.credit) continue;
    // What this member let expire goes to another member with room, if there is one (work queues).
    bool others_have_room = false;
    for (const auto& [other_id, other] : target.members) {
      others_have_room = others_have_room || (other_id != id && other.in_flight < other.credit);
    }
    control::Deliver deliver{target.key, member.session, {}};
    ByteBuffer body;
    std::vector<std::uint64_t> taken;
    std::deque<std::uint64_t> later;
    while (!target.ready.empty() && member.in_flight + taken.size() < member.credit &&
           deliver.items.size() < kMaxBatchMessages && body.size() < kMaxBatchBytes) {
      std::uint64_t dseq = target.ready.front();
      target.ready.pop_front();
      auto d = target.deliveries.find(dseq);
      if (d == target.deliveries.end() || d->second.in_flight) continue;  // settled or sent meanwhile
      if (d->second.not_before > now) {
        later.push_back(dseq);
        if (target.mode == control::ConsumerMode::kDurable) break;  // in order: wait for it
        continue;
      }
      if (target.mode != control::ConsumerMode::kDurable && others_have_room && d->second.expired_at == id) {
        later.push_back(dseq);
        if (later.size() >= kMaxBatchMessages) break;  // bounds the scan; the others take them this pass
        continue;
      }
      auto entry = entries_.find(d->second.sequence);
      if (entry == entries_.end()) continue;
      const ByteBuffer& envelope = *entry->second.envelope;
      deliver.items.push_back({dseq, d->second.attempt + 1, static_cast<std::uint32_t>(envelope.size())});
      body.insert(body.end(), envelope.begin(), envelope.end());
      taken.push_back(dseq);
    }
    for (auto it = later.rbegin(); it != later.rend(); ++it) target.ready.push_front(*it);
    if (taken.empty()) continue;
    zmq::message_t frame(body.data(), body.size());
    SendResult result = channel_.send(member.peer, deliver, &frame);
    if (result != SendResult::kSent) {
      // Not sent: put them back in front, in order; a gone member is noticed by its silence.
      for (auto it = taken.rbegin(); it != taken.rend(); ++it) target.ready.push_front(*it);
      continue;
    }
    for (std::size_t i = 0; i < taken.size(); ++i) {
      Delivery& d = target.deliveries[taken[i]];
      d.in_flight = true;
      d.attempt = deliver.items[i].attempt;
      d.member = id;
      d.ack_deadline = now + target.ack_wait;
    }
    member.in_flight += static_cast<std::uint32_t>(taken.size());
    member.last_sent = std::max(member.last_sent, taken.back());
    NodeCounters::add(context_.counters.reliable_deliveries, taken.size());
    sent += taken.size();
  }
  target.round_robin = (target.round_robin + 1) % std::max<std::size_t>(order.size(), 1);
  return sent;
}

std::size_t PublisherEngine::expire(Clock::TimePoint now) {
  std::size_t work = 0;
  for (auto& [key, target] : targets_) {
    // Members gone silent: their deliveries go to others (or wait for the durable one to come back).
    std::vector<std::string> silent;
    for (auto& [id, member] : target.members) {
      if (now - member.last_heard > kMemberSilence) silent.push_back(id);
    }
    for (const auto& id : silent) {
      drop_member(target, id, "went silent");
      ++work;
    }
    // Ack waits that ran out.
    std::vector<std::uint64_t> overdue;
    for (auto& [dseq, delivery] : target.deliveries) {
      if (delivery.in_flight && delivery.ack_deadline <= now) overdue.push_back(dseq);
    }
    for (std::uint64_t dseq : overdue) {
      auto d = target.deliveries.find(dseq);
      if (d == target.deliveries.end()) continue;
      NodeCounters::add(context_.counters.ack_timeouts);
      d->second.last_error = "not acknowledged within the ack wait";
      requeue(target, dseq, d->second, d->second.last_error, /*ack_wait_expired=*/true);
      ++work;
    }
    // Heartbeats tell each member how far it was sent, so a lost tail is noticed.
    for (auto& [id, member] : target.members) {
      if (now < member.next_heartbeat) continue;
      member.next_heartbeat = now + kHeartbeatInterval;
      (void)channel_.send(member.peer, control::Heartbeat{target.key, member.session, member.last_sent, 0});
    }
  }
  // Publishes that timed out: their consumers stop owing them.
  while (!entries_.empty()) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                    [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    if (oldest->second.expires > now) break;
    std::string waiting;
    for (auto& [key, target] : targets_) {
      for (auto d = target.deliveries.begin(); d != target.deliveries.end();) {
        if (d->second.sequence != oldest->first) {
          ++d;
          continue;
        }
        waiting += waiting.empty() ? "'" + key + "'" : ", '" + key + "'";
        if (d->second.in_flight) {
          if (auto m = target.members.find(d->second.member); m != target.members.end() && m->second.in_flight > 0) {
            --m->second.in_flight;
          }
        }
        d = target.deliveries.erase(d);
      }
    }
    NodeCounters::add(context_.counters.reliable_expired);
    oldest->second.failure = "not acknowledged in time by " + (waiting.empty() ? std::string("its consumers") : waiting);
    complete(oldest->first, oldest->second);
    entries_.erase(oldest);
    ++work;
  }
  return work;
}

void PublisherEngine::restore(OutboxStore* store, const OutboxStore::Recovered& recovered, Clock::TimePoint now) {
  store_ = store;
  if (recovered.stream_id != 0) stream_id_ = recovered.stream_id;
  next_sequence_ = std::max(next_sequence_, recovered.next_sequence);
  if (store_ && recovered.stream_id == 0) (void)store_->set_stream(stream_id_);
  for (const auto& t : recovered.targets) {
    Target& target = targets_[t.key];
    target.key = t.key;
    target.mode = static_cast<control::ConsumerMode>(t.mode);
    target.pattern = t.pattern;
    target.ack_wait = std::chrono::milliseconds(std::max<std::uint32_t>(t.ack_wait_ms, 10));
    target.max_deliver = std::max<std::uint32_t>(t.max_deliver, 1);
  }
  for (const auto& e : recovered.entries) {
    Entry entry;
    entry.subject = e.subject;
    entry.envelope = e.envelope;
    entry.expires = now + kRestoredTimeout;
    for (const auto& key : e.owed_by) {
      auto it = targets_.find(key);
      if (it == targets_.end()) continue;
      std::uint64_t dseq = it->second.next_dseq++;
      it->second.deliveries.emplace(dseq, Delivery{e.sequence, 0, false, {}, {}, {}, {}, {}});
      it->second.ready.push_back(dseq);
      ++entry.owed;
    }
    if (entry.owed == 0) continue;
    context_.reserve_restored(entry.envelope->size());
    entries_.emplace(e.sequence, std::move(entry));
    NodeCounters::add(context_.counters.reliable_restored);
  }
  publish_targets();
}

std::size_t PublisherEngine::do_work(Clock::TimePoint now) {
  std::size_t work = 0;
  if (store_) store_->do_work(now);
  if (now >= next_sweep_) {
    next_sweep_ = now + kSweepInterval;
    work += expire(now);
    if (dead_letters_) dead_letters_->do_work(now);
  }
  for (auto& [key, target] : targets_) work += send_ready(target, now);
  // Everything this pass completed (acknowledgements handled by the channel just before, expiries above,
  // unrouted messages the I/O loop added earlier in the pass) goes to the dispatcher at once.
  flush_completions();
  return work;
}

Clock::TimePoint PublisherEngine::next_deadline() {
  if (targets_.empty() && entries_.empty()) return Clock::TimePoint::max();
  return next_sweep_;
}

void PublisherEngine::abandon(const std::string& why) {
  for (auto& [sequence, entry] : entries_) {
    entry.failure = why + (store_ ? " (it stays in the disk outbox and is sent again at the next start)" : "");
    complete(sequence, entry, false);
  }
  entries_.clear();
  for (auto& [key, target] : targets_) {
    target.deliveries.clear();
    target.ready.clear();
  }
  flush_completions();
}

void PublisherEngine::publish_targets() {
  std::vector<ConsumerInfo> infos;
  for (auto& [key, target] : targets_) {
    infos.push_back({target.key, target.mode == control::ConsumerMode::kQueue, target.pattern, target.members.size()});
  }
  context_.set_consumers(std::move(infos));
}

}  // namespace weft::detail
