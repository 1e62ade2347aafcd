#include "util/wake_signal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "weft/status.hpp"

namespace weft::detail {

WakeSignal::WakeSignal() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw Error(Status::io_error(std::string("eventfd: ") + std::strerror(errno)));
}

WakeSignal::~WakeSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeSignal::prepare_sleep() noexcept {
  sleeping_.store(true, std::memory_order_relaxed);
  // Pairs with the fence in notify(): either the producer sees sleeping_ == true, or this thread's next check
  // for work sees the producer's work.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void WakeSignal::clear() noexcept {
  sleeping_.store(false, std::memory_order_relaxed);
  std::uint64_t value = 0;
  // One read takes the whole counter, however many notifications it added up.
  [[maybe_unused]] auto n = ::read(fd_, &value, sizeof value);
}

void WakeSignal::notify() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed) && sleeping_.exchange(false, std::memory_order_relaxed)) {
    force_notify();
  }
}

void WakeSignal::force_notify() noexcept {
  std::uint64_t one = 1;
  // EAGAIN means the counter is already huge, so the sleeper is signalled anyway.
  [[maybe_unused]] auto written = ::write(fd_, &one, sizeof one);
}

}  // namespace weft::detail
