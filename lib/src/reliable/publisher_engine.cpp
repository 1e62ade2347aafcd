#include "reliable/publisher_engine.hpp"

#include <algorithm>
#include <cstring>

#include "weft/subject.hpp"

namespace weft::detail {

namespace {

// A batch of deliveries to one member: at most this many messages and bytes in one control message. Half the
// default credit (SubscribeOptions::max_in_flight, 2,048): a member acknowledging one batch has the next one
// already, and gets the freed credit back in one DELIVER, one acknowledgement round, one wake-up of each side's
// threads. With the credit equal to one batch, each side waited for the other's round trip. At 256
// messages and 256 KiB (4 DELIVERs for a 1,024 credit) a pinned bench ran 15-25% slower (docs/performance.md).
// The body stays well under the control channel's frame limit (NodeOptions::max_frame_size x 2 + 1 MiB).
constexpr std::size_t kMaxBatchMessages = 1024;
constexpr std::size_t kMaxBatchBytes = 1024 * 1024;
// The batch of each member of a queue group of several, which take turns by batch: a burst shorter than a
// member's credit still goes to several of them, as it did before the larger batches, rather than all to the
// first one whose turn it is.
constexpr std::size_t kMaxSharedBatchMessages = 256;
constexpr std::size_t kMaxSharedBatchBytes = 256 * 1024;
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

// The dead-letter queue and the disk outbox share what they keep.
std::shared_ptr<const ByteBuffer> shared_copy(std::span<const std::byte> bytes) {
  auto copy = std::make_shared<ByteBuffer>();
  assign_bytes(*copy, bytes.data(), bytes.size());
  return copy;
}

}  // namespace

PublisherEngine::PublisherEngine(NodeContext& context, ControlChannel& channel, std::uint64_t stream_id,
                                 DeadLetterSink* dead_letters)
    : context_(context), channel_(channel), stream_id_(stream_id), dead_letters_(dead_letters) {}

void PublisherEngine::add(std::uint64_t sequence, std::string_view subject, const std::byte* envelope,
                          std::size_t bytes, std::chrono::milliseconds timeout, Completion on_complete,
                          bool to_queues_only, Clock::TimePoint now, ByteBuffer* holder) {
  Entry& entry = entries_.emplace(sequence);
  entry.skip = static_cast<std::uint32_t>(subject.size());
  if (holder != nullptr && envelope == holder->data() + subject.size()) {
    // The slot's buffer, just written, becomes the entry's; the entry's (recycled, cleared) goes to the slot.
    // It holds the subject, then the envelope, as Entry::held does.
    holder->resize(entry.skip + bytes);  // nothing past the envelope
    entry.held.swap(*holder);
  } else {
    assign_bytes(entry.held, reinterpret_cast<const std::byte*>(subject.data()), subject.size());
    append_bytes(entry.held, envelope, bytes);
  }
  entry.expires = now + timeout;
  entry.on_complete = std::move(on_complete);
  std::vector<std::string> owed_by;
  for (Target* target : targets_for(subject, to_queues_only)) {
    owe(*target, entry, sequence);
    if (store_) owed_by.push_back(target->key);
  }
  if (store_ && entry.owed > 0) {
    auto kept_envelope = shared_copy(entry.envelope());
    if (Status kept = store_->add_entry({sequence, std::string(entry.subject()), std::move(kept_envelope), owed_by});
        !kept) {
      context_.limited_log.warn(kLogReliable, "the disk outbox could not keep a message: " + kept.message());
    }
  }
  NodeCounters::add_single_writer(context_.counters.reliable_published);  // the I/O thread's alone
  if (entry.owed == 0) {
    // Nobody registered interest: there is nobody to wait for.
    NodeCounters::add(context_.counters.reliable_unrouted);
    complete(sequence, entry);
    entries_.erase(sequence);
    return;
  }
  expiry_timers_.arm(entry.expires, sequence);
  expiry_timers_.compact(entries_.size(), [this](std::uint64_t key, Clock::TimePoint when) {
    return expiry_applies(key, when);
  });
  // kDropOldest lets publish() run past the bound; the oldest messages make room, each failed and counted.
  while (entries_.size() > context_.options.outbox.max_messages && entries_.size() > 1) {
    const std::uint64_t oldest = entries_.lowest().second;
    Entry& dropped = *entries_.find(oldest);
    forget_deliveries(dropped, oldest, nullptr);
    NodeCounters::add(context_.counters.outbox_dropped);
    dropped.more().failure = "dropped: the outbox was full (OutboxPolicy::kDropOldest)";
    complete(oldest, dropped);
    entries_.erase(oldest);
  }
}

const std::vector<PublisherEngine::Target*>& PublisherEngine::targets_for(std::string_view subject,
                                                                         bool to_queues_only) {
  if (matched_generation_ == targets_generation_ && matched_queues_only_ == to_queues_only &&
      matched_subject_ == subject) {
    return matched_;
  }
  matched_.clear();
  for (auto& [key, target] : targets_) {
    if (to_queues_only && target.mode != control::ConsumerMode::kQueue) continue;
    if (subject_matches(target.pattern, subject)) matched_.push_back(&target);
  }
  matched_subject_.assign(subject);
  matched_queues_only_ = to_queues_only;
  matched_generation_ = targets_generation_;
  return matched_;
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
    ++targets_generation_;  // a new target, or a new pattern or mode for this one
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
    if (member.handle == 0) member.handle = next_member_handle_++;
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
  auto gone = target.members.find(id);
  if (gone == target.members.end()) return;
  const std::uint64_t handle = gone->second.handle;
  std::vector<std::uint64_t> held;  // collected first: requeue() may settle (erase) a delivery
  target.deliveries.for_each([&](std::uint64_t dseq, const Delivery& delivery) {
    if (delivery.in_flight && delivery.member == handle) held.push_back(dseq);
  });
  std::sort(held.begin(), held.end());  // redeliveries go out in order
  for (std::uint64_t dseq : held) {
    if (Delivery* d = target.deliveries.find(dseq)) requeue(target, dseq, *d, "its holder " + why);
  }
  target.members.erase(id);
}

void PublisherEngine::requeue(Target& target, std::uint64_t dseq, Delivery& delivery, const std::string& why,
                              bool ack_wait_expired) {
  delivery.in_flight = false;
  if (!delivery.has_error()) delivery.set_error(why);
  if (Member* member = member_by_handle(target, delivery.member)) {
    if (ack_wait_expired) {
      ++member->expired_held;
      delivery.expired_at = delivery.member;
    } else if (member->in_flight > 0) {
      --member->in_flight;
    }
  }
  if (delivery.attempt >= target.max_deliver) {
    settle(target, dseq, *delivery.last_error);  // a copy: settling recycles the delivery
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

PublisherEngine::Member* PublisherEngine::member_by_handle(Target& target, std::uint64_t handle) {
  if (handle == 0) return nullptr;
  for (auto& [id, member] : target.members) {
    if (member.handle == handle) return &member;
  }
  return nullptr;
}

void PublisherEngine::owe(Target& target, Entry& entry, std::uint64_t sequence) {
  const std::uint64_t dseq = target.next_dseq++;
  target.deliveries.emplace(dseq).sequence = sequence;
  target.ready.push_back(dseq);
  if (entry.owed++ == 0) {
    entry.first_owed = {&target, dseq};
  } else {
    entry.more().more_owed.push_back({&target, dseq});
  }
}

void PublisherEngine::forget_deliveries(Entry& entry, std::uint64_t sequence, std::string* waiting) {
  auto forget = [&](const Owed& owed) {
    if (owed.target == nullptr) return;
    Target& target = *owed.target;
    Delivery* d = target.deliveries.find(owed.dseq);
    if (d == nullptr || d->sequence != sequence) return;  // settled already
    if (waiting) *waiting += waiting->empty() ? "'" + target.key + "'" : ", '" + target.key + "'";
    if (d->in_flight) {
      if (Member* m = member_by_handle(target, d->member); m && m->in_flight > 0) --m->in_flight;
    }
    target.deliveries.erase(owed.dseq);
  };
  forget(entry.first_owed);
  for (const Owed& owed : entry.more_owed()) forget(owed);
}

bool PublisherEngine::ack_wait_applies(Target& target, std::uint64_t dseq, Clock::TimePoint when) {
  const Delivery* d = target.deliveries.find(dseq);
  return d != nullptr && d->in_flight && d->ack_deadline == when;
}

bool PublisherEngine::expiry_applies(std::uint64_t sequence, Clock::TimePoint when) {
  const Entry* entry = entries_.find(sequence);
  return entry != nullptr && entry->expires == when;
}

void PublisherEngine::heard_from(Member& member, Clock::TimePoint now) {
  member.last_heard = now;
  member.in_flight -= std::min(member.in_flight, member.expired_held);
  member.expired_held = 0;
}

void PublisherEngine::settle(Target& target, std::uint64_t dseq, std::string dead_letter_reason) {
  Delivery* delivery = target.deliveries.find(dseq);
  if (delivery == nullptr) return;
  const std::uint64_t sequence = delivery->sequence;
  const std::uint32_t attempts = delivery->attempt;
  target.deliveries.erase(dseq);
  Entry* entry = entries_.find(sequence);
  if (entry == nullptr) return;
  if (!dead_letter_reason.empty()) {
    DeadLetter letter;
    letter.subject = entry->subject();
    letter.consumer = target.key;
    letter.deliveries = attempts;
    letter.last_error = dead_letter_reason;
    letter.time_ns = context_.clock.wall_ns();
    letter.envelope = shared_copy(entry->envelope());
    Status stored = dead_letters_ ? dead_letters_->put(letter) : Status::unavailable("no dead-letter queue");
    NodeCounters::add(context_.counters.dead_lettered);
    if (!stored) NodeCounters::add(context_.counters.dead_letter_failures);
    context_.limited_log.warn(kLogReliable, "dead-lettered a message on '" + std::string(entry->subject()) + "' for '" +
                                                target.key + "' after " + std::to_string(attempts) +
                                                " deliveries: " + dead_letter_reason +
                                                (stored ? "" : " (and could not store it: " + stored.message() + ")"));
    entry->more().failure = "dead-lettered by '" + target.key + "' after " + std::to_string(attempts) +
                            " deliveries: " + dead_letter_reason;
  }
  if (--entry->owed == 0) {
    complete(sequence, *entry);
    entries_.erase(sequence);
  }
}

void PublisherEngine::complete(std::uint64_t sequence, Entry& entry, bool settled_for_good) {
  // Abandoned at a stop, a message stays unsettled on disk: the next start sends it again.
  if (store_ && settled_for_good) (void)store_->settled(sequence);
  const bool failed = entry.failed();
  if (!failed) {
    NodeCounters::add_single_writer(context_.counters.reliable_acknowledged);  // the I/O thread's alone
  } else {
    NodeCounters::add_single_writer(context_.counters.reliable_failed);
  }
  ++released_messages_;
  released_bytes_ += entry.envelope().size();
  if (entry.on_complete) {
    if (failed) {
      completions_.failed.emplace_back(completions_.callbacks.size(), Status::unavailable(entry.rare->failure));
    }
    completions_.callbacks.push_back(std::move(entry.on_complete));
  }
}

void PublisherEngine::flush_completions() {
  context_.release_outbox(released_messages_, released_bytes_);
  released_messages_ = 0;
  released_bytes_ = 0;
  if (completions_.callbacks.empty()) return;
  const std::size_t batch_size = completions_.callbacks.size();
  context_.post_to_dispatcher([batch = std::move(completions_)]() mutable {
    const Status ok = Status::ok();
    auto failed = batch.failed.begin();
    for (std::size_t i = 0; i < batch.callbacks.size(); ++i) {
      if (failed != batch.failed.end() && failed->first == i) {
        batch.callbacks[i](failed->second);
        ++failed;
      } else {
        batch.callbacks[i](ok);
      }
    }
  });
  completions_ = Completions{};
  // The batch took the buffer: make room for one as large at once rather than growing by doubling each pass.
  completions_.callbacks.reserve(batch_size);
}

void PublisherEngine::on_ack(const PeerRef& from, const control::Ack& ack, Clock::TimePoint now) {
  auto it = targets_.find(ack.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  Member* member = member_for(target, ack.session);
  if (member) heard_from(*member, now);
  const std::uint64_t handle = member ? member->handle : 0;
  std::vector<control::AckRange> stale;
  for (const auto& range : ack.ranges) {
    for (std::uint32_t i = 0; i < range.count && i < 1'000'000; ++i) {
      std::uint64_t dseq = range.first + i;
      const Delivery* d = target.deliveries.find(dseq);
      // Only the current holder's acknowledgement of the current attempt counts: one from a member whose ack
      // wait expired (the message went to another) is stale, and must not settle what the other may fail.
      if (d == nullptr || !d->in_flight || d->attempt != range.attempt || handle == 0 || d->member != handle) {
        // Tell the subscriber, so its application hears that this work was (or will be) done elsewhere.
        stale.push_back({dseq, 1, range.attempt});
        NodeCounters::add(context_.counters.stale_acks);
        continue;
      }
      if (member->in_flight > 0) --member->in_flight;
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
  Member* member = member_for(target, nak.session);
  if (member) heard_from(*member, now);
  const std::uint64_t handle = member ? member->handle : 0;
  for (const auto& item : nak.items) {
    Delivery* d = target.deliveries.find(item.dseq);
    if (d == nullptr || !d->in_flight || d->attempt != item.attempt || handle == 0 || d->member != handle) {
      NodeCounters::add(context_.counters.stale_acks);
      continue;
    }
    NodeCounters::add(context_.counters.reliable_naks);
    d->set_error(nak.reason.empty() ? std::string_view("nak") : std::string_view(nak.reason));
    d->not_before = now + std::chrono::milliseconds(item.delay_ms);
    requeue(target, item.dseq, *d, *d->last_error);
  }
}

void PublisherEngine::on_progress(const control::Progress& progress, Clock::TimePoint now) {
  auto it = targets_.find(progress.key);
  if (it == targets_.end()) return;
  Target& target = it->second;
  Member* member = member_for(target, progress.session);
  if (member == nullptr) return;
  heard_from(*member, now);
  for (const auto& range : progress.ranges) {
    for (std::uint32_t i = 0; i < range.count && i < 1'000'000; ++i) {
      Delivery* d = target.deliveries.find(range.first + i);
      if (d != nullptr && d->in_flight && d->member == member->handle && d->attempt == range.attempt) {
        d->ack_deadline = now + target.ack_wait;
        target.ack_timers.arm(d->ack_deadline, range.first + i);
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
  Member* member = member_for(target, resend.session);
  if (!member) return;
  heard_from(*member, now);
  // The subscriber missed deliveries from from_dseq on (a connection dropped what was queued): send them again.
  std::vector<std::uint64_t> lost;
  target.deliveries.for_each([&](std::uint64_t dseq, const Delivery& delivery) {
    if (dseq >= resend.from_dseq && delivery.in_flight && delivery.member == member->handle) lost.push_back(dseq);
  });
  std::sort(lost.begin(), lost.end());
  for (std::uint64_t dseq : lost) {
    Delivery* d = target.deliveries.find(dseq);
    if (d == nullptr) continue;
    // Lost in transit is not the consumer's failure: this delivery does not count against max_deliver.
    --d->attempt;
    requeue(target, dseq, *d, "lost in transit");
  }
}

std::size_t PublisherEngine::send_ready(Target& target, Clock::TimePoint now) {
  if (target.ready.empty() || target.members.empty()) return 0;
  std::size_t sent = 0;
  // Members take turns by batch; each takes up to its free credit.
  turns_.clear();
  for (auto& [id, member] : target.members) turns_.push_back(&member);
  for (std::size_t turn = 0; turn < turns_.size() && !target.ready.empty(); ++turn) {
    Member& member = *turns_[(target.round_robin + turn) % turns_.size()];
    if (member.in_flight >= member.credit) continue;
    // What this member let expire goes to another member with room, if there is one (work queues).
    bool others_have_room = false;
    for (const Member* other : turns_) {
      others_have_room = others_have_room || (other != &member && other->in_flight < other->credit);
    }
    const bool shared = target.mode == control::ConsumerMode::kQueue && turns_.size() > 1;
    const std::size_t max_messages = shared ? kMaxSharedBatchMessages : kMaxBatchMessages;
    const std::size_t max_bytes = shared ? kMaxSharedBatchBytes : kMaxBatchBytes;
    control::Deliver deliver{target.key, member.session, {}};
    batch_.clear();
    later_.clear();
    std::size_t bytes = 0;
    while (!target.ready.empty() && member.in_flight + batch_.size() < member.credit &&
           batch_.size() < max_messages && bytes < max_bytes) {
      std::uint64_t dseq = target.ready.front();
      target.ready.pop_front();
      Delivery* d = target.deliveries.find(dseq);
      if (d == nullptr || d->in_flight) continue;  // settled or sent meanwhile
      if (d->not_before > now) {
        later_.push_back(dseq);
        if (target.mode == control::ConsumerMode::kDurable) break;  // in order: wait for it
        continue;
      }
      if (target.mode != control::ConsumerMode::kDurable && others_have_room && d->expired_at == member.handle) {
        later_.push_back(dseq);
        if (later_.size() >= max_messages) break;  // bounds the scan; the others take them this pass
        continue;
      }
      const Entry* entry = entries_.find(d->sequence);
      if (entry == nullptr) continue;
      const std::span<const std::byte> envelope = entry->envelope();
      deliver.items.push_back({dseq, d->attempt + 1, static_cast<std::uint32_t>(envelope.size())});
      batch_.emplace_back(d, envelope);  // stable: nothing is added to either table until the send
      bytes += envelope.size();
    }
    for (auto it = later_.rbegin(); it != later_.rend(); ++it) target.ready.push_front(*it);
    if (batch_.empty()) continue;
    // The envelopes go straight from the outbox into the frame: one copy.
    zmq::message_t frame(bytes);
    auto* out = static_cast<std::byte*>(frame.data());
    for (const auto& [delivery, envelope] : batch_) {
      std::memcpy(out, envelope.data(), envelope.size());
      out += envelope.size();
    }
    SendResult result = channel_.send(member.peer, deliver, &frame);
    if (result != SendResult::kSent) {
      // Not sent: put them back in front, in order; a gone member is noticed by its silence.
      for (auto it = deliver.items.rbegin(); it != deliver.items.rend(); ++it) target.ready.push_front(it->dseq);
      continue;
    }
    const Clock::TimePoint ack_deadline = now + target.ack_wait;
    for (std::size_t i = 0; i < batch_.size(); ++i) {
      Delivery& d = *batch_[i].first;
      d.in_flight = true;
      d.attempt = deliver.items[i].attempt;
      d.member = member.handle;
      d.ack_deadline = ack_deadline;
      target.ack_timers.arm(ack_deadline, deliver.items[i].dseq);
    }
    target.ack_timers.compact(target.deliveries.size(), [&target](std::uint64_t dseq, Clock::TimePoint when) {
      return ack_wait_applies(target, dseq, when);
    });
    member.in_flight += static_cast<std::uint32_t>(batch_.size());
    member.last_sent = std::max(member.last_sent, deliver.items.back().dseq);
    NodeCounters::add(context_.counters.reliable_deliveries, batch_.size());
    sent += batch_.size();
  }
  target.round_robin = (target.round_robin + 1) % std::max<std::size_t>(turns_.size(), 1);
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
    // Ack waits that ran out, earliest first. The timers of deliveries acknowledged (or re-armed) since leave the
    // queue as they reach its front, whether due or not, which keeps it about as large as what is in flight.
    auto ack_applies = [&target](std::uint64_t dseq, Clock::TimePoint when) {
      return ack_wait_applies(target, dseq, when);
    };
    while (auto dseq = target.ack_timers.take_due(now, ack_applies)) {
      Delivery* d = target.deliveries.find(*dseq);
      NodeCounters::add(context_.counters.ack_timeouts);
      d->set_error("not acknowledged within the ack wait");
      requeue(target, *dseq, *d, *d->last_error, /*ack_wait_expired=*/true);
      ++work;
    }
    // Heartbeats tell each member how far it was sent, so a lost tail is noticed.
    for (auto& [id, member] : target.members) {
      if (now < member.next_heartbeat) continue;
      member.next_heartbeat = now + kHeartbeatInterval;
      (void)channel_.send(member.peer, control::Heartbeat{target.key, member.session, member.last_sent, 0});
    }
  }
  // Publishes that timed out: their consumers stop owing them. Timers of messages settled meanwhile are skipped.
  auto expired = [this](std::uint64_t sequence, Clock::TimePoint when) { return expiry_applies(sequence, when); };
  while (auto sequence = expiry_timers_.take_due(now, expired)) {
    Entry* entry = entries_.find(*sequence);
    std::string waiting;
    forget_deliveries(*entry, *sequence, &waiting);
    NodeCounters::add(context_.counters.reliable_expired);
    entry->more().failure = "not acknowledged in time by " + (waiting.empty() ? std::string("its consumers") : waiting);
    complete(*sequence, *entry);
    entries_.erase(*sequence);
    ++work;
  }
  return work;
}

void PublisherEngine::restore(OutboxStore* store, const OutboxStore::Recovered& recovered, Clock::TimePoint now) {
  store_ = store;
  if (recovered.stream_id != 0) stream_id_ = recovered.stream_id;
  next_sequence_ = std::max(next_sequence_, recovered.next_sequence);
  if (store_ && recovered.stream_id == 0) (void)store_->set_stream(stream_id_);
  ++targets_generation_;
  for (const auto& t : recovered.targets) {
    Target& target = targets_[t.key];
    target.key = t.key;
    target.mode = static_cast<control::ConsumerMode>(t.mode);
    target.pattern = t.pattern;
    target.ack_wait = std::chrono::milliseconds(std::max<std::uint32_t>(t.ack_wait_ms, 10));
    target.max_deliver = std::max<std::uint32_t>(t.max_deliver, 1);
  }
  for (const auto& e : recovered.entries) {
    Entry& entry = entries_.emplace(e.sequence);
    entry.skip = static_cast<std::uint32_t>(e.subject.size());
    assign_bytes(entry.held, reinterpret_cast<const std::byte*>(e.subject.data()), e.subject.size());
    append_bytes(entry.held, e.envelope->data(), e.envelope->size());
    entry.expires = now + kRestoredTimeout;
    for (const auto& key : e.owed_by) {
      auto it = targets_.find(key);
      if (it == targets_.end()) continue;
      owe(it->second, entry, e.sequence);
    }
    if (entry.owed == 0) {
      entries_.erase(e.sequence);
      continue;
    }
    context_.reserve_restored(entry.envelope().size());
    expiry_timers_.arm(entry.expires, e.sequence);
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
  entries_.for_each([&](std::uint64_t sequence, Entry& entry) {
    entry.more().failure = why + (store_ ? " (it stays in the disk outbox and is sent again at the next start)" : "");
    complete(sequence, entry, false);
  });
  entries_.clear();
  expiry_timers_.clear();
  for (auto& [key, target] : targets_) {
    target.deliveries.clear();
    target.ready.clear();
    target.ack_timers.clear();
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
