// A cluster of discovery agents on a FakeDatagramNetwork, stepped together by a fake clock. Each node keeps the
// view a node would build from its events, and the harness checks that the events are consistent (no join of a
// peer already joined, no leave of one never joined).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "discovery/discovery.hpp"
#include "discovery_fake_network.hpp"
#include "weft_testing/fake_clock.hpp"

namespace weft::testing {

using namespace std::chrono_literals;

inline detail::Ip4 ip(std::string_view text) { return *detail::parse_ip4(text); }

// A fake host's identity: its own kernel, so its own scopes.
inline detail::HostInfo fake_host_info(detail::Ip4 address) {
  detail::HostInfo host;
  host.hostname = "host-" + detail::format_ip4(address);
  host.ipc_scope = detail::scope_hash("ipc:" + host.hostname);
  host.net_scope = detail::scope_hash("net:" + host.hostname);
  host.working_directory = "/srv/app";
  host.interfaces.push_back({"lo", detail::kIp4Loopback, 0xff000000, 0, true, true, false});
  host.interfaces.push_back({"eth0", address, 0xffffff00, (address & 0xffffff00) | 0xff, true, false, true});
  return host;
}

struct TestNode {
  std::string name;
  detail::Ip4 address = 0;
  int lan = 0;
  detail::DiscoveryOptions options;
  detail::LocalNodeInfo self;
  detail::HostInfo host;
  std::unique_ptr<detail::Discovery> agent;
  std::vector<detail::DiscoveryEvent> events;     // every event, in order
  std::map<std::uint64_t, detail::DiscoveredPeer> view;  // what the node believes, from its events
  std::vector<std::string> violations;            // inconsistent events
  std::vector<std::string> log;

  [[nodiscard]] bool running() const { return agent != nullptr; }
  [[nodiscard]] bool sees(std::uint64_t id) const { return view.count(id) > 0; }
  [[nodiscard]] const detail::DiscoveryStats& stats() const { return agent->stats(); }
};

class Cluster {
 public:
  explicit Cluster(std::uint64_t seed = 1) : network_(seed) {}
  ~Cluster() {
    for (auto& node : nodes_) node->agent.reset();  // before the network
  }

  FakeDatagramNetwork& network() { return network_; }
  FakeClock& clock() { return clock_; }
  [[nodiscard]] detail::Clock::TimePoint now() const { return clock_.now(); }
  TestNode& operator[](std::size_t i) { return *nodes_[i]; }
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }

  // A node named `name` on a host with `address`. Ids are 0x1000 + index; incarnations the fake wall clock.
  TestNode& add(std::string name, detail::Ip4 address, detail::DiscoveryOptions options = {}, int lan = 0) {
    auto node = std::make_unique<TestNode>();
    node->name = std::move(name);
    node->address = address;
    node->lan = lan;
    node->options = std::move(options);
    node->host = fake_host_info(address);
    node->self.id = 0x1000 + nodes_.size();
    node->self.name = node->name;
    node->self.endpoints = {{detail::EndpointKind::kPublish, "tcp://0.0.0.0:5555"}};
    nodes_.push_back(std::move(node));
    start(*nodes_.back());
    return *nodes_.back();
  }

  // Starts (or restarts, with a higher incarnation) the node's agent.
  void start(TestNode& node) {
    node.agent.reset();
    clock_.advance(1ns);  // a new incarnation, even within one step
    node.self.incarnation = static_cast<std::uint64_t>(clock_.wall_ns());
    std::vector<std::string>* log = &node.log;
    node.agent = std::make_unique<detail::Discovery>(
        node.options, node.self, node.host, network_.add_host(node.address, node.lan),
        [log](LogLevel, std::string_view line) { log->emplace_back(line); });
  }

  // A crash: the agent disappears without a goodbye.
  void crash(TestNode& node) { node.agent.reset(); }

  // Advances the clock by `by` and steps every running agent once, draining its events.
  void step(detail::Clock::Duration by = 10ms) {
    clock_.advance(by);
    for (auto& node : nodes_) {
      if (!node->running()) continue;
      node->agent->do_work(clock_.now());
      drain(*node);
    }
  }

  // Steps until `done` holds or `limit` of fake time passes; true if it held.
  bool run_until(const std::function<bool()>& done, detail::Clock::Duration limit,
                 detail::Clock::Duration by = 10ms) {
    const auto deadline = clock_.now() + limit;
    while (!done()) {
      if (clock_.now() >= deadline) return false;
      step(by);
    }
    return true;
  }

  void run_for(detail::Clock::Duration duration, detail::Clock::Duration by = 10ms) {
    run_until([] { return false; }, duration, by);
  }

  // Every running node sees every other running node.
  [[nodiscard]] bool converged() const {
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      for (const auto& other : nodes_) {
        if (other.get() == node.get() || !other->running()) continue;
        auto it = node->view.find(other->self.id);
        if (it == node->view.end() || it->second.incarnation != other->self.incarnation) return false;
      }
    }
    return true;
  }

  [[nodiscard]] std::vector<std::string> violations() const {
    std::vector<std::string> out;
    for (const auto& node : nodes_) out.insert(out.end(), node->violations.begin(), node->violations.end());
    return out;
  }

 private:
  static void drain(TestNode& node) {
    while (auto event = node.agent->next_event()) {
      const std::uint64_t id = event->peer.id;
      switch (event->kind) {
        case detail::DiscoveryEvent::Kind::kJoined:
          if (node.view.count(id) > 0) node.violations.push_back(node.name + ": joined twice: " + event->peer.name);
          node.view[id] = event->peer;
          break;
        case detail::DiscoveryEvent::Kind::kUpdated:
          if (node.view.count(id) == 0) node.violations.push_back(node.name + ": update before join");
          node.view[id] = event->peer;
          break;
        case detail::DiscoveryEvent::Kind::kLeft:
          if (node.view.erase(id) == 0) node.violations.push_back(node.name + ": left without join");
          break;
      }
      node.events.push_back(std::move(*event));
    }
  }

  FakeClock clock_;
  FakeDatagramNetwork network_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

}  // namespace weft::testing
