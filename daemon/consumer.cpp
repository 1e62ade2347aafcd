#include "consumer.hpp"

#include <algorithm>

namespace weft::detail::weftd {

namespace {

// One delivery message carries at most this many bytes of envelopes (and at least one envelope).
constexpr std::size_t kBatchBytes = 1 << 20;

sidecar::Rejection reject(std::uint64_t offset, std::uint32_t attempt, std::string reason) {
  return {offset, attempt, std::move(reason)};
}

}  // namespace

std::string_view consumer_kind_name(ConsumerKind kind) noexcept {
  switch (kind) {
    case ConsumerKind::kDurable: return "durable";
    case ConsumerKind::kGroup: return "group";
    case ConsumerKind::kEphemeral: return "ephemeral";
  }
  return "ephemeral";
}

Consumer::Consumer(ConsumerSettings settings, std::uint64_t start, const log::Log& log, ConsumerHost& host,
                   DeadLetterFn dead_letter)
    : settings_(std::move(settings)),
      log_(log),
      host_(host),
      dead_letter_(std::move(dead_letter)),
      ack_floor_(start),
      next_(start),
      dirty_(settings_.kind != ConsumerKind::kEphemeral) {}

Consumer::Consumer(const ConsumerState& state, const log::Log& log, ConsumerHost& host, DeadLetterFn dead_letter)
    : log_(log), host_(host), dead_letter_(std::move(dead_letter)), ack_floor_(state.ack_floor), next_(state.ack_floor) {
  settings_.kind = state.kind == static_cast<std::uint8_t>(ConsumerKind::kGroup) ? ConsumerKind::kGroup
                                                                                 : ConsumerKind::kDurable;
  settings_.name = state.name;
  settings_.ack = true;
  settings_.ack_wait = std::chrono::milliseconds(state.ack_wait_ms);
  settings_.max_deliver = state.max_deliver;
  for (std::uint64_t offset : state.acked_above) {
    if (offset > ack_floor_) settled_.insert(offset);
  }
}

void Consumer::add_member(const MemberRef& member, std::uint32_t credit, Clock::TimePoint now) {
  if (settings_.kind != ConsumerKind::kGroup) {
    // One member at a time: the newcomer takes over (a restarted process reconnecting, usually).
    std::vector<std::uint64_t> previous;
    for (const auto& [id, m] : members_) previous.push_back(id);
    for (std::uint64_t id : previous) {
      MemberRef ref = members_.at(id).ref;
      remove_member(id, now);
      host_.end_member(ref, sidecar::ErrorKind::kConflict,
                       "consumer '" + settings_.name + "' was taken over by a new member");
    }
  }
  members_[member.id] = Member{member, std::max<std::uint32_t>(1, credit), 0};
}

void Consumer::remove_member(std::uint64_t member_id, Clock::TimePoint /*now*/) {
  if (members_.erase(member_id) == 0) return;
  std::vector<std::uint64_t> held;
  for (const auto& [offset, p] : pending_) {
    if (p.state == PendingState::kInFlight && p.member == member_id) held.push_back(offset);
  }
  for (std::uint64_t offset : held) {
    Pending& p = pending_.at(offset);
    p.member = 0;
    p.last_error = "the member holding it left";
    if (exhausted(p)) {
      exhaust(offset, p);
    } else {
      p.state = PendingState::kWaiting;
      ready_.insert(offset);
    }
  }
}

void Consumer::update_settings(std::chrono::milliseconds ack_wait, std::uint32_t max_deliver) {
  if (settings_.ack_wait != ack_wait || settings_.max_deliver != max_deliver) dirty_ = durable();
  settings_.ack_wait = ack_wait;
  settings_.max_deliver = max_deliver;
}

Consumer::Pending* Consumer::answerable(std::uint64_t offset, std::uint32_t attempt,
                                        std::vector<sidecar::Rejection>& rejected, bool allow_waiting) {
  auto it = pending_.find(offset);
  if (it == pending_.end()) {
    rejected.push_back(reject(offset, attempt, "not pending (acknowledged already, or never delivered)"));
    return nullptr;
  }
  Pending& p = it->second;
  if (p.state == PendingState::kDeadLettering) {
    rejected.push_back(reject(offset, attempt, "it is being moved to the dead-letter stream"));
    return nullptr;
  }
  if (p.attempt != attempt) {
    rejected.push_back(reject(offset, attempt,
                              "stale: attempt " + std::to_string(attempt) + " answered, delivery " +
                                  std::to_string(p.attempt) + " is the current one"));
    return nullptr;
  }
  if (p.state == PendingState::kWaiting && !allow_waiting) {
    rejected.push_back(reject(offset, attempt, "its ack wait expired: it will be delivered again"));
    return nullptr;
  }
  return &p;
}

void Consumer::ack(std::uint64_t /*member_id*/, std::span<const sidecar::AckItem> items,
                   std::vector<sidecar::Rejection>& rejected, Clock::TimePoint /*now*/) {
  for (const sidecar::AckItem& item : items) {
    if (!settings_.ack) {
      rejected.push_back(reject(item.offset, item.attempt, "this consumer takes no acknowledgements"));
      continue;
    }
    Pending* p = answerable(item.offset, item.attempt, rejected, true);
    if (p == nullptr) continue;
    release(*p);
    ++counters_.acked;
    settle(item.offset);
  }
}

void Consumer::nak(std::uint64_t /*member_id*/, std::span<const sidecar::AckItem> items, std::chrono::milliseconds delay,
                   const std::string& reason, std::vector<sidecar::Rejection>& rejected, Clock::TimePoint now) {
  for (const sidecar::AckItem& item : items) {
    Pending* p = settings_.ack ? answerable(item.offset, item.attempt, rejected, false) : nullptr;
    if (!settings_.ack) rejected.push_back(reject(item.offset, item.attempt, "this consumer takes no acknowledgements"));
    if (p == nullptr) continue;
    release(*p);
    p->last_error = reason.empty() ? "nak" : reason;
    if (exhausted(*p)) {
      exhaust(item.offset, *p);
    } else {
      schedule(item.offset, *p, now + delay);
    }
  }
}

void Consumer::progress(std::uint64_t /*member_id*/, std::span<const sidecar::AckItem> items,
                        std::vector<sidecar::Rejection>& rejected, Clock::TimePoint now) {
  for (const sidecar::AckItem& item : items) {
    Pending* p = settings_.ack ? answerable(item.offset, item.attempt, rejected, false) : nullptr;
    if (!settings_.ack) rejected.push_back(reject(item.offset, item.attempt, "this consumer takes no acknowledgements"));
    if (p == nullptr) continue;
    set_timer(item.offset, *p, now + settings_.ack_wait);
  }
}

void Consumer::add_credit(std::uint64_t member_id, std::uint32_t credit) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  it->second.outstanding -= std::min(credit, it->second.outstanding);
}

void Consumer::release(Pending& pending) {
  if (pending.state != PendingState::kInFlight) return;
  auto it = members_.find(pending.member);
  if (it != members_.end() && it->second.outstanding > 0) --it->second.outstanding;
  pending.member = 0;
  pending.state = PendingState::kWaiting;
}

void Consumer::schedule(std::uint64_t offset, Pending& pending, Clock::TimePoint not_before) {
  pending.state = PendingState::kWaiting;
  set_timer(offset, pending, not_before);
}

void Consumer::set_timer(std::uint64_t offset, Pending& pending, Clock::TimePoint when) {
  clear_timer(pending);
  pending.deadline = when;
  // Ack deadlines only grow (now + ack_wait): the hint makes the insertion constant time.
  pending.timer = timers_.emplace_hint(timers_.end(), when, offset);
}

void Consumer::clear_timer(Pending& pending) {
  if (!pending.timer) return;
  timers_.erase(*pending.timer);
  pending.timer.reset();
}

void Consumer::settle(std::uint64_t offset) {
  if (auto it = pending_.find(offset); it != pending_.end()) {
    clear_timer(it->second);
    pending_.erase(it);
  }
  ready_.erase(offset);
  if (offset < ack_floor_) return;
  settled_.insert(offset);
  while (!settled_.empty() && *settled_.begin() == ack_floor_) {
    settled_.erase(settled_.begin());
    ++ack_floor_;
  }
  dirty_ = durable();
}

void Consumer::exhaust(std::uint64_t offset, Pending& pending) {
  pending.state = PendingState::kDeadLettering;
  ready_.erase(offset);
  auto record = log_.read(offset, 1);
  if (!record || record->empty() || record->records().front().offset != offset) {
    // Gone (retention) or unreadable: nothing to keep.
    ++counters_.skipped;
    settle(offset);
    return;
  }
  DeadLetterRequest request{settings_.name.empty() ? "(ephemeral)" : settings_.name, offset, pending.attempt,
                            pending.last_error.empty() ? "ack wait expired" : pending.last_error,
                            record->records().front().value};
  std::weak_ptr<bool> alive = alive_;
  Status queued = dead_letter_(request, [this, alive, offset](const Status& s) {
    if (alive.expired()) return;
    if (!s) return;  // parked: the stream logs the failure; the message is neither redelivered nor settled
    ++counters_.dead_lettered;
    settle(offset);
  });
  (void)queued;  // a refused dead letter stays parked the same way
}

void Consumer::catch_up_with_retention() {
  const std::uint64_t first = log_.first_offset();
  if (next_ < first) {
    counters_.skipped += first - next_;
    next_ = first;
  }
  if (ack_floor_ >= first) return;
  ack_floor_ = first;
  settled_.erase(settled_.begin(), settled_.lower_bound(first));
  for (auto it = pending_.begin(); it != pending_.end() && it->first < first;) {
    release(it->second);
    ready_.erase(it->first);
    clear_timer(it->second);
    it = pending_.erase(it);
  }
  while (!settled_.empty() && *settled_.begin() == ack_floor_) {
    settled_.erase(settled_.begin());
    ++ack_floor_;
  }
  dirty_ = durable();
}

std::size_t Consumer::expire(Clock::TimePoint now) {
  std::size_t work = 0;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const auto first = timers_.begin();
    const std::uint64_t offset = first->second;
    auto it = pending_.find(offset);
    const bool current = it != pending_.end() && it->second.timer == first;
    timers_.erase(first);
    if (!current) continue;  // never the case: a settled or rescheduled offset's entry goes at once
    Pending& p = it->second;
    p.timer.reset();
    if (p.state == PendingState::kInFlight) {
      release(p);
      p.last_error = "ack wait of " + std::to_string(settings_.ack_wait.count()) + " ms expired";
      if (exhausted(p)) {
        exhaust(offset, p);
      } else {
        ready_.insert(offset);
      }
      ++work;
    } else if (p.state == PendingState::kWaiting) {
      ready_.insert(offset);  // a nak's delay is over
      ++work;
    }
  }
  return work;
}

bool Consumer::Batch::add(const sidecar::DeliveryItem& item, std::span<const std::byte> envelope) {
  if (!packed) {
    const std::size_t size = sidecar::packed_size(item);
    if (item_bytes + size > sidecar::kMaxDeliverItemsBytes) return false;
    item_bytes += size;
  }
  items.push_back(item);
  body.add(item, envelope);
  bytes += envelope.size();
  return true;
}

bool Consumer::fill_redeliveries(Batch& batch, std::size_t room, Clock::TimePoint /*now*/) {
  std::vector<std::uint64_t> gone;
  for (std::uint64_t offset : ready_) {
    if (batch.items.size() >= room || batch.bytes >= kBatchBytes) break;
    auto record = log_.read(offset, 1);
    if (!record || record->empty() || record->records().front().offset != offset) {
      gone.push_back(offset);
      continue;
    }
    const log::LogRecord& r = record->records().front();
    const Pending& p = pending_.at(offset);
    if (!batch.add({offset, p.attempt + 1, r.timestamp}, r.value)) break;
  }
  for (std::uint64_t offset : gone) {
    ++counters_.skipped;
    settle(offset);
  }
  return !batch.items.empty();
}

std::uint64_t Consumer::fill_new(Batch& batch, std::size_t room) {
  std::uint64_t cursor = next_;
  bool full = false;  // the header has no room for the next item
  while (!full && batch.items.size() < room && batch.bytes < kBatchBytes && cursor < log_.end_offset()) {
    auto read = log_.read(cursor, kBatchBytes - batch.bytes);
    if (!read) {
      if (!batch.items.empty()) break;  // send what is there; the next send meets the problem first
      if (read.status().code() == ErrorCode::kCorruption) {
        // Damaged records are never served: step over them and count what was skipped.
        auto resume = log_.skip_damage(cursor);
        const std::uint64_t to = resume ? std::max(*resume, cursor + 1) : cursor + 1;
        counters_.skipped += to - cursor;
        cursor = next_ = to;
        continue;
      }
      catch_up_with_retention();
      return next_;
    }
    if (read->empty()) break;
    std::size_t used = 0;
    for (const log::LogRecord& r : read->records()) {
      if (batch.items.size() >= room) break;
      if (settled_.count(r.offset) == 0 && !batch.add({r.offset, 1, r.timestamp}, r.value)) {
        full = true;
        break;
      }
      ++used;  // sent, or acknowledged before a restart
      cursor = r.offset + 1;
    }
    if (used == read->records().size()) cursor = read->next_offset();
  }
  return cursor;
}

std::size_t Consumer::send(Member& member, Clock::TimePoint now) {
  if (member.outstanding >= member.credit) return 0;
  const std::size_t room = std::min<std::size_t>(member.credit - member.outstanding, sidecar::kMaxBodyFrames);
  Batch batch;
  batch.packed = member.ref.packed;
  // As much as the last batch's items took, so that a large batch is not copied as it grows.
  const std::size_t per_item = sidecar::kPackedItemHeadBytes + (last_item_bytes_ == 0 ? 256 : last_item_bytes_);
  batch.body.reserve(std::min(room * per_item, kBatchBytes + room * sidecar::kPackedItemHeadBytes));
  if (settings_.ack) fill_redeliveries(batch, room, now);
  const std::size_t redeliveries = batch.items.size();
  const std::uint64_t cursor = fill_new(batch, room);
  if (batch.items.empty()) {
    next_ = cursor;  // only offsets acknowledged before a restart were passed over
    return 0;
  }
  last_item_bytes_ = batch.bytes / batch.items.size() + 1;
  if (!host_.deliver(member.ref, batch.items, batch.body)) return 0;
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    const sidecar::DeliveryItem& item = batch.items[i];
    ++member.outstanding;
    ++counters_.delivered;
    if (!settings_.ack) continue;
    Pending& p = pending_[item.offset];
    if (i < redeliveries) {
      ready_.erase(item.offset);
      ++counters_.redelivered;
    }
    p.state = PendingState::kInFlight;
    p.attempt = item.attempt;
    p.member = member.ref.id;
    set_timer(item.offset, p, now + settings_.ack_wait);
  }
  next_ = cursor;
  if (!settings_.ack) ack_floor_ = next_;
  return batch.items.size();
}

std::size_t Consumer::do_work(Clock::TimePoint now) {
  std::size_t work = expire(now);
  catch_up_with_retention();
  if (members_.empty()) return work;
  // Members take turns to be first, so that one with a large credit does not take everything.
  std::vector<std::uint64_t> order;
  order.reserve(members_.size());
  for (auto it = members_.upper_bound(round_robin_); it != members_.end(); ++it) order.push_back(it->first);
  for (auto it = members_.begin(); it != members_.end() && it->first <= round_robin_; ++it) order.push_back(it->first);
  for (std::uint64_t id : order) {
    auto it = members_.find(id);
    if (it == members_.end()) continue;
    const std::size_t sent = send(it->second, now);
    if (sent > 0) round_robin_ = id;
    work += sent;
  }
  return work;
}

std::optional<Clock::TimePoint> Consumer::next_deadline(Clock::TimePoint now) const {
  bool room = false;
  for (const auto& [id, m] : members_) room = room || m.outstanding < m.credit;
  if (room && (!ready_.empty() || next_ < log_.end_offset())) return now;
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

ConsumerState Consumer::state() const {
  ConsumerState s;
  s.name = settings_.name;
  s.kind = static_cast<std::uint8_t>(settings_.kind);
  s.ack_wait_ms = static_cast<std::uint32_t>(settings_.ack_wait.count());
  s.max_deliver = settings_.max_deliver;
  s.ack_floor = ack_floor_;
  s.acked_above.assign(settled_.begin(), settled_.end());
  return s;
}

sidecar::ConsumerInfo Consumer::info(std::uint64_t stream_end) const {
  sidecar::ConsumerInfo i;
  i.name = settings_.name;
  i.kind = std::string(consumer_kind_name(settings_.kind));
  i.ack_floor = ack_floor_;
  i.next_offset = next_;
  i.pending = pending_.size();
  i.lag = stream_end > ack_floor_ ? stream_end - ack_floor_ : 0;
  i.members = static_cast<std::uint32_t>(members_.size());
  i.ack_wait_ms = static_cast<std::uint32_t>(settings_.ack_wait.count());
  i.max_deliver = settings_.max_deliver;
  i.redelivered = counters_.redelivered;
  i.dead_lettered = counters_.dead_lettered;
  i.skipped = counters_.skipped;
  return i;
}

void Consumer::end_all(sidecar::ErrorKind code, const std::string& why) {
  std::vector<MemberRef> refs;
  for (const auto& [id, m] : members_) refs.push_back(m.ref);
  members_.clear();
  for (const MemberRef& ref : refs) host_.end_member(ref, code, why);
}

}  // namespace weft::detail::weftd
