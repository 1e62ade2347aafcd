// An in-memory wire between SidecarClients and one weftd in the same process, for tests that step both sides
// with a fake clock: MemoryHub::server() is weftd's ServerTransport, MemoryHub::client(name) a client's
// SidecarTransport. set_up(false) models weftd being down: clients' sends say kFull, weftd's sends to them fail.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "server_transport.hpp"
#include "sidecar/sidecar_transport.hpp"

namespace weft::testing {

class MemoryHub {
 public:
  class Server;
  class Client;

  MemoryHub();
  ~MemoryHub();

  detail::weftd::ServerTransport& server();
  // A new client transport named `peer` (its routing id at weftd).
  std::unique_ptr<detail::sidecar::SidecarTransport> client(const std::string& peer);

  void set_up(bool up) noexcept { up_ = up; }
  // Drops every message in flight both ways (weftd died with them in its socket buffers).
  void drop_in_flight();
  // Injects a raw message from `peer` (for malformed-input tests).
  void inject(const std::string& peer, detail::sidecar::Frames frames);
  [[nodiscard]] std::size_t queued_for(const std::string& peer) const;

 private:
  friend class Server;
  friend class Client;
  std::unique_ptr<Server> server_;
  std::deque<detail::weftd::Routed> to_server_;
  std::map<std::string, std::deque<detail::sidecar::Frames>> to_clients_;
  bool up_ = true;
};

}  // namespace weft::testing
