// An exclusive lock on a file (flock), held for the life of the object: one weftd per data directory and per
// socket. The holder's pid is written in the file for the message of whoever finds it taken.
#pragma once

#include <string>

#include "weft/status.hpp"

namespace weft::detail::weftd {

class ProcessLock {
 public:
  // kUnavailable naming the holder's pid when another process holds it.
  static Result<ProcessLock> acquire(const std::string& path, const std::string& what);

  ProcessLock(ProcessLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ProcessLock& operator=(ProcessLock&& other) noexcept;
  ProcessLock(const ProcessLock&) = delete;
  ProcessLock& operator=(const ProcessLock&) = delete;
  ~ProcessLock();

 private:
  explicit ProcessLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace weft::detail::weftd
