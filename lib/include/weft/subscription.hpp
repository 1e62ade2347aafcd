// A live subscription. Destroying it (or calling unsubscribe()) stops the deliveries.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "weft/message.hpp"
#include "weft/stats.hpp"

namespace weft {

// Called once per matching message, never on the node's I/O thread. The Message is valid during the call.
// An exception that escapes is caught, counted (SubscriptionStats::handler_exceptions) and logged.
using Handler = std::function<void(const Message&)>;

namespace detail {
class SubscriptionState;
class NodeCore;
}  // namespace detail

class Subscription {
 public:
  Subscription() = default;
  Subscription(std::shared_ptr<detail::SubscriptionState> state, std::weak_ptr<detail::NodeCore> core) noexcept;
  ~Subscription();
  Subscription(Subscription&& other) noexcept = default;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Stops the deliveries. When it returns, the handler is not running and will not run again, unless it is
  // called from inside the handler itself (then the current call finishes). Idempotent.
  void unsubscribe();

  [[nodiscard]] bool active() const noexcept;
  [[nodiscard]] const std::string& pattern() const noexcept;
  [[nodiscard]] SubscriptionStats stats() const;

 private:
  std::shared_ptr<detail::SubscriptionState> state_;
  std::weak_ptr<detail::NodeCore> core_;
};

}  // namespace weft
