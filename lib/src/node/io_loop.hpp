// The I/O thread: the only thread that touches the node's sockets. Each pass of do_work() runs posted
// commands, sends queued publications in batches, takes subscription events, and moves received messages to
// the dispatcher. run() repeats it, spinning briefly and then sleeping in poll(2) when there is nothing to do.
#pragma once

#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "node/io_agent.hpp"
#include "node/sidecar_agent.hpp"
#include "reliable/publisher_engine.hpp"
#include "node/node_context.hpp"
#include "transport/transport.hpp"

namespace weft::detail {

class IoLoop {
 public:
  using Command = std::function<void(Transport&)>;

  IoLoop(NodeContext& context, std::unique_ptr<Transport> transport);
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  // Before the thread starts (binding and connecting at construction) or from tests that step the loop.
  [[nodiscard]] Transport& transport() noexcept { return *transport_; }

  // The at-least-once outbox, which takes a copy of every at-least-once message as it leaves. Only before run().
  void set_reliable(PublisherEngine* engine) noexcept { reliable_ = engine; }

  // The sidecar agent, which takes persistent messages (Delivery::kPersistent) off the publish queue instead of
  // the publish/subscribe sockets; also added as an agent. Only before run().
  void set_sidecar(SidecarAgent* agent) noexcept { sidecar_ = agent; }

  // Adds a part that runs on the I/O thread (discovery, the control channel). Only before run() starts.
  void add_agent(std::unique_ptr<IoAgent> agent) { agents_.push_back(std::move(agent)); }

  // Runs `command` on the I/O thread at its next pass. Thread-safe. False once the loop has stopped taking
  // commands (the node is shutting down); the command is then dropped unrun.
  [[nodiscard]] bool post(Command command);

  // Subscription filters of the subscribing side, counted here so that ZeroMQ sends one subscribe for the first
  // local use of a prefix and one unsubscribe for the last: its SUB sends a subscribe on every call but an
  // unsubscribe only for the last, which would leave publishers counting a subscriber that is gone.
  // Thread-safe (posted to the I/O thread).
  [[nodiscard]] bool add_filter(std::string prefix);
  [[nodiscard]] bool remove_filter(std::string prefix);

  // One pass; returns how much it did (0: nothing to do).
  std::size_t do_work();

  // Passes until context.stopping, then discards what is left (counted) and closes the transport with what
  // remains of `linger_deadline`.
  void run();

  // The point in time by which the transport must be closed; set by the node before it sets stopping.
  void set_linger_deadline(std::chrono::steady_clock::time_point deadline) noexcept { linger_deadline_ = deadline; }

 private:
  struct PendingBatch {
    std::string subject;  // a copy: a large message's bytes, subject included, may have moved into `body`
    zmq::message_t body;
    std::size_t count = 0;
  };

  std::size_t run_commands();
  std::size_t send_publications();
  bool send_batch(std::string_view subject, zmq::message_t& body, std::size_t count);
  zmq::message_t build_batch(std::size_t count, std::size_t bytes);
  bool to_consumers_only(std::string_view subject, std::size_t count);
  void keep_all(std::size_t count);
  std::uint64_t stamp(PublishItem& item);
  void keep(PublishItem& item, std::uint64_t sequence, Clock::TimePoint now, bool hand_over);
  void finish_publications(std::size_t count);
  std::size_t take_filter_events();
  std::size_t take_inbound();
  std::size_t step_agents();
  // The agents' descriptors, gathered before a wait, and how long the wait may last for their deadlines.
  std::span<pollfd> agent_pollfds();
  [[nodiscard]] std::chrono::microseconds agent_timeout(std::chrono::microseconds timeout);
  // Tells the agents which of their descriptors the last wait found readable; true if any.
  bool report_readable(std::span<const pollfd> fds);
  [[nodiscard]] bool inbound_has_room();
  void notify_dispatcher();
  [[nodiscard]] bool publications_waiting() const noexcept;
  [[nodiscard]] bool work_waiting();
  void note(const Readiness& ready) noexcept;
  bool spin_for_work();
  void sleep_until_work();
  void discard_remaining();

  NodeContext& context_;
  std::unique_ptr<Transport> transport_;
  std::mutex commands_mutex_;
  std::vector<Command> commands_;
  std::atomic<bool> has_commands_{false};
  bool accepting_commands_ = true;  // guarded by commands_mutex_
  std::optional<PendingBatch> pending_;  // kBlock: a batch a high-water mark refused, still in the queue
  // Whether a socket may hold input: set by wait() and by commands, cleared once a receive finds nothing. A
  // socket is only slept on once drained, because its descriptor signals new input, not waiting input.
  bool inbound_pending_ = true;
  bool filters_pending_ = true;
  std::chrono::steady_clock::time_point last_filter_look_{};
  std::uint64_t next_sequence_ = 1;
  std::map<std::string, int, std::less<>> filter_refs_;  // I/O thread only
  std::vector<std::unique_ptr<IoAgent>> agents_;
  PublisherEngine* reliable_ = nullptr;
  SidecarAgent* sidecar_ = nullptr;
  std::vector<int> agent_fds_;
  std::vector<pollfd> agent_pollfds_;
  std::vector<std::size_t> agent_of_fd_;  // agent_pollfds_[i] belongs to agents_[agent_of_fd_[i]]
  InboundMessage receiving_;
  std::chrono::steady_clock::time_point linger_deadline_{};
};

}  // namespace weft::detail
