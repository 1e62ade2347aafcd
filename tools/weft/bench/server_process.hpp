// The servers the persist pattern measures, each a child process of the bench with its own temporary
// directory: weftd with a config file (one stream, `bench`, taking bench.>, at the fsync policy under test), a
// data directory and an ipc socket; or nats-server with JetStream on 127.0.0.1 and a port the kernel picks
// (the WEFT_BENCH_NATS build's comparison). Each is stopped with SIGTERM by its pid (SIGKILL if it
// overstays) and its directory removed afterwards.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_options.hpp"
#include "weft/status.hpp"

namespace weft::cli::bench {

// The weftd binary: `explicit_path` if given, else `weftd` beside this executable or in the build tree's
// daemon/ folder beside tools/, else the first `weftd` on $PATH. not-found says where it looked.
Result<std::string> find_weftd(const std::string& explicit_path);

class ServerProcess {
 public:
  // Starts weftd under a new directory in `parent` (empty: $TMPDIR or /tmp) and waits for its "ready" line.
  static Result<ServerProcess> start_weftd(const std::string& binary, const std::string& parent, Fsync fsync);
  // Starts `nats-server -js` (from $PATH) with its store under a new directory in `parent`, and waits for its
  // ports file; endpoint() is then its client URL.
  static Result<ServerProcess> start_nats(const std::string& parent);

  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&&) = delete;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Stops it (if stop() was not called) and removes its directory.
  ~ServerProcess();

  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  [[nodiscard]] const std::string& directory() const noexcept { return directory_; }

  // SIGTERM, then up to kExitGrace for a clean exit (weftd: status 0); SIGKILL past that. Idempotent.
  Status stop();

 private:
  ServerProcess(std::string name, std::string directory) : name_(std::move(name)), directory_(std::move(directory)) {}
  // A new directory under `parent` for this server.
  static Result<ServerProcess> in_new_directory(std::string name, const std::string& parent);
  // Starts WORDS (binary first) with standard output and error to DIR/server.log; the child gets SIGTERM if
  // the bench dies.
  Status launch(std::vector<std::string> words);
  // Until `ready` returns the endpoint (it reads the log or a file), the server exits, or kReadyTimeout.
  Status wait_ready(const std::function<std::optional<std::string>()>& ready);

  std::string name_;  // "weftd", "nats-server"
  pid_t pid_ = -1;
  std::string directory_;
  std::string endpoint_;
  Status stopped_;
};

}  // namespace weft::cli::bench
