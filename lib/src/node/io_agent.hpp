// A part of the node that lives on the I/O thread beside the publish/subscribe path (discovery, the control
// channel). The I/O loop steps every agent on each pass and watches the agents' descriptors while it sleeps,
// so an agent's sockets, like the node's, are touched by the I/O thread only.
#pragma once

#include <cstddef>
#include <vector>

#include "transport/transport.hpp"
#include "util/clock.hpp"

namespace weft::detail {

class IoAgent {
 public:
  virtual ~IoAgent() = default;

  // Handles what is ready and what is due; returns how much it did. An agent that stops reading a socket
  // before it is drained (a bound per pass) must return non-zero, so the loop runs it again before sleeping:
  // descriptors such as ZeroMQ's signal new input only.
  virtual std::size_t do_work(Clock::TimePoint now, Transport& transport) = 0;

  // Appends the descriptors to watch for input while the loop sleeps, and hears which became readable.
  virtual void pollable(std::vector<int>& fds) = 0;
  virtual void on_readable(int /*fd*/) {}

  // When do_work() must next run even if nothing arrives; TimePoint::max() when never.
  [[nodiscard]] virtual Clock::TimePoint next_deadline() = 0;

  // The node is stopping: called on the I/O thread before the transport closes, for last words to peers. An
  // agent must close every socket and descriptor it owns here; it is destroyed later, on another thread.
  virtual void stop(Transport&) {}
};

}  // namespace weft::detail
