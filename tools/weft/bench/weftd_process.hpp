// The weftd that the persist pattern measures: a child process of the bench with its own temporary data
// directory, config file (one stream, `bench`, taking bench.>, at the fsync policy under test) and ipc socket.
// It is stopped with SIGTERM by its pid (SIGKILL if it overstays) and its directory removed afterwards.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>

#include "bench/bench_options.hpp"
#include "weft/status.hpp"

namespace weft::cli::bench {

// The weftd binary: `explicit_path` if given, else `weftd` beside this executable or in the build tree's
// daemon/ folder beside tools/, else the first `weftd` on $PATH. not-found says where it looked.
Result<std::string> find_weftd(const std::string& explicit_path);

class WeftdProcess {
 public:
  // Starts weftd under a new directory in `parent` (empty: $TMPDIR or /tmp) and waits for its "ready" line.
  static Result<WeftdProcess> start(const std::string& binary, const std::string& parent, Fsync fsync);

  WeftdProcess(WeftdProcess&& other) noexcept;
  WeftdProcess& operator=(WeftdProcess&&) = delete;
  WeftdProcess(const WeftdProcess&) = delete;
  WeftdProcess& operator=(const WeftdProcess&) = delete;
  // Stops it (if stop() was not called) and removes its directory.
  ~WeftdProcess();

  [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }
  [[nodiscard]] const std::string& directory() const noexcept { return directory_; }

  // SIGTERM, then up to kExitGrace for a clean exit (status 0); SIGKILL past that. Idempotent.
  Status stop();

 private:
  WeftdProcess(pid_t pid, std::string directory, std::string endpoint)
      : pid_(pid), directory_(std::move(directory)), endpoint_(std::move(endpoint)) {}

  pid_t pid_ = -1;
  std::string directory_;
  std::string endpoint_;
  Status stopped_;
};

}  // namespace weft::cli::bench
