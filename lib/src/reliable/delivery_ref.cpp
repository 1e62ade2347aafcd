#include "reliable/delivery_ref.hpp"

#include "node/node_context.hpp"

namespace weft::detail {

bool DeliveryRef::settle(AckDecision::Kind kind, std::uint32_t delay_ms, std::string reason) const {
  // Only AckHandles settle through here, and ack_handle() gives their copy a flag shared with the dispatcher.
  if (!settled || settled->exchange(true)) return false;
  auto context = node.lock();
  if (!context) return false;
  AckDecision d = decision;
  d.kind = kind;
  d.delay_ms = delay_ms;
  d.reason = std::move(reason);
  context->acks.push(std::move(d));
  context->io_wake.notify();
  return true;
}

void DeliveryRef::progress() const {
  if (!settled || settled->load()) return;
  auto context = node.lock();
  if (!context) return;
  AckDecision d = decision;
  d.kind = AckDecision::Kind::kProgress;
  context->acks.push(std::move(d));
  context->io_wake.notify();
}

}  // namespace weft::detail

namespace weft {

void AckHandle::ack() {
  if (state_) state_->delivery.settle(detail::AckDecision::Kind::kAck);
}

void AckHandle::nak(std::chrono::milliseconds delay, std::string_view reason) {
  if (state_) {
    auto ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(delay.count(), 0, 24LL * 3600 * 1000));
    state_->delivery.settle(detail::AckDecision::Kind::kNak, ms, std::string(reason));
  }
}

void AckHandle::in_progress() {
  if (state_) state_->delivery.progress();
}

std::uint32_t Message::delivery_attempt() const noexcept { return delivery_ ? delivery_->decision.attempt : 0; }

AckHandle Message::ack_handle() const {
  if (!delivery_) return {};
  if (!delivery_->settled) delivery_->settled = std::make_shared<std::atomic<bool>>(false);
  return AckHandle(std::make_shared<AckHandle::State>(AckHandle::State{*delivery_}));
}

}  // namespace weft
