// One consumer of a stream: where it is (the acknowledged floor, the next offset to send, what is in flight),
// who its members are and how much each may hold, redelivery after the ack wait or a nak, and the hand-off to
// the dead-letter stream after max_deliver attempts. No sockets and no clock reads: the stream steps it with
// do_work(now) and hands it the log to read, a host to send through and a dead-letter function.
//
// Kinds: durable (named; one member at a time, a new member takes over), group (named; members compete, each
// message to one of them), ephemeral (one member, forgotten when it leaves). Durable and group consumers keep
// their acknowledged floor (and the acknowledged offsets above it) in the stream's consumer state file.
//
// Reads never consume: every consumer reads the log at its own pace.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "log/log.hpp"
#include "sidecar/packed_deliveries.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/sidecar_messages.hpp"
#include "util/clock.hpp"

namespace weft::detail::weftd {

enum class ConsumerKind { kDurable, kGroup, kEphemeral };
[[nodiscard]] std::string_view consumer_kind_name(ConsumerKind kind) noexcept;

// A member: one client's membership, named by the id weftd gave it (the wire's `consumer`).
struct MemberRef {
  std::string peer;  // the client's ZeroMQ routing id
  std::uint64_t id = 0;
  bool packed = false;  // it reads packed DELIVERs (its CONSUME asked for them)
  // It reads first deliveries from the segment files itself (DELIVER_FILE; its CONSUME asked, with acks); off
  // for good once it could not (READ_FAILED).
  bool local_read = false;
};

// Where a consumer sends.
class ConsumerHost {
 public:
  virtual ~ConsumerHost() = default;
  // Sends a batch of deliveries to a member; false when it cannot take them now (nothing was sent). `body`
  // packs the items with their envelopes, in order; the host may take its bytes.
  virtual bool deliver(const MemberRef& member, std::span<const sidecar::DeliveryItem> items,
                       sidecar::PackedDeliveryWriter& body) = 0;
  // Tells a member to read first deliveries from a segment file itself; false when it cannot take them now.
  virtual bool deliver_file(const MemberRef& member, const sidecar::DeliverFileFields& range) = 0;
  // Tells a member that it is no longer part of its consumer.
  virtual void end_member(const MemberRef& member, sidecar::ErrorKind code, const std::string& why) = 0;
};

// What a consumer hands to the dead-letter stream; `done` runs once the dead letter is durable (ok) or failed.
struct DeadLetterRequest {
  std::string consumer;
  std::uint64_t offset = 0;
  std::uint32_t deliveries = 0;
  std::string last_error;
  std::span<const std::byte> envelope;
};
using DeadLetterFn = std::function<Status(const DeadLetterRequest&, std::function<void(const Status&)> done)>;

struct ConsumerSettings {
  ConsumerKind kind = ConsumerKind::kEphemeral;
  std::string name;  // empty for an ephemeral consumer
  bool ack = true;
  std::chrono::milliseconds ack_wait{sidecar::kDefaultAckWaitMs};
  std::uint32_t max_deliver = sidecar::kDefaultMaxDeliver;  // 0: no limit
};

// What a durable or group consumer keeps across restarts.
struct ConsumerState {
  std::string name;
  std::uint8_t kind = 0;  // ConsumerKind
  std::uint32_t ack_wait_ms = 0;
  std::uint32_t max_deliver = 0;
  std::uint64_t ack_floor = 0;
  std::vector<std::uint64_t> acked_above;  // acknowledged (or dead-lettered) offsets above the floor
  MSGPACK_DEFINE_MAP(name, kind, ack_wait_ms, max_deliver, ack_floor, acked_above)
};

struct ConsumerCounters {
  std::uint64_t delivered = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t acked = 0;
  std::uint64_t dead_lettered = 0;
  std::uint64_t skipped = 0;   // offsets lost to retention (or damage) before delivery
  std::uint64_t read_by_member = 0;      // first deliveries a member read from the segment files itself
  std::uint64_t member_read_failures = 0;  // DELIVER_FILEs a member could not read (sent again as copies)
};

class Consumer {
 public:
  // A new consumer starting at `start` (acknowledged floor and next offset both).
  Consumer(ConsumerSettings settings, std::uint64_t start, const log::Log& log, ConsumerHost& host,
           DeadLetterFn dead_letter);
  // A durable or group consumer as it was stored.
  Consumer(const ConsumerState& state, const log::Log& log, ConsumerHost& host, DeadLetterFn dead_letter);

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Adds a member with `credit` deliveries outstanding at most. A durable consumer's previous member is ended
  // (taken over); its deliveries go out again.
  void add_member(const MemberRef& member, std::uint32_t credit, Clock::TimePoint now);
  // Removes a member; what it held goes out again (to another member, or when one comes).
  void remove_member(std::uint64_t member_id, Clock::TimePoint now);
  [[nodiscard]] bool has_member(std::uint64_t member_id) const { return members_.count(member_id) != 0; }
  [[nodiscard]] std::size_t member_count() const noexcept { return members_.size(); }
  // Applies new settings from a member that joined (ack wait, max deliver).
  void update_settings(std::chrono::milliseconds ack_wait, std::uint32_t max_deliver);

  // Answers from a member; each item is accepted or rejected (stale attempt, not pending).
  void ack(std::uint64_t member_id, std::span<const sidecar::AckItem> items, std::vector<sidecar::Rejection>& rejected,
           Clock::TimePoint now);
  void nak(std::uint64_t member_id, std::span<const sidecar::AckItem> items, std::chrono::milliseconds delay,
           const std::string& reason, std::vector<sidecar::Rejection>& rejected, Clock::TimePoint now);
  void progress(std::uint64_t member_id, std::span<const sidecar::AckItem> items,
                std::vector<sidecar::Rejection>& rejected, Clock::TimePoint now);
  // The member could not read a DELIVER_FILE from `first` on: what it held of first .. end - 1 goes out again
  // as first deliveries, copied, and the member gets no more DELIVER_FILE. True if it read the files until now.
  bool read_failed(std::uint64_t member_id, std::uint64_t first, std::uint64_t end);
  // ack = false: the member handled `credit` more deliveries.
  void add_credit(std::uint64_t member_id, std::uint32_t credit);

  // Expires ack waits, hands exhausted messages to the dead-letter stream, and sends what members have room
  // for. Returns the number of deliveries and state changes made.
  std::size_t do_work(Clock::TimePoint now);
  // When do_work() next has something to do (now, if it could send at once); nullopt if nothing is waiting.
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline(Clock::TimePoint now) const;

  [[nodiscard]] const ConsumerSettings& settings() const noexcept { return settings_; }
  [[nodiscard]] bool durable() const noexcept { return settings_.kind != ConsumerKind::kEphemeral; }
  [[nodiscard]] std::uint64_t ack_floor() const noexcept { return ack_floor_; }
  [[nodiscard]] std::uint64_t next_offset() const noexcept { return next_; }
  [[nodiscard]] std::size_t pending() const noexcept { return pending_count_; }
  [[nodiscard]] const ConsumerCounters& counters() const noexcept { return counters_; }
  // Durable state changed since the last take_dirty().
  bool take_dirty() noexcept { return std::exchange(dirty_, false); }
  [[nodiscard]] ConsumerState state() const;
  [[nodiscard]] sidecar::ConsumerInfo info(std::uint64_t stream_end) const;
  // Ends every member (the stream is going away).
  void end_all(sidecar::ErrorKind code, const std::string& why);

 private:
  // What happened to each offset from the acknowledged floor up to next_offset(): sent and waiting for an
  // answer, waiting to go out again, being dead-lettered, or settled (acknowledged, dead-lettered, lost).
  enum class SlotState : std::uint8_t { kInFlight, kWaiting, kDeadLettering, kSettled };
  // Why the last attempt failed, for the dead letter (a nak's reason is kept in nak_reasons_).
  enum class LastError : std::uint8_t { kNone, kAckWait, kMemberLeft, kNak };
  // Ack deadlines and nak delays. One entry covers a run of offsets sent together (a DELIVER's, usually) and
  // counts the ones still waiting on it; it goes when the last of them is settled or rescheduled, so the map
  // holds what is in flight, not every delivery of the last ack wait.
  struct TimerRun {
    std::uint64_t first = 0;
    std::uint64_t end = 0;  // one past the last offset
    std::size_t live = 0;
  };
  using Timers = std::multimap<Clock::TimePoint, TimerRun>;
  struct Slot {
    SlotState state = SlotState::kSettled;
    LastError last_error = LastError::kNone;
    bool has_timer = false;
    std::uint32_t attempt = 0;  // deliveries made so far
    std::uint64_t member = 0;   // holder while in flight
    Timers::iterator timer{};   // its entry in timers_, if has_timer
  };
  struct Member {
    MemberRef ref;
    std::uint32_t credit = 0;
    std::uint32_t outstanding = 0;
  };
  struct Batch {
    bool packed = false;  // for a member that reads packed DELIVERs: no items in the header, no header limit
    std::vector<sidecar::DeliveryItem> items;
    sidecar::PackedDeliveryWriter body;  // the items and a copy of their envelopes
    std::size_t bytes = 0;
    std::size_t item_bytes = 0;  // of the items in an unpacked DELIVER's header (at most kMaxDeliverItemsBytes)
    // Adds an item if the header has room for it.
    bool add(const sidecar::DeliveryItem& item, std::span<const std::byte> envelope);
  };

  // The slot of `offset`, or nullptr below the floor or at next_offset() and beyond.
  Slot* slot(std::uint64_t offset) noexcept {
    return offset >= ack_floor_ && offset - ack_floor_ < slots_.size() ? &slots_[offset - ack_floor_] : nullptr;
  }
  [[nodiscard]] bool pending_state(const Slot& s) const noexcept { return s.state != SlotState::kSettled; }
  Slot* answerable(std::uint64_t offset, std::uint32_t attempt, std::vector<sidecar::Rejection>& rejected,
                   bool allow_waiting);
  void settle(std::uint64_t offset);
  void advance_floor();
  void release(Slot& slot);  // the holder no longer holds it
  void schedule(std::uint64_t offset, Slot& slot, Clock::TimePoint not_before);
  void set_timer(std::uint64_t offset, Slot& slot, Clock::TimePoint when);
  void clear_timer(Slot& slot);
  void exhaust(std::uint64_t offset, Slot& slot);  // max_deliver reached: to the dead-letter stream
  [[nodiscard]] std::string last_error_text(std::uint64_t offset, const Slot& slot) const;
  void catch_up_with_retention();
  std::size_t expire(Clock::TimePoint now);
  std::size_t send(Member& member, Clock::TimePoint now);
  // First deliveries from next_ on as one DELIVER_FILE, for a member that reads the files itself. nullopt
  // when the copying path must go instead (retention, damage, an offset acknowledged before a restart).
  std::optional<std::size_t> send_file_range(Member& member, std::size_t room, Clock::TimePoint now);
  bool fill_redeliveries(Batch& batch, std::size_t room, Clock::TimePoint now);
  // Adds first deliveries from next_ on; returns where next_ goes if they are sent.
  std::uint64_t fill_new(Batch& batch, std::size_t room);
  // Moves next_ to `cursor` once `batch` went out: its new items are in flight, the offsets it passed over
  // (acknowledged before a restart, or lost to damage) settled.
  void advance_next(std::uint64_t cursor, const Batch& batch, std::size_t redeliveries, const Member& member,
                    Clock::TimePoint now);
  [[nodiscard]] bool acked_before_restart(std::uint64_t offset) const {
    return !restored_settled_.empty() && restored_settled_.count(offset) != 0;
  }
  [[nodiscard]] bool exhausted(const Slot& s) const noexcept {
    return settings_.max_deliver != 0 && s.attempt >= settings_.max_deliver;
  }

  ConsumerSettings settings_;
  const log::Log& log_;
  ConsumerHost& host_;
  DeadLetterFn dead_letter_;

  std::uint64_t ack_floor_ = 0;
  std::uint64_t next_ = 0;
  // Offsets ack_floor_ .. next_ - 1 (with ack = true; empty without acks). The front is never settled.
  std::deque<Slot> slots_;
  std::size_t pending_count_ = 0;                       // slots not settled
  std::set<std::uint64_t> restored_settled_;            // acknowledged before a restart, at next_ and beyond
  std::map<std::uint64_t, std::string> nak_reasons_;    // of pending offsets whose last attempt was nak'ed
  std::set<std::uint64_t> ready_;                       // pending offsets to deliver again now
  Timers timers_;
  std::map<std::uint64_t, Member> members_;
  std::uint64_t round_robin_ = 0;
  std::size_t last_item_bytes_ = 0;  // envelope bytes per item in the last batch: how much the next reserves
  bool dirty_ = false;
  ConsumerCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // outlived by dead-letter callbacks
};

}  // namespace weft::detail::weftd
