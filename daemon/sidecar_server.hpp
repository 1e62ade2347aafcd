// weftd's side of the sidecar protocol (docs/sidecar.md): takes clients' messages from the server transport,
// checks them (every malformed one is answered with a clear error and counted), hands appends to streams and
// answers them once durable, runs consumers' memberships (heartbeats, credit, acks) and the admin requests.
// It is also the consumers' ConsumerHost: deliveries and consumer ends leave through it.
//
// Single-threaded: weftd's loop calls do_work(now), and everything else happens inside it or inside the
// stream manager's do_work (append callbacks, deliveries).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "consumer.hpp"
#include "server_transport.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/sidecar_codec.hpp"
#include "stream_manager.hpp"
#include "util/log.hpp"

namespace weft::detail::weftd {

// Named counters, reported by the status request (`weft stream status`) and at exit.
struct ServerCounters {
  std::uint64_t requests = 0;
  std::uint64_t appends = 0;
  std::uint64_t messages_appended = 0;
  std::uint64_t append_errors = 0;
  std::uint64_t consumes = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t deliveries_read_by_clients = 0;  // of `deliveries`: sent as DELIVER_FILE, read by the client
  std::uint64_t client_read_failures = 0;        // READ_FAILED: a client could not read a DELIVER_FILE
  std::uint64_t acks = 0;
  std::uint64_t naks = 0;
  std::uint64_t rejected_acks = 0;
  std::uint64_t admin = 0;
  std::uint64_t node_dead_letters = 0;       // nodes' dead letters stored (DEAD_LETTER)
  std::uint64_t node_dead_letter_errors = 0;  // refused or failed
  std::uint64_t members_timed_out = 0;
  std::uint64_t replies_queued = 0;   // a client's queue was full: held and sent later
  std::uint64_t replies_dropped = 0;  // the client had gone
  // Malformed input, by kind (each one answered with an ERROR).
  std::uint64_t bad_framing = 0;      // no frames at all
  std::uint64_t bad_header = 0;       // frame 0 is not a header, or the fields do not decode
  std::uint64_t bad_version = 0;
  std::uint64_t unknown_kind = 0;
  std::uint64_t wrong_direction = 0;  // a kind only weftd sends
  std::uint64_t bad_envelope = 0;     // an append's body frame is not exactly one valid envelope
  std::uint64_t subject_mismatch = 0; // an envelope's subject is not the append's
  std::uint64_t bad_answer = 0;       // an ACK/NAK/PROGRESS over the limits, or with an empty or overflowing range
  std::uint64_t too_large = 0;

  [[nodiscard]] std::uint64_t malformed() const noexcept {
    return bad_framing + bad_header + bad_version + unknown_kind + wrong_direction + bad_envelope + subject_mismatch +
           bad_answer;
  }
  [[nodiscard]] std::vector<sidecar::Counter> list() const;
};

struct ServerIdentity {
  std::string server_id;  // random, new at every start
  std::string version;
  std::string data_dir;
  std::vector<std::string> endpoints;
  Clock::TimePoint started{};
};

class SidecarServer final : public ConsumerHost {
 public:
  SidecarServer(ServerTransport& transport, const Clock& clock, const Logger& logger, ServerIdentity identity);

  // The streams it serves; set once, before the first do_work().
  void attach_manager(StreamManager& manager) noexcept { manager_ = &manager; }

  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline(Clock::TimePoint now) const;

  // Refuses new work from now on (appends, consumes and changes get kStopping); acks are still taken.
  void close() noexcept { closing_ = true; }
  // Sends what clients' full queues held back, as far as they take it now.
  std::size_t flush() { return flush_backlogs(); }
  [[nodiscard]] const ServerCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const ServerIdentity& identity() const noexcept { return identity_; }

  // ConsumerHost
  bool deliver(const MemberRef& member, std::span<const sidecar::DeliveryItem> items,
               sidecar::PackedDeliveryWriter& body) override;
  bool deliver_file(const MemberRef& member, const sidecar::DeliverFileFields& range) override;
  void end_member(const MemberRef& member, sidecar::ErrorKind code, const std::string& why) override;

 private:
  struct MemberInfo {
    std::string peer;
    std::string stream;
    std::chrono::milliseconds heartbeat{sidecar::kDefaultHeartbeatMs};
  };
  struct Peer {
    Clock::TimePoint last_heard{};
    std::set<std::uint64_t> members;
    std::deque<sidecar::Frames> backlog;  // replies its full queue refused, in order
    bool gone = false;
  };

  void handle(Routed& message, Clock::TimePoint now);
  void on_append(const std::string& peer, const sidecar::Header& header, sidecar::Frames& frames);
  void on_consume(const std::string& peer, const sidecar::Header& header, Clock::TimePoint now);
  void on_answer(const std::string& peer, const sidecar::Header& header, Clock::TimePoint now);
  void on_credit(const std::string& peer, const sidecar::Header& header);
  void on_read_failed(const std::string& peer, const sidecar::Header& header);
  void on_unconsume(const std::string& peer, const sidecar::Header& header, Clock::TimePoint now);
  void on_admin(const std::string& peer, const sidecar::Header& header, Clock::TimePoint now);
  void on_dead_letter(const std::string& peer, const sidecar::Header& header, sidecar::Frames& frames);

  // admin.cpp
  void admin_status(const std::string& peer, std::uint64_t id, Clock::TimePoint now);
  void admin_stream_add(const std::string& peer, const sidecar::Header& header);
  void admin_stream_list(const std::string& peer, std::uint64_t id);
  void admin_stream_info(const std::string& peer, const sidecar::Header& header);
  void admin_stream_remove(const std::string& peer, const sidecar::Header& header);
  void admin_dlq_list(const std::string& peer, std::uint64_t id);
  void admin_dlq_show(const std::string& peer, const sidecar::Header& header);
  void admin_dlq_replay(const std::string& peer, const sidecar::Header& header);
  void admin_dlq_purge(const std::string& peer, const sidecar::Header& header);
  // The dead-letter log named `name` in dlq.* ops: a stream's, or nodes' (sidecar::kNodeDeadLetters).
  [[nodiscard]] const log::Log* dead_letter_log(std::string_view name) const;
  [[nodiscard]] std::optional<sidecar::StreamInfo> unavailable_info(std::string_view name) const;

  // Sends (or queues behind the peer's backlog); false if the peer is gone.
  bool send(const std::string& peer, sidecar::Frames frames);
  void reply_error(const std::string& peer, std::uint64_t id, sidecar::ErrorKind code, std::string message);
  template <typename Fields>
  void reply(const std::string& peer, std::uint64_t id, sidecar::Kind kind, const Fields& fields) {
    if (id != 0) send(peer, sidecar::make_message(kind, id, fields));
  }
  void malformed(std::uint64_t& counter, const std::string& peer, std::uint64_t id, sidecar::ErrorKind code,
                 const std::string& detail);
  std::size_t flush_backlogs();
  std::size_t reap(Clock::TimePoint now);
  void drop_member(std::uint64_t member_id, Clock::TimePoint now);
  Consumer* consumer_for(std::uint64_t member_id, Stream** stream = nullptr) const;

  ServerTransport& transport_;
  const Clock& clock_;
  const Logger& logger_;
  RateLimitedLog bad_input_log_;
  ServerIdentity identity_;
  StreamManager* manager_ = nullptr;
  std::map<std::string, Peer> peers_;
  std::map<std::uint64_t, MemberInfo> members_;
  std::uint64_t next_member_ = 1;
  Clock::TimePoint next_reap_{};
  bool closing_ = false;
  ServerCounters counters_;
};

}  // namespace weft::detail::weftd
