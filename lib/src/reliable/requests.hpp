// Request/reply. A request is an ordinary publication carrying two headers, the requester's control endpoint
// and a request id (docs/wire-protocol.md, "Requests"); a responder's node sends the reply straight back over
// the control channel. The requester waits in request(); the I/O thread completes the wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "control/control_channel.hpp"
#include "weft/message.hpp"

namespace weft::detail {

inline constexpr std::string_view kReplyToHeader = "weft-reply-to";
inline constexpr std::string_view kRequestIdHeader = "weft-request-id";

// Requests waiting for their reply: registered and awaited by application threads, completed by the I/O thread.
class PendingRequests {
 public:
  std::uint64_t open();
  // Waits for the reply to `id` until the deadline; forgets the request either way.
  std::optional<OwnedMessage> wait(std::uint64_t id, std::chrono::steady_clock::time_point deadline);
  // The first reply wins; later ones (and replies to forgotten requests) are dropped. True if it was taken.
  bool complete(std::uint64_t id, OwnedMessage reply);
  // Wakes every waiter (the node is closing).
  void close();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::optional<OwnedMessage>> waiting_;
  bool closed_ = false;
};

// On the I/O thread: sends replies (retrying while the link to the requester comes up) and takes the replies
// that arrive for this node's requests.
class RequestAgent final : public ControlHandler {
 public:
  RequestAgent(NodeContext& context, ControlChannel& channel, PendingRequests& pending);

  // Queues a reply: its envelope goes to the requester's control endpoint.
  void send_reply(std::string endpoint, std::uint64_t request_id, ByteBuffer envelope, Clock::TimePoint now);

  bool handle(const PeerRef& from, control::Message& message, zmq::message_t& body, bool has_body,
              Clock::TimePoint now) override;
  std::size_t do_work(Clock::TimePoint now) override;
  [[nodiscard]] Clock::TimePoint next_deadline() override;

 private:
  struct OutgoingReply {
    std::string endpoint;
    std::uint64_t request_id = 0;
    ByteBuffer envelope;
    Clock::TimePoint give_up;
  };
  NodeContext& context_;
  ControlChannel& channel_;
  PendingRequests& pending_;
  std::deque<OutgoingReply> outgoing_;
  std::vector<HeaderRef> scratch_;
};

}  // namespace weft::detail
