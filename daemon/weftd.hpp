// weftd assembled: the stream manager and the protocol server over one transport, stepped by one loop. main()
// gives it the real file system, clock and ZeroMQ transport; tests give it fakes and drive time.
//
//   auto d = Weftd::open(options, fs, clock, transport, logger, endpoints).value();
//   for (;;) { d->do_work(clock.now()); /* wait until d->next_deadline() or input */ }
//   d->close(); d->stop();   // SIGTERM: refuse new work, then fsync and close everything
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log/file_system.hpp"
#include "server_transport.hpp"
#include "sidecar_server.hpp"
#include "stream_manager.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "weftd_options.hpp"

namespace weft::detail::weftd {

class Weftd {
 public:
  // Opens (and recovers) every stream. `endpoints` are what the transport listens on, for status replies.
  static Result<std::unique_ptr<Weftd>> open(const WeftdOptions& options, log::FileSystem& fs, const Clock& clock,
                                             ServerTransport& transport, const Logger& logger,
                                             std::vector<std::string> endpoints);
  ~Weftd();
  Weftd(const Weftd&) = delete;
  Weftd& operator=(const Weftd&) = delete;

  // Reads requests, appends, runs group commits (answering what became durable), delivers, retains.
  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline(Clock::TimePoint now) const;

  // Stops accepting new work (never blocks).
  void close() noexcept { server_->close(); }
  // Fsyncs and closes every stream, answering what became durable; waits for the disk. Idempotent.
  Status stop();

  [[nodiscard]] SidecarServer& server() noexcept { return *server_; }
  [[nodiscard]] StreamManager& streams() noexcept { return *manager_; }

 private:
  Weftd() = default;

  std::unique_ptr<SidecarServer> server_;
  std::unique_ptr<StreamManager> manager_;
  bool stopped_ = false;
};

// A random 16-hex-digit id, new for every start.
std::string make_server_id();

}  // namespace weft::detail::weftd
