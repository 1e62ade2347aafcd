// A hint to the CPU inside a spin loop: lets the sibling hyper-thread run and saves power.
#pragma once

#include <thread>

namespace weft::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#else
  std::this_thread::yield();
#endif
}

}  // namespace weft::detail
