// The subscribing side of at-least-once delivery, on the I/O thread: this node's durable subscriptions and
// queue memberships. It registers each with every publisher it learns of, takes their deliveries (noticing
// duplicates and gaps in transit), hands them to the dispatcher, and sends back what the handlers decided
// (acknowledge, nak, in progress). Heartbeats both ways let each side notice a lost tail or a silent peer.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/control_channel.hpp"
#include "reliable/ack_queue.hpp"
#include "reliable/sequence_window.hpp"

namespace weft::detail {

struct LocalConsumer {
  std::uint64_t subscription_id = 0;
  control::ConsumerMode mode = control::ConsumerMode::kDurable;
  std::string key;  // durable name or queue group
  std::string pattern;
  std::uint64_t session = 0;
  std::chrono::milliseconds ack_wait{30000};
  std::uint32_t max_deliver = 5;
  std::uint32_t credit = 256;
};

class SubscriberEngine final : public ControlHandler {
 public:
  SubscriberEngine(NodeContext& context, ControlChannel& channel);

  void add(LocalConsumer consumer, Clock::TimePoint now);
  void remove(std::uint64_t subscription_id);
  // A publisher's control endpoint, from its hello (or discovery): register every consumer with it.
  void learn_publisher(const std::string& control_endpoint, std::uint64_t node_id, Clock::TimePoint now);
  void forget_publisher(const std::string& control_endpoint);
  // Every control endpoint learned from this node (discovery saw it leave); its hello brings it back.
  void forget_node(std::uint64_t node_id);

  bool handle(const PeerRef& from, control::Message& message, zmq::message_t& body, bool has_body,
              Clock::TimePoint now) override;
  std::size_t do_work(Clock::TimePoint now) override;
  [[nodiscard]] Clock::TimePoint next_deadline() override;

  [[nodiscard]] bool empty() const noexcept { return consumers_.empty(); }

 private:
  // One consumer's session with one publisher.
  struct Link {
    std::uint64_t id = 0;  // names it in ReliableMeta and AckDecision; never reused
    PeerRef peer;
    bool registered = false;
    Clock::TimePoint next_register{};
    Clock::TimePoint last_heard{};
    Clock::TimePoint next_heartbeat{};
    Clock::TimePoint next_resend{};
    std::uint64_t highest = 0;                    // the highest dseq received
    // dseq -> newest attempt, handed to the handlers and not done (at most the credit granted).
    std::unordered_map<std::uint64_t, std::uint32_t> held;
    SequenceWindow done;  // recently acknowledged dseqs, to re-acknowledge duplicates
    std::vector<control::AckRange> acks;          // decided, not yet sent
    std::vector<control::NakItem> naks;
    std::string nak_reason;
    std::vector<control::AckRange> progress;
  };
  struct Consumer {
    LocalConsumer spec;
    std::map<std::string, Link> links;  // by publisher control endpoint
  };
  struct ReadyBatch;

  void on_deliver(const PeerRef& from, const control::Deliver& deliver, zmq::message_t& body, Clock::TimePoint now);
  void on_heartbeat(const PeerRef& from, const control::Heartbeat& heartbeat, Clock::TimePoint now);
  void on_rejected(const control::Rejected& rejected);
  std::size_t apply_decisions();
  std::size_t flush(Consumer& consumer, Link& link, Clock::TimePoint now);
  std::size_t push_waiting();
  // A link from `consumer` to the publisher at `endpoint` (its control endpoint), with a fresh id.
  void open_link(Consumer& consumer, const std::string& endpoint, Clock::TimePoint now);
  void note_done(Link& link, std::uint64_t dseq);
  Consumer* find(const std::string& key, std::uint64_t session);

  NodeContext& context_;
  ControlChannel& channel_;
  std::map<std::uint64_t, Consumer> consumers_;  // by subscription id
  std::map<std::string, std::uint64_t> publishers_;  // control endpoint -> node id
  // Deliveries that found the dispatcher's queue full; bounded by the consumers' credit.
  std::vector<DispatchItem> waiting_;
  std::vector<AckDecision> decisions_;
  std::uint64_t next_link_id_ = 1;
};

}  // namespace weft::detail
