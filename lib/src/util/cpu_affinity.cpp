#include "util/cpu_affinity.hpp"

#include <sched.h>
#include <unistd.h>

namespace weft::detail {

std::size_t cpus_this_thread_may_use() noexcept {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) == 0) {
    int count = CPU_COUNT(&mask);
    if (count > 0) return static_cast<std::size_t>(count);
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<std::size_t>(online) : 2;
}

}  // namespace weft::detail
