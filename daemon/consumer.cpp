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
    if (offset > ack_floor_) restored_settled_.insert(offset);
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
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == SlotState::kInFlight && slots_[i].member == member_id) held.push_back(ack_floor_ + i);
  }
  for (std::uint64_t offset : held) {
    Slot* p = slot(offset);
    if (p == nullptr || p->state != SlotState::kInFlight) continue;  // settled by an earlier one's dead letter
    p->member = 0;
    p->last_error = LastError::kMemberLeft;
    if (exhausted(*p)) {
      exhaust(offset, *p);
    } else {
      p->state = SlotState::kWaiting;
      ready_.insert(offset);
    }
  }
}

void Consumer::update_settings(std::chrono::milliseconds ack_wait, std::uint32_t max_deliver) {
  if (settings_.ack_wait != ack_wait || settings_.max_deliver != max_deliver) dirty_ = durable();
  settings_.ack_wait = ack_wait;
  settings_.max_deliver = max_deliver;
}

Consumer::Slot* Consumer::answerable(std::uint64_t offset, std::uint32_t attempt,
                                     std::vector<sidecar::Rejection>& rejected, bool allow_waiting) {
  Slot* p = slot(offset);
  if (p == nullptr || p->state == SlotState::kSettled) {
    rejected.push_back(reject(offset, attempt, "not pending (acknowledged already, or never delivered)"));
    return nullptr;
  }
  if (p->state == SlotState::kDeadLettering) {
    rejected.push_back(reject(offset, attempt, "it is being moved to the dead-letter stream"));
    return nullptr;
  }
  if (p->attempt != attempt) {
    rejected.push_back(reject(offset, attempt,
                              "stale: attempt " + std::to_string(attempt) + " answered, delivery " +
                                  std::to_string(p->attempt) + " is the current one"));
    return nullptr;
  }
  if (p->state == SlotState::kWaiting && !allow_waiting) {
    rejected.push_back(reject(offset, attempt, "its ack wait expired: it will be delivered again"));
    return nullptr;
  }
  return p;
}

void Consumer::ack(std::uint64_t /*member_id*/, std::span<const sidecar::AckItem> items,
                   std::vector<sidecar::Rejection>& rejected, Clock::TimePoint /*now*/) {
  for (const sidecar::AckItem& item : items) {
    if (!settings_.ack) {
      rejected.push_back(reject(item.offset, item.attempt, "this consumer takes no acknowledgements"));
      continue;
    }
    Slot* p = answerable(item.offset, item.attempt, rejected, true);
    if (p == nullptr) continue;
    release(*p);
    ++counters_.acked;
    settle(item.offset);
  }
}

void Consumer::nak(std::uint64_t /*member_id*/, std::span<const sidecar::AckItem> items, std::chrono::milliseconds delay,
                   const std::string& reason, std::vector<sidecar::Rejection>& rejected, Clock::TimePoint now) {
  for (const sidecar::AckItem& item : items) {
    Slot* p = settings_.ack ? answerable(item.offset, item.attempt, rejected, false) : nullptr;
    if (!settings_.ack) rejected.push_back(reject(item.offset, item.attempt, "this consumer takes no acknowledgements"));
    if (p == nullptr) continue;
    release(*p);
    p->last_error = LastError::kNak;
    nak_reasons_[item.offset] = reason.empty() ? "nak" : reason;
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
    Slot* p = settings_.ack ? answerable(item.offset, item.attempt, rejected, false) : nullptr;
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

void Consumer::release(Slot& slot) {
  if (slot.state != SlotState::kInFlight) return;
  auto it = members_.find(slot.member);
  if (it != members_.end() && it->second.outstanding > 0) --it->second.outstanding;
  slot.member = 0;
  slot.state = SlotState::kWaiting;
}

void Consumer::schedule(std::uint64_t offset, Slot& slot, Clock::TimePoint not_before) {
  slot.state = SlotState::kWaiting;
  set_timer(offset, slot, not_before);
}

void Consumer::set_timer(std::uint64_t offset, Slot& slot, Clock::TimePoint when) {
  clear_timer(slot);
  // Ack deadlines only grow (now + ack_wait): the hint makes the insertion constant time.
  slot.timer = timers_.emplace_hint(timers_.end(), when, TimerRun{offset, offset + 1, 1});
  slot.has_timer = true;
}

void Consumer::clear_timer(Slot& slot) {
  if (!slot.has_timer) return;
  slot.has_timer = false;
  if (--slot.timer->second.live == 0) timers_.erase(slot.timer);
}

void Consumer::settle(std::uint64_t offset) {
  Slot* p = slot(offset);
  if (p == nullptr || p->state == SlotState::kSettled) return;  // gone to retention meanwhile
  clear_timer(*p);
  p->state = SlotState::kSettled;
  --pending_count_;
  if (!ready_.empty()) ready_.erase(offset);
  if (!nak_reasons_.empty()) nak_reasons_.erase(offset);
  advance_floor();
  dirty_ = durable();
}

void Consumer::advance_floor() {
  while (!slots_.empty() && slots_.front().state == SlotState::kSettled) {
    slots_.pop_front();
    ++ack_floor_;
  }
}

std::string Consumer::last_error_text(std::uint64_t offset, const Slot& slot) const {
  switch (slot.last_error) {
    case LastError::kNak:
      if (auto it = nak_reasons_.find(offset); it != nak_reasons_.end()) return it->second;
      return "nak";
    case LastError::kMemberLeft:
      return "the member holding it left";
    case LastError::kAckWait:
      return "ack wait of " + std::to_string(settings_.ack_wait.count()) + " ms expired";
    case LastError::kNone:
      break;
  }
  return "ack wait expired";
}

void Consumer::exhaust(std::uint64_t offset, Slot& slot) {
  slot.state = SlotState::kDeadLettering;
  if (!ready_.empty()) ready_.erase(offset);
  auto record = log_.read(offset, 1);
  if (!record || record->empty() || record->records().front().offset != offset) {
    // Gone (retention) or unreadable: nothing to keep.
    ++counters_.skipped;
    settle(offset);
    return;
  }
  DeadLetterRequest request{settings_.name.empty() ? "(ephemeral)" : settings_.name, offset, slot.attempt,
                            last_error_text(offset, slot), record->records().front().value};
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
  if (!restored_settled_.empty()) restored_settled_.erase(restored_settled_.begin(), restored_settled_.lower_bound(first));
  if (ack_floor_ >= first) return;
  while (ack_floor_ < first && !slots_.empty()) {
    Slot& s = slots_.front();
    if (pending_state(s)) {
      release(s);
      clear_timer(s);
      --pending_count_;
      if (!ready_.empty()) ready_.erase(ack_floor_);
      if (!nak_reasons_.empty()) nak_reasons_.erase(ack_floor_);
    }
    slots_.pop_front();
    ++ack_floor_;
  }
  ack_floor_ = std::max(ack_floor_, std::min(first, next_));
  advance_floor();
  dirty_ = durable();
}

std::size_t Consumer::expire(Clock::TimePoint now) {
  std::size_t work = 0;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const Timers::iterator run = timers_.begin();
    const TimerRun span = run->second;
    for (std::uint64_t offset = std::max(span.first, ack_floor_); offset < span.end; ++offset) {
      Slot* p = slot(offset);
      if (p == nullptr) break;  // past next_
      if (!p->has_timer || p->timer != run) continue;  // settled, or its timer moved
      p->has_timer = false;  // the run goes as a whole below
      if (p->state == SlotState::kInFlight) {
        release(*p);
        p->last_error = LastError::kAckWait;
        if (exhausted(*p)) {
          exhaust(offset, *p);
        } else {
          ready_.insert(offset);
        }
        ++work;
      } else if (p->state == SlotState::kWaiting) {
        ready_.insert(offset);  // a nak's delay is over
        ++work;
      }
    }
    timers_.erase(run);
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
    const Slot* p = slot(offset);
    if (!batch.add({offset, p->attempt + 1, r.timestamp}, r.value)) break;
  }
  for (std::uint64_t offset : gone) {
    ++counters_.skipped;
    settle(offset);
  }
  return !batch.items.empty();
}

std::uint64_t Consumer::fill_new(Batch& batch, std::size_t room) {
  std::uint64_t cursor = next_;
  bool full = false;  // no room for the next record (credit, or the header)
  while (!full && batch.items.size() < room && batch.bytes < kBatchBytes && cursor < log_.end_offset()) {
    // Straight from the log's read buffer into the DELIVER's body.
    auto read = log_.read_each(cursor, kBatchBytes - batch.bytes, [&](const log::LogRecord& r) {
      if (acked_before_restart(r.offset)) return true;  // passed over
      if (batch.items.size() >= room || !batch.add({r.offset, 1, r.timestamp}, r.value)) {
        full = true;
        return false;
      }
      return true;
    });
    if (!read) {
      if (!batch.items.empty() || cursor != next_) break;  // send what is there; the next send meets it first
      if (read.status().code() == ErrorCode::kCorruption) {
        // Damaged records are never served: step over them and count what was skipped.
        auto resume = log_.skip_damage(cursor);
        const std::uint64_t to = resume ? std::max(*resume, cursor + 1) : cursor + 1;
        counters_.skipped += to - cursor;
        cursor = to;
        continue;
      }
      catch_up_with_retention();
      return next_;
    }
    if (*read == cursor) break;  // nothing more yet
    cursor = *read;
  }
  return cursor;
}

void Consumer::advance_next(std::uint64_t cursor, const Batch& batch, std::size_t redeliveries, const Member& member,
                            Clock::TimePoint now) {
  if (!settings_.ack) {
    next_ = ack_floor_ = cursor;
    return;
  }
  const Clock::TimePoint deadline = now + settings_.ack_wait;
  // Redeliveries: one timer each (they are few, and rarely consecutive).
  for (std::size_t i = 0; i < redeliveries; ++i) {
    const sidecar::DeliveryItem& item = batch.items[i];
    Slot* p = slot(item.offset);
    ready_.erase(item.offset);
    ++counters_.redelivered;
    p->state = SlotState::kInFlight;
    p->attempt = item.attempt;
    p->member = member.ref.id;
    set_timer(item.offset, *p, deadline);
  }
  // First deliveries: new slots from next_ on, sharing one timer per consecutive run.
  std::size_t i = redeliveries;
  std::optional<Timers::iterator> run;
  for (std::uint64_t offset = next_; offset < cursor; ++offset) {
    Slot& s = slots_.emplace_back();
    if (i < batch.items.size() && batch.items[i].offset == offset) {
      s.state = SlotState::kInFlight;
      s.attempt = 1;
      s.member = member.ref.id;
      ++pending_count_;
      if (!run || (*run)->second.end != offset) {
        run = timers_.emplace_hint(timers_.end(), deadline, TimerRun{offset, offset, 0});
      }
      ++(*run)->second.end;
      ++(*run)->second.live;
      s.timer = *run;
      s.has_timer = true;
      ++i;
    } else {
      // Acknowledged before a restart, or lost to damage (counted as skipped): nothing to deliver.
      s.state = SlotState::kSettled;
      if (!restored_settled_.empty()) restored_settled_.erase(offset);
      run.reset();
    }
  }
  next_ = cursor;
  advance_floor();
}

std::optional<std::size_t> Consumer::send_file_range(Member& member, std::size_t room, Clock::TimePoint now) {
  if (acked_before_restart(next_)) return std::nullopt;  // the copying path steps over it
  auto range = log_.locate(next_, room);
  if (!range) return std::nullopt;  // retention or damage: the copying path deals with it
  std::uint64_t end = range->end_offset;
  if (!restored_settled_.empty()) {
    auto passed_over = restored_settled_.lower_bound(next_);
    if (passed_over != restored_settled_.end() && *passed_over < end) end = *passed_over;
  }
  if (end <= next_) return 0;  // nothing acknowledged past next_ yet
  sidecar::DeliverFileFields fields{member.ref.id,       std::move(range->path), range->start_position,
                                    range->end_position, next_,                 end};
  if (!host_.deliver_file(member.ref, fields)) return 0;
  const std::size_t sent = end - next_;
  member.outstanding += static_cast<std::uint32_t>(sent);
  counters_.delivered += sent;
  counters_.read_by_member += sent;
  Batch batch;  // what advance_next() reads of a batch: the offsets it carried
  batch.items.reserve(sent);
  for (std::uint64_t offset = next_; offset < end; ++offset) batch.items.push_back({offset, 1, 0});
  advance_next(end, batch, 0, member, now);
  return sent;
}

bool Consumer::read_failed(std::uint64_t member_id, std::uint64_t first, std::uint64_t end) {
  auto member = members_.find(member_id);
  if (member == members_.end()) return false;
  const bool was_reading = std::exchange(member->second.ref.local_read, false);
  ++counters_.member_read_failures;
  // Only what this member holds at its first attempt from this range: a stale or forged range changes nothing.
  for (std::uint64_t offset = std::max(first, ack_floor_); offset < std::min(end, next_); ++offset) {
    Slot* p = slot(offset);
    if (p == nullptr || p->state != SlotState::kInFlight || p->member != member_id || p->attempt != 1) continue;
    clear_timer(*p);
    release(*p);
    p->attempt = 0;  // never handed over: it goes out again as a first delivery
    ready_.insert(offset);
  }
  return was_reading;
}

std::size_t Consumer::send(Member& member, Clock::TimePoint now) {
  if (member.outstanding >= member.credit) return 0;
  const std::size_t room = std::min<std::size_t>(member.credit - member.outstanding, sidecar::kMaxBodyFrames);
  // Redeliveries go first, and always as copies: they are few, and the member's file reads may be what failed.
  if (member.ref.local_read && settings_.ack && ready_.empty()) {
    if (auto sent = send_file_range(member, room, now)) return *sent;
  }
  Batch batch;
  batch.packed = member.ref.packed;
  // As much as the last batch's items took, so that a large batch is not copied as it grows.
  const std::size_t per_item = sidecar::kPackedItemHeadBytes + (last_item_bytes_ == 0 ? 256 : last_item_bytes_);
  batch.body.reserve(std::min(room * per_item, kBatchBytes + room * sidecar::kPackedItemHeadBytes));
  if (settings_.ack) fill_redeliveries(batch, room, now);
  const std::size_t redeliveries = batch.items.size();
  const std::uint64_t cursor = fill_new(batch, room);
  if (batch.items.empty()) {
    if (cursor != next_) {
      advance_next(cursor, batch, 0, member, now);  // only offsets acknowledged before a restart, or damaged
      dirty_ = durable();
    }
    return 0;
  }
  last_item_bytes_ = batch.bytes / batch.items.size() + 1;
  const std::size_t sent = batch.items.size();
  if (!host_.deliver(member.ref, batch.items, batch.body)) return 0;
  member.outstanding += static_cast<std::uint32_t>(sent);
  counters_.delivered += sent;
  advance_next(cursor, batch, redeliveries, member, now);
  return sent;
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
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].state == SlotState::kSettled) s.acked_above.push_back(ack_floor_ + i);
  }
  s.acked_above.insert(s.acked_above.end(), restored_settled_.begin(), restored_settled_.end());
  return s;
}

sidecar::ConsumerInfo Consumer::info(std::uint64_t stream_end) const {
  sidecar::ConsumerInfo i;
  i.name = settings_.name;
  i.kind = std::string(consumer_kind_name(settings_.kind));
  i.ack_floor = ack_floor_;
  i.next_offset = next_;
  i.pending = pending_count_;
  i.lag = stream_end > ack_floor_ ? stream_end - ack_floor_ : 0;
  i.members = static_cast<std::uint32_t>(members_.size());
  i.ack_wait_ms = static_cast<std::uint32_t>(settings_.ack_wait.count());
  i.max_deliver = settings_.max_deliver;
  i.redelivered = counters_.redelivered;
  i.dead_lettered = counters_.dead_lettered;
  i.skipped = counters_.skipped;
  i.read_by_members = counters_.read_by_member;
  i.member_read_failures = counters_.member_read_failures;
  return i;
}

void Consumer::end_all(sidecar::ErrorKind code, const std::string& why) {
  std::vector<MemberRef> refs;
  for (const auto& [id, m] : members_) refs.push_back(m.ref);
  members_.clear();
  for (const MemberRef& ref : refs) host_.end_member(ref, code, why);
}

}  // namespace weft::detail::weftd
