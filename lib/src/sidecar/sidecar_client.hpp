// SidecarClient: a producer's, consumer's and admin tool's side of the sidecar protocol (docs/sidecar.md).
//
// Single-threaded: one owner thread calls everything. Non-blocking: the calls queue a message and try to send
// it at once; do_work(now) receives replies and deliveries, runs the callbacks, flushes acknowledgements,
// sends heartbeats, retries what could not be sent and times requests out. An owner with a poll loop (the
// node's I/O thread) polls transport().descriptor() and sleeps until next_deadline(); a tool uses the
// blocking helpers (append_wait, call, run_until), which step the client themselves.
//
//   auto client = SidecarClient::connect({}).value();            // weftd's default endpoint
//   client->append("orders.new", {envelope}, [](const Status& s, const AppendAck& a) { ... durable at a.first_offset });
//   ConsumeFields c; c.stream = "orders"; c.durable = "billing";
//   auto consumer = client->consume(c, {.on_message = [&](const Delivery& d) { ...; client->ack(d.consumer, d.offset, d.attempt); }});
//   for (;;) { client->do_work(clock.now()); /* poll descriptor() until next_deadline() */ }
//
// Callbacks run inside do_work() (or inside the call that failed at once, never for a request that went out)
// and may call the client again. Outcomes of an append: ok (durable in the stream at the offsets given); an
// error from weftd (no stream, stream failed, too large, ...: not stored); kUnavailable (never sent: weftd
// was not reachable before the request timed out; safe to retry); kTimeout (sent, no answer in time: it may or
// may not be stored).
//
// If weftd stops (SIGTERM) or restarts (its server id changes), the client starts each consumer again once a
// weftd answers its pings: a durable or group
// consumer resumes at its stored acknowledged offset, an ephemeral one just past the last offset it received.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "log/file_system.hpp"
#include "sidecar/sidecar_codec.hpp"
#include "sidecar/sidecar_messages.hpp"
#include "sidecar/sidecar_transport.hpp"
#include "util/clock.hpp"

namespace weft::detail::sidecar {

struct SidecarClientOptions {
  // weftd's endpoint; empty: default_sidecar_endpoint() ($WEFT_SIDECAR, or the well-known ipc socket).
  std::string endpoint;
  // How long a request may wait for its reply (including the wait to be sent at all).
  std::chrono::milliseconds request_timeout{10000};
  // How often the client pings weftd while it has consumers (weftd drops a consumer member it has not heard
  // from in kMissedHeartbeats of its heartbeat_ms, and the pongs tell the client that weftd restarted).
  std::chrono::milliseconds heartbeat_interval{1000};
  // Requests waiting for a reply at once; more is back-pressure.
  std::size_t max_requests = 65536;
  // Ask weftd for packed DELIVERs (one frame per batch) and answer with ACK ranges, if it offers them. false:
  // one frame per envelope and one item per answer, as clients did before (kept for tests of that path).
  bool packed_deliveries = true;
  // The ZeroMQ context to make the client's socket in, which must outlive the client: a node passes its own,
  // so that it runs no second ZeroMQ I/O and reaper thread for weftd. null: the client makes one of its own.
  zmq::context_t* context = nullptr;
  // When to ask weftd to let consumers with acknowledgements read first deliveries from the segment files
  // themselves (DELIVER_FILE): no copy through weftd and two sockets. kOverIpc: when the endpoint is ipc://,
  // that is, weftd runs on this host. If a file cannot be read (another mount namespace, permissions), that
  // consumer gets copies instead, for good; nothing is lost.
  enum class LocalRead { kOverIpc, kAlways, kNever };
  LocalRead local_read = LocalRead::kOverIpc;
  // Where segment files are opened (a test substitutes one that fails); null: the operating system's.
  log::FileSystem* file_system = nullptr;
};

struct AppendAck {
  std::string stream;
  std::uint64_t first_offset = 0;
  std::uint64_t last_offset = 0;
};
using AppendCallback = std::function<void(const Status&, const AppendAck&)>;

// A reply to call() or admin(): its header and any body frames.
struct Reply {
  Header header;
  Frames frames;
  template <typename T>
  [[nodiscard]] Result<T> as() const {
    return fields_as<T>(header);
  }
};
using ReplyCallback = std::function<void(const Status&, Reply&)>;

// One message delivered to a consumer. The envelope is valid during the handler call only.
struct Delivery {
  std::uint64_t consumer = 0;  // the id consume() returned
  std::uint64_t offset = 0;
  std::uint32_t attempt = 0;
  std::int64_t timestamp_ns = 0;
  std::span<const std::byte> envelope;
};

struct ConsumerHandlers {
  std::function<void(const ConsumingFields&)> on_ready;      // weftd took it (again, after a restart)
  std::function<void(const Delivery&)> on_message;
  std::function<void(const Status&)> on_end;                 // refused or ended by weftd: the consumer is gone
  std::function<void(const Rejection&)> on_rejected;         // an ack, nak or progress weftd refused as stale
};

struct SidecarClientStats {
  std::uint64_t requests = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t unsent = 0;  // gave up before weftd was reachable
  std::uint64_t deliveries = 0;
  std::uint64_t rejected_acks = 0;
  std::uint64_t late_replies = 0;  // replies to requests that had timed out
  std::uint64_t malformed = 0;     // messages from weftd that did not decode
  std::uint64_t restarts_seen = 0;
  std::uint64_t deliveries_read = 0;  // of `deliveries`: read from weftd's segment files (DELIVER_FILE)
  std::uint64_t read_failures = 0;    // DELIVER_FILEs that could not be read (weftd sends copies instead)
};

class SidecarClient {
 public:
  SidecarClient(std::unique_ptr<SidecarTransport> transport, const Clock& clock, SidecarClientOptions options);
  // A client over a ZeroMQ DEALER connected to options.endpoint (or the default endpoint).
  static Result<std::unique_ptr<SidecarClient>> connect(SidecarClientOptions options = {},
                                                        const Clock& clock = SystemClock::instance());

  SidecarClient(const SidecarClient&) = delete;
  SidecarClient& operator=(const SidecarClient&) = delete;

  // Appends envelopes (all of `subject`) to the stream that takes the subject. `done` runs once.
  Status append(std::string_view subject, std::span<const std::span<const std::byte>> envelopes, AppendCallback done);

  // Starts a consumer; returns its id (stable across weftd restarts). Deliveries come to handlers.on_message.
  Result<std::uint64_t> consume(ConsumeFields fields, ConsumerHandlers handlers);
  // Answers a delivery; batched and sent by the next do_work().
  Status ack(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt);
  Status nak(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt, std::chrono::milliseconds delay,
             std::string_view reason);
  Status progress(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt);
  // Leaves the consumer (a durable one keeps its state in weftd).
  Status unconsume(std::uint64_t consumer);

  // Any request: the fields map and body; `done` gets the reply (kError replies become the Status).
  template <typename Fields>
  Status request(Kind kind, const Fields& fields, ReplyCallback done) {
    const std::uint64_t id = next_request_id_++;
    return enqueue(make_message(kind, id, fields), id, kind, {}, std::move(done));
  }
  // The same with body frames (DEAD_LETTER's envelope).
  template <typename Fields>
  Status request(Kind kind, const Fields& fields, std::span<const std::span<const std::byte>> body, ReplyCallback done) {
    const std::uint64_t id = next_request_id_++;
    return enqueue(make_message(kind, id, fields, body), id, kind, {}, std::move(done));
  }

  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] Clock::TimePoint next_deadline() const;
  [[nodiscard]] SidecarTransport& transport() noexcept { return *transport_; }
  [[nodiscard]] const SidecarClientStats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::size_t requests_waiting() const noexcept { return waiting_.size(); }
  // weftd's id from the last pong (empty before the first).
  [[nodiscard]] const std::string& server_id() const noexcept { return server_id_; }

  // Blocking helpers for tools: they step the client until done or `timeout` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  Result<AppendAck> append_wait(std::string_view subject, std::span<const std::span<const std::byte>> envelopes,
                                std::chrono::milliseconds timeout);
  // A request and its reply's fields as T.
  template <typename T, typename Fields>
  Result<T> call(Kind kind, const Fields& fields, std::chrono::milliseconds timeout, Frames* body = nullptr) {
    std::optional<Result<T>> out;
    Status queued = request(kind, fields, [&](const Status& s, Reply& reply) {
      if (!s) {
        out.emplace(s);
        return;
      }
      out.emplace(reply.as<T>());
      if (body != nullptr) *body = std::move(reply.frames);
    });
    if (!queued) return queued;
    if (!run_until([&] { return out.has_value(); }, timeout + std::chrono::milliseconds(100))) {
      return Status::timeout("no reply from weftd at " + transport_->endpoint());
    }
    return std::move(*out);
  }
  // An admin request ({op, ...}) and its reply.
  template <typename T, typename Args>
  Result<T> admin(const Args& args, std::chrono::milliseconds timeout, Frames* body = nullptr) {
    return call<T>(Kind::kAdmin, args, timeout, body);
  }

 private:
  struct Waiting {
    Kind kind = Kind::kPing;
    Clock::TimePoint deadline{};
    bool sent = false;
    AppendCallback on_append;
    ReplyCallback on_reply;
  };
  struct Outgoing {
    Frames frames;
    std::uint64_t request_id = 0;  // 0: nothing waits for a reply
    Clock::TimePoint deadline{};
  };
  struct Consumer {
    ConsumeFields fields;
    ConsumerHandlers handlers;
    std::uint64_t server_consumer = 0;  // 0 until weftd answered
    bool starting = false;              // a CONSUME waits for its answer
    bool awaiting_restart = false;      // weftd stopped: start again when a new one answers
    std::optional<std::uint64_t> last_offset;
    std::uint32_t since_credit = 0;  // ack=false: deliveries handled since the last credit grant
    bool packed = false;             // this weftd sends packed DELIVERs and reads ACK ranges (its CONSUMING)
    bool local_read = false;         // and DELIVER_FILEs (its CONSUMING)
    std::vector<AckRange> acks;      // consecutive offsets at one attempt share a range
    std::vector<AckItem> progress;
  };

  Status enqueue(Frames frames, std::uint64_t request_id, Kind kind, AppendCallback on_append, ReplyCallback on_reply);
  std::size_t send_outbox(Clock::TimePoint now);
  std::size_t expire(Clock::TimePoint now);
  void dispatch(Frames& frames, Clock::TimePoint now);
  void on_deliver(const Header& header, Frames& frames);
  void on_deliver_file(const Header& header);
  // Reads a DELIVER_FILE's records and hands them over; the reason if it could not, from *failed_at on.
  std::string read_file_range(std::uint64_t handle, const DeliverFileFields& range, std::uint64_t* failed_at);
  // Hands one delivery to its consumer's handler; false if the handler ended the consumer.
  bool hand_over(std::uint64_t handle, const DeliveryItem& item, std::span<const std::byte> envelope);
  void flush_acks(Consumer& consumer);
  void on_consumer_end(const Header& header);
  void on_pong(const Header& header);
  void note_server(const std::string& server_id, std::uint64_t answered = 0);
  void send_consume(std::uint64_t handle);
  std::size_t flush_consumers();
  void fail_request(std::uint64_t request_id, const Status& status);
  Consumer* find_by_server_id(std::uint64_t server_consumer, std::uint64_t* handle = nullptr);

  std::unique_ptr<SidecarTransport> transport_;
  const Clock& clock_;
  const SidecarClientOptions options_;
  std::uint64_t next_request_id_ = 1;
  std::uint64_t next_consumer_ = 1;
  std::deque<Outgoing> outbox_;
  std::optional<Clock::TimePoint> refused_since_;  // since when the transport refuses to send (not connected)
  std::map<std::uint64_t, Waiting> waiting_;
  std::map<std::uint64_t, Consumer> consumers_;
  std::string server_id_;
  Clock::TimePoint next_ping_{};
  SidecarClientStats stats_;
  std::unique_ptr<log::FileSystem> own_file_system_;  // when options_.file_system is null
  // Where the last DELIVER_FILE's records ended: the next range of a consumer reading in order starts there
  // rather than at an index point before it. A stale one costs nothing: every record read is checked.
  struct ResumePoint {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t position = 0;
  };
  ResumePoint resume_;
};

}  // namespace weft::detail::sidecar
