#include "node/subscription_registry.hpp"

#include <algorithm>

namespace weft::detail {

void SubscriptionState::stop() {
  active_.store(false, std::memory_order_release);
  if (calling_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
  // A call in progress holds the mutex: taking it waits for that call to end.
  std::lock_guard lock(call_mutex_);
}

SubscriptionStats SubscriptionState::stats() const {
  SubscriptionStats s;
  s.id = id_;
  s.pattern = pattern_;
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.handler_exceptions = exceptions_.load(std::memory_order_relaxed);
  return s;
}

std::shared_ptr<SubscriptionState> SubscriptionRegistry::add(std::string pattern, Handler handler,
                                                             std::shared_ptr<ReliableSubscription> reliable,
                                                             bool internal) {
  std::lock_guard lock(mutex_);
  auto state = std::make_shared<SubscriptionState>(next_id_++, std::move(pattern), std::move(handler),
                                                   std::move(reliable), internal);
  auto next = std::make_shared<SubscriptionList>(*current_);
  next->push_back(state);
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
  return state;
}

bool SubscriptionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<SubscriptionList>(*current_);
  auto it = std::find_if(next->begin(), next->end(), [&](const auto& s) { return s->id() == id; });
  if (it == next->end()) return false;
  next->erase(it);
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
  return true;
}

std::shared_ptr<const SubscriptionList> SubscriptionRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::vector<SubscriptionStats> SubscriptionRegistry::stats() const {
  auto list = snapshot();
  std::vector<SubscriptionStats> out;
  out.reserve(list->size());
  for (const auto& s : *list) {
    if (!s->internal()) out.push_back(s->stats());
  }
  return out;
}

}  // namespace weft::detail
