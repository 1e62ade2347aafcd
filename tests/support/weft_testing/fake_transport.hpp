// An in-memory Transport: tests inject exact frames as if they came from the network, see exactly what the
// node sends, and make the "network" refuse sends as a full high-water mark would.
#pragma once

#include <deque>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace weft::testing {

// What the fake transport and the test share; the test keeps it after the node took the transport.
class FakeNetwork {
 public:
  FakeNetwork();
  ~FakeNetwork();
  FakeNetwork(const FakeNetwork&) = delete;
  FakeNetwork& operator=(const FakeNetwork&) = delete;

  // As if a publisher sent these frames to the node's subscribing side. Any number of frames.
  void inject(std::vector<std::string> frames);
  // As if a subscriber sent this subscription message to the node's publishing side.
  void inject_filter_event(std::string raw);
  // The next `count` sends are refused as if a high-water mark were full.
  void refuse_sends(int count);

  struct Sent {
    std::string subject;
    std::string body;
  };
  [[nodiscard]] std::vector<Sent> sent() const;
  [[nodiscard]] std::multiset<std::string> filters() const;

 private:
  friend class FakeTransport;
  mutable std::mutex mutex_;
  std::deque<std::vector<std::string>> inbound_;
  std::deque<std::string> filter_events_;
  std::vector<Sent> sent_;
  std::multiset<std::string> filters_;
  int refusals_ = 0;
  int signal_fd_ = -1;
};

class FakeTransport final : public detail::Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeNetwork> network) : network_(std::move(network)) {}

  Result<std::string> bind_publisher(const std::string& endpoint) override { return endpoint; }
  Status connect_publisher(const std::string&) override { return Status::ok(); }
  Result<std::string> bind_subscriber(const std::string& endpoint) override { return endpoint; }
  Status connect_subscriber(const std::string&) override { return Status::ok(); }
  Status disconnect_subscriber(const std::string&) override { return Status::ok(); }
  void add_filter(std::string_view prefix) override;
  void remove_filter(std::string_view prefix) override;
  detail::SendResult send(std::string_view subject, zmq::message_t& body, std::chrono::milliseconds wait) override;
  detail::ReceiveResult receive(detail::InboundMessage& out) override;
  bool next_filter_event(detail::FilterEvent& out) override;
  detail::Readiness wait(std::chrono::microseconds timeout, int wake_fd, bool want_inbound,
                         std::span<pollfd> extra) override;
  void close(std::chrono::milliseconds) override {}

 private:
  std::shared_ptr<FakeNetwork> network_;
};

}  // namespace weft::testing
