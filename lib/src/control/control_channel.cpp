#include "control/control_channel.hpp"

#include <algorithm>

namespace weft::detail {

namespace {
constexpr std::size_t kMaxMessagesPerPass = 256;
}

ControlChannel::ControlChannel(NodeContext& context, std::unique_ptr<ControlTransport> transport)
    : context_(context), transport_(std::move(transport)) {}

SendResult ControlChannel::send(const PeerRef& to, const control::Message& message, zmq::message_t* body) {
  std::string header = control::encode(message);
  zmq::message_t frame(header.data(), header.size());
  SendResult result = transport_->send(to, frame, body);
  if (result == SendResult::kSent) NodeCounters::add(context_.counters.control_sent);
  return result;
}

std::size_t ControlChannel::do_work(Clock::TimePoint now, Transport&) {
  std::size_t work = 0;
  while (work < kMaxMessagesPerPass && transport_->receive(inbound_)) {
    ++work;
    NodeCounters::add(context_.counters.control_received);
    auto decoded = control::decode(inbound_.header.data(), inbound_.header.size());
    if (!decoded) {
      NodeCounters::add(context_.counters.control_malformed);
      context_.limited_log.warn(kLogBadControl, "discarded a control message: " + decoded.status().message());
      continue;
    }
    bool taken = false;
    for (ControlHandler* handler : handlers_) {
      if (handler->handle(inbound_.from, *decoded, inbound_.body, inbound_.has_body, now)) {
        taken = true;
        break;
      }
    }
    if (!taken) NodeCounters::add(context_.counters.control_unhandled);
    inbound_ = ControlInbound{};
  }
  for (ControlHandler* handler : handlers_) work += handler->do_work(now);
  return work;
}

Clock::TimePoint ControlChannel::next_deadline() {
  auto deadline = Clock::TimePoint::max();
  for (ControlHandler* handler : handlers_) deadline = std::min(deadline, handler->next_deadline());
  return deadline;
}

}  // namespace weft::detail

namespace weft::detail {

void ControlChannel::stop(Transport&) {
  for (ControlHandler* handler : handlers_) handler->stop();
  transport_->close();
}

}  // namespace weft::detail
