// The one options struct of a node. Every field has a documented default; the CLI and config files fill
// this same struct.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

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
using LogSink = std::function<void(LogLevel, std::string_view)>;

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

  // The queue between the I/O thread and the dispatcher, in received ZeroMQ messages. When it is full the
  // node stops reading from the network, so the back-pressure reaches the publishers (which count any drop).
  std::size_t dispatch_queue_batches = 1024;

  // How long the destructor waits for queued publications to leave before it discards them (counted).
  std::chrono::milliseconds linger{1000};

  // After it runs out of work, the I/O thread polls for this long before it sleeps in the kernel. Trades CPU
  // for latency: each wake-up of a sleeping thread costs tens of microseconds on a busy 2-core machine.
  std::chrono::microseconds io_spin{50};
  // The same for the dispatcher thread waiting for received messages.
  std::chrono::microseconds dispatch_spin{50};

  // Kernel socket buffers for tcp (SO_SNDBUF/SO_RCVBUF), bytes; 0 keeps the OS default.
  int tcp_send_buffer = 0;
  int tcp_receive_buffer = 0;

  // Where handlers run. Empty: on the node's dispatcher thread, one message at a time in arrival order.
  std::shared_ptr<Executor> executor;

  // Where the node writes its log lines. Empty: warnings and errors to stderr.
  LogSink log;
  // Each kind of malformed input is logged at most once per interval; the rest are only counted.
  std::chrono::milliseconds malformed_log_interval{1000};
};

}  // namespace weft
