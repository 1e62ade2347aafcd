#include "weft/subscription.hpp"

#include "node/node_core.hpp"

namespace weft {

Subscription::Subscription(std::shared_ptr<detail::SubscriptionState> state,
                           std::weak_ptr<detail::NodeCore> core) noexcept
    : state_(std::move(state)), core_(std::move(core)) {}

Subscription::~Subscription() { unsubscribe(); }

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    unsubscribe();
    state_ = std::move(other.state_);
    core_ = std::move(other.core_);
  }
  return *this;
}

void Subscription::unsubscribe() {
  if (!state_) return;
  auto core = core_.lock();
  core_.reset();
  if (core) {
    core->unsubscribe(*state_);
  } else {
    state_->stop();  // the node is gone, or this subscription already left it
  }
}

bool Subscription::active() const noexcept { return state_ && state_->active(); }

const std::string& Subscription::pattern() const noexcept {
  static const std::string kNone;
  return state_ ? state_->pattern() : kNone;
}

SubscriptionStats Subscription::stats() const { return state_ ? state_->stats() : SubscriptionStats{}; }

}  // namespace weft
