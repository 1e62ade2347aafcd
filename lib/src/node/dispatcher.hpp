// The dispatcher thread: decodes what the I/O thread received, matches it against the subscriptions and runs
// the handlers (or hands them to the application's executor). Decoding happens here, off the I/O thread, and
// in place: a handler's Message points into the received frame.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "codec/envelope.hpp"
#include "node/node_context.hpp"

namespace weft::detail {

// One received ZeroMQ message, decoded: the frames and views into them.
struct DecodedBatch {
  InboundMessage frames;
  std::vector<EnvelopeView> envelopes;
  std::vector<HeaderRef> headers;  // every envelope's headers, back to back; envelopes[i].headers points in
};

class Dispatcher {
 public:
  // `context` must outlive the dispatcher and, with an executor, every task handed to it.
  explicit Dispatcher(std::shared_ptr<NodeContext> context);
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Dispatches what has arrived, up to a bound; returns how many ZeroMQ messages it took.
  std::size_t do_work();

  // Dispatches until context.stopping, then counts what is left as undelivered.
  void run();

 private:
  void dispatch(InboundMessage& message);
  // An at-least-once delivery: to its own subscription, each message acknowledged or nak'd after its handler.
  void dispatch_reliable(DispatchItem& item);
  std::size_t run_tasks();
  bool has_tasks();
  // Decodes batch.frames into batch.envelopes; false when nothing in it is deliverable.
  bool decode(DecodedBatch& batch);
  const SubscriptionList& matching(std::string_view subject);
  void deliver_through_executor(std::shared_ptr<DecodedBatch> batch, const SubscriptionList& subscriptions);
  bool spin_for_input();
  void wait_for_input();
  void count_undelivered();

  std::shared_ptr<NodeContext> context_;
  DecodedBatch batch_;  // reused when handlers run here
  std::vector<HeaderRef> header_scratch_;
  std::vector<AckDecision> decisions_;
  std::vector<std::pair<std::size_t, std::size_t>> header_ranges_;

  // Matching cache: the subscriptions that matched the last subject, valid while the registry's version holds.
  std::uint64_t snapshot_version_ = ~std::uint64_t{0};
  std::shared_ptr<const SubscriptionList> snapshot_;
  std::string cached_subject_;
  SubscriptionList cached_matches_;
  bool cache_valid_ = false;

  // How long the idle dispatcher spins before it sleeps: NodeOptions::dispatch_spin, or none when the thread
  // may run on one CPU only. There the I/O thread's spin already keeps the CPU awake, and a second spinning
  // thread only takes turns with it and with ZeroMQ's I/O thread, which have the work: pinned, small-message
  // round trips took twice as long (docs/performance.md, "Where Weft loses time", item 4). Decided when run()
  // starts.
  std::chrono::microseconds spin_{0};
  // Whether the idle dispatcher also watches the subscribing socket's signal (see NodeContext).
  bool watch_socket_ = true;
  bool woken_by_socket_ = false;
};

}  // namespace weft::detail
