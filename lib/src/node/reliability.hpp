// The at-least-once parts a node owns (node_reliable.cpp sets them up on the I/O loop).
#pragma once

#include <memory>
#include <string>

#include "control/control_channel.hpp"
#include "log/posix_file_system.hpp"
#include "node/node_core.hpp"
#include "reliable/dead_letter_store.hpp"
#include "reliable/publisher_engine.hpp"
#include "reliable/requests.hpp"
#include "reliable/subscriber_engine.hpp"

namespace weft::detail {

struct NodeCore::Reliability {
  Reliability(NodeContext& context, ControlChannel& channel, std::uint64_t stream)
      : publisher(context, channel, stream, nullptr),
        subscriber(context, channel),
        requests(context, channel, pending) {}

  log::PosixFileSystem fs;
  std::unique_ptr<DeadLetterStore> dead_letters;  // the node's own queue, under data_dir
  // With a sidecar: where dead letters go (to weftd, falling back to `dead_letters`).
  std::unique_ptr<DeadLetterSink> sidecar_dead_letters;
  std::unique_ptr<OutboxStore> outbox;
  std::string control_endpoint;
  std::string control_bound;  // as bound (wildcard hosts kept), for discovery to advertise
  PendingRequests pending;
  PublisherEngine publisher;
  SubscriberEngine subscriber;
  RequestAgent requests;
};

}  // namespace weft::detail
