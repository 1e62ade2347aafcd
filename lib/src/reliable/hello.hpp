// Announcements: every node publishes on "_weft.hello" where its control channel is, once a second and at once
// when a new subscriber appears, so that a node subscribed to it (with or without discovery) can register its
// durable subscriptions and queue memberships there. docs/wire-protocol.md, "Announcements".
#pragma once

#include <optional>
#include <string>

#include "node/io_agent.hpp"
#include "node/node_context.hpp"

namespace weft::detail {

struct Hello {
  std::uint64_t node_id = 0;
  std::string name;
  std::string control_endpoint;
};

// The payload of a hello message: msgpack [1, node_id, name, control_endpoint].
ByteBuffer encode_hello(const Hello& hello);
std::optional<Hello> decode_hello(std::span<const std::byte> payload);

class HelloAgent final : public IoAgent {
 public:
  HelloAgent(NodeContext& context, Hello hello);

  std::size_t do_work(Clock::TimePoint now, Transport& transport) override;
  void pollable(std::vector<int>&) override {}
  [[nodiscard]] Clock::TimePoint next_deadline() override { return next_; }

 private:
  NodeContext& context_;
  ByteBuffer envelope_;
  Clock::TimePoint next_{};
  std::uint64_t subscribers_seen_ = ~std::uint64_t{0};
};

}  // namespace weft::detail
