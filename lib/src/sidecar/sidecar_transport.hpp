// The client's transport seam: how a SidecarClient moves protocol messages to and from weftd. The real one is a
// ZeroMQ DEALER (ZmqSidecarTransport); tests use an in-memory one wired to a daemon in the same process.
// All calls come from the one thread that owns the client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "sidecar/sidecar_codec.hpp"
#include "transport/send_result.hpp"

namespace weft::detail::sidecar {

class SidecarTransport {
 public:
  virtual ~SidecarTransport() = default;

  // Sends a whole message without blocking. kFull: nothing was sent (weftd is not connected yet, or a
  // high-water mark is full) and `frames` is intact; try again later. kFailed: the transport is unusable.
  virtual SendResult send(Frames& frames) = 0;
  // The next whole message from weftd, if one is waiting. Never blocks.
  virtual std::optional<Frames> receive() = 0;
  // Blocks up to `timeout` until receive() may have a message; true if so.
  virtual bool wait_readable(std::chrono::milliseconds timeout) = 0;
  // For an owner's poll loop: a descriptor that becomes readable when messages may be waiting (edge
  // triggered, like ZMQ_FD: drain receive() until it returns nothing). -1 when there is none.
  [[nodiscard]] virtual int descriptor() const = 0;
  [[nodiscard]] virtual const std::string& endpoint() const noexcept = 0;
};

}  // namespace weft::detail::sidecar
