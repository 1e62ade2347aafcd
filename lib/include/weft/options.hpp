// The one options struct of a node. Every field has a documented default; the CLI and config files fill
// this same struct.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/peer.hpp"

namespace weft {

class Status;

// What happens when a bounded queue on the publishing side is full.
enum class OverflowPolicy {
  // Never make the publisher wait: publish() returns back-pressure when the node's publish queue is full
  // (counted as `rejected`), and a batch that a subscriber's high-water mark refuses is dropped (counted as
  // `dropped_hwm`). Right for telemetry.
  kDrop,
  // publish() waits up to `block_timeout` for room, and the node waits for subscribers to drain rather than
  // dropping anything at a high-water mark. Lossless while every process keeps running.
  kBlock,
};

// Runs handlers, when the application wants them off the node's own dispatcher thread.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void execute(std::function<void()> task) = 0;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// How hard the node tries to deliver a message (docs/guarantees.md).
enum class Delivery {
  kBestEffort,   // at most once, as fast as ZeroMQ: telemetry
  kAtLeastOnce,  // kept in the outbox until every durable subscriber and queue group acknowledged it
  // Handed to the host's sidecar, weftd (NodeOptions::sidecar, docs/sidecar.md): complete once it is in the
  // stream's log as the stream's fsync policy says; weftd then owns delivery, redelivery and dead letters. It
  // does not go out on the node's own publish/subscribe sockets: consumers read the stream from weftd.
  kPersistent,
};

// Where weftd stored a persistent message.
struct PersistedAt {
  std::string stream;       // the stream whose subjects took the message
  std::uint64_t offset = 0;  // its offset in that stream
};

// What publish() does when the at-least-once outbox is full.
enum class OutboxPolicy {
  kBlock,       // wait up to OutboxOptions::block_timeout for room, then fail with a timeout
  kReject,      // fail at once with back-pressure
  kDropOldest,  // make room by failing the oldest message in the outbox (its completion says so; counted)
};

struct OutboxOptions {
  // Keep the outbox on disk under NodeOptions::data_dir, so that messages not yet acknowledged when this
  // process stops (or crashes) are sent again when it starts with the same data_dir.
  bool persist = false;
  // How far a publisher may run ahead of its slowest consumer. 4,096 (as NATS JetStream's async publish
  // allows 4,000 pending) keeps the outbox in the CPU's caches: measured at 128 B, 1.0-1.2M msgs/s with a
  // p50 publish -> acknowledgement of 2-4 ms, against 0.8M and 100 ms at 100,000 (docs/performance.md).
  // Raise it to ride out longer consumer pauses without publish() blocking.
  std::size_t max_messages = 4096;
  std::size_t max_bytes = 256 * 1024 * 1024;
  OutboxPolicy policy = OutboxPolicy::kBlock;
  std::chrono::milliseconds block_timeout{10000};
};

// Per-publish options (node.publish(subject, payload, headers, options)).
struct PublishOptions {
  // Unset: NodeOptions::at_least_once_subjects decides (at least once when the subject matches one of them).
  std::optional<Delivery> delivery;
  // At least once: how long the acknowledgements may take before the publish fails.
  std::chrono::milliseconds timeout{30000};
  // At least once: called once, off the I/O thread, when every consumer acknowledged the message (ok) or it
  // failed (timeout, dead-lettered, dropped from a full outbox, node stopped).
  // Persistent: called once, off the I/O thread, when weftd acknowledged the message durable (ok) or it failed:
  // unavailable (no weftd answered within SidecarOptions::request_timeout: not stored, safe to publish again),
  // timeout (sent, no answer in time: it may or may not be stored), weftd's own error with its message (no
  // stream takes the subject: not-found; the stream failed after an fsync error: io-error; too large:
  // invalid-argument), closed (the node stopped first).
  std::function<void(const Status&)> on_complete;
  // Persistent only, optional: as on_complete (and before it), with the stream and offset weftd stored the
  // message at when the status is ok.
  std::function<void(const Status&, const PersistedAt&)> on_persisted;
};

enum class AckPolicy {
  kAuto,    // acknowledged when the handler returns, nak'd when it throws
  kManual,  // the handler (or anyone later) settles it through Message::ack_handle()
};

// Per-subscription options (node.subscribe(pattern, handler, options)).
struct SubscribeOptions {
  // Non-empty: a durable subscription under this name: at least once, its progress kept by the publishers
  // across restarts of this process. Two processes with one durable name share its messages.
  std::string durable;
  // Non-empty: a member of this work-queue group: each message to exactly one member (at least once).
  std::string queue;
  AckPolicy ack = AckPolicy::kAuto;
  // How long a delivery may stay unacknowledged before it goes to another member (or again to this one).
  std::chrono::milliseconds ack_wait{30000};
  // After this many deliveries without an acknowledgement a message goes to the dead-letter queue.
  std::uint32_t max_deliver = 5;
  // Deliveries this subscription holds unacknowledged at most, per publisher (the credit it grants). The
  // default is two full DELIVERs (1,024 messages each): one on its way while the handlers work through the other,
  // so that neither side waits for the other's round trip.
  std::uint32_t max_in_flight = 2048;
  // Duplicates with the same value of this header within the window are suppressed (empty: only the
  // per-stream sequence window applies).
  std::string idempotency_header = "weft-idempotency-key";
  std::chrono::milliseconds idempotency_window{120000};
};
using LogSink = std::function<void(LogLevel, std::string_view)>;

// Zero-configuration peer discovery (docs/discovery.md): UDP beacons by multicast and/or to seeds, gossip, and
// expiry. A node with discovery on connects its subscribing side to every peer of its cluster it finds, and
// disconnects when the peer goes.
struct DiscoveryOptions {
  // Off by default in the library (endpoints are explicit); `weft pub` and `weft sub` turn it on when given
  // neither --connect nor --bind. With it on and `bind` empty, the node binds tcp://0.0.0.0:* and advertises it.
  bool enabled = false;
  // Nodes see only peers of their cluster. 1 to 64 bytes.
  std::string cluster = "weft";
  // The shared UDP port of the cluster's beacons; a seed without a port uses it.
  std::uint16_t port = 7650;
  bool multicast = true;
  std::string multicast_group = "239.255.76.50";
  // The interface for multicast and for the address advertised for wildcard binds: a name or an IPv4 address
  // ("127.0.0.1" keeps everything on loopback). Empty: the kernel's default.
  std::string interface;
  // Also broadcast beacons (LANs whose switches drop multicast).
  bool broadcast = false;
  // Unicast seeds, "host:port" or "host", for networks without multicast. One reachable seed is enough.
  std::vector<std::string> seeds;
  // This node's own UDP socket (where seeds and peers answer it). 0: a free port.
  std::uint16_t unicast_port = 0;
  // The address peers should use to reach this node (NAT, containers). Empty: what they observe.
  std::string advertise_host;
  // Beacon interval; a peer expires after about (expiry_beacons + 0.5) x its interval without a word.
  std::chrono::milliseconds interval{1000};
  std::uint32_t expiry_beacons = 3;
  // Nodes given the same host_id treat each other as one host (ipc and loopback); empty: probed from /proc.
  std::string host_id;
  // Say goodbye when the node stops, so that peers drop it at once instead of after the expiry. Off: peers
  // notice only by expiry, as after a crash (tests).
  bool goodbye = true;
};

// The node's link to weftd, the host's sidecar that keeps persistent streams (docs/sidecar.md, "Publishing
// from a node"). Off by default: a persistent publish then fails at once.
struct SidecarOptions {
  // The node has a sidecar: persistent publishes, and its at-least-once dead letters, go to weftd.
  bool enabled = false;
  // weftd's endpoint. Empty: the default ($WEFT_SIDECAR, else the well-known ipc socket, docs/sidecar.md 1).
  std::string endpoint;
  // How long an append may wait for weftd's answer, the wait to reach weftd included. Once weftd has not
  // answered within it, persistent publishes fail at once (unavailable) until weftd answers a ping again.
  std::chrono::milliseconds request_timeout{5000};
  // Persistent messages handed over and not yet acknowledged, at most. Past it publish() follows
  // OutboxOptions::policy: kBlock waits up to OutboxOptions::block_timeout for room, else back-pressure at once.
  std::size_t max_in_flight = 65536;
};

struct NodeOptions {
  // Shown to peers and in logs. Empty: "<hostname>-<pid>".
  std::string name;

  // Endpoints where this node publishes (its XPUB binds; subscribers connect here). "tcp://127.0.0.1:*" picks
  // a free port: Node::endpoints() returns the real one. Also "ipc:///path/to/socket".
  std::vector<std::string> bind;
  // Publishers this node subscribes to: their `bind` endpoints (its SUB connects there).
  std::vector<std::string> connect;
  // Collector topology: this node's SUB binds here and publishers come to it with `publish_to`.
  std::vector<std::string> subscriber_bind;
  // Collectors this node publishes to: their `subscriber_bind` endpoints (its XPUB connects there).
  std::vector<std::string> publish_to;

  // Frames larger than this are rejected on receive (counted as malformed.oversized), and publish() refuses
  // a message whose envelope would exceed it.
  std::size_t max_frame_size = 8 * 1024 * 1024;

  // ZeroMQ high-water marks, in ZeroMQ messages per peer. One ZeroMQ message carries a batch of one or more
  // envelopes of the same subject (at most `batch_max_bytes`), so they bound memory at about hwm x batch size.
  int send_hwm = 1000;
  int recv_hwm = 1000;

  OverflowPolicy overflow = OverflowPolicy::kDrop;
  // kBlock: the longest publish() waits for room in the publish queue before it returns a timeout.
  std::chrono::milliseconds block_timeout{1000};

  // The queue between publishing threads and the I/O thread, bounded in messages (rounded up to a power of
  // two) and in bytes.
  std::size_t publish_queue_messages = 8192;
  std::size_t publish_queue_bytes = 64 * 1024 * 1024;

  // Consecutive messages queued for the same subject leave in one ZeroMQ message of at most this many bytes
  // (docs/wire-protocol.md, "Batches"). Batching is opportunistic: a message is never held back to wait for
  // company, so a lone message leaves at once. 0 turns batching off; values over max_frame_size are lowered
  // to it.
  std::size_t batch_max_bytes = 64 * 1024;
  // The same limit for a node that publishes over ipc (any `bind` or `publish_to` endpoint is ipc://); the
  // lower of the two applies, to every batch of that node. A unix socket stops polling writable once a
  // quarter of its send buffer is queued (52 KiB with Linux's default of 208 KiB, and ZeroMQ does not set it
  // for ipc), so after each 64 KiB batch the publisher's ZeroMQ thread waits for the subscriber to drain it,
  // and the two sides take turns instead of overlapping. Batches of 16 KiB leave several in flight: pinned, at
  // 128 B, ipc throughput went from 0.66-0.80x raw libzmq to 0.90-1.15x (docs/performance.md). Over tcp the
  // kernel's buffers grow, so the larger batches stay faster there. 0 turns batching off over ipc.
  std::size_t ipc_batch_max_bytes = 16 * 1024;

  // The queue between the I/O thread and the dispatcher, in received ZeroMQ messages. When it is full the
  // node stops reading from the network, so the back-pressure reaches the publishers (which count any drop).
  std::size_t dispatch_queue_batches = 1024;

  // How long the destructor waits for queued publications to leave before it discards them (counted).
  std::chrono::milliseconds linger{1000};

  // After it runs out of work, the I/O thread polls for this long before it sleeps in the kernel. Trades CPU
  // for latency: each wake-up of a sleeping thread costs tens of microseconds on a busy 2-core machine.
  std::chrono::microseconds io_spin{50};
  // The same for the dispatcher thread waiting for received messages, when the node's threads may use more
  // than one CPU. On one CPU (an affinity mask of one, as `taskset -c 0` gives) the dispatcher does not spin:
  // the I/O thread's spin keeps that CPU awake, and a second spinner would only delay the threads with work.
  std::chrono::microseconds dispatch_spin{50};

  // Kernel socket buffers for tcp (SO_SNDBUF/SO_RCVBUF), bytes; 0 keeps the OS default.
  int tcp_send_buffer = 0;
  int tcp_receive_buffer = 0;

  // The control endpoint: where peers send acknowledgements, at-least-once deliveries and replies. Empty:
  // derived from the first of `bind` (same transport and host, another port; ipc: "<path>.ctl"), or
  // tcp://127.0.0.1:* when nothing is bound.
  std::string control_bind;
  // Subjects whose messages go at least once unless PublishOptions say otherwise.
  std::vector<std::string> at_least_once_subjects;
  // Subjects whose messages go to weftd (Delivery::kPersistent), even through the plain publish(), unless
  // PublishOptions say otherwise. A subject matching both lists is persistent. Needs sidecar.enabled.
  std::vector<std::string> persistent_subjects;
  // The sidecar that takes persistent messages; off unless sidecar.enabled.
  SidecarOptions sidecar;
  OutboxOptions outbox;
  // Where the node keeps its dead-letter queue (<data_dir>/dlq). Empty: dead letters are counted and logged
  // but not kept. With sidecar.enabled, dead letters go to weftd (`weft dlq ls --sidecar`, queue "_node") and
  // this queue only takes those weftd refused or could not be reached for.
  std::string data_dir;

  // Where handlers run. Empty: on the node's dispatcher thread, one message at a time in arrival order.
  std::shared_ptr<Executor> executor;

  // Peer discovery; off unless discovery.enabled.
  DiscoveryOptions discovery;
  // Called when a discovered peer joins, changes or leaves: on the dispatcher thread (or the executor), never
  // on the I/O thread. Node::peers() gives the whole picture at any time.
  std::function<void(const PeerEvent&)> on_peer;

  // Where the node writes its log lines. Empty: warnings and errors to stderr.
  LogSink log;
  // Each kind of malformed input is logged at most once per interval; the rest are only counted.
  std::chrono::milliseconds malformed_log_interval{1000};
};

}  // namespace weft
