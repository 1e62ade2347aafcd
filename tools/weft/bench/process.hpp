// The two ends of the pipe pair between the bench and a peer process.
//
// PeerProcess (the bench's side) starts this same executable again as `weft bench-peer ...`, reads the lines
// it prints, releases it, and waits for it to exit; a peer that overstays is killed by its pid, never by
// name. ParentLink (the peer's side) ties the peer's life to the bench's and pins it to a CPU.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "weft/status.hpp"

namespace weft::cli::bench {

using BenchClock = std::chrono::steady_clock;

// How long a released peer may take to exit before it is killed.
inline constexpr std::chrono::milliseconds kExitGrace{5000};

class PeerProcess {
 public:
  // Starts `weft bench-peer ARGS...`: its standard input and output are pipes to this process, its standard
  // error is this process's.
  static Result<PeerProcess> spawn(const std::vector<std::string>& args);

  PeerProcess(PeerProcess&& other) noexcept;
  PeerProcess& operator=(PeerProcess&& other) noexcept;
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  // Releases the peer and gives it kExitGrace to exit before it is killed.
  ~PeerProcess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // The next line the peer prints, without its newline. Timeout when the deadline passes first; closed when
  // the peer closed its output (it exited).
  Result<std::string> read_line(BenchClock::time_point deadline);

  // Closes the peer's standard input: a peer waiting in ParentLink::wait_for_release() goes on. Idempotent.
  void release() noexcept;

  // Releases the peer and waits up to `grace` for it to exit; past that it is killed (SIGKILL to its pid).
  // Ok when it exited with status 0. Idempotent: later calls return the first answer.
  Status finish(std::chrono::milliseconds grace);

 private:
  PeerProcess(pid_t pid, int to_peer, int from_peer) noexcept : pid_(pid), to_peer_(to_peer), from_peer_(from_peer) {}
  void close_all() noexcept;

  pid_t pid_ = -1;
  int to_peer_ = -1;
  int from_peer_ = -1;
  std::string buffer_;  // read but not yet returned
  Status exit_status_;
};

// The peer's side.
class ParentLink {
 public:
  // First thing in a peer, before any thread starts (threads inherit the CPU mask): the peer is killed if
  // the bench dies, and runs on `cpu` when it is not -1; its main thread is called `name` (ps, top, perf).
  // Fails when the bench is already gone or the CPU cannot be had.
  static Status attach(pid_t parent, int cpu, std::string_view name);

  // Prints one line on standard output, for the bench to read.
  static void say(std::string_view line);
  // Blocks until the bench releases this peer (or exits).
  static void wait_for_release();
  // True once the bench has released this peer; never blocks.
  [[nodiscard]] static bool released();
};

}  // namespace weft::cli::bench
