// weftd's transport seam: how the server receives clients' messages and answers them. The real one is a
// ZeroMQ ROUTER bound to the ipc socket (and any tcp endpoints); tests use an in-memory one wired to
// SidecarClients in the same process. All calls come from weftd's loop thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "sidecar/sidecar_codec.hpp"
#include "transport/send_result.hpp"

namespace weft::detail::weftd {

// A message and the client it came from (or goes to), named by its routing id.
struct Routed {
  std::string peer;
  sidecar::Frames frames;
};

class ServerTransport {
 public:
  virtual ~ServerTransport() = default;
  // Sends a whole message to one client without blocking. kFull: its queue is full, nothing sent, `frames`
  // intact. kFailed: that client is gone.
  virtual SendResult send(const std::string& peer, sidecar::Frames& frames) = 0;
  // The next message from any client, if one is waiting. Never blocks.
  virtual std::optional<Routed> receive() = 0;
  // Blocks up to `timeout` until receive() may have a message, or `wake_fd` (if >= 0) is readable.
  virtual bool wait(std::chrono::milliseconds timeout, int wake_fd) = 0;
};

}  // namespace weft::detail::weftd
