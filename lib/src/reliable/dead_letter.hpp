// Where a message goes when a consumer could not handle it in max_deliver attempts: the node's dead-letter
// queue (a file in its data directory; the sidecar's durable log when there is one).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/envelope.hpp"
#include "weft/status.hpp"

namespace weft::detail {

struct DeadLetter {
  std::string subject;
  std::string consumer;     // the durable name or queue group that gave up on it
  std::uint32_t deliveries = 0;
  std::string last_error;
  std::int64_t time_ns = 0;  // when it was dead-lettered (wall clock)
  std::shared_ptr<const ByteBuffer> envelope;
  // Set by weftd only: the stream and offset the message was dead-lettered from.
  std::string source_stream;
  std::uint64_t source_offset = 0;
};

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Stores it; an error means it could not be kept (the caller counts it and says so).
  virtual Status put(const DeadLetter& letter) = 0;
  // Lets a store that batches its writes make progress (from the owner's loop).
  virtual void do_work(std::chrono::steady_clock::time_point) {}
};

}  // namespace weft::detail
