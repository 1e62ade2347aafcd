#include "weft_testing/fake_transport.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace weft::testing {

FakeNetwork::FakeNetwork() : signal_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

FakeNetwork::~FakeNetwork() { ::close(signal_fd_); }

void FakeNetwork::inject(std::vector<std::string> frames) {
  {
    std::lock_guard lock(mutex_);
    inbound_.push_back(std::move(frames));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(signal_fd_, &one, sizeof one);
}

void FakeNetwork::inject_filter_event(std::string raw) {
  {
    std::lock_guard lock(mutex_);
    filter_events_.push_back(std::move(raw));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(signal_fd_, &one, sizeof one);
}

void FakeNetwork::refuse_sends(int count) {
  std::lock_guard lock(mutex_);
  refusals_ = count;
}

std::vector<FakeNetwork::Sent> FakeNetwork::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::multiset<std::string> FakeNetwork::filters() const {
  std::lock_guard lock(mutex_);
  return filters_;
}

void FakeTransport::add_filter(std::string_view prefix) {
  std::lock_guard lock(network_->mutex_);
  network_->filters_.insert(std::string(prefix));
}

void FakeTransport::remove_filter(std::string_view prefix) {
  std::lock_guard lock(network_->mutex_);
  auto it = network_->filters_.find(std::string(prefix));
  if (it != network_->filters_.end()) network_->filters_.erase(it);
}

detail::SendResult FakeTransport::send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds) {
  std::lock_guard lock(network_->mutex_);
  if (network_->refusals_ > 0) {
    --network_->refusals_;
    return detail::SendResult::kFull;
  }
  network_->sent_.push_back({std::string(subject), body.to_string()});
  return detail::SendResult::kSent;
}

detail::ReceiveResult FakeTransport::receive(detail::InboundMessage& out) {
  std::vector<std::string> frames;
  {
    std::lock_guard lock(network_->mutex_);
    if (network_->inbound_.empty()) return detail::ReceiveResult::kNone;
    frames = std::move(network_->inbound_.front());
    network_->inbound_.pop_front();
  }
  if (frames.size() != 2) return detail::ReceiveResult::kBadFraming;
  out.subject = zmq::message_t(frames[0].data(), frames[0].size());
  out.body = zmq::message_t(frames[1].data(), frames[1].size());
  return detail::ReceiveResult::kMessage;
}

bool FakeTransport::next_filter_event(detail::FilterEvent& out) {
  std::string raw;
  {
    std::lock_guard lock(network_->mutex_);
    if (network_->filter_events_.empty()) return false;
    raw = std::move(network_->filter_events_.front());
    network_->filter_events_.pop_front();
  }
  if (raw.empty() || (raw[0] != 0 && raw[0] != 1)) {
    out.kind = detail::FilterEvent::Kind::kMalformed;
    return true;
  }
  out.kind = raw[0] == 1 ? detail::FilterEvent::Kind::kSubscribe : detail::FilterEvent::Kind::kUnsubscribe;
  out.prefix = raw.substr(1);
  return true;
}

detail::Readiness FakeTransport::wait(std::chrono::microseconds timeout, int wake_fd, bool,
                                      std::span<pollfd> extra) {
  std::vector<pollfd> fds = {{wake_fd, POLLIN, 0}, {network_->signal_fd_, POLLIN, 0}};
  for (const pollfd& p : extra) fds.push_back({p.fd, p.events, 0});
  int ms = timeout.count() < 0 ? -1 : static_cast<int>((timeout.count() + 999) / 1000);
  ::poll(fds.data(), fds.size(), ms);
  if (fds[1].revents & POLLIN) {
    // Consume only a signal this call reports: one that arrives after poll(2) stays for the next call.
    std::uint64_t value = 0;
    [[maybe_unused]] auto n = ::read(network_->signal_fd_, &value, sizeof value);
  }
  for (std::size_t i = 0; i < extra.size(); ++i) extra[i].revents = fds[2 + i].revents;
  detail::Readiness ready;
  ready.woken = fds[0].revents & POLLIN;
  // One signal for both directions: report both, the loop drains each until it finds nothing.
  ready.inbound = fds[1].revents & POLLIN;
  ready.filter_events = ready.inbound;
  return ready;
}

}  // namespace weft::testing
