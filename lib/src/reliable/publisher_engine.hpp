// The publishing side of at-least-once delivery, on the I/O thread: the outbox and its consumers.
//
// Every at-least-once message stays in the outbox until each consumer that matched it when it was published
// has acknowledged it (or it was dead-lettered there, or its publish timed out). Consumers are durable
// subscribers (one target per durable name, in order) and queue groups (one target per group; each message to
// one member). Deliveries go out over the control channel within each member's credit; a delivery not
// acknowledged within the ack wait, nak'd, or held by a member that died goes out again, to another member
// when there is one, until max_deliver attempts, then to the dead-letter queue. docs/guarantees.md says what
// this promises.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "codec/envelope.hpp"
#include "control/control_channel.hpp"
#include "reliable/deadline_queue.hpp"
#include "reliable/dead_letter.hpp"
#include "reliable/outbox_store.hpp"
#include "reliable/sequence_slots.hpp"

namespace weft::detail {

class PublisherEngine final : public ControlHandler {
 public:
  using Completion = std::function<void(const Status&)>;

  PublisherEngine(NodeContext& context, ControlChannel& channel, std::uint64_t stream_id, DeadLetterSink* dead_letters);

  [[nodiscard]] std::uint64_t stream_id() const noexcept { return stream_id_; }
  void set_dead_letters(DeadLetterSink* sink) noexcept { dead_letters_ = sink; }
  // The disk outbox (OutboxOptions::persist): what it recovered is taken up again, with this stream.
  void restore(OutboxStore* store, const OutboxStore::Recovered& recovered, Clock::TimePoint now);
  void stop() override { abandon("the node stopped before every consumer acknowledged it"); }
  // The sequence the next at-least-once message gets (stamped into its envelope by the I/O loop).
  std::uint64_t take_sequence() noexcept { return next_sequence_++; }

  // Takes a message (its envelope already stamped with this stream and `sequence`). `to_queues_only`: a request,
  // which goes to one member of a matching queue group and to no durable subscriber. `now` arms the publish
  // timeout; the I/O loop reads the clock once per batch, not once per message. `holder`, when given, is the
  // buffer that holds `envelope` (a publish-queue slot's: the subject, then the envelope): the outbox takes it
  // over and gives back an empty one of its own, instead of copying the subject and the envelope into its own.
  // `subject` must not point into it past this call.
  void add(std::uint64_t sequence, std::string_view subject, const std::byte* envelope, std::size_t bytes,
           std::chrono::milliseconds timeout, Completion on_complete, bool to_queues_only, Clock::TimePoint now,
           ByteBuffer* holder = nullptr);

  bool handle(const PeerRef& from, control::Message& message, zmq::message_t& body, bool has_body,
              Clock::TimePoint now) override;
  std::size_t do_work(Clock::TimePoint now) override;
  [[nodiscard]] Clock::TimePoint next_deadline() override;

  // Fails every outstanding message (the node is stopping).
  void abandon(const std::string& why);

  [[nodiscard]] std::size_t outstanding() const noexcept { return entries_.size(); }

 private:
  struct Target;
  // One target's delivery of an entry: what a message that times out or is dropped from a full outbox uses to
  // find its deliveries without searching every target.
  struct Owed {
    Target* target = nullptr;
    std::uint64_t dseq = 0;
  };
  // What few entries need: kept apart, so that the entry every message writes stays small.
  struct EntryRare {
    std::vector<Owed> more_owed;  // the targets after the first
    std::string failure;          // set when a target dead-lettered it, or it was dropped or abandoned
  };
  // An outbox slot's value. Recycled, not freed, when the message leaves: the buffers keep their memory for
  // the next message in the slot, so that a steady stream allocates nothing here.
  //
  // Every at-least-once message writes one, on the I/O thread, into memory gone cold since the ring last came
  // round: only what every message needs is here (96 bytes, down from 184). The subject is not a string of its
  // own but the start of the buffer, as the publish-queue slot that the buffer comes from wrote it.
  struct Entry {
    // The subject, then the envelope from byte `skip` on.
    ByteBuffer held;
    std::uint32_t skip = 0;  // the subject's length
    std::uint32_t owed = 0;  // targets that have neither acknowledged nor dead-lettered it
    Clock::TimePoint expires;
    Owed first_owed;  // most messages go to one target: no allocation for it
    Completion on_complete;
    std::unique_ptr<EntryRare> rare;  // allocated the first time the slot needs it, then kept
    [[nodiscard]] std::string_view subject() const noexcept {
      return {reinterpret_cast<const char*>(held.data()), skip};
    }
    [[nodiscard]] std::span<const std::byte> envelope() const noexcept {
      return {held.data() + skip, held.size() - skip};
    }
    [[nodiscard]] EntryRare& more() {
      if (!rare) rare = std::make_unique<EntryRare>();
      return *rare;
    }
    [[nodiscard]] std::span<const Owed> more_owed() const noexcept {
      return rare ? std::span<const Owed>(rare->more_owed) : std::span<const Owed>();
    }
    [[nodiscard]] bool failed() const noexcept { return rare && !rare->failure.empty(); }
    void recycle() {
      held.clear();
      skip = 0;
      owed = 0;
      first_owed = {};
      on_complete = nullptr;
      if (rare) {
        rare->more_owed.clear();
        rare->failure.clear();
      }
    }
  };
  // A target's delivery of a message. Like Entry, one is written for every message, into cold memory: 56
  // bytes (64 with SequenceSlots' flag), down from 80.
  struct Delivery {
    std::uint64_t sequence = 0;
    std::uint32_t attempt = 0;  // deliveries made so far
    bool in_flight = false;
    std::uint64_t member = 0;  // the holder's Member::handle while in flight
    // The member whose ack wait for it ran out last (its handle): a redelivery goes elsewhere if it can.
    std::uint64_t expired_at = 0;
    Clock::TimePoint not_before{};  // nak delay
    Clock::TimePoint ack_deadline{};
    // Why it was last taken back (nak, ack wait, holder gone), which a dead letter gives. Not a string in
    // place: most deliveries are acknowledged the first time. Allocated the first time the slot needs it, then
    // kept (recycle()).
    std::unique_ptr<std::string> last_error;
    [[nodiscard]] bool has_error() const noexcept { return last_error && !last_error->empty(); }
    void set_error(std::string_view why) {
      if (!last_error) last_error = std::make_unique<std::string>();
      last_error->assign(why);
    }
    void recycle() {
      std::unique_ptr<std::string> kept = std::move(last_error);
      *this = Delivery{};
      last_error = std::move(kept);
      if (last_error) last_error->clear();
    }
  };
  struct Member {
    // Names this member in its deliveries (a number, not its id string: no copy per delivery); never reused.
    std::uint64_t handle = 0;
    PeerRef peer;
    std::uint64_t session = 0;
    std::uint64_t node_id = 0;
    std::uint32_t credit = 0;      // deliveries it takes unacknowledged
    std::uint32_t in_flight = 0;   // counts expired_held too
    // Deliveries whose ack wait ran out while it said nothing since: they still fill its credit, since it may
    // be stopped with them in hand, so that it is not sent more (or the same again) until it is heard from.
    std::uint32_t expired_held = 0;
    std::uint64_t last_sent = 0;   // the last dseq sent, for heartbeats
    Clock::TimePoint last_heard{};
    Clock::TimePoint next_heartbeat{};
  };
  struct Target {
    std::string key;
    control::ConsumerMode mode = control::ConsumerMode::kDurable;
    std::string pattern;
    std::chrono::milliseconds ack_wait{30000};
    std::uint32_t max_deliver = 5;
    std::map<std::string, Member> members;  // by member id (node:session)
    // Every delivery not yet acknowledged, by dseq: looked up for every message sent and acknowledged (a tree
    // of 100,000 deliveries cost more than the rest of the path together).
    SequenceSlots<Delivery> deliveries;
    std::deque<std::uint64_t> ready;  // dseqs to send (first sends and redeliveries)
    DeadlineQueue ack_timers;         // the ack deadlines of in-flight deliveries, by dseq
    std::uint64_t next_dseq = 1;
    std::size_t round_robin = 0;
  };

  void on_consume(const PeerRef& from, const control::Consume& consume, Clock::TimePoint now);
  void on_unconsume(const control::Unconsume& unconsume, Clock::TimePoint now);
  void on_ack(const PeerRef& from, const control::Ack& ack, Clock::TimePoint now);
  void on_nak(const control::Nak& nak, Clock::TimePoint now);
  void on_progress(const control::Progress& progress, Clock::TimePoint now);
  void on_heartbeat(const control::Heartbeat& heartbeat, Clock::TimePoint now);
  void on_resend(const control::Resend& resend, Clock::TimePoint now);

  Member* member_for(Target& target, std::uint64_t session, std::string* id = nullptr);
  std::size_t send_ready(Target& target, Clock::TimePoint now);
  std::size_t expire(Clock::TimePoint now);
  // Back to the ready queue: an in-flight delivery whose holder failed it (or vanished).
  // `ack_wait_expired`: the holder said nothing in time; it keeps the delivery against its credit (Member::
  // expired_held) until it is heard from, and the redelivery prefers another member.
  void requeue(Target& target, std::uint64_t dseq, Delivery& delivery, const std::string& why,
               bool ack_wait_expired = false);
  // A member spoke (ack, nak, progress, heartbeat, resend): it is alive, and its credit is its own again.
  static void heard_from(Member& member, Clock::TimePoint now);
  // Whether a deadline that comes up still stands: the delivery is still in flight with that ack deadline, the
  // message still in the outbox with that expiry (neither was settled or re-armed since).
  static bool ack_wait_applies(Target& target, std::uint64_t dseq, Clock::TimePoint when);
  bool expiry_applies(std::uint64_t sequence, Clock::TimePoint when);
  // The target is done with the message: acknowledged (error empty) or dead-lettered.
  // Takes the reason by value: it often lives in the delivery that settling erases.
  void settle(Target& target, std::uint64_t dseq, std::string dead_letter_reason);
  // Counts the message done and queues its completion; flush_completions() hands them over.
  void complete(std::uint64_t sequence, Entry& entry, bool settled_for_good = true);
  // Releases the outbox room and posts the on_complete callbacks of everything completed since the last call,
  // in one go: once per pass, not once per message (each post is a lock and an eventfd write).
  void flush_completions();
  void drop_member(Target& target, const std::string& id, const std::string& why);
  void publish_targets();
  static Member* member_by_handle(Target& target, std::uint64_t handle);
  // The targets a message on `subject` goes to. Looked up once per run of messages on one subject (the I/O loop
  // hands over a batch, which shares its subject), not matched against every pattern for every message.
  const std::vector<Target*>& targets_for(std::string_view subject, bool to_queues_only);
  // Makes `target` owe the entry at `sequence` a delivery: a new dseq, ready to send, noted in the entry.
  void owe(Target& target, Entry& entry, std::uint64_t sequence);
  // Removes the deliveries of a message that leaves the outbox unsettled (timed out, dropped): frees the credit
  // of those in flight, and appends the keys of the targets that still owed it to `waiting` (if given).
  void forget_deliveries(Entry& entry, std::uint64_t sequence, std::string* waiting);

  NodeContext& context_;
  ControlChannel& channel_;
  std::uint64_t stream_id_;
  OutboxStore* store_ = nullptr;
  DeadLetterSink* dead_letters_;
  std::uint64_t next_sequence_ = 1;
  SequenceSlots<Entry> entries_;  // the outbox, by sequence
  DeadlineQueue expiry_timers_;  // publish timeouts, by sequence
  std::uint64_t next_member_handle_ = 1;
  // Scratch for send_ready(), kept to save an allocation per pass.
  std::vector<Member*> turns_;
  std::vector<std::pair<Delivery*, std::span<const std::byte>>> batch_;
  std::vector<std::uint64_t> later_;
  std::map<std::string, Target> targets_;  // by key; never erased, so Owed::target pointers stay valid
  // Bumped whenever a target is added or its pattern or mode may have changed: what targets_for() remembers
  // is good while it stays the same.
  std::uint64_t targets_generation_ = 1;
  std::uint64_t matched_generation_ = 0;
  std::string matched_subject_;
  bool matched_queues_only_ = false;
  std::vector<Target*> matched_;
  Clock::TimePoint next_sweep_{};
  // Completed since the last flush_completions(), with their outcome: posted to the dispatcher as one task, not
  // one std::function (an allocation) per message. The outcome is kept only for those that failed, by their
  // index among the callbacks: the others are ok, and a Status per message (40 bytes) was as much again as
  // the callback to write and read.
  struct Completions {
    std::vector<Completion> callbacks;                   // in the order the messages completed
    std::vector<std::pair<std::size_t, Status>> failed;  // (index into callbacks, outcome), in that order
  };
  Completions completions_;
  std::size_t released_messages_ = 0;
  std::size_t released_bytes_ = 0;
};

}  // namespace weft::detail
