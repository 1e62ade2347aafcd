#include "reliable/requests.hpp"

namespace weft::detail {

namespace {
// How long a reply keeps trying to reach a requester whose link is not up yet.
constexpr auto kReplyPatience = std::chrono::seconds(5);
constexpr auto kRetryInterval = std::chrono::milliseconds(5);
}  // namespace

std::uint64_t PendingRequests::open() {
  std::lock_guard lock(mutex_);
  std::uint64_t id = next_id_++;
  waiting_.emplace(id, std::nullopt);
  return id;
}

std::optional<OwnedMessage> PendingRequests::wait(std::uint64_t id, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, deadline, [&] {
    auto it = waiting_.find(id);
    return closed_ || it == waiting_.end() || it->second.has_value();
  });
  std::optional<OwnedMessage> reply;
  if (auto it = waiting_.find(id); it != waiting_.end()) {
    reply = std::move(it->second);
    waiting_.erase(it);
  }
  return reply;
}

bool PendingRequests::complete(std::uint64_t id, OwnedMessage reply) {
  {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(id);
    if (it == waiting_.end() || it->second.has_value()) return false;
    it->second = std::move(reply);
  }
  cv_.notify_all();
  return true;
}

void PendingRequests::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

RequestAgent::RequestAgent(NodeContext& context, ControlChannel& channel, PendingRequests& pending)
    : context_(context), channel_(channel), pending_(pending) {}

void RequestAgent::send_reply(std::string endpoint, std::uint64_t request_id, ByteBuffer envelope,
                              Clock::TimePoint now) {
  if (Status connected = channel_.connect(endpoint); !connected) {
    context_.limited_log.warn(kLogReliable, "cannot reply: " + connected.message());
    return;
  }
  outgoing_.push_back({std::move(endpoint), request_id, std::move(envelope), now + kReplyPatience});
}

bool RequestAgent::handle(const PeerRef&, control::Message& message, zmq::message_t& body, bool has_body,
                          Clock::TimePoint) {
  auto* reply = std::get_if<control::Reply>(&message);
  if (reply == nullptr) return false;
  if (!has_body) {
    NodeCounters::add(context_.counters.control_malformed);
    return true;
  }
  std::span<const std::byte> bytes(static_cast<const std::byte*>(body.data()), body.size());
  std::size_t offset = 0;
  EnvelopeView view;
  DecodeResult decoded = decode_envelope(bytes, offset, view, scratch_);
  if (!decoded.ok()) {
    NodeCounters::add(context_.counters.control_malformed);
    context_.limited_log.warn(kLogReliable, "a reply does not decode: " + decoded.detail);
    return true;
  }
  // Counted before the waiter wakes, so that its stats already show the reply.
  NodeCounters::add(context_.counters.replies);
  if (!pending_.complete(reply->request_id, view.as_message().to_owned())) {
    NodeCounters::add(context_.counters.late_replies);
  }
  return true;
}

std::size_t RequestAgent::do_work(Clock::TimePoint now) {
  std::size_t work = 0;
  for (std::size_t n = outgoing_.size(); n > 0; --n) {
    OutgoingReply reply = std::move(outgoing_.front());
    outgoing_.pop_front();
    zmq::message_t body(reply.envelope.data(), reply.envelope.size());
    SendResult sent = channel_.send({PeerRef::Via::kOutgoing, reply.endpoint}, control::Reply{reply.request_id}, &body);
    if (sent == SendResult::kSent) {
      ++work;
      continue;
    }
    if (now < reply.give_up) {
      outgoing_.push_back(std::move(reply));  // the link is still coming up: again soon
    } else {
      context_.limited_log.warn(kLogReliable, "gave up replying to " + reply.endpoint + ": it cannot be reached");
    }
  }
  return work;
}

Clock::TimePoint RequestAgent::next_deadline() {
  return outgoing_.empty() ? Clock::TimePoint::max() : context_.clock.now() + kRetryInterval;
}

}  // namespace weft::detail
